// What the decoding libraries would print on the process's stderr, routed into irbis's errors
// instead of the user's terminal (nothing a library prints may break a progress bar or a --json
// consumer's stderr). The messages are kept per thread and the decoder's DecodeError names them.
//
// - dav1d (AV1, under libavif and libheif): both open it with its default logger, which prints
//   ("Frame size 800x600 exceeds limit 10000" for an AVIF whose frame is over the pixel limit,
//   "Unknown OBU type ..." for damaged data), and give no way to set another: their calls of
//   dav1d_open are pointed at one that installs our logger.
// - libjxl (Debian's 0.7 build): prints its internal failures ("./lib/jxl/image_metadata.cc:52:
//   JXL_FAILURE: Invalid bits_per_sample: 32") with fprintf/vfprintf to stderr, with no switch:
//   its calls of those are pointed at ones that keep what would go to stderr.
// - libpng (under OpenCV's PNG codec): its default error handler prints "libpng error: IDAT: CRC
//   error" on stderr before OpenCV gives up on the file; libtiff's handlers likewise. Their stdio
//   calls are kept the same way once OpenCV's codecs are loaded.
// All through library_imports.h (the library's own GOT slots; nothing else is affected).
#pragma once
#include <initializer_list>
#include <string>

namespace irbis::io {

// Call once with a freshly loaded library (LazyLibrary's on_load).
void route_dav1d_log(void* dl_handle);     // libavif, libheif
void route_stderr_prints(void* dl_handle);  // libjxl
// route_stderr_prints for every loaded library whose file name starts with one of `names`
// ("libpng", "libtiff"): libraries another library loaded as its dependencies.
void route_stderr_prints_of_loaded(std::initializer_list<const char*> names);
// The messages on this thread since the last call ("" when none), "; "-separated, cleared.
std::string take_library_messages();

}  // namespace irbis::io
