// Connection tracking entries of a network slot, removed over netlink (ctnetlink) rather than by
// the conntrack program: a recycled slot ran it three times (twice on the host's table, once in
// the slot's netns through nsenter), on every delete.
//
// forgetFlows(ip): deletes every IPv4 entry of the host's table whose original direction comes
// from or goes to `ip` (what `conntrack -D -s ip` and `-D -d ip` delete). flushFlowsIn(netns):
// empties the table of the netns at that path (what `conntrack -F` does there); the netlink
// socket is made on a thread of its own that joins the netns and ends, so no thread of the agent
// ever runs in a slot's netns. Both on a worker thread; both answer how many entries went.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "native.h"

namespace wrenn {

namespace {

constexpr size_t kBuffer = 1 << 16;

int OpenNetfilterSocket() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
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

// A ctnetlink request: header, nfgenmsg, then `attrs` (already laid out as netlink attributes).
std::vector<char> Request(uint16_t type, uint16_t flags, uint8_t family, uint32_t seq, const std::vector<char>& attrs) {
  std::vector<char> out(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)) + attrs.size());
  auto* header = reinterpret_cast<nlmsghdr*>(out.data());
  header->nlmsg_len = static_cast<uint32_t>(out.size());
  header->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | type);
  header->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  header->nlmsg_seq = seq;
  auto* nfg = reinterpret_cast<nfgenmsg*>(out.data() + NLMSG_HDRLEN);
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  if (!attrs.empty()) memcpy(out.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), attrs.data(), attrs.size());
  return out;
}

// Sends one request and reads until its ACK (or error); answers 0 or an errno.
int Transact(int fd, const std::vector<char>& request) {
  if (send(fd, request.data(), request.size(), 0) < 0) return errno;
  std::vector<char> buffer(kBuffer);
  for (;;) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR) return -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      if (h->nlmsg_type == NLMSG_DONE) return 0;
    }
  }
}

// The attributes of a message after its nfgenmsg, as (type, payload, length) in order.
template <typename F>
void EachAttribute(const char* data, size_t length, F f) {
  size_t at = 0;
  while (at + NLA_HDRLEN <= length) {
    auto* attr = reinterpret_cast<const nlattr*>(data + at);
    if (attr->nla_len < NLA_HDRLEN || at + attr->nla_len > length) return;
    f(static_cast<uint16_t>(attr->nla_type & NLA_TYPE_MASK), data + at, attr->nla_len);
    at += NLA_ALIGN(attr->nla_len);
  }
}

struct Entry {
  uint8_t family;
  std::vector<char> attrs;  // CTA_TUPLE_ORIG (and CTA_ZONE), as the kernel sent them
};

// Dumps the host's IPv4 table; keeps the entries whose original source or destination is `ip`.
int MatchingEntries(int fd, uint32_t ip, std::vector<Entry>* out) {
  auto request = Request(IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_INET, 1, {});
  if (send(fd, request.data(), request.size(), 0) < 0) return errno;
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
      auto* nfg = reinterpret_cast<const nfgenmsg*>(NLMSG_DATA(h));
      const char* attrs = reinterpret_cast<const char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(nfgenmsg));
      size_t length = h->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(nfgenmsg));
      bool match = false;
      Entry entry{nfg->nfgen_family, {}};
      EachAttribute(attrs, length, [&](uint16_t type, const char* attr, size_t len) {
        if (type == CTA_ZONE) entry.attrs.insert(entry.attrs.end(), attr, attr + NLA_ALIGN(len));
        if (type != CTA_TUPLE_ORIG) return;
        entry.attrs.insert(entry.attrs.end(), attr, attr + NLA_ALIGN(len));
        EachAttribute(attr + NLA_HDRLEN, len - NLA_HDRLEN, [&](uint16_t t, const char* tuple_ip, size_t l) {
          if (t != CTA_TUPLE_IP) return;
          EachAttribute(tuple_ip + NLA_HDRLEN, l - NLA_HDRLEN, [&](uint16_t a, const char* address, size_t al) {
            if ((a == CTA_IP_V4_SRC || a == CTA_IP_V4_DST) && al == NLA_HDRLEN + 4) {
              uint32_t value;
              memcpy(&value, address + NLA_HDRLEN, 4);
              if (value == ip) match = true;
            }
          });
        });
      });
      if (match) out->push_back(std::move(entry));
    }
  }
}

int ForgetFlows(const std::string& ip_text, double* deleted) {
  in_addr address;
  if (inet_pton(AF_INET, ip_text.c_str(), &address) != 1) return EINVAL;
  int fd = OpenNetfilterSocket();
  if (fd < 0) return -fd;
  std::vector<Entry> entries;
  int err = MatchingEntries(fd, address.s_addr, &entries);
  uint32_t seq = 2;
  for (size_t i = 0; err == 0 && i < entries.size(); i++) {
    int r = Transact(fd, Request(IPCTNL_MSG_CT_DELETE, NLM_F_ACK, entries[i].family, seq++, entries[i].attrs));
    // Gone meanwhile (timed out, or closed) is what was wanted.
    if (r == 0) *deleted += 1;
    else if (r != ENOENT) err = r;
  }
  close(fd);
  return err;
}

// A netfilter socket of the netns at `path`: made on a thread that joins the netns and ends.
int SocketIn(const std::string& path) {
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
    result = OpenNetfilterSocket();
  });
  joiner.join();
  return result;
}

int FlushFlowsIn(const std::string& path) {
  int fd = SocketIn(path);
  if (fd < 0) return -fd;
  // No tuple: the kernel empties the table (of every family: AF_UNSPEC filters none).
  int err = Transact(fd, Request(IPCTNL_MSG_CT_DELETE, NLM_F_ACK, AF_UNSPEC, 1, {}));
  close(fd);
  return err;
}

class ConntrackWorker : public Napi::AsyncWorker {
 public:
  ConntrackWorker(Napi::Env env, std::string what, std::function<int(double*)> work)
      : Napi::AsyncWorker(env), what_(std::move(what)), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    int err = work_(&count_);
    if (err != 0) SetError(ErrnoText(what_.c_str(), err));
  }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), count_)); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  std::string what_;
  std::function<int(double*)> work_;
  Napi::Promise::Deferred deferred_;
  double count_ = 0;
};

Napi::Promise Queue(Napi::Env env, std::string what, std::function<int(double*)> work) {
  auto* worker = new ConntrackWorker(env, std::move(what), std::move(work));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// forgetFlows(ip): Promise<number>
Napi::Value ForgetFlowsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "forgetFlows(ipv4: string)");
  std::string ip = info[0].As<Napi::String>();
  return Queue(env, "conntrack entries of " + ip, [ip](double* count) { return ForgetFlows(ip, count); });
}

// flushFlowsIn(netnsPath): Promise<number> (0: the kernel does not say how many)
Napi::Value FlushFlowsInJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "flushFlowsIn(netnsPath: string)");
  std::string path = info[0].As<Napi::String>();
  return Queue(env, "conntrack table of " + path, [path](double*) { return FlushFlowsIn(path); });
}

}  // namespace

void InitConntrack(Napi::Env env, Napi::Object exports) {
  exports.Set("forgetFlows", Napi::Function::New(env, ForgetFlowsJs, "forgetFlows"));
  exports.Set("flushFlowsIn", Napi::Function::New(env, FlushFlowsInJs, "flushFlowsIn"));
}

}  // namespace wrenn
