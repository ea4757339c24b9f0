// A guest stand-in for tests and benchmarks: anonymous memory registered with a userfaultfd in
// missing mode and announced to a page server in Firecracker's handshake format (one JSON array,
// the userfaultfd as SCM_RIGHTS, socket kept open). Touching the memory is done on native
// threads so the JS thread never waits on a fault.
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <algorithm>
#include <random>
#include <thread>

#include "native.h"

namespace wrenn {
namespace {

struct Mapping {
  char* addr = nullptr;
  uint64_t size = 0;
  uint64_t offset = 0;  // in the guest memory file
};

class TouchWorker : public Napi::AsyncWorker {
 public:
  TouchWorker(Napi::Env env, std::vector<Mapping> maps, uint64_t page_size, unsigned threads, bool random)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        maps_(std::move(maps)),
        page_size_(page_size),
        threads_(threads),
        random_(random) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    // Every thread walks every page, each starting at a different point (or each in its own
    // random order), so threads fault on the same pages at the same time as well as on others.
    std::vector<char*> pages;
    for (const Mapping& m : maps_) {
      for (uint64_t o = 0; o < m.size; o += page_size_) pages.push_back(m.addr + o);
    }
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    std::vector<uint64_t> sums(threads_, 0);
    for (unsigned t = 0; t < threads_; t++) {
      workers.emplace_back([&, t] {
        size_t n = pages.size(), first = n * t / threads_;
        std::vector<size_t> order(n);
        for (size_t k = 0; k < n; k++) order[k] = (first + k) % n;
        if (random_) {
          std::mt19937_64 rng(t + 1);  // fixed seeds: a failure replays the same order
          std::shuffle(order.begin(), order.end(), rng);
        }
        uint64_t sum = 0;
        for (size_t k : order) sum += *reinterpret_cast<volatile unsigned char*>(pages[k]);
        sums[t] = sum;
      });
    }
    for (std::thread& w : workers) w.join();
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), seconds_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Mapping> maps_;
  uint64_t page_size_;
  unsigned threads_;
  bool random_;
  double seconds_ = 0;
};

class UffdGuest : public Napi::ObjectWrap<UffdGuest> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UffdGuest",
                       {InstanceMethod("touchAll", &UffdGuest::TouchAll), InstanceMethod("read", &UffdGuest::Read),
                        InstanceMethod("discard", &UffdGuest::Discard), InstanceMethod("close", &UffdGuest::Close)});
  }

  explicit UffdGuest(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UffdGuest>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "new UffdGuest(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    std::string path = o.Get("socketPath").As<Napi::String>();
    page_size_ = static_cast<uint64_t>(o.Get("pageSize").As<Napi::Number>().Int64Value());
    Napi::Array regions = o.Get("regions").As<Napi::Array>();
    try {
      uffd_ = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
      if (uffd_ < 0) throw std::runtime_error(ErrnoText("userfaultfd", errno));
      // What Firecracker asks for: remove events (balloon), nothing else.
      uffdio_api api{};
      api.api = UFFD_API;
      api.features = UFFD_FEATURE_EVENT_REMOVE;
      if (ioctl(uffd_, UFFDIO_API, &api) != 0) throw std::runtime_error(ErrnoText("UFFDIO_API", errno));
      std::vector<GuestRegion> announced;
      for (uint32_t i = 0; i < regions.Length(); i++) {
        Napi::Object r = regions.Get(i).As<Napi::Object>();
        Mapping m;
        m.size = static_cast<uint64_t>(r.Get("size").As<Napi::Number>().Int64Value());
        m.offset = static_cast<uint64_t>(r.Get("offset").As<Napi::Number>().Int64Value());
        void* addr = mmap(nullptr, m.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (addr == MAP_FAILED) throw std::runtime_error(ErrnoText("mmap", errno));
        m.addr = static_cast<char*>(addr);
        maps_.push_back(m);
        uffdio_register reg{};
        reg.range.start = reinterpret_cast<uint64_t>(addr);
        reg.range.len = m.size;
        reg.mode = UFFDIO_REGISTER_MODE_MISSING;
        if (ioctl(uffd_, UFFDIO_REGISTER, &reg) != 0) throw std::runtime_error(ErrnoText("UFFDIO_REGISTER", errno));
        announced.push_back({reinterpret_cast<uint64_t>(addr), m.size, m.offset, page_size_});
      }
      sock_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (sock_ < 0) throw std::runtime_error(ErrnoText("socket", errno));
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
      memcpy(addr.sun_path, path.c_str(), path.size() + 1);
      if (connect(sock_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error(ErrnoText(("connect " + path).c_str(), errno));
      std::string body = FormatHandshake(announced);
      iovec iov{body.data(), body.size()};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &uffd_, sizeof(int));
      if (sendmsg(sock_, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(body.size())) throw std::runtime_error(ErrnoText("sendmsg", errno));
    } catch (const std::exception& e) {
      Release();
      throw Napi::Error::New(env, e.what());
    }
  }

  ~UffdGuest() override { Release(); }

 private:
  // The mapping holding memory-file offset `offset`, and the address there.
  char* At(Napi::Env env, uint64_t offset, uint64_t length) {
    for (const Mapping& m : maps_) {
      if (offset >= m.offset && offset + length <= m.offset + m.size) return m.addr + (offset - m.offset);
    }
    throw Napi::RangeError::New(env, "range is not inside one region");
  }

  Napi::Value TouchAll(const Napi::CallbackInfo& info) {
    if (maps_.empty()) throw Napi::Error::New(info.Env(), "guest is closed");
    unsigned threads = info.Length() > 0 ? info[0].As<Napi::Number>().Uint32Value() : 1;
    if (threads < 1 || threads > 64) throw Napi::RangeError::New(info.Env(), "threads must be 1–64");
    bool random = info.Length() > 1 && info[1].IsString() && info[1].As<Napi::String>().Utf8Value() == "random";
    auto* w = new TouchWorker(info.Env(), maps_, page_size_, threads, random);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  // Copies [offset, offset + length) of guest memory, across regions; a gap between regions is
  // an error.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    uint64_t offset = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    uint64_t length = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    Napi::Buffer<char> out = Napi::Buffer<char>::New(info.Env(), length);
    uint64_t done = 0;
    while (done < length) {
      const Mapping* m = nullptr;
      for (const Mapping& c : maps_) {
        if (offset + done >= c.offset && offset + done < c.offset + c.size) m = &c;
      }
      if (m == nullptr) throw Napi::RangeError::New(info.Env(), "range is not inside the guest memory");
      uint64_t at = offset + done - m->offset, n = std::min(length - done, m->size - at);
      memcpy(out.Data() + done, m->addr + at, n);
      done += n;
    }
    return out;
  }

  Napi::Value Discard(const Napi::CallbackInfo& info) {
    uint64_t offset = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    uint64_t length = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    char* at = At(info.Env(), offset, length);
    if (madvise(at, length, MADV_DONTNEED) != 0) throw Napi::Error::New(info.Env(), ErrnoText("madvise", errno));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  void Release() {
    for (const Mapping& m : maps_) munmap(m.addr, m.size);
    maps_.clear();
    if (uffd_ >= 0) close(uffd_);
    if (sock_ >= 0) close(sock_);
    uffd_ = sock_ = -1;
  }

  uint64_t page_size_ = 4096;
  std::vector<Mapping> maps_;
  int uffd_ = -1, sock_ = -1;
};

}  // namespace

void InitTestGuest(Napi::Env env, Napi::Object exports) { exports.Set("UffdGuest", UffdGuest::Define(env)); }

}  // namespace wrenn
