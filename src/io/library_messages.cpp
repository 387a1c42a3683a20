#include "io/library_messages.h"

#include <dav1d/dav1d.h>
#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>
#include <utility>

#include "io/library_imports.h"

namespace irbis::io {

namespace {

// The libraries print on the thread that calls them (dav1d runs one thread here, on the caller's);
// a message from a worker thread of a library's own lands in that thread's buffer, as quietly.
thread_local std::string messages;
constexpr size_t kMaxMessages = 400;

void keep(const char* format, va_list ap) {
  char line[256];
  std::vsnprintf(line, sizeof line, format, ap);
  std::string m(line);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (m.empty() || messages.size() >= kMaxMessages) return;
  messages += (messages.empty() ? "" : "; ") + m;
  if (messages.size() > kMaxMessages) messages.resize(kMaxMessages);
}

// --- dav1d's logger ---
using Dav1dOpen = int(Dav1dContext**, const Dav1dSettings*);
std::atomic<Dav1dOpen*> real_dav1d_open{nullptr};

void dav1d_message(void*, const char* format, va_list ap) { keep(format, ap); }

int dav1d_open_with_our_logger(Dav1dContext** c, const Dav1dSettings* s) {
  Dav1dSettings ours = *s;
  ours.logger.cookie = nullptr;
  ours.logger.callback = dav1d_message;
  return real_dav1d_open.load()(c, &ours);
}

// --- a library's own prints: what goes to stderr is kept, anything else is printed as asked ---
int vfprintf_kept(FILE* stream, const char* format, va_list ap) {
  if (stream != stderr) return std::vfprintf(stream, format, ap);
  va_list copy;
  va_copy(copy, ap);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  keep(format, ap);
  return n;
}
int vfprintf_chk_kept(FILE* stream, int /*fortify flag*/, const char* format, va_list ap) {
  return vfprintf_kept(stream, format, ap);
}
int fprintf_kept(FILE* stream, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  const int n = vfprintf_kept(stream, format, ap);
  va_end(ap);
  return n;
}
int fprintf_chk_kept(FILE* stream, int /*fortify flag*/, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  const int n = vfprintf_kept(stream, format, ap);
  va_end(ap);
  return n;
}
void keep_text(const char* text, size_t n) {
  std::string m(text, n);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (m.empty() || messages.size() >= kMaxMessages) return;
  messages += (messages.empty() ? "" : "; ") + m;
  if (messages.size() > kMaxMessages) messages.resize(kMaxMessages);
}
int fputs_kept(const char* text, FILE* stream) {
  if (stream != stderr) return std::fputs(text, stream);
  keep_text(text, std::strlen(text));
  return 1;
}
int fputc_kept(int c, FILE* stream) {
  if (stream != stderr) return std::fputc(c, stream);
  return c;  // single characters to stderr are line ends after a message
}
size_t fwrite_kept(const void* data, size_t size, size_t count, FILE* stream) {
  if (stream != stderr) return std::fwrite(data, size, count, stream);  // e.g. libpng writing a PNG
  keep_text(static_cast<const char*>(data), size * count);
  return count;
}

}  // namespace

void route_dav1d_log(void* dl_handle) {
  // The real dav1d_open is known before any slot points at our wrapper.
  void* real = dlsym(dl_handle, "dav1d_open");
  if (!real) return;  // this library does not use dav1d
  real_dav1d_open.store(reinterpret_cast<Dav1dOpen*>(real));
  redirect_import(dl_handle, "dav1d_open", reinterpret_cast<void*>(&dav1d_open_with_our_logger));
}

void route_stderr_prints(void* dl_handle) {
  // glibc's fortified names (what Debian's builds call) and the plain ones.
  redirect_import(dl_handle, "__vfprintf_chk", reinterpret_cast<void*>(&vfprintf_chk_kept));
  redirect_import(dl_handle, "vfprintf", reinterpret_cast<void*>(&vfprintf_kept));
  redirect_import(dl_handle, "__fprintf_chk", reinterpret_cast<void*>(&fprintf_chk_kept));
  redirect_import(dl_handle, "fprintf", reinterpret_cast<void*>(&fprintf_kept));
  redirect_import(dl_handle, "fputs", reinterpret_cast<void*>(&fputs_kept));
  redirect_import(dl_handle, "fputc", reinterpret_cast<void*>(&fputc_kept));
  redirect_import(dl_handle, "fwrite", reinterpret_cast<void*>(&fwrite_kept));
}

void route_stderr_prints_of_loaded(std::initializer_list<const char*> names) {
  std::vector<std::string> paths;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        if (info->dlpi_name && *info->dlpi_name) static_cast<std::vector<std::string>*>(data)->push_back(info->dlpi_name);
        return 0;
      },
      &paths);
  for (const std::string& path : paths) {
    const std::string file = path.substr(path.rfind('/') + 1);
    for (const char* name : names) {
      if (file.rfind(name, 0) != 0) continue;
      // Already loaded (by the library that needs it): this only gets a handle, no new load.
      if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
        route_stderr_prints(handle);
        dlclose(handle);
      }
    }
  }
}

std::string take_library_messages() { return std::exchange(messages, std::string()); }

}  // namespace irbis::io
