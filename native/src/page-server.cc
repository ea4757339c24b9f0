// The userfaultfd page server. One per restored guest: a Unix socket listener, then (after
// Firecracker's handshake) a native thread that answers page faults from the snapshot's
// generation files. The JS side only constructs, reads counters and stops it.
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "native.h"

namespace wrenn {
namespace {

// Per-page state the server keeps for the guest it serves.
enum PageState : uint8_t {
  kMissing = 0,  // never placed: read-ahead may place it
  kPlaced = 1,   // placed by us (or found present)
  kRemoved = 2,  // the guest dropped it (balloon, MADV_DONTNEED): zeros on refault, no read-ahead
};

enum ServerState : int { kListening = 0, kServing = 1, kClosed = 2, kFailed = 3 };
const char* StateName(int s) {
  switch (s) {
    case kListening: return "listening";
    case kServing: return "serving";
    case kClosed: return "closed";
    default: return "failed";
  }
}

// Largest bounce buffer: read-ahead windows are cut to fit it (a few huge pages at most).
constexpr uint64_t kBounceMaxBytes = 4 << 20;
// Read-ahead window after a fault that does not continue the previous window.
constexpr uint64_t kInitialWindow = 8;

// How long a peer may take between connecting and completing the handshake.
constexpr int kHandshakeTimeoutMs = 10000;
constexpr size_t kHandshakeMaxBytes = 64 * 1024;
constexpr int kMaxMessages = 64;

class Server {
 public:
  Server(std::string socket_path, uint64_t page_size, uint64_t size_bytes, std::vector<uint8_t> page_map,
         const std::vector<std::string>& files, uint32_t readahead)
      : socket_path_(std::move(socket_path)),
        page_size_(page_size),
        size_bytes_(size_bytes),
        page_map_(std::move(page_map)),
        state_pages_(page_map_.size(), kMissing),
        readahead_(readahead) {
    try {
      for (const std::string& f : files) OpenFile(f);
      AllocateBounce();
      Listen();
    } catch (...) {
      Release();
      throw;
    }
    thread_ = std::thread([this] { Run(); });
  }

  ~Server() { Stop(); }

  void Stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    if (thread_.joinable()) {
      uint64_t one = 1;
      // An eventfd write cannot block or fail short here; the thread polls it in every phase.
      ssize_t ignored = write(stop_fd_, &one, sizeof one);
      (void)ignored;
      thread_.join();
    }
    if (state_.load() == kListening || state_.load() == kServing) state_.store(kClosed);
    Release();
  }

  Napi::Object Stats(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("faults", static_cast<double>(faults_.load()));
    o.Set("copies", static_cast<double>(copies_.load()));
    o.Set("bytesCopied", static_cast<double>(bytes_copied_.load()));
    o.Set("zeroPages", static_cast<double>(zero_pages_.load()));
    o.Set("alreadyPresent", static_cast<double>(already_present_.load()));
    o.Set("removeEvents", static_cast<double>(remove_events_.load()));
    o.Set("errors", static_cast<double>(errors_.load()));
    o.Set("state", StateName(state_.load()));
    o.Set("regions", static_cast<double>(region_count_.load()));
    std::lock_guard<std::mutex> lock(error_mu_);
    o.Set("lastError", last_error_);
    return o;
  }

 private:
  void OpenFile(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(ErrnoText(("open " + path).c_str(), errno));
    files_.push_back(fd);
    maps_.push_back(nullptr);
    struct stat st;
    if (fstat(fd, &st) != 0) throw std::runtime_error(ErrnoText(("stat " + path).c_str(), errno));
    if (static_cast<uint64_t>(st.st_size) < size_bytes_) {
      throw std::runtime_error(path + " is " + std::to_string(st.st_size) + " bytes, shorter than the memory (" +
                               std::to_string(size_bytes_) + ")");
    }
    // Read-only shared mapping: a window of one generation is copied straight from the page cache.
    void* base = mmap(nullptr, size_bytes_, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) throw std::runtime_error(ErrnoText(("mmap " + path).c_str(), errno));
    maps_.back() = static_cast<char*>(base);
  }

  // Pages are read with pread() into this page-aligned buffer, then placed with one UFFDIO_COPY
  // per window. Reading into one hot buffer beats copying out of a file mapping, where every
  // source page costs this process a page-table fault of its own; and a window can gather pages
  // of several generations into one placement.
  void AllocateBounce() {
    window_max_ = std::max<uint64_t>(1, std::min<uint64_t>(readahead_, kBounceMaxBytes / page_size_));
    bounce_len_ = window_max_ * page_size_;
    void* b = mmap(nullptr, bounce_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) throw std::runtime_error(ErrnoText("mmap bounce buffer", errno));
    bounce_ = static_cast<char*>(b);
  }

  void Listen() {
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw std::runtime_error(ErrnoText("eventfd", errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + socket_path_);
    memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) throw std::runtime_error(ErrnoText("socket", errno));
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error(ErrnoText(("bind " + socket_path_).c_str(), errno));
    }
    bound_ = true;
    if (listen(listen_fd_, 1) != 0) throw std::runtime_error(ErrnoText("listen", errno));
  }

  // Closes every fd, unmaps every file and removes the socket. Only after the thread is joined.
  void Release() {
    for (int* fd : {&uffd_, &conn_fd_, &listen_fd_, &stop_fd_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    for (int fd : files_) close(fd);
    files_.clear();
    for (char* m : maps_) {
      if (m != nullptr) munmap(m, size_bytes_);
    }
    maps_.clear();
    if (bounce_ != nullptr) munmap(bounce_, bounce_len_);
    bounce_ = nullptr;
    if (bound_) unlink(socket_path_.c_str());
    bound_ = false;
  }

  void Fail(const std::string& what) {
    errors_++;
    {
      std::lock_guard<std::mutex> lock(error_mu_);
      last_error_ = what;
    }
    state_.store(kFailed);
  }

  bool StopRequested(const pollfd& p) { return p.revents != 0; }

  void Run() {
    if (!Accept()) return;
    if (!Handshake()) return;
    state_.store(kServing);
    Serve();
  }

  bool Accept() {
    for (;;) {
      pollfd p[2] = {{stop_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      if (poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        Fail(ErrnoText("poll", errno));
        return false;
      }
      if (StopRequested(p[0])) return false;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
        Fail(ErrnoText("accept", errno));
        return false;
      }
      conn_fd_ = fd;
      // One guest per server: nobody else may connect.
      close(listen_fd_);
      listen_fd_ = -1;
      return true;
    }
  }

  // Reads the one handshake message: the JSON region list with the userfaultfd attached.
  bool Handshake() {
    std::string body;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHandshakeTimeoutMs);
    size_t json_len = 0;
    while (json_len == 0) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) {
        Fail("handshake timed out");
        return false;
      }
      pollfd p[2] = {{stop_fd_, POLLIN, 0}, {conn_fd_, POLLIN, 0}};
      if (poll(p, 2, left) < 0) {
        if (errno == EINTR) continue;
        Fail(ErrnoText("poll", errno));
        return false;
      }
      if (StopRequested(p[0])) return false;
      if (p[1].revents == 0) continue;
      char buf[4096];
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg(conn_fd_, &msg, MSG_CMSG_CLOEXEC);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        Fail(ErrnoText("recvmsg", errno));
        return false;
      }
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int* fds = reinterpret_cast<int*>(CMSG_DATA(c));
        for (size_t k = 0; k < count; k++) {
          if (uffd_ < 0) uffd_ = fds[k];
          else close(fds[k]);  // only one fd is expected; never leak extras
        }
      }
      if (n == 0) {
        Fail("peer closed the socket before completing the handshake");
        return false;
      }
      body.append(buf, static_cast<size_t>(n));
      if (body.size() > kHandshakeMaxBytes) {
        Fail("handshake larger than 64 KiB");
        return false;
      }
      json_len = CompleteJsonLength(body);
    }
    if (uffd_ < 0) {
      Fail("handshake carried no userfaultfd");
      return false;
    }
    std::string error;
    if (!ParseHandshake(body.substr(0, json_len), &regions_, &error)) {
      Fail(error);
      return false;
    }
    for (const GuestRegion& r : regions_) {
      if (r.page_size != page_size_) {
        Fail("region page size " + std::to_string(r.page_size) + " differs from the snapshot's " + std::to_string(page_size_));
        return false;
      }
      if (r.size == 0 || r.size % page_size_ || r.offset % page_size_ || r.base % page_size_ || r.offset + r.size > size_bytes_ ||
          r.offset + r.size < r.offset) {
        Fail("region at offset " + std::to_string(r.offset) + " (" + std::to_string(r.size) + " bytes) does not fit the " +
             std::to_string(size_bytes_) + "-byte memory");
        return false;
      }
    }
    region_count_.store(regions_.size());
    int flags = fcntl(uffd_, F_GETFL);
    if (flags < 0 || fcntl(uffd_, F_SETFL, flags | O_NONBLOCK) != 0) {
      Fail(ErrnoText("fcntl userfaultfd", errno));
      return false;
    }
    return true;
  }

  const GuestRegion* RegionOf(uint64_t addr) const {
    for (const GuestRegion& r : regions_) {
      if (addr >= r.base && addr - r.base < r.size) return &r;
    }
    return nullptr;
  }

  // Marks the pages of [start, end) (peer addresses) removed: the kernel dropped them, a refault
  // must read zeros, and read-ahead must not bring the old content back.
  void MarkRemoved(uint64_t start, uint64_t end) {
    for (const GuestRegion& r : regions_) {
      uint64_t lo = std::max(start, r.base), hi = std::min(end, r.base + r.size);
      if (lo >= hi) continue;
      uint64_t first = (r.offset + (lo - r.base)) / page_size_;
      uint64_t last = (r.offset + (hi - r.base) + page_size_ - 1) / page_size_;
      for (uint64_t p = first; p < last && p < state_pages_.size(); p++) state_pages_[p] = kRemoved;
    }
  }

  enum Outcome { kDone, kRetry, kGone, kError };

  // Places pages [page, page + n) at peer address `addr`: zero-filled when `zero`, else read
  // from each page's generation file into the bounce buffer and copied in one go. Returns the
  // bytes placed, or -errno when none were.
  int64_t Place(uint64_t addr, uint64_t page, uint64_t n, bool zero) {
    uint64_t len = n * page_size_;
    int64_t done;
    if (zero && !zeropage_unsupported_) {
      uffdio_zeropage z{};
      z.range.start = addr;
      z.range.len = len;
      done = ioctl(uffd_, UFFDIO_ZEROPAGE, &z) == 0 ? static_cast<int64_t>(len) : z.zeropage;
      if (done == 0) done = -errno;
      if (done == -EINVAL && page_size_ > 4096) {
        // hugetlbfs-backed guests have no zero-page ioctl: copy zeros instead, from now on.
        zeropage_unsupported_ = true;
        return Place(addr, page, n, zero);
      }
    } else if (zero) {
      memset(bounce_, 0, len);
      uffdio_copy c{};
      c.dst = addr;
      c.src = reinterpret_cast<uint64_t>(bounce_);
      c.len = len;
      done = ioctl(uffd_, UFFDIO_COPY, &c) == 0 ? static_cast<int64_t>(len) : c.copy;
    } else if (SameGeneration(page, n)) {
      char* src = maps_[page_map_[page] - 1] + page * page_size_;
      // One call maps the whole source window instead of one page-table fault per page.
      madvise(src, len, MADV_POPULATE_READ);
      uffdio_copy c{};
      c.dst = addr;
      c.src = reinterpret_cast<uint64_t>(src);
      c.len = len;
      done = ioctl(uffd_, UFFDIO_COPY, &c) == 0 ? static_cast<int64_t>(len) : c.copy;
    } else {
      for (uint64_t k = 0; k < n;) {
        uint8_t gen = page_map_[page + k];
        uint64_t run = 1;
        while (k + run < n && page_map_[page + k + run] == gen) run++;
        char* dst = bounce_ + k * page_size_;
        uint64_t want = run * page_size_;
        if (gen == 0) {
          memset(dst, 0, want);  // data windows hold no holes; never let one read stale bytes
        } else {
          uint64_t got = 0;
          while (got < want) {
            ssize_t r = pread(files_[gen - 1], dst + got, want - got, static_cast<off_t>((page + k) * page_size_ + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return r < 0 ? -errno : -EIO;  // the file shrank under us
            got += static_cast<uint64_t>(r);
          }
        }
        k += run;
      }
      uffdio_copy c{};
      c.dst = addr;
      c.src = reinterpret_cast<uint64_t>(bounce_);
      c.len = len;
      done = ioctl(uffd_, UFFDIO_COPY, &c) == 0 ? static_cast<int64_t>(len) : c.copy;
    }
    // A partial placement (stopped by a page already present, or by a pending event) reports
    // the bytes it did place; the ioctl's own errno is then EAGAIN.
    if (done == 0) done = -errno;
    if (done > 0) {
      uint64_t placed = static_cast<uint64_t>(done) / page_size_;
      for (uint64_t k = 0; k < placed; k++) state_pages_[page + k] = kPlaced;
      if (zero) zero_pages_ += placed;
      else copies_++, bytes_copied_ += static_cast<uint64_t>(done);
    }
    return done;
  }

  bool SameGeneration(uint64_t page, uint64_t n) const {
    for (uint64_t k = 1; k < n; k++) {
      if (page_map_[page + k] != page_map_[page]) return false;
    }
    return page_map_[page] != 0;
  }

  // Answers one fault at `addr`: the faulting page and, as read-ahead, the following pages of
  // the region that are still missing and of the same kind (data, from any generation, or
  // holes), in one placement. The guest mostly touches memory in order, and each fault avoided
  // saves a round trip through the kernel and this thread. Removed pages are never read ahead:
  // only their own refault places them, as zeros.
  Outcome ServeFault(uint64_t addr) {
    addr &= ~(page_size_ - 1);
    const GuestRegion* r = RegionOf(addr);
    if (r == nullptr) {
      Fail("fault at " + std::to_string(addr) + " outside every region");
      return kError;
    }
    uint64_t page = (r->offset + (addr - r->base)) / page_size_;
    // Adaptive window, as the kernel's file read-ahead: a fault right where a recent window ended
    // continues that stream and doubles its window (up to the configured maximum); any other
    // fault starts a new stream with a small one. A guest streaming through memory (on several
    // vCPUs at once) gets large copies, one touching it at random little waste.
    Stream* stream = nullptr;
    for (Stream& st : streams_) {
      if (st.next == page) stream = &st;
    }
    if (stream != nullptr) {
      stream->window = std::min(stream->window * 2, window_max_);
    } else {
      stream = &streams_[stream_victim_++ % streams_.size()];
      stream->window = std::min(kInitialWindow, window_max_);
    }
    uint64_t limit = std::min((r->offset + r->size) / page_size_, page + stream->window);
    bool zero = state_pages_[page] == kRemoved || page_map_[page] == 0;
    uint64_t n = 1;
    if (state_pages_[page] != kRemoved) {
      while (page + n < limit && state_pages_[page + n] == kMissing && (page_map_[page + n] == 0) == zero) n++;
    }
    int64_t done = Place(addr, page, n, zero);
    if (done > 0) {
      stream->next = page + static_cast<uint64_t>(done) / page_size_;
      return kDone;
    }
    int err = static_cast<int>(-done);
    if (err == EEXIST) {
      // Another fault (or read-ahead) placed it first; the waiter may have missed that wake-up.
      already_present_++;
      state_pages_[page] = kPlaced;
      uffdio_range wake{addr, page_size_};
      ioctl(uffd_, UFFDIO_WAKE, &wake);
      return kDone;
    }
    if (err == EAGAIN) return kRetry;  // the mapping is changing: read the pending event first
    if (err == ESRCH || err == ENOENT) return kGone;  // the peer's memory is gone
    Fail(ErrnoText(zero ? "UFFDIO_ZEROPAGE" : "UFFDIO_COPY", err));
    return kError;
  }

  void Serve() {
    std::vector<uint64_t> pending;  // faults to retry after reading the events that blocked them
    uffd_msg msgs[kMaxMessages];
    for (;;) {
      pollfd p[3] = {{stop_fd_, POLLIN, 0}, {uffd_, POLLIN, 0}, {conn_fd_, POLLIN | POLLRDHUP, 0}};
      if (poll(p, 3, pending.empty() ? -1 : 1) < 0) {
        if (errno == EINTR) continue;
        Fail(ErrnoText("poll", errno));
        return;
      }
      if (StopRequested(p[0])) return;
      // Firecracker never closes the socket while it lives: a hang-up means the VM is gone.
      if (p[2].revents & (POLLHUP | POLLRDHUP | POLLERR)) {
        state_.store(kClosed);
        return;
      }
      if (p[2].revents & POLLIN) {
        char drain[256];
        if (recv(conn_fd_, drain, sizeof drain, MSG_DONTWAIT) == 0) {
          state_.store(kClosed);
          return;
        }
      }
      if (p[1].revents & (POLLERR | POLLHUP)) {
        state_.store(kClosed);
        return;
      }
      // Read every queued message: events first change what the faults mean.
      std::vector<uint64_t> faults;
      for (;;) {
        ssize_t n = read(uffd_, msgs, sizeof msgs);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) break;
          Fail(ErrnoText("read userfaultfd", errno));
          return;
        }
        if (n == 0) break;
        size_t count = static_cast<size_t>(n) / sizeof(uffd_msg);
        for (size_t k = 0; k < count; k++) {
          const uffd_msg& m = msgs[k];
          switch (m.event) {
            case UFFD_EVENT_PAGEFAULT:
              faults.push_back(m.arg.pagefault.address);
              break;
            case UFFD_EVENT_REMOVE:
            case UFFD_EVENT_UNMAP:
              remove_events_++;
              MarkRemoved(m.arg.remove.start, m.arg.remove.end);
              break;
            case UFFD_EVENT_REMAP:
              // The region moved: follow it (the kernel moved the placed pages with it).
              for (GuestRegion& r : regions_) {
                if (r.base == m.arg.remap.from) r.base = m.arg.remap.to;
              }
              break;
            default:
              break;  // fork: the child is not ours to serve
          }
        }
        if (count < static_cast<size_t>(kMaxMessages)) break;
      }
      std::vector<uint64_t> retry;
      for (const std::vector<uint64_t>* list : {&pending, &faults}) {
        for (uint64_t addr : *list) {
          if (list == &faults) faults_++;
          switch (ServeFault(addr)) {
            case kDone: break;
            case kRetry: retry.push_back(addr); break;
            case kGone: state_.store(kClosed); return;
            case kError: return;
          }
        }
      }
      pending.swap(retry);
    }
  }

  const std::string socket_path_;
  const uint64_t page_size_;
  const uint64_t size_bytes_;
  const std::vector<uint8_t> page_map_;
  std::vector<uint8_t> state_pages_;
  const uint64_t readahead_;
  std::vector<int> files_;  // generation files, oldest first
  std::vector<char*> maps_;  // and their read-only mappings
  char* bounce_ = nullptr;
  uint64_t bounce_len_ = 0, window_max_ = 1;
  struct Stream {
    uint64_t next = UINT64_MAX;  // the page right after this stream's last window
    uint64_t window = 1;
  };
  std::array<Stream, 8> streams_{};  // recent sequential streams, replaced round-robin
  uint64_t stream_victim_ = 0;
  std::vector<GuestRegion> regions_;
  int listen_fd_ = -1, conn_fd_ = -1, uffd_ = -1, stop_fd_ = -1;
  bool bound_ = false;
  bool zeropage_unsupported_ = false;
  std::thread thread_;
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::atomic<uint64_t> faults_{0}, copies_{0}, bytes_copied_{0}, zero_pages_{0}, already_present_{0}, remove_events_{0}, errors_{0},
      region_count_{0};
  std::atomic<int> state_{kListening};
  std::mutex error_mu_;
  std::string last_error_;
};

class UffdServer : public Napi::ObjectWrap<UffdServer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UffdServer", {InstanceMethod("stats", &UffdServer::Stats), InstanceMethod("stop", &UffdServer::Stop)});
  }

  explicit UffdServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UffdServer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "new UffdServer(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto num = [&](const char* k) -> uint64_t {
      Napi::Value v = o.Get(k);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(k) + " must be a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (d < 0 || d != static_cast<double>(static_cast<uint64_t>(d))) throw Napi::RangeError::New(env, std::string(k) + " must be a non-negative integer");
      return static_cast<uint64_t>(d);
    };
    Napi::Value path = o.Get("socketPath");
    if (!path.IsString()) throw Napi::TypeError::New(env, "socketPath must be a string");
    uint64_t page_size = num("pageSize"), size_bytes = num("sizeBytes"), readahead = num("readaheadPages");
    if (page_size == 0 || (page_size & (page_size - 1)) || size_bytes == 0 || size_bytes % page_size) {
      throw Napi::RangeError::New(env, "sizeBytes must be a positive multiple of a power-of-two pageSize");
    }
    if (readahead < 1) throw Napi::RangeError::New(env, "readaheadPages must be at least 1");
    Napi::Value map = o.Get("pageMap");
    if (!map.IsTypedArray() || map.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "pageMap must be a Uint8Array");
    }
    Napi::Uint8Array bytes = map.As<Napi::Uint8Array>();
    if (bytes.ElementLength() != size_bytes / page_size) throw Napi::RangeError::New(env, "pageMap must have one entry per page");
    Napi::Value files = o.Get("files");
    if (!files.IsArray()) throw Napi::TypeError::New(env, "files must be an array of paths");
    Napi::Array arr = files.As<Napi::Array>();
    std::vector<std::string> paths;
    for (uint32_t i = 0; i < arr.Length(); i++) paths.push_back(arr.Get(i).As<Napi::String>());
    std::vector<uint8_t> page_map(bytes.Data(), bytes.Data() + bytes.ElementLength());
    for (uint8_t g : page_map) {
      if (g > paths.size()) throw Napi::RangeError::New(env, "pageMap names a generation without a file");
    }
    try {
      server_ = std::make_unique<Server>(path.As<Napi::String>(), page_size, size_bytes, std::move(page_map), paths,
                                         static_cast<uint32_t>(readahead));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

 private:
  Napi::Value Stats(const Napi::CallbackInfo& info) { return server_->Stats(info.Env()); }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    server_->Stop();
    return info.Env().Undefined();
  }

  std::unique_ptr<Server> server_;
};

}  // namespace

void InitPageServer(Napi::Env env, Napi::Object exports) { exports.Set("UffdServer", UffdServer::Define(env)); }

}  // namespace wrenn
