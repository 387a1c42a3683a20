#include "io/library_messages.h"

#include <dav1d/dav1d.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
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
}

std::string take_library_messages() { return std::exchange(messages, std::string()); }

}  // namespace irbis::io
