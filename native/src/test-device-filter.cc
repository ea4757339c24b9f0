// Test-only views of the device filter (in the test addon, never the product's): the program
// the rules compile to, the programs attached to a cgroup, and whether a program still exists.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "device-filter.h"
#include "native.h"

namespace wrenn {

namespace {

// deviceFilterProgram(rules) → Buffer of struct bpf_insn (8 bytes each, host byte order).
Napi::Value DeviceFilterProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<struct bpf_insn> prog = DeviceFilterProgram(DeviceRulesFromJs(env, info[0]));
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(prog.data()), prog.size() * sizeof(struct bpf_insn));
}

// attachedDevicePrograms(cgroupDir) → ids of the BPF_CGROUP_DEVICE programs attached to the group itself.
Napi::Value AttachedDevicePrograms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = info[0].As<Napi::String>();
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(env, ErrnoText(("open " + dir).c_str(), errno));
  uint32_t ids[64];
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.query.target_fd = static_cast<uint32_t>(fd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = reinterpret_cast<uint64_t>(ids);
  attr.query.prog_cnt = 64;
  long r = Bpf(BPF_PROG_QUERY, &attr);
  int err = errno;
  close(fd);
  if (r != 0) throw Napi::Error::New(env, ErrnoText("bpf(BPF_PROG_QUERY)", err));
  Napi::Array out = Napi::Array::New(env, attr.query.prog_cnt);
  for (uint32_t i = 0; i < attr.query.prog_cnt; i++) out.Set(i, Napi::Number::New(env, ids[i]));
  return out;
}

// bpfProgramExists(id) → whether the kernel still holds a program with that id.
Napi::Value BpfProgramExists(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_id = info[0].As<Napi::Number>().Uint32Value();
  long fd = Bpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd >= 0) {
    close(static_cast<int>(fd));
    return Napi::Boolean::New(env, true);
  }
  if (errno == ENOENT) return Napi::Boolean::New(env, false);
  throw Napi::Error::New(env, ErrnoText("bpf(BPF_PROG_GET_FD_BY_ID)", errno));
}

}  // namespace

void InitDeviceFilterInspection(Napi::Env env, Napi::Object exports) {
  exports.Set("deviceFilterProgram", Napi::Function::New(env, DeviceFilterProgramJs, "deviceFilterProgram"));
  exports.Set("attachedDevicePrograms", Napi::Function::New(env, AttachedDevicePrograms, "attachedDevicePrograms"));
  exports.Set("bpfProgramExists", Napi::Function::New(env, BpfProgramExists, "bpfProgramExists"));
}

}  // namespace wrenn
