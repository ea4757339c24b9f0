// A channel over a SOCK_SEQPACKET Unix socket (a sandbox's init agent, native/sandbox/init-agent.h):
// one message per packet, file descriptors by SCM_RIGHTS in both directions. Reading is driven by
// a uv_poll on the event loop, so nothing here ever blocks it.
//
//   const ch = new SeqpacketChannel(path, (message: Buffer, fds: number[]) => …, (error?: string) => …)
//   ch.send(buffer, fds?)   throws with the errno code (EAGAIN when the socket's buffer is full)
//   ch.close()              stops polling and closes the socket (the close callback is not called)
//
// Received fds come close-on-exec (MSG_CMSG_CLOEXEC) and belong to the caller from then on. A
// packet larger than the receive buffer, or with more fds than fit, ends the channel: the peer
// is not trusted to keep to the protocol.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <vector>

#include "native.h"

namespace wrenn {
namespace {

constexpr size_t kMaxPacket = 64 * 1024;
constexpr int kMaxFds = 8;

Napi::Error ErrnoError(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, ErrnoText(what, err));
  const char* name = nullptr;
  switch (err) {
    case ENOENT: name = "ENOENT"; break;
    case ECONNREFUSED: name = "ECONNREFUSED"; break;
    case EAGAIN: name = "EAGAIN"; break;
    case EPIPE: name = "EPIPE"; break;
    case ENOTCONN: name = "ENOTCONN"; break;
    case ECONNRESET: name = "ECONNRESET"; break;
    case EMSGSIZE: name = "EMSGSIZE"; break;
    case ENAMETOOLONG: name = "ENAMETOOLONG"; break;
    case EACCES: name = "EACCES"; break;
    case EBADF: name = "EBADF"; break;
    default: name = "EIO";
  }
  e.Set("code", Napi::String::New(e.Env(), name));
  e.Set("errno", Napi::Number::New(e.Env(), err));
  return e;
}

class SeqpacketChannel : public Napi::ObjectWrap<SeqpacketChannel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SeqpacketChannel",
                       {InstanceMethod("send", &SeqpacketChannel::Send), InstanceMethod("close", &SeqpacketChannel::Close),
                        InstanceMethod("ref", &SeqpacketChannel::LoopRef), InstanceMethod("unref", &SeqpacketChannel::LoopUnref)});
  }

  explicit SeqpacketChannel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SeqpacketChannel>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsFunction() || !info[2].IsFunction())
      throw Napi::TypeError::New(env, "SeqpacketChannel(path, onMessage, onClose)");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) throw ErrnoError(env, "connect", ENAMETOOLONG);
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw ErrnoError(env, "socket", errno);
    // A Unix socket's connect answers at once (or refuses): blocking here costs nothing.
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      throw ErrnoError(env, "connect", err);
    }
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    on_message_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_close_ = Napi::Persistent(info[2].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_poll_init(loop, poll_, fd_);
    uv_poll_start(poll_, UV_READABLE | UV_DISCONNECT, &SeqpacketChannel::OnReadable);
    Ref();  // alive while polling, whatever JS holds
  }

  ~SeqpacketChannel() override { Shutdown(); }

 private:
  static void OnReadable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<SeqpacketChannel*>(handle->data);
    if (self) self->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) return End("poll failed");
    std::vector<char> buf(kMaxPacket);
    for (int i = 0; i < 64 && fd_ >= 0; i++) {
      char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
      iovec iov{buf.data(), buf.size()};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n < 0) return End(ErrnoText("recvmsg", errno).c_str());
      std::vector<int> fds;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t k = 0; k < count; k++) {
          int fd;
          memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
          fds.push_back(fd);
        }
      }
      if (n == 0 && fds.empty()) return End(nullptr);
      if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        for (int fd : fds) ::close(fd);
        return End("a packet larger than the protocol allows");
      }
      Napi::Array list = Napi::Array::New(env, fds.size());
      for (size_t k = 0; k < fds.size(); k++) list.Set(k, Napi::Number::New(env, fds[k]));
      try {
        on_message_.MakeCallback(env.Global(), {Napi::Buffer<char>::Copy(env, buf.data(), static_cast<size_t>(n)), list});
      } catch (const Napi::Error&) {
        // The listener's own failure: it must not stop the channel (the JS side catches its own).
      }
    }
  }

  // The peer closed (reason null) or broke the protocol.
  void End(const char* reason) {
    Napi::Env env = Env();
    bool was_open = fd_ >= 0;
    Shutdown();
    if (!was_open) return;
    try {
      on_close_.MakeCallback(env.Global(), {reason ? Napi::String::New(env, reason) : env.Undefined()});
    } catch (const Napi::Error&) {
    }
    Unref();
  }

  void Shutdown() {
    if (poll_) {
      poll_->data = nullptr;
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) throw ErrnoError(env, "send", ENOTCONN);
    if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "send(buffer, fds?)");
    auto data = info[0].As<Napi::Buffer<char>>();
    std::vector<int> fds;
    if (info.Length() > 1 && info[1].IsArray()) {
      auto list = info[1].As<Napi::Array>();
      if (list.Length() > kMaxFds) throw Napi::RangeError::New(env, "too many fds");
      for (uint32_t k = 0; k < list.Length(); k++) fds.push_back(list.Get(k).As<Napi::Number>().Int32Value());
    }
    iovec iov{data.Data(), data.Length()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    if (!fds.empty()) {
      memset(control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n;
    do n = sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw ErrnoError(env, "send", errno);
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    bool was_open = fd_ >= 0;
    Shutdown();
    if (was_open) Unref();
    return info.Env().Undefined();
  }

  // The poll keeps the event loop alive; a channel may be told not to.
  Napi::Value LoopRef(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }
  Napi::Value LoopUnref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_close_;
};

// TIOCSWINSZ on a PTY master the host holds: the kernel sends SIGWINCH to the terminal's foreground group.
Napi::Value SetWindowSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) throw Napi::TypeError::New(env, "setWindowSize(fd, cols, rows)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint32_t cols = info[1].As<Napi::Number>().Uint32Value(), rows = info[2].As<Napi::Number>().Uint32Value();
  if (!cols || !rows || cols > 65535 || rows > 65535) throw Napi::RangeError::New(env, "terminal size out of range");
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) throw ErrnoError(env, "TIOCSWINSZ", errno);
  return env.Undefined();
}

}  // namespace

void InitSeqpacketChannel(Napi::Env env, Napi::Object exports) {
  exports.Set("SeqpacketChannel", SeqpacketChannel::Define(env));
  exports.Set("setWindowSize", Napi::Function::New(env, SetWindowSize));
}

}  // namespace wrenn
