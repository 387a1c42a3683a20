// Output helpers shared by subcommands: terminal detection, progress bar, table writer (CSV
// quoting, sizes and numbers are in irbis/text.h).
// Paths always go through display_path so invalid UTF-8 never breaks an output.
#pragma once
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "irbis/results.h"

namespace irbis::cli {

bool stderr_is_terminal();

// A one-line progress bar with rate and ETA on stderr; prints nothing unless stderr is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void update(int64_t done, int64_t total);
  void finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// A plain aligned table for terminals (columns padded by display width).
void write_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// Dumps JSON with invalid UTF-8 replaced, never throwing.
std::string json_dump(const nlohmann::json& j, int indent = 2);

// "1 file", "3 files": counts in messages agree with their noun.
std::string count_of(int64_t n, const std::string& singular, const std::string& plural = "");
// Durations as people read them: "0.63 s", "12.4 s", "215 s".
std::string seconds_text(double seconds);

enum class Format { table, csv, json };
Format parse_format(const std::string& s);

// A result table as CSV (header + rows) or, for any other format, as an aligned terminal table.
void write_rows(std::ostream& out, Format fmt, const Table& t);

}  // namespace irbis::cli
