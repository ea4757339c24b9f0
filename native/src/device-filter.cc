// The device allowlist of a cgroup v2 sandbox. v2 has no devices.allow: on every open or mknod
// of a device node the kernel runs the BPF_CGROUP_DEVICE programs attached to the opener's
// cgroup and its ancestors, and refuses with EPERM unless each of them returns 1. This file turns
// allowlist rules into such a program, loads it (bpf BPF_PROG_LOAD) and attaches it to a cgroup
// (bpf BPF_PROG_ATTACH). The attachment is the program's only reference: it is freed when the
// cgroup is removed.
#include "device-filter.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "native.h"

namespace wrenn {

namespace {

// Largest device numbers the kernel hands out (MINORBITS 20, and 12 bits of major).
constexpr int64_t kMaxMajor = (1 << 12) - 1;
constexpr int64_t kMaxMinor = (1 << 20) - 1;
constexpr uint32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

// Registers of the program. The context pointer arrives in r1; the rest are scratch.
constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

struct bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn insn;
  std::memset(&insn, 0, sizeof insn);
  insn.code = code;
  insn.dst_reg = dst;
  insn.src_reg = src;
  insn.off = off;
  insn.imm = imm;
  return insn;
}
// dst = *(u32 *)(src + off)
struct bpf_insn LoadWord(uint8_t dst, uint8_t src, int16_t off) { return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0); }
// 32-bit ALU with an immediate (the upper half of dst is zeroed)
struct bpf_insn Alu32Imm(uint8_t op, uint8_t dst, int32_t imm) { return Insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
struct bpf_insn Mov32Reg(uint8_t dst, uint8_t src) { return Insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
// if dst != imm (or != src) goto pc + 1 + off
struct bpf_insn JneImm(uint8_t dst, int32_t imm, int16_t off) { return Insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm); }
struct bpf_insn JneReg(uint8_t dst, uint8_t src, int16_t off) { return Insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0); }
struct bpf_insn Mov64Imm(uint8_t dst, int32_t imm) { return Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
struct bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int64_t RuleNumber(Napi::Env env, const Napi::Object& rule, const char* key, int64_t max, size_t index) {
  Napi::Value v = rule.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "device rule " + std::to_string(index) + ": " + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < -1 || d > static_cast<double>(max)) {
    throw Napi::TypeError::New(env, "device rule " + std::to_string(index) + ": " + key + " must be -1 (any) or 0.." + std::to_string(max));
  }
  return static_cast<int64_t>(d);
}

}  // namespace

std::vector<DeviceRule> DeviceRulesFromJs(Napi::Env env, const Napi::Value& value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "device rules must be an array");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<DeviceRule> rules;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) throw Napi::TypeError::New(env, "device rule " + std::to_string(i) + " must be an object");
    Napi::Object o = item.As<Napi::Object>();
    DeviceRule rule;
    std::string type = o.Get("type").IsString() ? o.Get("type").As<Napi::String>().Utf8Value() : "";
    if (type != "c" && type != "b" && type != "a") throw Napi::TypeError::New(env, "device rule " + std::to_string(i) + ": type must be 'c', 'b' or 'a'");
    rule.type = type[0];
    rule.major = RuleNumber(env, o, "major", kMaxMajor, i);
    rule.minor = RuleNumber(env, o, "minor", kMaxMinor, i);
    std::string access = o.Get("access").IsString() ? o.Get("access").As<Napi::String>().Utf8Value() : "";
    for (char c : access) {
      uint32_t bit = c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : c == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
      if (bit == 0 || (rule.access & bit)) {
        throw Napi::TypeError::New(env, "device rule " + std::to_string(i) + ": access must be letters of \"rwm\", each once");
      }
      rule.access |= bit;
    }
    if (rule.access == 0) throw Napi::TypeError::New(env, "device rule " + std::to_string(i) + ": access is empty");
    rules.push_back(rule);
  }
  return rules;
}

std::vector<struct bpf_insn> DeviceFilterProgram(const std::vector<DeviceRule>& rules) {
  // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, where access_type is
  // (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*. Unpacked once into r2..r5.
  std::vector<struct bpf_insn> prog = {
      LoadWord(R2, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
      Alu32Imm(BPF_AND, R2, 0xFFFF),  // r2: device type
      LoadWord(R3, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
      Alu32Imm(BPF_RSH, R3, 16),  // r3: access asked for
      LoadWord(R4, R1, offsetof(struct bpf_cgroup_dev_ctx, major)),
      LoadWord(R5, R1, offsetof(struct bpf_cgroup_dev_ctx, minor)),
  };
  // One block per rule: each test that fails jumps past the block's end (to the next rule), and a
  // block whose tests all pass returns 1. The offsets are filled in once the block's length is known.
  for (const DeviceRule& rule : rules) {
    std::vector<struct bpf_insn> block;
    if (rule.type != 'a') block.push_back(JneImm(R2, rule.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0));
    if ((rule.access & kAllAccess) != kAllAccess) {
      // Allowed only if every access asked for is in the rule: (asked & rule) == asked.
      block.push_back(Mov32Reg(R1, R3));
      block.push_back(Alu32Imm(BPF_AND, R1, static_cast<int32_t>(rule.access)));
      block.push_back(JneReg(R1, R3, 0));
    }
    if (rule.major >= 0) block.push_back(JneImm(R4, static_cast<int32_t>(rule.major), 0));
    if (rule.minor >= 0) block.push_back(JneImm(R5, static_cast<int32_t>(rule.minor), 0));
    block.push_back(Mov64Imm(R0, 1));
    block.push_back(Exit());
    for (size_t i = 0; i < block.size(); i++) {
      if (BPF_CLASS(block[i].code) == BPF_JMP && BPF_OP(block[i].code) == BPF_JNE) block[i].off = static_cast<int16_t>(block.size() - i - 1);
    }
    prog.insert(prog.end(), block.begin(), block.end());
    // A rule without a test allows everything: what follows could never run, and the verifier
    // refuses a program with unreachable instructions.
    if (block.size() == 2) return prog;
  }
  prog.push_back(Mov64Imm(R0, 0));
  prog.push_back(Exit());
  return prog;
}

long Bpf(int cmd, union bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof *attr); }

namespace {

// An Error whose `code` is the errno's name and `syscall` the call that failed, as Node's own are.
Napi::Error BpfError(Napi::Env env, const std::string& what, int err, const std::string& log = "") {
  Napi::Error e = Napi::Error::New(env, ErrnoText(what.c_str(), err) + (log.empty() ? "" : "\n" + log));
  const char* name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// attachDeviceFilter(cgroupDir, rules) → the attached program's id. The group and every
// descendant may then open or mknod only the devices the rules allow.
Napi::Value AttachDeviceFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) throw Napi::TypeError::New(env, "attachDeviceFilter(cgroupDir: string, rules: DeviceRule[])");
  std::string dir = info[0].As<Napi::String>();
  std::vector<struct bpf_insn> prog = DeviceFilterProgram(DeviceRulesFromJs(env, info[1]));

  Fd cgroup(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (cgroup.get() < 0) throw BpfError(env, "open " + dir, errno);

  union bpf_attr load;
  std::memset(&load, 0, sizeof load);
  static const char license[] = "Apache-2.0";  // the program calls no GPL-only helper
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.expected_attach_type = BPF_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.license = reinterpret_cast<uint64_t>(license);
  std::strncpy(load.prog_name, "wrenn_devices", sizeof load.prog_name - 1);
  Fd program(static_cast<int>(Bpf(BPF_PROG_LOAD, &load)));
  if (program.get() < 0) {
    int err = errno;
    // Loaded again with the verifier's log, so a refusal says why.
    std::string log(16384, '\0');
    load.log_level = 1;
    load.log_buf = reinterpret_cast<uint64_t>(log.data());
    load.log_size = static_cast<uint32_t>(log.size());
    Fd retry(static_cast<int>(Bpf(BPF_PROG_LOAD, &load)));
    log.resize(std::strlen(log.c_str()));
    throw BpfError(env, "bpf(BPF_PROG_LOAD)", err, log);
  }

  union bpf_attr attach;
  std::memset(&attach, 0, sizeof attach);
  attach.target_fd = static_cast<uint32_t>(cgroup.get());
  attach.attach_bpf_fd = static_cast<uint32_t>(program.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  // Every program of the chain must allow an access, and one a manager above us (systemd) put
  // with BPF_F_ALLOW_MULTI still applies; none below can lift ours.
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &attach) != 0) throw BpfError(env, "bpf(BPF_PROG_ATTACH) to " + dir, errno);

  struct bpf_prog_info prog_info;
  std::memset(&prog_info, 0, sizeof prog_info);
  union bpf_attr get_info;
  std::memset(&get_info, 0, sizeof get_info);
  get_info.info.bpf_fd = static_cast<uint32_t>(program.get());
  get_info.info.info_len = sizeof prog_info;
  get_info.info.info = reinterpret_cast<uint64_t>(&prog_info);
  // Attached already: an id we cannot read is not a reason to fail.
  if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &get_info) != 0) prog_info.id = 0;
  return Napi::Number::New(env, prog_info.id);
}

}  // namespace

void InitDeviceFilter(Napi::Env env, Napi::Object exports) {
  exports.Set("attachDeviceFilter", Napi::Function::New(env, AttachDeviceFilter, "attachDeviceFilter"));
}

}  // namespace wrenn
