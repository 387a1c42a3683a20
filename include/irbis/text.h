// Text helpers for output: file paths are raw bytes from the OS and need not be UTF-8.
#pragma once
#include <string>
#include <string_view>

namespace irbis {

// Returns valid UTF-8: well-formed UTF-8 sequences are kept as they are, and every byte that is
// not part of one (stray continuation bytes, truncated or overlong sequences, surrogates, code
// points above U+10FFFF, bytes 0xC0/0xC1/0xF5..0xFF) is replaced by U+FFFD, one per byte.
// Every text output (CLI, JSON, logs, error messages) shows paths through this.
std::string display_path(std::string_view raw_bytes);

}  // namespace irbis
