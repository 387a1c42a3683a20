// `irbis serve`'s request checks (src/server/http_guard.h): query integers, Host, Origin /
// Sec-Fetch-Site and Range headers, from arbitrary bytes. Invariants: an accepted integer lies in
// its range and is the value its digits spell; an accepted Host names this server.
#include <string>

#include "fuzz_util.h"
#include "irbis/errors.h"
#include "server/http_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  // Fields separated by '\n': value, host, origin, sec-fetch-site, range, method.
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string f[6];
  size_t start = 0;
  for (int i = 0; i < 6 && start <= in.size(); ++i) {
    const size_t end = std::min(in.find('\n', start), in.size());
    f[i] = in.substr(start, end - start);
    start = end + 1;
  }
  for (const auto& [lo, hi] : {std::pair<int64_t, int64_t>{0, int64_t(1) << 40}, {1, 1000}, {INT64_MIN, INT64_MAX}}) {
    try {
      const int64_t v = http::parse_int_param("offset", f[0], lo, hi);
      if (v < lo || v > hi) fuzz::invariant_failed("parsed integer outside its range");
      // The digits spell the value (leading zeros and "-0" aside).
      std::string digits = f[0][0] == '-' ? f[0].substr(1) : f[0];
      digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
      const std::string mag = v < 0 ? std::to_string(v).substr(1) : std::to_string(v);
      if (digits != mag) fuzz::invariant_failed("parsed integer differs from its digits");
    } catch (const UsageError&) {
    }
  }
  const bool ok = http::host_allowed(f[1], "127.0.0.1", 8080);
  if (ok && f[1].find('/') != std::string::npos) fuzz::invariant_failed("a Host with '/' accepted");
  const bool cross = http::cross_origin_write(f[5], f[2], f[3], f[1]);
  if ((f[5] == "GET" || f[5] == "HEAD") && cross) fuzz::invariant_failed("a read counted as a cross-origin write");
  if (http::multiple_ranges(f[4]) != (f[4].find(',') != std::string::npos)) fuzz::invariant_failed("ranges");
  return 0;
}
