// Image formats recognised by their magic bytes that irbis does not decode: such files are reported
// as failed ("unsupported format: NAME") rather than skipped as not images.
#include <cstring>

#include "irbis/image.h"

namespace irbis {

namespace {

bool at(std::span<const uint8_t> b, size_t offset, const char* magic, size_t n) {
  return b.size() >= offset + n && std::memcmp(b.data() + offset, magic, n) == 0;
}

}  // namespace

const char* unsupported_image_format(std::span<const uint8_t> b) {
  struct Magic {
    size_t offset;
    const char* bytes;
    size_t size;
    const char* name;
  };
  static const Magic kMagics[] = {
      {0, "\0\0\0\x0cjP  \r\n\x87\n", 12, "JPEG 2000"},
      {0, "\xff\x4f\xff\x51", 4, "JPEG 2000"},  // bare codestream (.j2k, .j2c)
      {0, "8BPS", 4, "Photoshop PSD"},
      {0, "v/1\x01", 4, "OpenEXR"},
      {0, "#?RADIANCE", 10, "Radiance HDR"},
      {0, "#?RGBE", 6, "Radiance HDR"},
      {0, "qoif", 4, "QOI"},
      {0, "II\xbc\x01", 4, "JPEG XR"},
      {0, "BPG\xfb", 4, "BPG"},
      {0, "gimp xcf", 8, "GIMP XCF"},
      {0, "DDS ", 4, "DirectDraw Surface"},
      {0, "farbfeld", 8, "farbfeld"},
      {4, "ftypjpeg", 8, "JPEG in HEIF"},
      {4, "ftypvvic", 8, "VVC in HEIF"},
  };
  for (const Magic& m : kMagics)
    if (at(b, m.offset, m.bytes, m.size)) return m.name;
  return nullptr;
}

}  // namespace irbis
