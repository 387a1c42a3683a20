// decode_image over every format (the format is sniffed from the bytes, as for real files), at
// full size and at a DCT-scaled / shrunk size, and decode_gray at the scaled size. Anything but a
// DecodeError or a valid 8-bit RGB image of the header's size (grey: of the scaled RGB's size) is a
// finding.
#include "fuzz_util.h"
#include "irbis/errors.h"
#include "irbis/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  DecodeOptions o;
  // Bounded memory and time per input: a hostile header can declare any size up to the limit and
  // the decoders allocate (and most fill) that canvas; 1 MP keeps the slowest inputs ~4x cheaper
  // than 4 MP did and every branch of the limit checks and of DCT scaling (1/8 of 1024 px > 32 px)
  // reachable.
  o.max_pixels = 1u << 20;
  try {
    const std::vector<DecodedImage> v = decode_image_sizes({data, size}, o, {0, 32});
    for (const DecodedImage& d : v) {
      if (d.rgb.empty() || d.rgb.type() != CV_8UC3) fuzz::invariant_failed("decoded image is not 8-bit RGB");
      if (uint64_t(d.header.width) * uint64_t(d.header.height) > o.max_pixels) fuzz::invariant_failed("over max_pixels");
      if (d.orientation < 1 || d.orientation > 8) fuzz::invariant_failed("orientation out of range");
    }
    const ImageHeader shown = oriented_header(v[0].header, v[0].orientation);
    if (v[0].rgb.cols != shown.width || v[0].rgb.rows != shown.height) fuzz::invariant_failed("full decode size != header");
    // The grey decode (a JPEG's luma plane) of what decoded: the same size at the scaled size.
    DecodeOptions scaled = o;
    scaled.min_side = 32;
    const cv::Mat gray = decode_gray({data, size}, scaled);
    if (gray.type() != CV_8UC1 || gray.size() != v[1].rgb.size()) fuzz::invariant_failed("grey decode differs in size");
  } catch (const DecodeError&) {
  }
  return 0;
}
