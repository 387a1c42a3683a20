// The TIFF header and first-IFD walker (TIFF files, and the Exif blocks of PNG and WebP).
#include "fuzz_util.h"
#include "io/io_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  irbis::io::TiffInfo info;
  std::string err;
  const bool ok = irbis::io::parse_tiff_ifd0({data, size}, &info, &err);
  if (!ok && err.empty()) irbis::fuzz::invariant_failed("refused without a reason");
  if (ok && (info.orientation < 1 || info.orientation > 8)) irbis::fuzz::invariant_failed("orientation out of range");
  return 0;
}
