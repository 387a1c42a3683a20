// Format sniffing and header-only size reading.
#include <cstring>
#include <iterator>
#include <turbojpeg.h>

#include "io/io_internal.h"
#include "irbis/errors.h"
#include "irbis/image.h"

namespace irbis {

using io::be16;
using io::be32;
using io::le16;
using io::le32;

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::unknown: return "unknown";
    case ImageFormat::jpeg: return "jpeg";
    case ImageFormat::png: return "png";
    case ImageFormat::webp: return "webp";
    case ImageFormat::bmp: return "bmp";
    case ImageFormat::tiff: return "tiff";
    case ImageFormat::gif: return "gif";
    case ImageFormat::heif: return "heif";
    case ImageFormat::avif: return "avif";
    case ImageFormat::jxl: return "jxl";
    case ImageFormat::netpbm: return "netpbm";
    case ImageFormat::mpo: return "mpo";
    case ImageFormat::raw: return "raw";
  }
  return "unknown";
}

namespace {

bool starts_with(std::span<const uint8_t> b, const char* magic, size_t n, size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

bool valid_bmp_dib_size(uint32_t s) {
  return s == 12 || s == 16 || s == 40 || s == 52 || s == 56 || s == 64 || s == 108 || s == 124;
}

[[noreturn]] void malformed(const char* fmt, const std::string& why) {
  throw DecodeError(std::string("malformed ") + fmt + " header: " + why);
}

ImageHeader jpeg_header(std::span<const uint8_t> b) {
  const io::JpegDecompressor decompressor;
  tjhandle tj = decompressor.get();
  int w = 0, h = 0, subsamp = 0, cs = 0;
  if (tjDecompressHeader3(tj, b.data(), static_cast<unsigned long>(b.size()), &w, &h, &subsamp, &cs) != 0) {
    malformed("JPEG", tjGetErrorStr2(tj));
  }
  if (w <= 0 || h <= 0) malformed("JPEG", "zero width or height");
  return {ImageFormat::jpeg, w, h};
}

ImageHeader png_header(std::span<const uint8_t> b) {
  // Signature (8), IHDR length (4) = 13, "IHDR", width, height (big-endian).
  if (b.size() < 24) malformed("PNG", "file ends inside the IHDR chunk");
  if (be32(b.data() + 8) != 13 || !starts_with(b, "IHDR", 4, 12)) malformed("PNG", "first chunk is not IHDR");
  const uint32_t w = be32(b.data() + 16), h = be32(b.data() + 20);
  if (w == 0 || h == 0 || w > 0x7FFFFFFF || h > 0x7FFFFFFF) {
    malformed("PNG", "invalid size " + std::to_string(w) + "x" + std::to_string(h));
  }
  return {ImageFormat::png, int(w), int(h)};
}

ImageHeader webp_header(std::span<const uint8_t> b) {
  // RIFF container: "RIFF" size "WEBP", then the first chunk (fourcc, size, payload at 20).
  if (b.size() < 30) malformed("WebP", "file ends inside the first chunk");
  const uint8_t* p = b.data();
  int w = 0, h = 0;
  if (starts_with(b, "VP8 ", 4, 12)) {
    // Lossy: 3-byte frame tag, start code 9d 01 2a, 14-bit width and height.
    if (p[23] != 0x9d || p[24] != 0x01 || p[25] != 0x2a) malformed("WebP", "bad VP8 start code");
    w = int(le16(p + 26) & 0x3fff);
    h = int(le16(p + 28) & 0x3fff);
  } else if (starts_with(b, "VP8L", 4, 12)) {
    // Lossless: signature 0x2f, then 14 bits width-1 and 14 bits height-1.
    if (p[20] != 0x2f) malformed("WebP", "bad VP8L signature");
    const uint32_t bits = le32(p + 21);
    w = int(bits & 0x3fff) + 1;
    h = int((bits >> 14) & 0x3fff) + 1;
  } else if (starts_with(b, "VP8X", 4, 12)) {
    // Extended: flags (4 bytes), 24-bit canvas width-1 and height-1.
    w = int(p[24] | p[25] << 8 | p[26] << 16) + 1;
    h = int(p[27] | p[28] << 8 | p[29] << 16) + 1;
  } else {
    malformed("WebP", "unknown first chunk");
  }
  if (w <= 0 || h <= 0) malformed("WebP", "zero width or height");
  return {ImageFormat::webp, w, h};
}

ImageHeader bmp_header(std::span<const uint8_t> b) {
  // File header (14 bytes), then the DIB header whose first field is its own size.
  if (b.size() < 18) malformed("BMP", "file ends inside the header");
  const uint32_t dib = le32(b.data() + 14);
  int64_t w = 0, h = 0;
  if (dib == 12) {  // BITMAPCOREHEADER: 16-bit unsigned sizes
    if (b.size() < 22) malformed("BMP", "file ends inside the header");
    w = le16(b.data() + 18);
    h = le16(b.data() + 20);
  } else {
    if (b.size() < 26) malformed("BMP", "file ends inside the header");
    w = int32_t(le32(b.data() + 18));
    h = int32_t(le32(b.data() + 22));
    if (h < 0) h = -h;  // negative height: rows stored top-down
  }
  if (w <= 0 || h <= 0 || w > 0x7FFFFFFF || h > 0x7FFFFFFF) {
    malformed("BMP", "invalid size " + std::to_string(w) + "x" + std::to_string(h));
  }
  return {ImageFormat::bmp, int(w), int(h)};
}

ImageHeader tiff_header(std::span<const uint8_t> b) {
  io::TiffInfo info;
  std::string err;
  if (!io::parse_tiff_ifd0(b, &info, &err)) malformed("TIFF", err);
  if (info.width <= 0 || info.height <= 0) malformed("TIFF", "no image width or length in the first IFD");
  return {ImageFormat::tiff, info.width, info.height};
}

ImageHeader gif_header(std::span<const uint8_t> b) {
  if (b.size() < 13) malformed("GIF", "file ends inside the logical screen descriptor");
  const int w = int(le16(b.data() + 6)), h = int(le16(b.data() + 8));
  if (w == 0 || h == 0) malformed("GIF", "zero logical screen width or height");
  return {ImageFormat::gif, w, h};
}

}  // namespace

ImageFormat sniff_format(std::span<const uint8_t> b) {
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return io::is_mpo(b) ? ImageFormat::mpo : ImageFormat::jpeg;
  // Before TIFF: DNG, CR2, NEF, ... are TIFF files.
  if (io::is_raw(b)) return ImageFormat::raw;
  if (starts_with(b, "\x89PNG\r\n\x1a\n", 8)) return ImageFormat::png;
  if (starts_with(b, "RIFF", 4) && starts_with(b, "WEBP", 4, 8)) return ImageFormat::webp;
  if (starts_with(b, "GIF87a", 6) || starts_with(b, "GIF89a", 6)) return ImageFormat::gif;
  if (starts_with(b, "II*\0", 4) || starts_with(b, "MM\0*", 4)) return ImageFormat::tiff;
  // "BM" alone is too weak a magic (text files start with it), so the DIB header size must be valid.
  if (starts_with(b, "BM", 2) && b.size() >= 18 && valid_bmp_dib_size(le32(b.data() + 14))) return ImageFormat::bmp;
  if (const ImageFormat f = io::sniff_isobmff(b); f != ImageFormat::unknown) return f;
  if (io::is_jxl(b)) return ImageFormat::jxl;
  if (io::is_netpbm(b)) return ImageFormat::netpbm;
  return ImageFormat::unknown;
}

ImageHeader read_header(std::span<const uint8_t> b) {
  if (b.empty()) throw DecodeError("empty file");
  switch (sniff_format(b)) {
    case ImageFormat::jpeg: return jpeg_header(b);
    case ImageFormat::png: return png_header(b);
    case ImageFormat::webp: return webp_header(b);
    case ImageFormat::bmp: return bmp_header(b);
    case ImageFormat::tiff: return tiff_header(b);
    case ImageFormat::gif: return gif_header(b);
    case ImageFormat::heif: return io::heif_header(b);
    case ImageFormat::avif: return io::avif_header(b);
    case ImageFormat::jxl: return io::jxl_header(b);
    case ImageFormat::netpbm: return io::netpbm_header(b);
    case ImageFormat::mpo: {
      ImageHeader h = jpeg_header(b);
      h.format = ImageFormat::mpo;
      return h;
    }
    case ImageFormat::raw: return io::raw_header(b);
    case ImageFormat::unknown: break;
  }
  if (const char* name = unsupported_image_format(b)) throw DecodeError(std::string("unsupported format: ") + name);
  throw DecodeError("not an image (unknown format)");
}

ImageHeader oriented_header(const ImageHeader& h, int orientation) {
  ImageHeader o = h;
  if (orientation >= 5 && orientation <= 8) std::swap(o.width, o.height);
  return o;
}

namespace io {

JpegDecompressor::JpegDecompressor() : handle_(tjInitDecompress()) {
  if (!handle_) throw DecodeError("cannot initialise the JPEG decoder");
}

JpegDecompressor::~JpegDecompressor() { tjDestroy(handle_); }

bool parse_tiff_ifd0(std::span<const uint8_t> b, TiffInfo* info, std::string* error) {
  if (b.size() < 8) {
    *error = "file ends inside the TIFF header";
    return false;
  }
  const bool le = b[0] == 'I' && b[1] == 'I';
  if (!le && !(b[0] == 'M' && b[1] == 'M')) {
    *error = "bad byte order mark";
    return false;
  }
  const auto u16 = [&](size_t off) { return le ? le16(b.data() + off) : be16(b.data() + off); };
  const auto u32 = [&](size_t off) { return le ? le32(b.data() + off) : be32(b.data() + off); };
  if (u16(2) != 42) {
    *error = "bad TIFF magic number";
    return false;
  }
  const size_t ifd = u32(4);
  if (ifd < 8 || ifd > b.size() - 2) {
    *error = "first IFD offset " + std::to_string(ifd) + " is outside the file";
    return false;
  }
  const size_t count = u16(ifd);
  if (count == 0 || ifd + 2 + count * 12 > b.size()) {
    *error = "first IFD is empty or runs past the end of the file";
    return false;
  }
  // libtiff reads a tag's first occurrence; a size tag given twice (8000x8000, then 1x1) would
  // make us check one size while libtiff decodes the other, so repeated size tags are refused.
  // Tags whose value we cannot read the way libtiff does (other types, counts) are refused too.
  struct SizeTag {
    uint32_t tag;
    const char* name;
    int* out;
  };
  int rows_per_strip = 0;
  const SizeTag size_tags[] = {{256, "ImageWidth", &info->width},  {257, "ImageLength", &info->height},
                               {322, "TileWidth", &info->tile_width}, {323, "TileLength", &info->tile_height},
                               {278, "RowsPerStrip", &rows_per_strip}};
  bool seen[std::size(size_tags)] = {};
  for (size_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + i * 12;
    const uint32_t tag = u16(e), type = u16(e + 2), n = u32(e + 4);
    // BYTE (1) and SHORT (3) values sit at the start of the value field, LONG (4) fills it.
    int64_t value = -1;
    if (n == 1) {
      if (type == 1) value = b[e + 8];
      else if (type == 3) value = u16(e + 8);
      else if (type == 4) value = u32(e + 8);
    }
    for (size_t k = 0; k < std::size(size_tags); ++k) {
      if (tag != size_tags[k].tag) continue;
      if (seen[k]) {
        *error = std::string("repeated ") + size_tags[k].name + " tag";
        return false;
      }
      seen[k] = true;
      if (value < 0) {
        *error = std::string(size_tags[k].name) + " tag has an unsupported type or count";
        return false;
      }
      *size_tags[k].out = value > 0x7FFFFFFF ? -1 : int(value);
    }
    if (tag == 274 && value >= 1 && value <= 8) info->orientation = int(value);
  }
  // OpenCV decodes a tile or a strip at a time into a buffer of that size: a 1x1 image may declare
  // 16000x16000 tiles, or a strip of 16 million rows. 2^32-1 rows per strip means "one strip".
  // RowsPerStrip 2^32-1 (stored as -1 here) means "one strip".
  if (!seen[2] || !seen[3]) info->tile_width = info->tile_height = 0;
  if (info->tile_width == 0 && rows_per_strip > 0 && info->width > 0) {
    info->tile_width = info->width;
    info->tile_height = rows_per_strip;
  }
  return true;
}

}  // namespace io
}  // namespace irbis
