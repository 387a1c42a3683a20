#include "irbis/text.h"

#include <cstdint>
#include <cstdio>
#include <ostream>

namespace irbis {

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if it is not one
// (Unicode 15, table 3-7 "Well-Formed UTF-8 Byte Sequences").
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  const size_t left = s.size() - i;
  if (c < 0x80) return 1;
  const auto cont = [&](size_t k, uint8_t lo = 0x80, uint8_t hi = 0xBF) {
    return b(i + k) >= lo && b(i + k) <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3) return 0;
    const uint8_t lo = c == 0xE0 ? 0xA0 : 0x80;  // no overlongs
    const uint8_t hi = c == 0xED ? 0x9F : 0xBF;  // no surrogates
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4) return 0;
    const uint8_t lo = c == 0xF0 ? 0x90 : 0x80;  // no overlongs
    const uint8_t hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

std::string display_path(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    const size_t n = utf8_sequence_length(raw, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(raw.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string csv_field(std::string_view raw) {
  const std::string s = display_path(raw);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_row(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csv_field(fields[i]);
  }
  return out + '\n';
}

void write_csv_row(std::ostream& out, const std::vector<std::string>& fields) { out << csv_row(fields); }

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string human_bytes(double n, ByteUnits units) {
  const bool binary = units == ByteUnits::binary;
  const char* const binary_units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  const char* const decimal_units[] = {"B", "KB", "MB", "GB", "TB"};
  const double step = binary ? 1024 : 1000;
  int u = 0;
  while (n >= step && u < 4) {
    n /= step;
    ++u;
  }
  char b[48];
  std::snprintf(b, sizeof b, u ? "%.1f %s" : "%.0f %s", n, binary ? binary_units[u] : decimal_units[u]);
  return b;
}

std::string fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string general(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

}  // namespace irbis
