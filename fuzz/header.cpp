// sniff_format + read_header: header-only parsing of every format.
#include "fuzz_util.h"
#include "irbis/errors.h"
#include "irbis/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  const ImageFormat f = sniff_format({data, size});
  try {
    const ImageHeader h = read_header({data, size});
    if (h.format != f || f == ImageFormat::unknown) fuzz::invariant_failed("header format != sniffed format");
    if (h.width <= 0 || h.height <= 0) fuzz::invariant_failed("header with a non-positive size");
  } catch (const DecodeError&) {
  }
  return 0;
}
