// The request checks of `irbis serve` (src/server/http_guard.h, issue 16 D6-D10).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "irbis/errors.h"
#include "server/http_guard.h"

using namespace irbis;
using namespace irbis::http;

TEST(HttpGuard, IntParamsAreStrictAndNeverOverflow) {
  EXPECT_EQ(parse_int_param("offset", "0", 0, 100), 0);
  EXPECT_EQ(parse_int_param("offset", "100", 0, 100), 100);
  EXPECT_EQ(parse_int_param("k", "-3", -5, 5), -3);
  EXPECT_EQ(parse_int_param("x", "9223372036854775807", 0, INT64_MAX), INT64_MAX);
  for (const char* bad : {"", "-", "+5", " 5", "5 ", "1e3", "0x10", "101", "-1", "9223372036854775808",
                          "99999999999999999999", "-9223372036854775809", "5\n", "５"}) {
    EXPECT_THROW(parse_int_param("offset", bad, 0, 100), UsageError) << bad;
  }
  try {
    parse_int_param("limit", "0", 1, 1000);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "parameter limit must be an integer from 1 to 1000");
  }
}

TEST(HttpGuard, HostMustNameThisServer) {
  EXPECT_TRUE(host_allowed("", "127.0.0.1", 8080));
  EXPECT_TRUE(host_allowed("127.0.0.1:8080", "127.0.0.1", 8080));
  EXPECT_TRUE(host_allowed("localhost:8080", "127.0.0.1", 8080));
  EXPECT_TRUE(host_allowed("LOCALHOST.", "127.0.0.1", 8080));
  EXPECT_TRUE(host_allowed("[::1]:8080", "127.0.0.1", 8080));
  EXPECT_TRUE(host_allowed("192.168.1.20:8080", "0.0.0.0", 8080));
  EXPECT_TRUE(host_allowed("photos.lan:8080", "photos.lan", 8080));
  EXPECT_FALSE(host_allowed("evil.example:8080", "127.0.0.1", 8080));
  EXPECT_FALSE(host_allowed("evil.example", "127.0.0.1", 8080));
  EXPECT_FALSE(host_allowed("localhost:8081", "127.0.0.1", 8080));
  EXPECT_FALSE(host_allowed("127.0.0.1.evil.example", "127.0.0.1", 8080));
  EXPECT_FALSE(host_allowed("[::1", "127.0.0.1", 8080));
  EXPECT_FALSE(host_allowed("[evil]:8080", "127.0.0.1", 8080));
  EXPECT_FALSE(host_allowed(":8080", "127.0.0.1", 8080));
}

TEST(HttpGuard, CrossOriginWritesAreRecognised) {
  EXPECT_FALSE(cross_origin_write("POST", "", "", "127.0.0.1:8080"));  // curl
  EXPECT_FALSE(cross_origin_write("POST", "http://127.0.0.1:8080", "same-origin", "127.0.0.1:8080"));
  EXPECT_TRUE(cross_origin_write("POST", "http://evil.example", "", "127.0.0.1:8080"));
  EXPECT_TRUE(cross_origin_write("POST", "null", "", "127.0.0.1:8080"));
  EXPECT_TRUE(cross_origin_write("POST", "", "cross-site", "127.0.0.1:8080"));
  EXPECT_TRUE(cross_origin_write("PUT", "http://localhost:8080", "", "127.0.0.1:8080"));
  EXPECT_FALSE(cross_origin_write("GET", "http://evil.example", "cross-site", "127.0.0.1:8080"));
}

TEST(HttpGuard, MultipleRanges) {
  EXPECT_FALSE(multiple_ranges(""));
  EXPECT_FALSE(multiple_ranges("bytes=0-99"));
  EXPECT_TRUE(multiple_ranges("bytes=0-,0-"));
}

TEST(HttpGuard, DecodeBudgetBoundsBytesInFlight) {
  DecodeBudget budget(100);
  std::atomic<uint64_t> peak{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      DecodeBudget::Lease lease(budget, 40);
      uint64_t now = budget.in_flight(), prev = peak.load();
      while (now > prev && !peak.compare_exchange_weak(prev, now)) {}
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    });
  for (auto& t : ts) t.join();
  EXPECT_LE(peak.load(), 80u);
  EXPECT_EQ(budget.in_flight(), 0u);
  {  // one request over the whole budget still runs, alone
    DecodeBudget::Lease big(budget, 1000);
    EXPECT_EQ(budget.in_flight(), 1000u);
  }
}

namespace {
int connect_to(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return s;
}
std::string read_all(int s) {
  timeval tv{5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(s, buf, sizeof buf, 0)) > 0) out.append(buf, size_t(n));
  return out;
}
}  // namespace

// A client over its connection cap gets 503 at once; a request that does not finish its headers
// by the deadline is cut although it keeps sending.
TEST(HttpGuard, ConnectionCapAndHeaderDeadline) {
  ConnectionLimits limits;
  limits.per_client = 2;
  limits.header_seconds = 1;
  HardenedServer svr(limits);
  svr.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    HardenedServer::headers_received();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
  const int port = svr.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { svr.listen_after_bind(); });
  const int a = connect_to(port), b = connect_to(port);
  ::send(a, "GET / HTTP/1.1\r\n", 16, 0);
  ::send(b, "GET / HTTP/1.1\r\n", 16, 0);
  for (int i = 0; i < 50 && svr.open_connections() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int c = connect_to(port);
  EXPECT_NE(read_all(c).find("503"), std::string::npos);
  ::close(c);
  // `a` trickles a header line every 300 ms; the 1 s deadline ends it within ~1.5 s.
  const auto start = std::chrono::steady_clock::now();
  bool cut = false;
  for (int i = 0; i < 20 && !cut; ++i) {
    cut = ::send(a, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) < 0;
    char ch;
    cut = cut || ::recv(a, &ch, 1, MSG_DONTWAIT) >= 0;  // an answer or the end of the stream
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(cut);
  EXPECT_LT(secs, 3.0);
  ::close(a);
  ::close(b);
  // Once the slow ones are gone a normal request is answered.
  for (int i = 0; i < 100 && svr.open_connections() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int d = connect_to(port);
  const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ::send(d, req, sizeof req - 1, 0);
  EXPECT_NE(read_all(d).find("hi"), std::string::npos);
  ::close(d);
  svr.stop();
  t.join();
}
