// decode_image: JPEG through TurboJPEG (DCT-scaled), GIF through giflib, the other formats through
// cv::imdecode; everything normalised to 8-bit RGB with EXIF orientation applied.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <libexif/exif-data.h>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>  // the IMREAD_ / IMWRITE_ constants
#include <opencv2/imgproc.hpp>
#include <turbojpeg.h>
#include <webp/decode.h>

#include "io/opencv_codecs.h"
#include "io/io_internal.h"
#include "io/library_messages.h"
#include "irbis/errors.h"
#include "irbis/image.h"

namespace irbis {

using io::be16;

namespace {

void check_pixels(int w, int h, uint64_t max_pixels) {
  if (uint64_t(w) * uint64_t(h) > max_pixels) {
    throw DecodeError("image declares " + std::to_string(w) + "x" + std::to_string(h) +
                      " pixels, over the limit of " + std::to_string(max_pixels));
  }
}

// The smallest TurboJPEG scaling factor <= 1 whose scaled width and height are both >= min_side;
// 1/1 when min_side <= 0 or the image is already smaller.
tjscalingfactor pick_scale(int w, int h, int min_side) {
  tjscalingfactor best{1, 1};
  if (min_side <= 0 || w < min_side || h < min_side) return best;
  static const auto factors = [] {
    int n = 0;
    const tjscalingfactor* f = tjGetScalingFactors(&n);
    return std::vector<tjscalingfactor>(f, f + (f ? n : 0));
  }();
  int64_t best_area = int64_t(w) * h;
  for (const tjscalingfactor& f : factors) {
    if (f.num > f.denom) continue;  // never upscale
    const int sw = TJSCALED(w, f), sh = TJSCALED(h, f);
    if (sw < min_side || sh < min_side) continue;
    if (int64_t(sw) * sh < best_area) {
      best = f;
      best_area = int64_t(sw) * sh;
    }
  }
  return best;
}

struct JpegMarkers {
  std::span<const uint8_t> exif;  // APP1 payload starting with "Exif\0\0"
  bool adobe = false;             // APP14 "Adobe" present: CMYK samples are stored inverted
};

// Walks the marker segments before the first SOS.
JpegMarkers scan_jpeg_markers(std::span<const uint8_t> b) {
  JpegMarkers m;
  size_t pos = 2;  // after SOI
  while (pos + 4 <= b.size()) {
    if (b[pos] != 0xFF) break;
    const uint8_t code = b[pos + 1];
    if (code == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (code == 0xDA || code == 0xD9) break;  // SOS / EOI
    if ((code >= 0xD0 && code <= 0xD7) || code == 0x01) {  // no length
      pos += 2;
      continue;
    }
    const size_t len = be16(b.data() + pos + 2);
    if (len < 2 || pos + 2 + len > b.size()) break;
    const std::span<const uint8_t> payload = b.subspan(pos + 4, len - 2);
    if (code == 0xE1 && m.exif.empty() && payload.size() >= 6 && std::memcmp(payload.data(), "Exif\0\0", 6) == 0) {
      m.exif = payload;
    } else if (code == 0xEE && payload.size() >= 5 && std::memcmp(payload.data(), "Adobe", 5) == 0) {
      m.adobe = true;
    }
    pos += 2 + len;
  }
  return m;
}

int exif_orientation(std::span<const uint8_t> app1) {
  ExifData* ed = exif_data_new();
  if (!ed) return 1;
  // Only read: no "fixing" of missing mandatory tags, no maker note rewriting.
  exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
  exif_data_set_option(ed, EXIF_DATA_OPTION_DONT_CHANGE_MAKER_NOTE);
  exif_data_load_data(ed, app1.data(), static_cast<unsigned int>(app1.size()));
  int o = 1;
  if (ExifEntry* e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION)) {
    if (e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->size >= 2) {
      o = exif_get_short(e->data, exif_data_get_byte_order(ed));
    }
  }
  exif_data_unref(ed);
  return o >= 1 && o <= 8 ? o : 1;
}

// CMYK as libjpeg returns it (samples as stored) to RGB, without colour management.
// Adobe (Photoshop) CMYK JPEGs store 255 - ink, so for them R = C * K / 255; otherwise the
// samples are ink amounts and R = (255 - C) * (255 - K) / 255.
cv::Mat cmyk_to_rgb(const cv::Mat& cmyk, bool inverted) {
  cv::Mat rgb(cmyk.rows, cmyk.cols, CV_8UC3);
  for (int y = 0; y < cmyk.rows; ++y) {
    const uint8_t* s = cmyk.ptr<uint8_t>(y);
    uint8_t* d = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < cmyk.cols; ++x, s += 4, d += 3) {
      const int k = inverted ? s[3] : 255 - s[3];
      for (int c = 0; c < 3; ++c) {
        const int v = inverted ? s[c] : 255 - s[c];
        d[c] = uint8_t((v * k + 127) / 255);
      }
    }
  }
  return rgb;
}

// gray: the luma plane alone (CV_8UC1), decoded without the chroma planes; CMYK/YCCK, which have no
// luma, go through RGB.
cv::Mat decode_jpeg(std::span<const uint8_t> b, const DecodeOptions& opts, DecodedImage& out, bool gray = false) {
  const io::JpegDecompressor decompressor;
  tjhandle tj = decompressor.get();
  const unsigned long size = static_cast<unsigned long>(b.size());
  int w = 0, h = 0, subsamp = 0, cs = 0;
  if (tjDecompressHeader3(tj, b.data(), size, &w, &h, &subsamp, &cs) != 0) {
    throw DecodeError(std::string("malformed JPEG header: ") + tjGetErrorStr2(tj));
  }
  if (w <= 0 || h <= 0) throw DecodeError("malformed JPEG header: zero width or height");
  out.header = {ImageFormat::jpeg, w, h};
  check_pixels(w, h, opts.max_pixels);
  const tjscalingfactor sf = pick_scale(w, h, opts.min_side);
  const int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
  check_pixels(sw, sh, opts.max_pixels);

  const JpegMarkers markers = scan_jpeg_markers(b);
  const bool cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
  const bool luma = gray && !cmyk;
  cv::Mat img(sh, sw, cmyk ? CV_8UC4 : luma ? CV_8UC1 : CV_8UC3);
  // TJFLAG_LIMITSCANS: a progressive JPEG may carry millions of (empty) scans, each one a pass
  // over every coefficient; libjpeg-turbo stops after 500 (real files have about 10).
  if (tjDecompress2(tj, b.data(), size, img.data, sw, int(img.step), sh, cmyk ? TJPF_CMYK : luma ? TJPF_GRAY : TJPF_RGB,
                    TJFLAG_LIMITSCANS) != 0) {
    const std::string msg = tjGetErrorStr2(tj);
    // Checked by its text: after an earlier warning tjGetErrorCode() still says "warning".
    if (msg.find("scans") != std::string::npos) throw DecodeError("JPEG has too many scans: " + msg);
    if (tjGetErrorCode(tj) != TJERR_WARNING) throw DecodeError("corrupt JPEG data: " + msg);
    // Warnings leave a complete image. A file that ends early is refused (the missing part would
    // be flat grey and give wrong features); other warnings, such as extraneous bytes before a
    // marker, are common in files cameras and editors write and the image is kept.
    if (msg.find("Premature end of JPEG file") != std::string::npos) throw DecodeError("truncated JPEG data");
  }
  if (cmyk) img = cmyk_to_rgb(img, markers.adobe);
  if (cmyk && gray) cv::cvtColor(img, img, cv::COLOR_RGB2GRAY);
  out.orientation = markers.exif.empty() ? 1 : exif_orientation(markers.exif);
  return img;
}

// 8-bit RGB from whatever cv::imdecode(IMREAD_UNCHANGED) returned (BGR order, 1-4 channels,
// 8/16-bit or float samples). 16-bit samples keep their high byte; alpha is composited on white.
cv::Mat to_rgb8(const cv::Mat& m) {
  cv::Mat m8;
  switch (m.depth()) {
    case CV_8U: m8 = m; break;
    case CV_16U: {
      m8.create(m.rows, m.cols, CV_MAKETYPE(CV_8U, m.channels()));
      const int n = m.cols * m.channels();
      for (int y = 0; y < m.rows; ++y) {
        const uint16_t* s = m.ptr<uint16_t>(y);
        uint8_t* d = m8.ptr<uint8_t>(y);
        for (int i = 0; i < n; ++i) d[i] = uint8_t(s[i] >> 8);
      }
      break;
    }
    case CV_32F:
    case CV_64F: m.convertTo(m8, CV_MAKETYPE(CV_8U, m.channels()), 255.0); break;  // samples in [0, 1]
    default: throw DecodeError("unsupported sample format (signed integer samples)");
  }
  cv::Mat rgb;
  switch (m8.channels()) {
    case 1: cv::cvtColor(m8, rgb, cv::COLOR_GRAY2RGB); break;
    case 3: cv::cvtColor(m8, m8, cv::COLOR_BGR2RGB); rgb = m8; break;  // in place: no second image
    case 2:
    case 4: {
      const int cn = m8.channels();
      rgb.create(m8.rows, m8.cols, CV_8UC3);
      for (int y = 0; y < m8.rows; ++y) {
        const uint8_t* s = m8.ptr<uint8_t>(y);
        uint8_t* d = rgb.ptr<uint8_t>(y);
        for (int x = 0; x < m8.cols; ++x, s += cn, d += 3) {
          const int a = s[cn - 1], white = 255 * (255 - a) + 127;
          if (cn == 4) {
            d[0] = uint8_t((s[2] * a + white) / 255);
            d[1] = uint8_t((s[1] * a + white) / 255);
            d[2] = uint8_t((s[0] * a + white) / 255);
          } else {
            d[0] = d[1] = d[2] = uint8_t((s[0] * a + white) / 255);
          }
        }
      }
      break;
    }
    default: throw DecodeError("unsupported number of channels: " + std::to_string(m8.channels()));
  }
  return rgb;
}

bool png_has_iend(std::span<const uint8_t> b) {
  // The last chunk of a complete PNG: length 0, "IEND", CRC ae 42 60 82. Usually the last 12
  // bytes; otherwise (data appended after the PNG) search for it.
  static const uint8_t iend[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  if (b.size() >= 12 && std::memcmp(b.data() + b.size() - 12, iend, 12) == 0) return true;
  return std::search(b.begin() + std::min<size_t>(b.size(), 33), b.end(), std::begin(iend), std::end(iend)) != b.end();
}

// The PNG with only the chunks that shape its pixels: the critical ones (upper-case first letter:
// IHDR, PLTE, IDAT, IEND) and tRNS. OpenCV decodes PNG through libpng with libpng's default
// warning handler, which prints to stderr ("libpng warning: iCCP: known incorrect sRGB profile")
// and cannot be replaced through OpenCV; the ancillary chunks those warnings are about (colour
// profiles, gamma, text, times) are not used by imdecode, so they are not handed to it. Empty
// when nothing would be dropped (or the chunk layout is not understood: libpng judges it).
std::vector<uint8_t> png_without_ancillary_chunks(std::span<const uint8_t> b) {
  if (b.size() < 8) return {};
  std::vector<std::pair<size_t, size_t>> keep;  // [begin, end) of kept chunks
  bool dropped = false;
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const uint64_t len = io::be32(b.data() + pos);
    const size_t end = pos + 12 + size_t(len);
    if (len > b.size() || end > b.size()) return {};
    const char* type = reinterpret_cast<const char*>(b.data() + pos + 4);
    const bool critical = type[0] >= 'A' && type[0] <= 'Z';
    if (critical || std::memcmp(type, "tRNS", 4) == 0) keep.emplace_back(pos, end);
    else dropped = true;
    pos = end;
    if (std::memcmp(type, "IEND", 4) == 0) break;
  }
  if (!dropped) return {};
  std::vector<uint8_t> out(b.begin(), b.begin() + 8);
  for (const auto& [from, to] : keep) out.insert(out.end(), b.begin() + ptrdiff_t(from), b.begin() + ptrdiff_t(to));
  return out;
}

// Each chunk's declared length must fit in the file: libpng allocates an ancillary chunk's declared
// length before reading it (found by fuzz_decode: a 700-byte PNG declaring a 2 GB eXIf chunk made
// it allocate 2 GB). Empty when the chunks up to IEND fit, else what is wrong.
std::string png_chunk_overrun(std::span<const uint8_t> b) {
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const uint64_t len = io::be32(b.data() + pos);
    const uint8_t* type = b.data() + pos + 4;
    if (std::memcmp(type, "IEND", 4) == 0) return "";
    if (len > b.size() - pos - 12) {
      const bool named = std::all_of(type, type + 4, [](uint8_t c) { return std::isalpha(c); });
      return (named ? "chunk " + std::string(type, type + 4) : std::string("a chunk")) + " at byte " +
             std::to_string(pos) + " declares " + std::to_string(len) + " bytes, past the end of the file";
    }
    pos += 12 + len;
  }
  return "";  // no IEND on the chunk walk: libpng reports the broken structure itself
}

bool webp_is_animated(std::span<const uint8_t> b) {
  return b.size() >= 30 && std::memcmp(b.data() + 12, "VP8X", 4) == 0 && (b[20] & 0x02);
}

// True when an uncompressed BMP is shorter than its header says (pixel offset + rows).
bool bmp_is_truncated(std::span<const uint8_t> b) {
  if (b.size() < 26) return true;
  const uint64_t offset = io::le32(b.data() + 10);
  const uint32_t dib = io::le32(b.data() + 14);
  uint64_t w, h, bpp, compression = 0;
  if (dib == 12) {
    w = io::le16(b.data() + 18), h = io::le16(b.data() + 20), bpp = io::le16(b.data() + 24);
  } else {
    if (b.size() < 34) return true;  // the compression field ends at byte 34
    const int32_t sh = int32_t(io::le32(b.data() + 22));
    w = io::le32(b.data() + 18), h = uint64_t(sh < 0 ? -int64_t(sh) : sh), bpp = io::le16(b.data() + 28);
    compression = io::le32(b.data() + 30);
  }
  if (compression != 0 && compression != 3) return false;  // RLE and others: sizes vary
  const uint64_t stride = (w * bpp + 31) / 32 * 4;
  // offset + stride * h > size, without overflowing the product.
  return offset > b.size() || (h != 0 && stride > (b.size() - offset) / h);
}

// True when a WebP file is shorter than its RIFF header says.
bool webp_is_truncated(std::span<const uint8_t> b) {
  return b.size() < 12 || uint64_t(io::le32(b.data() + 4)) + 8 > b.size();
}

cv::Mat decode_with_opencv(std::span<const uint8_t> b, ImageFormat fmt) {
  static std::once_flag quiet;
  // OpenCV logs a warning for every file it cannot decode; we report those as DecodeErrors.
  std::call_once(quiet, [] {
    if (cv::utils::logging::getLogLevel() > cv::utils::logging::LOG_LEVEL_ERROR) {
      cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    }
  });
  const std::string name = fmt == ImageFormat::png   ? "PNG"
                           : fmt == ImageFormat::webp ? "WebP"
                           : fmt == ImageFormat::bmp  ? "BMP"
                                                      : "TIFF";
  if (b.size() > size_t(INT32_MAX)) throw DecodeError(name + " file too large to decode");
  // Checked before decoding: libpng and OpenCV's BMP reader would print their own errors.
  if (fmt == ImageFormat::png && !png_has_iend(b)) throw DecodeError("truncated PNG");
  if (fmt == ImageFormat::png)
    if (const std::string e = png_chunk_overrun(b); !e.empty()) throw DecodeError("malformed PNG: " + e);
  // cv::imdecode picks its decoder by signature, not by the format we sniffed: when OpenCV's WebP
  // decoder declines a file (WebPGetFeatures on its first 32 bytes fails), the next decoder whose
  // signature matches gets it; "DICM" at offset 128 hands it to GDCM, which abort()s on garbage.
  // The same check is made here so that a RIFF/WEBP file reaches the WebP decoder or nothing.
  if (fmt == ImageFormat::webp) {
    WebPBitstreamFeatures features;
    if (b.size() < 32 || WebPGetFeatures(b.data(), 32, &features) != VP8_STATUS_OK) {
      throw DecodeError("corrupt WebP data (bad bitstream header)");
    }
  }
  if (fmt == ImageFormat::bmp) {
    const uint32_t compression = io::le32(b.data() + 14) >= 40 && b.size() >= 34 ? io::le32(b.data() + 30) : 0;
    if (compression > 3) {  // OpenCV reads BI_RGB, BI_RLE8, BI_RLE4 and BI_BITFIELDS only
      throw DecodeError("unsupported BMP compression type " + std::to_string(compression));
    }
    if (bmp_is_truncated(b)) throw DecodeError("truncated BMP");
  }
  const std::vector<uint8_t> png_pixels = fmt == ImageFormat::png ? png_without_ancillary_chunks(b) : std::vector<uint8_t>();
  const std::span<const uint8_t> decoded = png_pixels.empty() ? b : std::span<const uint8_t>(png_pixels);
  // A header over the buffer, no copy (imdecode only reads it).
  const cv::Mat buf(1, int(decoded.size()), CV_8U, const_cast<uint8_t*>(decoded.data()));
  cv::Mat m;
  io::take_library_messages();  // only this file's messages name its error
  try {
    m = opencv_codecs::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw DecodeError("corrupt " + name + " data: " + e.err);
  }
  if (m.empty()) {
    // What libpng/libtiff said instead of printing it (library_messages.h), without their prefix.
    std::string said = io::take_library_messages();
    for (const char* prefix : {"libpng error: ", "libpng warning: "})
      if (said.rfind(prefix, 0) == 0) said.erase(0, std::strlen(prefix));
    if (fmt == ImageFormat::webp && webp_is_animated(b)) throw DecodeError("animated WebP is not supported");
    // libwebp may still decode a file a little shorter than its RIFF size, so this is only the
    // explanation of a failure, not a check made before.
    if (fmt == ImageFormat::webp && webp_is_truncated(b)) throw DecodeError("truncated WebP");
    throw DecodeError("corrupt or truncated " + name + " data (could not be decoded" + (said.empty() ? "" : ": " + said) + ")");
  }
  return to_rgb8(m);
}

// For non-JPEG formats: shrink right after decoding when the caller needs at most half the size,
// to the same size a DCT-scaled JPEG decode would give (INTER_AREA: resize_area's shrink, the
// same bytes as cv::resize at a sixth of the CPU).
void shrink_for_min_side(cv::Mat& rgb, int min_side) {
  const tjscalingfactor sf = pick_scale(rgb.cols, rgb.rows, min_side);
  if (2 * sf.num > sf.denom) return;
  rgb = resize_area(rgb, TJSCALED(rgb.cols, sf), TJSCALED(rgb.rows, sf));
}

// OpenCV reads a TIFF one tile (or strip) at a time into a buffer of that size, whatever the image
// size: the tile must fit the pixel limit too.
void check_tiff_tiles(std::span<const uint8_t> b, uint64_t max_pixels) {
  io::TiffInfo info;
  std::string err;
  if (!io::parse_tiff_ifd0(b, &info, &err)) throw DecodeError("malformed TIFF header: " + err);
  if (uint64_t(std::max(info.tile_width, 0)) * uint64_t(std::max(info.tile_height, 0)) > max_pixels) {
    throw DecodeError("image declares " + std::to_string(info.tile_width) + "x" + std::to_string(info.tile_height) +
                      " pixel tiles or strips, over the limit of " + std::to_string(max_pixels));
  }
}

int tiff_orientation(std::span<const uint8_t> b) {
  io::TiffInfo info;
  std::string err;
  return io::parse_tiff_ifd0(b, &info, &err) ? info.orientation : 1;
}

// Orientation from a PNG eXIf chunk (TIFF-structured Exif data), 1 when there is none.
int png_orientation(std::span<const uint8_t> b) {
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const size_t len = io::be32(b.data() + pos);
    const uint8_t* type = b.data() + pos + 4;
    if (len > b.size() - pos - 12) break;
    if (std::memcmp(type, "eXIf", 4) == 0) return tiff_orientation(b.subspan(pos + 8, len));
    if (std::memcmp(type, "IEND", 4) == 0) break;
    pos += 12 + len;
  }
  return 1;
}

// Orientation from the EXIF chunk of an extended (VP8X) WebP, 1 when there is none.
int webp_orientation(std::span<const uint8_t> b) {
  if (b.size() < 30 || std::memcmp(b.data() + 12, "VP8X", 4) != 0 || !(b[20] & 0x08)) return 1;  // EXIF flag
  size_t pos = 12;
  while (pos + 8 <= b.size()) {
    const size_t len = io::le32(b.data() + pos + 4);
    if (len > b.size() - pos - 8) break;
    if (std::memcmp(b.data() + pos, "EXIF", 4) == 0) {
      std::span<const uint8_t> exif = b.subspan(pos + 8, len);
      // Some writers keep the JPEG APP1 "Exif\0\0" prefix.
      if (exif.size() >= 6 && std::memcmp(exif.data(), "Exif\0\0", 6) == 0) exif = exif.subspan(6);
      return tiff_orientation(exif);
    }
    pos += 8 + len + (len & 1);  // chunks are padded to even sizes
  }
  return 1;
}


// Formats with their own file in src/io (heif.cpp, ...): false for the formats decoded here.
// The decoder is asked for the largest side any consumer needs (0 when one needs the full size);
// smaller sizes are that decode shrunk, so for HEIF thumbnails, JPEG XL DCT scales and RAW previews
// they can differ slightly from what decode_image alone would pick for them.
bool decode_own_file_format(std::span<const uint8_t> b, ImageFormat fmt, const DecodeOptions& opts,
                            const std::vector<int>& min_sides, io::StoredImage& out) {
  io::StoredImage (*decode)(std::span<const uint8_t>, const DecodeOptions&) = nullptr;
  switch (fmt) {
    case ImageFormat::heif: decode = io::decode_heif; break;
    case ImageFormat::avif: decode = io::decode_avif; break;
    case ImageFormat::jxl: decode = io::decode_jxl; break;
    case ImageFormat::netpbm: decode = io::decode_netpbm; break;
    case ImageFormat::raw: decode = io::decode_raw; break;
    default: return false;
  }
  DecodeOptions o = opts;
  o.min_side = 0;
  if (!min_sides.empty() && std::all_of(min_sides.begin(), min_sides.end(), [](int s) { return s > 0; }))
    o.min_side = *std::max_element(min_sides.begin(), min_sides.end());
  out = decode(b, o);
  return true;
}

}  // namespace

namespace io {

cv::Mat opencv_to_rgb8(const cv::Mat& m) { return to_rgb8(m); }

StoredImage decode_jpeg_stored(std::span<const uint8_t> bytes, const DecodeOptions& opts) {
  DecodedImage d;
  StoredImage s;
  s.rgb = decode_jpeg(bytes, opts, d);
  s.header = d.header;
  s.orientation = d.orientation;
  return s;
}

void apply_orientation(cv::Mat& img, int o) {
  switch (o) {
    case 2: cv::flip(img, img, 1); break;                            // mirror left-right
    case 3: cv::rotate(img, img, cv::ROTATE_180); break;
    case 4: cv::flip(img, img, 0); break;                            // mirror top-bottom
    case 5: cv::transpose(img, img); break;                          // mirror along main diagonal
    case 6: cv::rotate(img, img, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(img, img); cv::flip(img, img, -1); break;  // mirror along anti-diagonal
    case 8: cv::rotate(img, img, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: break;
  }
}

}  // namespace io

namespace {

// Runs a decode, turning OpenCV's exceptions and allocation failures into DecodeError naming the format.
template <class Decode>
void with_decode_errors(ImageFormat fmt, const Decode& decode) {
  try {
    decode();
  } catch (const cv::Exception& e) {
    throw DecodeError(std::string("cannot decode ") + format_name(fmt) + ": " + e.err);
  } catch (const std::bad_alloc&) {
    throw DecodeError(std::string("out of memory decoding ") + format_name(fmt));
  }
}

}  // namespace

std::vector<DecodedImage> decode_image_sizes(std::span<const uint8_t> bytes, const DecodeOptions& opts,
                                             const std::vector<int>& min_sides) {
  if (bytes.empty()) throw DecodeError("empty file");
  const ImageFormat fmt = sniff_format(bytes);
  if (fmt == ImageFormat::unknown) {
    if (const char* name = unsupported_image_format(bytes)) throw DecodeError(std::string("unsupported format: ") + name);
    throw DecodeError("not an image (unknown format)");
  }
  std::vector<DecodedImage> out(min_sides.size());
  with_decode_errors(fmt, [&] {
    if (fmt == ImageFormat::jpeg || fmt == ImageFormat::mpo) {  // MPO: its first image is the JPEG
      // One DCT-scaled decode per distinct scale; sizes that pick the same scale share it.
      for (size_t i = 0; i < min_sides.size(); ++i) {
        if (i > 0) {
          const auto scale = [&](int side) { return pick_scale(out[0].header.width, out[0].header.height, side); };
          const tjscalingfactor sf = scale(min_sides[i]);
          size_t j = 0;
          while (j < i && (scale(min_sides[j]).num != sf.num || scale(min_sides[j]).denom != sf.denom)) ++j;
          if (j < i) {
            out[i] = out[j];
            continue;
          }
        }
        DecodeOptions o = opts;
        o.min_side = min_sides[i];
        out[i].rgb = decode_jpeg(bytes, o, out[i]);
        out[i].header.format = fmt;
        io::apply_orientation(out[i].rgb, out[i].orientation);
      }
    } else if (io::StoredImage s; decode_own_file_format(bytes, fmt, opts, min_sides, s)) {
      // One decode from the smallest source large enough for every size, shrunk for each.
      for (size_t i = 0; i < min_sides.size(); ++i) {
        out[i].header = s.header;
        out[i].orientation = s.orientation;
        cv::Mat m = s.rgb;
        shrink_for_min_side(m, min_sides[i]);
        if (!s.oriented && s.orientation != 1) {
          if (m.data == s.rgb.data && i + 1 < min_sides.size()) m = m.clone();  // flips work in place
          io::apply_orientation(m, s.orientation);
        }
        out[i].rgb = m;
      }
    } else {
      // One decode at full size, shrunk for each size exactly as a single decode would be.
      DecodedImage full;
      full.header = read_header(bytes);
      check_pixels(full.header.width, full.header.height, opts.max_pixels);
      if (fmt == ImageFormat::tiff) check_tiff_tiles(bytes, opts.max_pixels);
      full.rgb = fmt == ImageFormat::gif ? io::decode_gif_first_frame(bytes, opts.max_pixels)
                                         : decode_with_opencv(bytes, fmt);
      // OpenCV's TIFF decoder applies the Orientation tag itself (even with IMREAD_UNCHANGED):
      // record it, do not apply it twice. cv::imdecode(IMREAD_UNCHANGED) ignores the Exif chunks
      // of PNG and WebP; we apply them like JPEG's.
      bool apply = false;
      if (fmt == ImageFormat::tiff) {
        full.orientation = tiff_orientation(bytes);
      } else if (fmt == ImageFormat::png || fmt == ImageFormat::webp) {
        full.orientation = fmt == ImageFormat::png ? png_orientation(bytes) : webp_orientation(bytes);
        apply = full.orientation != 1;
      }
      for (size_t i = 0; i < min_sides.size(); ++i) {
        out[i].header = full.header;
        out[i].orientation = full.orientation;
        cv::Mat m = full.rgb;
        shrink_for_min_side(m, min_sides[i]);
        if (apply && m.data == full.rgb.data && i + 1 < min_sides.size()) m = m.clone();  // flips work in place
        if (apply) io::apply_orientation(m, full.orientation);
        out[i].rgb = m;
      }
    }
  });
  return out;
}

DecodedImage decode_image(std::span<const uint8_t> bytes, const DecodeOptions& opts) {
  return std::move(decode_image_sizes(bytes, opts, {opts.min_side}).front());
}

cv::Mat decode_gray(std::span<const uint8_t> bytes, const DecodeOptions& opts) {
  const ImageFormat fmt = bytes.empty() ? ImageFormat::unknown : sniff_format(bytes);
  cv::Mat gray;
  if (fmt == ImageFormat::jpeg || fmt == ImageFormat::mpo) {
    with_decode_errors(fmt, [&] {
      DecodedImage d;
      gray = decode_jpeg(bytes, opts, d, true);
      io::apply_orientation(gray, d.orientation);
    });
  } else {
    const cv::Mat rgb = decode_image(bytes, opts).rgb;  // its errors for an empty or unknown file
    with_decode_errors(fmt, [&] { cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY); });
  }
  return gray;
}

}  // namespace irbis
