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

// Catches Ctrl-C (SIGINT) while it lives, so a long command can stop at a safe point and say what
// it kept; a second Ctrl-C ends the process at once. A SIGINT ignored by the parent (nohup, a
// background job of a script) stays ignored.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static bool requested();

 private:
  bool installed_ = false;
};

// A word as a POSIX shell reads it back (quoted when it holds anything but [A-Za-z0-9_./:=@%+-]),
// for commands the user is told to run.
std::string shell_word(const std::string& s);

// "; k = 30 is the top of the range tried (2-30): a wider one (`HOW`) may find a better k" when the
// automatically chosen k sits at an end of the range it was chosen from, else "".
std::string k_at_edge_note(int k, int k_min, int k_max, const std::string& how);

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
