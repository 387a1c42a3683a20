// The EXIF walkers: the input is the Exif block of a small valid JPEG (APP1, read with libexif
// after our marker walk) and of a small valid PNG (eXIf chunk, read with the TIFF IFD walker).
// Whatever the block holds, the image decodes with an orientation in 1..8 applied.
#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <turbojpeg.h>
#include <zlib.h>

#include "fuzz_util.h"
#include "irbis/errors.h"
#include "irbis/image.h"

namespace {

std::vector<uint8_t> small_jpeg() {
  std::vector<uint8_t> px(24 * 16 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7);
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long n = 0;
  if (tjCompress2(tj, px.data(), 24, 24 * 3, 16, TJPF_RGB, &buf, &n, TJSAMP_420, 90, 0) != 0) abort();
  std::vector<uint8_t> j(buf, buf + n);
  tjFree(buf);
  tjDestroy(tj);
  return j;
}

std::vector<uint8_t> small_png() {
  cv::Mat m(16, 24, CV_8UC3, cv::Scalar(10, 200, 30));
  std::vector<uint8_t> p;
  if (!cv::imencode(".png", m, p)) abort();
  return p;
}

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}

void check(const std::vector<uint8_t>& file) {
  using namespace irbis;
  try {
    const DecodedImage d = decode_image({file.data(), file.size()});
    if (d.orientation < 1 || d.orientation > 8) fuzz::invariant_failed("orientation out of range");
    const ImageHeader shown = oriented_header(d.header, d.orientation);
    if (d.rgb.cols != shown.width || d.rgb.rows != shown.height) fuzz::invariant_failed("oriented size mismatch");
  } catch (const DecodeError&) {
    // A broken Exif block must not make a valid image fail: only the orientation is read from it.
    fuzz::invariant_failed("a valid image with a broken Exif block was refused");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<uint8_t> jpeg = small_jpeg(), png = small_png();
  const size_t n = std::min<size_t>(size, 65535 - 2 - 6);
  std::vector<uint8_t> j = {0xFF, 0xD8, 0xFF, 0xE1, uint8_t((n + 8) >> 8), uint8_t((n + 8) & 0xFF), 'E', 'x', 'i', 'f', 0, 0};
  j.insert(j.end(), data, data + n);
  j.insert(j.end(), jpeg.begin() + 2, jpeg.end());
  check(j);

  // PNG: signature (8) + IHDR chunk (25), then eXIf with a correct CRC.
  std::vector<uint8_t> p(png.begin(), png.begin() + 33);
  put_be32(p, uint32_t(size));
  const size_t type_at = p.size();
  p.insert(p.end(), {'e', 'X', 'I', 'f'});
  p.insert(p.end(), data, data + size);
  put_be32(p, uint32_t(crc32(0, p.data() + type_at, uInt(size + 4))));
  p.insert(p.end(), png.begin() + 33, png.end());
  check(p);
  return 0;
}
