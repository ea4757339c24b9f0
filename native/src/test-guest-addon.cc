// The test-only addon: the guest stand-in (test-guest.cc) and the device filter's inspection
// (test-device-filter.cc), so the production addon (addon.cc) carries none of it. Loaded through
// native/test-guest.js by tests and benchmarks.
#include "native.h"

static Napi::Object InitTestGuestAddon(Napi::Env env, Napi::Object exports) {
  wrenn::InitTestGuest(env, exports);
  wrenn::InitDeviceFilterInspection(env, exports);
  return exports;
}

NODE_API_MODULE(wrenn_test_guest, InitTestGuestAddon)
