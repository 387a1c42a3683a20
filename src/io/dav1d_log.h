// dav1d's messages, routed into irbis's errors instead of the terminal. libavif and libheif open
// dav1d (the AV1 decoder) with its default logger, which prints on stderr ("Frame size 800x600
// exceeds limit 10000" for an AVIF whose frame is over the pixel limit, "Error parsing OBU data"
// for a damaged one) and offer no way to set another. When either library is loaded, its calls of
// dav1d_open are pointed at one that installs our logger (library_imports.h); the messages are
// kept per thread and the decoder's DecodeError names them.
#pragma once
#include <string>

namespace irbis::io {

// Call once with a freshly loaded libavif or libheif (LazyLibrary's on_load).
void route_dav1d_log(void* dl_handle);
// dav1d's messages on this thread since the last call ("" when none), cleared.
std::string take_dav1d_messages();

}  // namespace irbis::io
