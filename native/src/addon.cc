#include "native.h"

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  wrenn::InitPageServer(env, exports);
  wrenn::InitSparseExtents(env, exports);
  wrenn::InitHandshake(env, exports);
  wrenn::InitDeviceFilter(env, exports);
  wrenn::InitSeqpacketChannel(env, exports);
  wrenn::InitDiskMount(env, exports);
  wrenn::InitConntrack(env, exports);
  wrenn::InitNetns(env, exports);
  return exports;
}

NODE_API_MODULE(wrenn_native, InitAddon)
