// The rest of a recycled slot's cleaning without a program: which processes are in its netns
// (what `ip netns pids` answers: a walk of /proc comparing each process's net namespace with the
// slot's), and its neighbour entries flushed over rtnetlink (what `ip neigh flush` does: every
// entry that is neither permanent nor NOARP). A netns's own entries are reached through a socket
// made on a thread of its own that joins the netns and ends. Both on a worker thread.
#include <dirent.h>
#include <fcntl.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "native.h"

namespace wrenn {

namespace {

constexpr size_t kBuffer = 1 << 16;

int OpenRouteSocket() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  sockaddr_nl local = {};
  local.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

// A route socket of the netns at `path` (made on a thread that joins it and ends), or of the
// agent's own for an empty path.
int RouteSocketIn(const std::string& path) {
  if (path.empty()) return OpenRouteSocket();
  int result = -EIO;
  std::thread joiner([&] {
    int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      result = -errno;
      return;
    }
    if (setns(ns, CLONE_NEWNET) < 0) {
      result = -errno;
      close(ns);
      return;
    }
    close(ns);
    result = OpenRouteSocket();
  });
  joiner.join();
  return result;
}

struct Neighbour {
  std::vector<char> message;  // the RTM_NEWNEIGH the kernel sent, turned into its RTM_DELNEIGH
};

// Every neighbour entry (of `ifindex`, or all for 0) that `ip neigh flush` would remove, as delete requests.
int Neighbours(int fd, int ifindex, std::vector<Neighbour>* out) {
  struct {
    nlmsghdr header;
    ndmsg body;
  } request = {};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = RTM_GETNEIGH;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = 1;
  request.body.ndm_family = AF_UNSPEC;
  if (send(fd, &request, sizeof request, 0) < 0) return errno;
  std::vector<char> buffer(kBuffer);
  for (;;) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
        if (err != 0) return err;
        continue;
      }
      if (h->nlmsg_type != RTM_NEWNEIGH) continue;
      auto* entry = reinterpret_cast<ndmsg*>(NLMSG_DATA(h));
      if (ifindex != 0 && entry->ndm_ifindex != ifindex) continue;
      if (entry->ndm_state & (NUD_PERMANENT | NUD_NOARP)) continue;
      Neighbour neighbour;
      neighbour.message.assign(reinterpret_cast<char*>(h), reinterpret_cast<char*>(h) + h->nlmsg_len);
      auto* del = reinterpret_cast<nlmsghdr*>(neighbour.message.data());
      del->nlmsg_type = RTM_DELNEIGH;
      del->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
      del->nlmsg_seq = 2 + static_cast<uint32_t>(out->size());
      del->nlmsg_pid = 0;
      out->push_back(std::move(neighbour));
    }
  }
}

int Acknowledged(int fd, const std::vector<char>& request) {
  if (send(fd, request.data(), request.size(), 0) < 0) return errno;
  std::vector<char> buffer(8192);
  for (;;) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR) return -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
    }
  }
}

int FlushNeighbours(const std::string& netns, const std::string& device, double* flushed) {
  // A device's index is looked up in this thread's namespace: the agent's own only.
  if (!netns.empty() && !device.empty()) return EINVAL;
  int fd = RouteSocketIn(netns);
  if (fd < 0) return -fd;
  int ifindex = 0;
  if (!device.empty()) {
    // The device's index in the namespace the socket is of (the agent's own here: a host device).
    ifindex = static_cast<int>(if_nametoindex(device.c_str()));
    if (ifindex == 0) {
      int err = errno;
      close(fd);
      return err;
    }
  }
  std::vector<Neighbour> entries;
  int err = Neighbours(fd, ifindex, &entries);
  for (size_t i = 0; err == 0 && i < entries.size(); i++) {
    int r = Acknowledged(fd, entries[i].message);
    // Gone meanwhile is what was wanted.
    if (r == 0) *flushed += 1;
    else if (r != ENOENT) err = r;
  }
  close(fd);
  return err;
}

// Pids of the processes whose net namespace is the one bound at `path`.
int ProcessesIn(const std::string& path, std::vector<double>* pids) {
  struct stat ns;
  if (stat(path.c_str(), &ns) < 0) return errno;
  DIR* proc = opendir("/proc");
  if (!proc) return errno;
  while (dirent* entry = readdir(proc)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    std::string link = std::string("/proc/") + entry->d_name + "/ns/net";
    struct stat st;
    // Gone meanwhile, or a kernel thread: not in the netns.
    if (stat(link.c_str(), &st) < 0) continue;
    if (st.st_ino == ns.st_ino && st.st_dev == ns.st_dev) pids->push_back(atof(entry->d_name));
  }
  closedir(proc);
  return 0;
}

class NetnsWorker : public Napi::AsyncWorker {
 public:
  NetnsWorker(Napi::Env env, std::string what, std::function<int(std::vector<double>*)> work, bool list)
      : Napi::AsyncWorker(env), what_(std::move(what)), work_(std::move(work)), list_(list), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    int err = work_(&values_);
    if (err != 0) SetError(ErrnoText(what_.c_str(), err));
  }
  void OnOK() override {
    if (!list_) {
      deferred_.Resolve(Napi::Number::New(Env(), values_.empty() ? 0 : values_[0]));
      return;
    }
    Napi::Array out = Napi::Array::New(Env(), values_.size());
    for (size_t i = 0; i < values_.size(); i++) out.Set(i, Napi::Number::New(Env(), values_[i]));
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  std::string what_;
  std::function<int(std::vector<double>*)> work_;
  bool list_;
  std::vector<double> values_;
  Napi::Promise::Deferred deferred_;
};

Napi::Promise Queue(Napi::Env env, std::string what, std::function<int(std::vector<double>*)> work, bool list) {
  auto* worker = new NetnsWorker(env, std::move(what), std::move(work), list);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// processesIn(netnsPath): Promise<number[]>
Napi::Value ProcessesInJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "processesIn(netnsPath: string)");
  std::string path = info[0].As<Napi::String>();
  return Queue(env, "processes in " + path, [path](std::vector<double>* pids) { return ProcessesIn(path, pids); }, true);
}

// flushNeighbours(netnsPath, device): Promise<number>; netnsPath "" is the agent's own
// namespace, device "" every device of it.
Napi::Value FlushNeighboursJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(env, "flushNeighbours(netnsPath: string, device: string)");
  std::string netns = info[0].As<Napi::String>();
  std::string device = info[1].As<Napi::String>();
  return Queue(
      env, "neighbours of " + (netns.empty() ? device : netns),
      [netns, device](std::vector<double>* count) {
        double flushed = 0;
        int err = FlushNeighbours(netns, device, &flushed);
        count->push_back(flushed);
        return err;
      },
      false);
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("processesIn", Napi::Function::New(env, ProcessesInJs, "processesIn"));
  exports.Set("flushNeighbours", Napi::Function::New(env, FlushNeighboursJs, "flushNeighbours"));
}

}  // namespace wrenn
