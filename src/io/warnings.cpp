#include "irbis/warnings.h"

#include <mutex>

namespace irbis {

namespace {
std::mutex& handler_mutex() {
  static std::mutex m;
  return m;
}
WarningHandler& handler() {
  static WarningHandler h;
  return h;
}
}  // namespace

void set_warning_handler(WarningHandler h) {
  std::lock_guard lk(handler_mutex());
  handler() = std::move(h);
}

void warn(const std::string& message) {
  std::lock_guard lk(handler_mutex());
  if (handler()) handler()(message);
}

}  // namespace irbis
