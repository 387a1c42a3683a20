// The checks `irbis serve` applies to every connection and request before a route sees it
// (issue 16, docs/reliability.md): which Host and Origin it answers, how long a client may take to
// send a request, how many connections one client may hold, which Range headers it serves, how
// query integers are parsed, and how many decoded upload bytes may be in memory at once.
// Pure functions where possible, so the fuzz target and the unit tests call them directly.
#pragma once
#include <httplib.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>

#include "irbis/image.h"

namespace irbis::http {

// An integer query value: decimal digits with an optional '-', inside [lo, hi]; else UsageError
// (400) naming the parameter and the range. Never clamps, never overflows.
int64_t parse_int_param(const std::string& name, const std::string& value, int64_t lo, int64_t hi);
// The same for a request's parameter; `def` when it is absent.
int64_t int_param(const httplib::Request& req, const char* name, int64_t def, int64_t lo, int64_t hi);

// Whether the Host header names this server: an IP literal, "localhost", or the name the server
// was bound to, with the bound port if a port is given. Any other name is what a DNS-rebinding
// page sends, so it is refused. An empty Host (HTTP/1.0 clients) is accepted.
bool host_allowed(const std::string& host_header, const std::string& bound_host, int bound_port);

// Whether a request that changes or costs something (anything but GET/HEAD/OPTIONS) comes from a
// page of another origin: an Origin that is not http://<Host>, or Sec-Fetch-Site cross-site /
// same-site. Requests without either header (curl, scripts) are not cross-origin.
bool cross_origin_write(const std::string& method, const std::string& origin, const std::string& sec_fetch_site,
                        const std::string& host_header);

// Whether a Range header asks for more than one range (the server answers only single ranges).
bool multiple_ranges(const std::string& range_header);

// A bound on decoded upload bytes in memory at once. acquire() waits until `bytes` fit under the
// budget; one request larger than the whole budget still runs, alone.
class DecodeBudget {
 public:
  explicit DecodeBudget(uint64_t budget_bytes) : budget_(budget_bytes) {}
  class Lease {
   public:
    Lease(DecodeBudget& b, uint64_t bytes);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

   private:
    DecodeBudget& b_;
    uint64_t bytes_;
  };
  uint64_t in_flight() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t budget_;
  uint64_t in_flight_ = 0;
};

// Decoded upload bytes in memory at once (D8): the declared pixels times the format's peak bytes
// per pixel (docs/reliability.md, "What max_pixels bounds"), under a budget of 768 MiB: several
// small uploads decode at once, a 40 MP 16-bit PNG alone.
constexpr uint64_t kDecodeBudgetBytes = 768ull << 20;
uint64_t peak_bytes_per_pixel(ImageFormat f);

// The upload path of POST /api/search up to the network: header read, declared pixels checked
// against `max_pixels`, then the decode under a lease of the budget. DecodeError (400) for
// anything that is not an acceptable image. `min_side` is the model's input side: the decode
// index uses, so an uploaded copy of an indexed file gets the same embedding (0 = full size).
DecodedImage decode_upload(std::span<const uint8_t> bytes, uint64_t max_pixels, DecodeBudget& budget,
                           int min_side);

struct ConnectionLimits {
  int per_client = 128;       // open connections from one address; more are closed at once
  int header_seconds = 10;    // a request's line and headers must arrive within this
  int body_seconds = 120;     // ... and its body (an upload) within this after the headers
  int idle_seconds = 5;       // keep-alive wait for the next request
  int max_requests = 1000;    // requests per connection
};

// httplib::Server with a deadline per request read and a cap on connections per client
// (cpp-httplib 0.11 has only a per-read timeout, which a client trickling one header line every
// few seconds never hits). It owns the connection loop: its own Stream enforces the deadline.
class HardenedServer : public httplib::Server {
 public:
  explicit HardenedServer(ConnectionLimits limits) : limits_(limits) {}
  // Called from the pre-routing handler once the headers are in: the body gets its own deadline.
  static void headers_received();
  int open_connections() const;

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionLimits limits_;
  mutable std::mutex mu_;
  std::map<std::string, int> per_client_;
};

}  // namespace irbis::http
