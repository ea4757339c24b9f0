// Shared declarations of the addon's parts.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace wrenn {

// One guest memory region as Firecracker announces it in the userfaultfd handshake.
struct GuestRegion {
  uint64_t base = 0;       // host virtual address of the region in the peer
  uint64_t size = 0;       // bytes
  uint64_t offset = 0;     // offset of the region in the guest memory file
  uint64_t page_size = 0;  // bytes ("page_size_kib" is bytes too, despite its name)
};

// Parses the handshake body: a JSON array of {base_host_virt_addr, size, offset, page_size,
// page_size_kib}. Returns false with `error` set on anything else.
bool ParseHandshake(const std::string& json, std::vector<GuestRegion>* out, std::string* error);

// Serialises regions exactly as Firecracker does (for the test guest, which is a separate addon).
std::string FormatHandshake(const std::vector<GuestRegion>& regions);

// Byte length of the complete JSON value at the start of `s`, or 0 while it is incomplete.
size_t CompleteJsonLength(const std::string& s);

// Errno as text.
std::string ErrnoText(const char* what, int err);

void InitPageServer(Napi::Env env, Napi::Object exports);
void InitTestGuest(Napi::Env env, Napi::Object exports);
void InitSparseExtents(Napi::Env env, Napi::Object exports);
void InitHandshake(Napi::Env env, Napi::Object exports);
void InitDeviceFilter(Napi::Env env, Napi::Object exports);
void InitSeqpacketChannel(Napi::Env env, Napi::Object exports);
void InitDiskMount(Napi::Env env, Napi::Object exports);
void InitConntrack(Napi::Env env, Napi::Object exports);
void InitNetns(Napi::Env env, Napi::Object exports);
// Test addon only.
void InitDeviceFilterInspection(Napi::Env env, Napi::Object exports);

}  // namespace wrenn
