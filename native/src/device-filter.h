// The cgroup v2 device allowlist: a BPF_PROG_TYPE_CGROUP_DEVICE program built from rules in the
// v1 devices.allow vocabulary. Shared by the addon (attachDeviceFilter) and the test addon, which
// inspects the generated program.
#pragma once
#include <linux/bpf.h>
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace wrenn {

// One allowlist entry: "c 1:3 rwm", "c 136:* rw", "a". A major or minor of -1 is the wildcard.
struct DeviceRule {
  char type = 'a';     // 'c', 'b' or 'a' (any type)
  int64_t major = -1;  // 0..4095 or -1
  int64_t minor = -1;  // 0..1048575 or -1
  uint32_t access = 0; // BPF_DEVCG_ACC_* bits: MKNOD, READ, WRITE
};

// Reads rules from a JS array of {type, major, minor, access}; throws a TypeError naming the bad one.
std::vector<DeviceRule> DeviceRulesFromJs(Napi::Env env, const Napi::Value& value);

// The program: 1 (allow) for an access that one rule covers entirely, 0 (deny) for any other.
std::vector<struct bpf_insn> DeviceFilterProgram(const std::vector<DeviceRule>& rules);

// bpf(2); returns its result (-1 with errno set on failure).
long Bpf(int cmd, union bpf_attr* attr);

}  // namespace wrenn
