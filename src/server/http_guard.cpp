#include "server/http_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis::http {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

bool is_ipv4_literal(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool is_ipv6_literal(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// "name[:port]" or "[v6]:port" → name (brackets removed) and port ("" if none). False if malformed.
bool split_host(const std::string& h, std::string& name, std::string& port) {
  if (h.empty()) return false;
  if (h[0] == '[') {
    const size_t close = h.find(']');
    if (close == std::string::npos) return false;
    name = h.substr(1, close - 1);
    const std::string rest = h.substr(close + 1);
    if (rest.empty()) port.clear();
    else if (rest[0] == ':') port = rest.substr(1);
    else return false;
    return is_ipv6_literal(name);
  }
  const size_t colon = h.find(':');
  if (colon == std::string::npos) {
    name = h;
    port.clear();
  } else {
    name = h.substr(0, colon);
    port = h.substr(colon + 1);
  }
  return !name.empty();
}

int poll_one(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do r = ::poll(&p, 1, std::max(0, timeout_ms));
  while (r < 0 && errno == EINTR);
  return r;
}

std::string address_of(const sockaddr_storage& ss, int& port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
  }
  return buf;
}

// The connection's stream: buffered reads that fail once the request's deadline has passed (not
// only after one silent read timeout), writes that fail after a stalled write timeout.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

  void set_deadline(int seconds) { deadline_ = Clock::now() + std::chrono::seconds(seconds); }

  bool is_readable() const override {
    return pos_ < len_ || poll_one(sock_, POLLIN, wait_ms()) > 0;
  }
  bool is_writable() const override { return poll_one(sock_, POLLOUT, write_timeout_ms_) > 0; }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == len_) {
      if (Clock::now() >= deadline_ || !is_readable()) return -1;
      ssize_t n;
      do n = ::recv(sock_, buf_, sizeof buf_, 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      pos_ = 0;
      len_ = size_t(n);
    }
    const size_t n = std::min(size, len_ - pos_);
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    return ssize_t(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(sock_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) ip = address_of(ss, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(sock_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) ip = address_of(ss, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  int wait_ms() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    return int(std::min<int64_t>(left, read_timeout_ms_));
  }
  int sock_;
  int read_timeout_ms_, write_timeout_ms_;
  Clock::time_point deadline_ = Clock::now();
  char buf_[4096];
  size_t pos_ = 0, len_ = 0;
};

thread_local DeadlineStream* tl_stream = nullptr;
thread_local int tl_body_seconds = 0;

}  // namespace

int64_t parse_int_param(const std::string& name, const std::string& value, int64_t lo, int64_t hi) {
  const auto bad = [&] {
    return UsageError("parameter " + name + " must be an integer from " + std::to_string(lo) + " to " +
                      std::to_string(hi));
  };
  size_t i = value.size() > 0 && value[0] == '-' ? 1 : 0;
  if (i == value.size() || value.size() - i > 19) throw bad();
  int64_t v = 0;
  for (; i < value.size(); ++i) {
    const char c = value[i];
    if (c < '0' || c > '9') throw bad();
    if (v > (INT64_MAX - (c - '0')) / 10) throw bad();  // would overflow
    v = v * 10 + (c - '0');
  }
  if (value[0] == '-') v = -v;
  if (v < lo || v > hi) throw bad();
  return v;
}

int64_t int_param(const httplib::Request& req, const char* name, int64_t def, int64_t lo, int64_t hi) {
  if (!req.has_param(name)) return def;
  return parse_int_param(name, req.get_param_value(name), lo, hi);
}

bool host_allowed(const std::string& host_header, const std::string& bound_host, int bound_port) {
  if (host_header.empty()) return true;
  std::string name, port;
  if (!split_host(host_header, name, port)) return false;
  if (!port.empty() && port != std::to_string(bound_port)) return false;
  name = lower(name);
  if (!name.empty() && name.back() == '.') name.pop_back();  // "localhost." is localhost
  // IP literals cannot be rebound by DNS; "localhost" resolves locally; the bound name is the user's.
  return is_ipv4_literal(name) || is_ipv6_literal(name) || name == "localhost" || name == lower(bound_host);
}

bool cross_origin_write(const std::string& method, const std::string& origin, const std::string& sec_fetch_site,
                        const std::string& host_header) {
  if (method == "GET" || method == "HEAD" || method == "OPTIONS") return false;
  const std::string site = lower(sec_fetch_site);
  if (site == "cross-site" || site == "same-site") return true;
  if (origin.empty()) return false;
  return lower(origin) != "http://" + lower(host_header);
}

bool multiple_ranges(const std::string& range_header) { return range_header.find(',') != std::string::npos; }

DecodeBudget::Lease::Lease(DecodeBudget& b, uint64_t bytes) : b_(b), bytes_(bytes) {
  std::unique_lock lk(b_.mu_);
  b_.cv_.wait(lk, [&] { return b_.in_flight_ == 0 || b_.in_flight_ + bytes_ <= b_.budget_; });
  b_.in_flight_ += bytes_;
}
DecodeBudget::Lease::~Lease() {
  {
    std::lock_guard lk(b_.mu_);
    b_.in_flight_ -= bytes_;
  }
  b_.cv_.notify_all();
}
uint64_t DecodeBudget::in_flight() const {
  std::lock_guard lk(mu_);
  return in_flight_;
}

uint64_t peak_bytes_per_pixel(ImageFormat f) {
  switch (f) {
    case ImageFormat::jpeg: return 11;
    case ImageFormat::png: return 15;
    case ImageFormat::webp:
    case ImageFormat::bmp: return 7;
    case ImageFormat::gif: return 3;
    default: return 40;  // TIFF: up to 64-bit float RGBA plus its 8-bit copies
  }
}

DecodedImage decode_upload(std::span<const uint8_t> bytes, uint64_t max_pixels, DecodeBudget& budget,
                           int min_side) {
  if (bytes.empty()) throw DecodeError("empty upload");
  const ImageHeader h = read_header(bytes);  // DecodeError for anything that is not a known image
  const uint64_t pixels = uint64_t(h.width) * uint64_t(h.height);
  if (pixels > max_pixels)
    throw DecodeError("image declares " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                      " pixels, over the upload limit of " + std::to_string(max_pixels));
  DecodeOptions d;
  d.max_pixels = max_pixels;
  d.min_side = min_side;
  const DecodeBudget::Lease lease(budget, pixels * peak_bytes_per_pixel(h.format));
  return decode_image(bytes, d);
}

void HardenedServer::headers_received() {
  if (tl_stream) tl_stream->set_deadline(tl_body_seconds);
}

int HardenedServer::open_connections() const {
  std::lock_guard lk(mu_);
  int n = 0;
  for (const auto& [ip, c] : per_client_) n += c;
  return n;
}

bool HardenedServer::process_and_close_socket(socket_t sock) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int port = 0;
  const std::string client =
      getpeername(sock, reinterpret_cast<sockaddr*>(&ss), &len) == 0 ? address_of(ss, port) : std::string();
  bool admitted;
  {
    std::lock_guard lk(mu_);
    admitted = ++per_client_[client] <= limits_.per_client;
  }
  bool ret = false;
  if (!admitted) {
    static const char kBusy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 32\r\nConnection: close\r\n\r\n"
                                "too many connections from you\r\n";
    (void)!::send(sock, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  } else {
    DeadlineStream strm(sock, 5000, 5000);
    tl_stream = &strm;
    tl_body_seconds = limits_.body_seconds;
    for (int count = limits_.max_requests; count > 0; --count) {
      // Wait for the next request (the first one may take until the header deadline).
      const auto wait_until = Clock::now() + std::chrono::seconds(count == limits_.max_requests
                                                                      ? limits_.header_seconds
                                                                      : limits_.idle_seconds);
      bool ready = false;
      while (svr_sock_ != INVALID_SOCKET && Clock::now() < wait_until)
        if ((ready = strm.is_readable() || poll_one(sock, POLLIN, 100) > 0)) break;
      if (!ready || svr_sock_ == INVALID_SOCKET) break;
      strm.set_deadline(limits_.header_seconds);
      bool connection_closed = false;
      ret = process_request(strm, count == 1, connection_closed, nullptr);
      if (!ret || connection_closed) break;
    }
    tl_stream = nullptr;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  std::lock_guard lk(mu_);
  if (--per_client_[client] <= 0) per_client_.erase(client);
  return ret;
}

}  // namespace irbis::http
