#include "io/lazy_library.h"

#include <dlfcn.h>

#include "irbis/errors.h"

namespace irbis::io {

void* LazyLibrary::handle() {
  std::call_once(once_, [&] {
    handle_ = dlopen(soname_, RTLD_NOW | RTLD_GLOBAL);
    if (!handle_) error_ = dlerror();
    else if (on_load_) on_load_(handle_);
  });
  if (!handle_) throw NotAvailableError(std::string("cannot load ") + soname_ + " (" + what_ + "): " + error_);
  return handle_;
}

void* LazyLibrary::symbol(const char* name) {
  void* f = dlsym(handle(), name);
  if (!f) throw NotAvailableError(std::string(soname_) + " has no " + name + " (" + what_ + ")");
  return f;
}

bool LazyLibrary::loaded() const { return dlopen(soname_, RTLD_NOW | RTLD_NOLOAD) != nullptr; }

}  // namespace irbis::io
