#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis::cli {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

namespace {
volatile std::sig_atomic_t g_interrupt_requested = 0;
extern "C" void on_interrupt(int) { g_interrupt_requested = 1; }
}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupt_requested = 0;
  struct sigaction old {};
  if (sigaction(SIGINT, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) return;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // the handler is used once: the next Ctrl-C has the default effect
  installed_ = sigaction(SIGINT, &sa, nullptr) == 0;
}

InterruptGuard::~InterruptGuard() {
  if (installed_) std::signal(SIGINT, SIG_DFL);
}

bool InterruptGuard::requested() { return g_interrupt_requested != 0; }

std::string shell_word(const std::string& s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || (c != 0 && std::strchr("_./:=@%+-", c) != nullptr);
  });
  if (plain) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string k_at_edge_note(int k, int k_min, int k_max, const std::string& how) {
  // k = 2 at the bottom is no edge: there is no smaller k to try.
  if (k_max <= k_min || (k != k_min && k != k_max) || (k == k_min && k_min <= 2)) return "";
  return "; k = " + std::to_string(k) + " is the " + (k == k_max ? "top" : "bottom") + " of the range tried (" +
         std::to_string(k_min) + "-" + std::to_string(k_max) + "): a wider one (" + how + ") may find a better k";
}

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(stderr_is_terminal()), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, int64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? double(done) / secs : 0;
  const double frac = total > 0 ? double(done) / double(total) : 1.0;
  constexpr int kWidth = 30;
  const int filled = int(frac * kWidth);
  std::string bar(size_t(filled), '#');
  bar.resize(kWidth, '.');
  std::string eta = "--:--";
  if (rate > 0 && total >= done) {
    const int64_t left = int64_t(double(total - done) / rate);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", (long long)(left / 60), (long long)(left % 60));
    eta = buf;
  }
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %.1f/s ETA %s\x1b[K", label_.c_str(), bar.c_str(), (long long)done,
               (long long)total, rate, eta.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
  enabled_ = false;
}

namespace {
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count code points
  return n;
}
}  // namespace

void write_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = display_width(header[i]);
  std::vector<std::vector<std::string>> shown;
  for (const auto& r : rows) {
    std::vector<std::string> s;
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) {
      s.push_back(display_path(r[i]));
      w[i] = std::max(w[i], display_width(s.back()));
    }
    shown.push_back(std::move(s));
  }
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) {
      out << r[i];
      if (i + 1 < r.size()) out << std::string(w[i] - display_width(r[i]) + 2, ' ');
    }
    out << '\n';
  };
  line(header);
  for (const auto& r : shown) line(r);
}

std::string json_dump(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string count_of(int64_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural.empty() ? singular + "s" : plural);
}

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, seconds < 10 ? "%.2f s" : seconds < 100 ? "%.1f s" : "%.0f s", seconds);
  return buf;
}

Format parse_format(const std::string& s) {
  if (s == "table") return Format::table;
  if (s == "csv") return Format::csv;
  if (s == "json") return Format::json;
  throw UsageError("unknown --format '" + s + "' (expected table, csv or json)");
}

void write_rows(std::ostream& out, Format fmt, const Table& t) {
  if (fmt == Format::csv) {
    write_csv_row(out, t.header);
    for (const auto& r : t.rows) write_csv_row(out, r);
  } else {
    write_table(out, t.header, t.rows);
  }
}

}  // namespace irbis::cli
