#include "io/dav1d_log.h"

#include <dav1d/dav1d.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <utility>

#include "io/library_imports.h"

namespace irbis::io {

namespace {

using OpenFn = int(Dav1dContext**, const Dav1dSettings*);
std::atomic<OpenFn*> real_dav1d_open{nullptr};

// dav1d logs on the thread that calls it (libavif and libheif decode with one dav1d thread here,
// on the caller's thread); a message from a worker thread of its own would land in that thread's
// buffer, which is as quiet.
thread_local std::string messages;
constexpr size_t kMaxMessages = 400;

void keep_message(void*, const char* format, va_list ap) {
  char line[256];
  std::vsnprintf(line, sizeof line, format, ap);
  std::string m(line);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (m.empty() || messages.size() >= kMaxMessages) return;
  messages += (messages.empty() ? "" : "; ") + m;
  if (messages.size() > kMaxMessages) messages.resize(kMaxMessages);
}

int dav1d_open_with_our_logger(Dav1dContext** c, const Dav1dSettings* s) {
  Dav1dSettings ours = *s;
  ours.logger.cookie = nullptr;
  ours.logger.callback = keep_message;
  return real_dav1d_open.load()(c, &ours);
}

}  // namespace

void route_dav1d_log(void* dl_handle) {
  // The real dav1d_open is known before any slot points at our wrapper.
  void* real = dlsym(dl_handle, "dav1d_open");
  if (!real) return;  // this library does not use dav1d
  real_dav1d_open.store(reinterpret_cast<OpenFn*>(real));
  redirect_import(dl_handle, "dav1d_open", reinterpret_cast<void*>(&dav1d_open_with_our_logger));
}

std::string take_dav1d_messages() { return std::exchange(messages, std::string()); }

}  // namespace irbis::io
