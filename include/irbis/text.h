// Text helpers for every output (CLI tables and CSV, the HTML report, the web UI, JSON): file
// paths are raw bytes from the OS and need not be UTF-8, and each quoting/escaping/number rule is
// written once here so the front ends cannot drift apart.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace irbis {

// Returns valid UTF-8: well-formed UTF-8 sequences are kept as they are, and every byte that is
// not part of one (stray continuation bytes, truncated or overlong sequences, surrogates, code
// points above U+10FFFF, bytes 0xC0/0xC1/0xF5..0xFF) is replaced by U+FFFD, one per byte.
// Every text output (CLI, JSON, logs, error messages) shows paths through this.
std::string display_path(std::string_view raw_bytes);

// One CSV field (RFC 4180): display_path'd, quoted (with doubled quotes) when it holds a comma, a
// quote or a line break, else as is.
std::string csv_field(std::string_view raw);
// Fields joined by commas, each through csv_field, ending in '\n'.
std::string csv_row(const std::vector<std::string>& fields);
void write_csv_row(std::ostream& out, const std::vector<std::string>& fields);

// Text and attribute values in HTML, SVG and XML: &, <, >, " and ' escaped. Paths go through
// display_path first.
std::string html_escape(std::string_view s);

// A file size for people. binary: 1024-based units "B, KiB, MiB, GiB, TiB" (the CLI); decimal:
// 1000-based "B, KB, MB, GB, TB" (the report's cards). Bytes without decimals, larger units with one.
enum class ByteUnits { binary, decimal };
std::string human_bytes(double bytes, ByteUnits units = ByteUnits::binary);

// printf's "%.*f": `digits` decimals (score columns, CSV values).
std::string fixed(double v, int digits = 4);
// printf's "%.*g": `digits` significant digits, shortest form (%g when digits is 6).
std::string general(double v, int digits = 6);

}  // namespace irbis
