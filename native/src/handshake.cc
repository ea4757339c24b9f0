// Firecracker's userfaultfd handshake: one JSON array of guest memory regions. Parsed by hand
// on the serving thread (no JS there); the grammar accepted is JSON's, values that are not
// unsigned integers are skipped, and the five keys Firecracker writes are read.
#include <cctype>
#include <cstring>

#include "native.h"

namespace wrenn {

std::string ErrnoText(const char* what, int err) { return std::string(what) + ": " + strerror(err); }

namespace {

struct Cursor {
  const std::string& s;
  size_t i = 0;
  std::string error;
  void Space() {
    while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) i++;
  }
  bool Eat(char c) {
    Space();
    if (i < s.size() && s[i] == c) {
      i++;
      return true;
    }
    return false;
  }
  bool Fail(const std::string& what) {
    if (error.empty()) error = what + " at byte " + std::to_string(i);
    return false;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return Fail("expected a string");
    out->clear();
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\') {
        if (i + 1 >= s.size()) return Fail("unterminated escape");
        i++;  // keys Firecracker writes have no escapes; keep the escaped byte as is
      }
      out->push_back(s[i++]);
    }
    if (i >= s.size()) return Fail("unterminated string");
    i++;
    return true;
  }
  // Unsigned integer; sets *is_uint false (and skips it) for any other number.
  bool Number(uint64_t* out, bool* is_uint) {
    Space();
    size_t start = i;
    *is_uint = true;
    uint64_t v = 0;
    if (i < s.size() && s[i] == '-') {
      *is_uint = false;
      i++;
    }
    if (i >= s.size() || !isdigit(static_cast<unsigned char>(s[i]))) return Fail("expected a number");
    while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
      uint64_t d = static_cast<uint64_t>(s[i] - '0');
      if (v > (UINT64_MAX - d) / 10) *is_uint = false;
      v = v * 10 + d;
      i++;
    }
    while (i < s.size() && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-' || isdigit(static_cast<unsigned char>(s[i])))) {
      *is_uint = false;
      i++;
    }
    if (i == start) return Fail("expected a number");
    *out = v;
    return true;
  }
  bool Literal() {
    Space();
    for (const char* w : {"true", "false", "null"}) {
      size_t n = strlen(w);
      if (s.compare(i, n, w) == 0) {
        i += n;
        return true;
      }
    }
    return Fail("expected a value");
  }
  // Any value we do not read (a string, literal or a non-integer number).
  bool SkipScalar() {
    Space();
    if (i < s.size() && s[i] == '"') {
      std::string ignored;
      return String(&ignored);
    }
    if (i < s.size() && (s[i] == '-' || isdigit(static_cast<unsigned char>(s[i])))) {
      uint64_t v;
      bool u;
      return Number(&v, &u);
    }
    return Literal();
  }
};

}  // namespace

bool ParseHandshake(const std::string& json, std::vector<GuestRegion>* out, std::string* error) {
  Cursor c{json, 0, {}};
  out->clear();
  auto fail = [&](const std::string& what) {
    c.Fail(what);
    *error = "bad handshake: " + c.error;
    return false;
  };
  if (!c.Eat('[')) return fail("expected '['");
  if (!c.Eat(']')) {
    do {
      if (!c.Eat('{')) return fail("expected '{'");
      GuestRegion r;
      bool has_base = false, has_size = false, has_offset = false, has_page = false;
      uint64_t page_kib = 0;
      if (!c.Eat('}')) {
        do {
          std::string key;
          if (!c.String(&key)) return fail("expected a key");
          if (!c.Eat(':')) return fail("expected ':'");
          c.Space();
          if (c.i < json.size() && (json[c.i] == '{' || json[c.i] == '[')) return fail("nested value for key " + key);
          uint64_t v = 0;
          bool is_uint = false;
          if (c.i < json.size() && isdigit(static_cast<unsigned char>(json[c.i]))) {
            if (!c.Number(&v, &is_uint)) return fail("bad number");
          } else if (!c.SkipScalar()) {
            return fail("bad value");
          }
          bool wanted = key == "base_host_virt_addr" || key == "size" || key == "offset" || key == "page_size" || key == "page_size_kib";
          if (wanted && !is_uint) return fail(key + " is not an unsigned integer");
          if (key == "base_host_virt_addr") r.base = v, has_base = true;
          else if (key == "size") r.size = v, has_size = true;
          else if (key == "offset") r.offset = v, has_offset = true;
          else if (key == "page_size") r.page_size = v, has_page = true;
          else if (key == "page_size_kib") page_kib = v;
        } while (c.Eat(','));
        if (!c.Eat('}')) return fail("expected '}'");
      }
      // Older Firecracker releases send only page_size_kib (in bytes, despite the name).
      if (!has_page && page_kib != 0) r.page_size = page_kib, has_page = true;
      if (!has_base || !has_size || !has_offset || !has_page) {
        return fail("a region lacks base_host_virt_addr, size, offset or page_size");
      }
      out->push_back(r);
    } while (c.Eat(','));
    if (!c.Eat(']')) return fail("expected ']'");
  }
  c.Space();
  if (c.i != json.size()) return fail("trailing bytes");
  if (out->empty()) return fail("no memory regions");
  return true;
}

std::string FormatHandshake(const std::vector<GuestRegion>& regions) {
  std::string s = "[";
  for (size_t i = 0; i < regions.size(); i++) {
    const GuestRegion& r = regions[i];
    if (i) s += ",";
    s += "{\"base_host_virt_addr\":" + std::to_string(r.base) + ",\"size\":" + std::to_string(r.size) +
         ",\"offset\":" + std::to_string(r.offset) + ",\"page_size\":" + std::to_string(r.page_size) +
         ",\"page_size_kib\":" + std::to_string(r.page_size) + "}";
  }
  return s + "]";
}

size_t CompleteJsonLength(const std::string& s) {
  int depth = 0;
  bool in_string = false, escaped = false, started = false;
  for (size_t i = 0; i < s.size(); i++) {
    char ch = s[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    else if (ch == '[' || ch == '{') depth++, started = true;
    else if (ch == ']' || ch == '}') {
      depth--;
      if (started && depth == 0) return i + 1;
    }
  }
  return 0;
}

}  // namespace wrenn

namespace wrenn {

// parseHandshake(json): the regions the server would read from this body, or a thrown error
// with the reason it would fail the handshake with. Lets tests pin the parser to the protocol.
static Napi::Value ParseHandshakeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "parseHandshake(json: string)");
  std::string body = info[0].As<Napi::String>();
  size_t len = CompleteJsonLength(body);
  if (len == 0) throw Napi::Error::New(env, "bad handshake: incomplete JSON");
  std::vector<GuestRegion> regions;
  std::string error;
  if (!ParseHandshake(body.substr(0, len), &regions, &error)) throw Napi::Error::New(env, error);
  Napi::Array out = Napi::Array::New(env, regions.size());
  for (size_t i = 0; i < regions.size(); i++) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("base", static_cast<double>(regions[i].base));
    r.Set("size", static_cast<double>(regions[i].size));
    r.Set("offset", static_cast<double>(regions[i].offset));
    r.Set("pageSize", static_cast<double>(regions[i].page_size));
    out.Set(i, r);
  }
  return out;
}

void InitHandshake(Napi::Env env, Napi::Object exports) {
  exports.Set("parseHandshake", Napi::Function::New(env, ParseHandshakeJs, "parseHandshake"));
}

}  // namespace wrenn
