// A Debian shared library loaded the first time one of its functions is called (dlopen), so that
// a command that never needs it does not load it, and its dependencies, at start-up: OpenCV's
// image codecs and ximgproc (about 140 libraries), libheif, libavif and libjxl (with their HEVC and
// AV1 codecs: x265, de265, dav1d, aom, gav1, rav1e, SVT-AV1; about 7 ms of every command's start,
// bench/startup.sh). irbis compiles against their headers and does not link them.
#pragma once
#include <mutex>
#include <string>

namespace irbis::io {

class LazyLibrary {
 public:
  // soname: e.g. "libheif.so.1" (CMake passes the one the build found); what: what it is for,
  // named in the error when it cannot be loaded ("HEIF decoding"); on_load: called once with the
  // dlopen handle right after loading, before any function of it is handed out.
  LazyLibrary(const char* soname, const char* what, void (*on_load)(void* handle) = nullptr)
      : soname_(soname), what_(what), on_load_(on_load) {}

  // The address of function `name`, loading the library first. Throws NotAvailableError naming the
  // library and dlerror() when it cannot be loaded or lacks the function.
  void* symbol(const char* name);
  template <class Fn>
  Fn* function(const char* name) {
    return reinterpret_cast<Fn*>(symbol(name));
  }

  // Whether the library is mapped in this process, by this or any other way (tests check that
  // nothing loaded it at start-up).
  bool loaded() const;
  const char* soname() const { return soname_; }

 private:
  void* handle();
  const char* soname_;
  const char* what_;
  void (*on_load_)(void* handle);
  std::once_flag once_;
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace irbis::io

// A function of a LazyLibrary, resolved once at its first call: IRBIS_LAZY_FN(libheif(), heif_context_alloc)(...).
#define IRBIS_LAZY_FN(library, name) \
  ([]() { static auto* const fn = (library).function<decltype(::name)>(#name); return fn; }())
