// What the CLI says when the command line cannot be parsed, git/cargo style: one line naming the
// mistake, a "did you mean" when a known command or option is close, the usage line, exit 1.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace irbis::cli {

// Levenshtein distance (insertions, deletions, substitutions).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a likely typo; "" otherwise.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// Prints the message for a CLI11 parse error (help and --version print as CLI11 does) and returns
// the exit code. `args` are argv[1..].
int report_parse_error(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args);

}  // namespace irbis::cli
