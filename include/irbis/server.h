// `irbis serve`: the report's views, live, plus search, and a JSON API behind every view
// (cpp-httplib). Read-only: nothing in the collection changes except the thumbnail cache.
// Routes and the API are documented in README.md ("Web UI and JSON API") and docs/report.md.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "irbis/report.h"

namespace irbis {

struct ServeOptions {
  std::string host = "127.0.0.1";           // loopback unless asked otherwise
  int port = 8080;                           // 0 = any free port (printed)
  uint64_t max_upload_bytes = 20ull << 20;   // request bodies above this get 413
  uint64_t max_upload_pixels = 40ull << 20;  // decoded pixels of an uploaded query (else 400)
  int page_size = 50;                        // duplicate groups / API items per page by default
  int threads = 32;                          // HTTP worker threads (one per open connection)
  // Called once the socket listens, with the bound port.
  std::function<void(int port)> on_listen;
};

// Serves until the process is stopped (SIGINT/SIGTERM end it cleanly). Throws IoError when the
// address cannot be bound.
void serve(const Collection& coll, const ReportOptions& report, const ServeOptions& opts);

}  // namespace irbis
