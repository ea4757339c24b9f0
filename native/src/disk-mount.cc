// A sandbox's disk image mounted and unmounted by syscalls rather than by mount(8)/umount(8):
// a start and a teardown each ran one of those programs (a process start, libmount reading the
// mount table), which on a busy 2-core host cost more than the mount itself.
//
// mountDiskImage: a free loop device bound to the image with autoclear (the kernel frees it
// when the filesystem lets go of it, as `mount -o loop` asks), then mount(2) of ext4 with the
// given flags. detachMount: umount2(MNT_DETACH). Both on a worker thread: a mount loads the
// journal, and a detach of a filesystem nothing else holds shuts it down there and then
// (journal commit, the loop device's release), ~10 ms here.
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "native.h"

namespace wrenn {

namespace {

struct MountRequest {
  std::string image;
  std::string target;
  unsigned long flags = 0;
  std::string data;
};

// Binds a free loop device to `image_fd` with autoclear; answers its fd, or -errno.
int AttachLoop(int image_fd, const std::string& image) {
  int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) return -errno;
  // Another process may take the device between GET_FREE and CONFIGURE: retried (as losetup does).
  for (int attempt = 0; attempt < 16; attempt++) {
    int number = ioctl(control, LOOP_CTL_GET_FREE);
    if (number < 0) {
      int err = errno;
      close(control);
      return -err;
    }
    std::string device = "/dev/loop" + std::to_string(number);
    int loop = open(device.c_str(), O_RDWR | O_CLOEXEC);
    if (loop < 0) {
      if (errno == ENOENT) continue;  // made by the kernel, its node not there yet
      int err = errno;
      close(control);
      return -err;
    }
    struct loop_config config;
    memset(&config, 0, sizeof config);
    config.fd = static_cast<uint32_t>(image_fd);
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    strncpy(reinterpret_cast<char*>(config.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
    if (ioctl(loop, LOOP_CONFIGURE, &config) == 0) {
      close(control);
      return loop;
    }
    int err = errno;
    close(loop);
    if (err != EBUSY) {
      close(control);
      return -err;
    }
  }
  close(control);
  return -EBUSY;
}

// errno's name for the codes a caller tells apart (Node's own errors carry the same `code`).
const char* ErrnoName(int err) {
  switch (err) {
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    default: return "EIO";
  }
}

// One blocking piece of mount work on a worker thread, settled as a promise: an unmount's
// filesystem shutdown or a mount's journal load must not hold up the agent's event loop.
class MountWorker : public Napi::AsyncWorker {
 public:
  // `work` answers 0, or an errno with `what` set to what failed.
  MountWorker(Napi::Env env, std::function<int(std::string* what)> work)
      : Napi::AsyncWorker(env), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    std::string what;
    code_ = work_(&what);
    if (code_ != 0) SetError(ErrnoText(what.c_str(), code_));
  }

  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& error) override {
    Napi::Value value = error.Value();
    value.As<Napi::Object>().Set("code", Napi::String::New(Env(), ErrnoName(code_)));
    value.As<Napi::Object>().Set("errno", Napi::Number::New(Env(), code_));
    deferred_.Reject(value);
  }

 private:
  std::function<int(std::string*)> work_;
  Napi::Promise::Deferred deferred_;
  int code_ = 0;
};

Napi::Promise Queue(Napi::Env env, std::function<int(std::string*)> work) {
  auto* worker = new MountWorker(env, std::move(work));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

int MountImage(const MountRequest& request, std::string* what) {
  int image = open(request.image.c_str(), O_RDWR | O_CLOEXEC);
  if (image < 0) {
    *what = "open " + request.image;
    return errno;
  }
  int loop = AttachLoop(image, request.image);
  close(image);  // the loop device holds its own reference
  if (loop < 0) {
    *what = "loop device for " + request.image;
    return -loop;
  }
  char link[64], device[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", loop);
  ssize_t n = readlink(link, device, sizeof device - 1);
  if (n < 0) {
    int err = errno;
    close(loop);
    *what = "readlink loop device";
    return err;
  }
  device[n] = 0;
  int r = mount(device, request.target.c_str(), "ext4", request.flags, request.data.c_str());
  int err = errno;
  // Closed either way: mounted, the filesystem holds the device; not, autoclear frees it now.
  close(loop);
  if (r < 0) {
    *what = "mount " + request.image + " on " + request.target;
    return err;
  }
  return 0;
}

// mountDiskImage(image, target, flags, data): Promise<void>
Napi::Value MountDiskImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsString()) {
    throw Napi::TypeError::New(env, "mountDiskImage(image: string, target: string, flags: number, data: string)");
  }
  MountRequest request;
  request.image = info[0].As<Napi::String>();
  request.target = info[1].As<Napi::String>();
  request.flags = static_cast<unsigned long>(info[2].As<Napi::Number>().Int64Value());
  request.data = info[3].As<Napi::String>();
  return Queue(env, [request](std::string* what) { return MountImage(request, what); });
}

// detachMount(target): Promise<void>; rejects with `code` (EINVAL: not a mount point).
Napi::Value DetachMount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "detachMount(target: string)");
  std::string target = info[0].As<Napi::String>();
  return Queue(env, [target](std::string* what) {
    if (umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return 0;
    *what = "umount " + target;
    return errno;
  });
}

}  // namespace

void InitDiskMount(Napi::Env env, Napi::Object exports) {
  exports.Set("mountDiskImage", Napi::Function::New(env, MountDiskImage, "mountDiskImage"));
  exports.Set("detachMount", Napi::Function::New(env, DetachMount, "detachMount"));
  Napi::Object flags = Napi::Object::New(env);
  flags.Set("nosuid", Napi::Number::New(env, MS_NOSUID));
  flags.Set("nodev", Napi::Number::New(env, MS_NODEV));
  flags.Set("noatime", Napi::Number::New(env, MS_NOATIME));
  exports.Set("mountFlags", flags);
}

}  // namespace wrenn
