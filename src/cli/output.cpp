#include "cli/output.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis::cli {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

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
