// Data extents of a sparse file. A Diff snapshot is a full-size memory file where only dirty
// pages were written, so its data extents are the dirty set; Node has no SEEK_DATA/SEEK_HOLE.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "native.h"

namespace wrenn {

static Napi::Value DataExtents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "dataExtents(path: string)");
  std::string path = info[0].As<Napi::String>();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(env, ErrnoText(("open " + path).c_str(), errno));
  std::vector<double> flat;
  off_t pos = 0;
  for (;;) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      int err = errno;
      if (err == ENXIO) break;  // no data at or after pos
      close(fd);
      throw Napi::Error::New(env, ErrnoText("lseek SEEK_DATA", err));
    }
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      int err = errno;
      close(fd);
      throw Napi::Error::New(env, ErrnoText("lseek SEEK_HOLE", err));
    }
    flat.push_back(static_cast<double>(data));
    flat.push_back(static_cast<double>(hole));
    pos = hole;
  }
  close(fd);
  Napi::Array out = Napi::Array::New(env, flat.size());
  for (size_t i = 0; i < flat.size(); i++) out.Set(i, Napi::Number::New(env, flat[i]));
  return out;
}

void InitSparseExtents(Napi::Env env, Napi::Object exports) {
  exports.Set("dataExtents", Napi::Function::New(env, DataExtents, "dataExtents"));
}

}  // namespace wrenn
