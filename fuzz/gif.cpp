// The GIF first-frame decoder (giflib, record by record).
#include "fuzz_util.h"
#include "io/io_internal.h"
#include "irbis/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const cv::Mat m = irbis::io::decode_gif_first_frame({data, size}, 1u << 20);  // as fuzz_decode: 1 MP canvases
    if (m.empty() || m.type() != CV_8UC3) irbis::fuzz::invariant_failed("GIF frame is not 8-bit RGB");
  } catch (const irbis::DecodeError&) {
  }
  return 0;
}
