// Library code never writes to a terminal. A problem it recovers from by itself (a damaged vector
// index it rebuilds, an index it could not save) is reported as a one-line message to the handler
// the front end installed: the CLI's main (which also serves `irbis serve`) prints it to stderr as
// "irbis: <message>", the Python module likewise. With no handler the message is dropped.
#pragma once
#include <functional>
#include <string>

namespace irbis {

using WarningHandler = std::function<void(const std::string& message)>;

// Replaces the process's handler (null: drop warnings). Handlers may be called from any thread,
// one call at a time.
void set_warning_handler(WarningHandler handler);
void warn(const std::string& message);

}  // namespace irbis
