// Quieting a Debian library that offers no switch of its own: the calls one loaded shared library
// makes to a function it imports are pointed at another function, by rewriting that library's own
// GOT slot for the function (no other object, and not the function itself, is touched).
//
// Used once: libavif (0.11) and libheif open dav1d with its default logger, which prints dav1d's
// errors ("Frame size 800x600 exceeds limit 10000") on the process's stderr, and give no way to
// set another (dav1d_log.cpp).
#pragma once

namespace irbis::io {

// In the library `dl_handle` (from dlopen), points the calls to the imported function `symbol` at
// `replacement`. Returns the function the slot held (what the library called until now), or
// nullptr when the library does not import `symbol` through a slot we can rewrite (then nothing
// changed). Call it once, right after loading the library, before any thread calls into it.
void* redirect_import(void* dl_handle, const char* symbol, void* replacement);

}  // namespace irbis::io
