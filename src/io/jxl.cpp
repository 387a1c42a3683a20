// JPEG XL through libjxl. A JPEG that was losslessly recompressed (cjxl's default for JPEG input)
// is reconstructed and decoded by TurboJPEG at the DCT scale the caller needs, which is much cheaper
// than a full-size decode; other files are decoded to 8-bit RGB at full size, oriented by libjxl.
#include <jxl/decode.h>
#include <cstdint>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "io/io_internal.h"
#include "io/lazy_library.h"
#include "io/library_messages.h"
#include "irbis/errors.h"

namespace irbis::io {

namespace {

// libjxl, loaded the first time a file needs it (lazy_library.h): not linked, so commands that
// decode no such file do not load it and its codecs at start-up.
LazyLibrary& libjxl() {
  static LazyLibrary library(IRBIS_JXL_SONAME, "JPEG XL decoding", route_stderr_prints);
  return library;
}

struct JxlDeleter {
  void operator()(JxlDecoder* d) const { IRBIS_LAZY_FN(libjxl(), JxlDecoderDestroy)(d); }
};

[[noreturn]] void jxl_truncated() { throw DecodeError("truncated JPEG XL data"); }
// libjxl's own words for a refused file: the first "JXL_FAILURE: <why>" it would have printed
// (library_messages.h), without its source location; "" when it said none.
std::string libjxl_failure() {
  const std::string said = take_library_messages();
  const std::string tag = "JXL_FAILURE: ";
  const size_t at = said.find(tag);
  if (at == std::string::npos) return "";
  const size_t from = at + tag.size();
  return said.substr(from, said.find(';', from) - from);
}

[[noreturn]] void jxl_corrupt(const char* what) {
  std::string m = std::string("corrupt JPEG XL data: ") + what;
  if (const std::string why = libjxl_failure(); !why.empty()) m += " (libjxl: " + why + ")";
  throw DecodeError(m);
}

void check_pixels(uint64_t w, uint64_t h, uint64_t max_pixels) {
  if (w * h > max_pixels) {
    throw DecodeError("image declares " + std::to_string(w) + "x" + std::to_string(h) +
                      " pixels, over the limit of " + std::to_string(max_pixels));
  }
}

// Runs the decoder over the whole file. With `want_pixels` false it stops after the basic info.
struct JxlResult {
  JxlBasicInfo info{};
  std::vector<uint8_t> jpeg;  // the reconstructed JPEG, when the file holds one
  cv::Mat pixels;             // 8-bit RGB or RGBA, oriented, when there was no JPEG to reconstruct
};

JxlResult run_jxl(std::span<const uint8_t> b, uint64_t max_pixels, bool want_pixels) {
  take_library_messages();  // only this file's messages name its error
  std::unique_ptr<JxlDecoder, JxlDeleter> dec(IRBIS_LAZY_FN(libjxl(), JxlDecoderCreate)(nullptr));
  if (!dec) throw DecodeError("cannot initialise the JPEG XL decoder");
  JxlDecoder* d = dec.get();
  int events = JXL_DEC_BASIC_INFO;
  if (want_pixels) events |= JXL_DEC_JPEG_RECONSTRUCTION | JXL_DEC_FULL_IMAGE;
  if (IRBIS_LAZY_FN(libjxl(), JxlDecoderSubscribeEvents)(d, events) != JXL_DEC_SUCCESS) jxl_corrupt("cannot subscribe to decoder events");
  // The input is not closed: a file that ends early then gives NEED_MORE_INPUT (reported as
  // truncated) instead of an error that libjxl also prints to stderr.
  if (IRBIS_LAZY_FN(libjxl(), JxlDecoderSetInput)(d, b.data(), b.size()) != JXL_DEC_SUCCESS) jxl_corrupt("cannot set the input");
  JxlResult r;
  bool reconstructing = false;
  size_t jpeg_used = 0;
  JxlPixelFormat format{3, JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0};
  for (;;) {
    const JxlDecoderStatus s = IRBIS_LAZY_FN(libjxl(), JxlDecoderProcessInput)(d);
    switch (s) {
      case JXL_DEC_ERROR: jxl_corrupt("the decoder refused the data");
      case JXL_DEC_NEED_MORE_INPUT: jxl_truncated();
      case JXL_DEC_BASIC_INFO:
        if (IRBIS_LAZY_FN(libjxl(), JxlDecoderGetBasicInfo)(d, &r.info) != JXL_DEC_SUCCESS) jxl_corrupt("cannot read the basic info");
        if (r.info.xsize == 0 || r.info.ysize == 0) throw DecodeError("malformed JPEG XL header: zero width or height");
        // A side can reach 2^31 (ysize 2^30 at the 2:1 aspect ratio), past an int (F10).
        if (r.info.xsize > uint32_t(INT32_MAX) || r.info.ysize > uint32_t(INT32_MAX)) {
          throw DecodeError("malformed JPEG XL header: " + std::to_string(r.info.xsize) + "x" +
                            std::to_string(r.info.ysize) + " pixels, a side over 2147483647");
        }
        check_pixels(r.info.xsize, r.info.ysize, max_pixels);
        if (!want_pixels) return r;
        if (r.info.alpha_bits > 0) format.num_channels = 4;
        break;
      case JXL_DEC_JPEG_RECONSTRUCTION:
        reconstructing = true;
        r.jpeg.resize(b.size() * 2 + 65536);  // a recompressed JPEG is about 20% smaller than the JPEG
        if (IRBIS_LAZY_FN(libjxl(), JxlDecoderSetJPEGBuffer)(d, r.jpeg.data(), r.jpeg.size()) != JXL_DEC_SUCCESS) jxl_corrupt("cannot set the JPEG buffer");
        break;
      case JXL_DEC_JPEG_NEED_MORE_OUTPUT: {
        const size_t unused = IRBIS_LAZY_FN(libjxl(), JxlDecoderReleaseJPEGBuffer)(d);
        jpeg_used = r.jpeg.size() - unused;
        if (r.jpeg.size() > b.size() * 16 + (64u << 20)) jxl_corrupt("the reconstructed JPEG keeps growing");
        r.jpeg.resize(r.jpeg.size() * 2);
        if (IRBIS_LAZY_FN(libjxl(), JxlDecoderSetJPEGBuffer)(d, r.jpeg.data() + jpeg_used, r.jpeg.size() - jpeg_used) != JXL_DEC_SUCCESS) {
          jxl_corrupt("cannot set the JPEG buffer");
        }
        break;
      }
      case JXL_DEC_NEED_IMAGE_OUT_BUFFER: {
        size_t size = 0;
        if (IRBIS_LAZY_FN(libjxl(), JxlDecoderImageOutBufferSize)(d, &format, &size) != JXL_DEC_SUCCESS) jxl_corrupt("no output size");
        // Orientations 5..8 swap the sides of the output; the frame may not exceed the declared size.
        const bool swap = r.info.orientation >= 5;
        const int w = int(swap ? r.info.ysize : r.info.xsize), h = int(swap ? r.info.xsize : r.info.ysize);
        r.pixels.create(h, w, format.num_channels == 4 ? CV_8UC4 : CV_8UC3);
        if (size != r.pixels.total() * r.pixels.elemSize()) jxl_corrupt("unexpected output size");
        if (IRBIS_LAZY_FN(libjxl(), JxlDecoderSetImageOutBuffer)(d, &format, r.pixels.data, size) != JXL_DEC_SUCCESS) jxl_corrupt("cannot set the output");
        break;
      }
      case JXL_DEC_FULL_IMAGE:  // the first frame is enough (animations: irbis keeps the first)
      case JXL_DEC_SUCCESS:
        if (reconstructing) {
          const size_t unused = IRBIS_LAZY_FN(libjxl(), JxlDecoderReleaseJPEGBuffer)(d);
          r.jpeg.resize(r.jpeg.size() - unused);
          r.pixels.release();
        } else {
          r.jpeg.clear();
        }
        if (r.jpeg.empty() && r.pixels.empty()) jxl_corrupt("the file holds no image");
        return r;
      default: break;  // events we did not subscribe to
    }
  }
}

}  // namespace

bool is_jxl(std::span<const uint8_t> b) {
  const JxlSignature s = IRBIS_LAZY_FN(libjxl(), JxlSignatureCheck)(b.data(), b.size());
  return s == JXL_SIG_CODESTREAM || s == JXL_SIG_CONTAINER;
}

ImageHeader jxl_header(std::span<const uint8_t> b) {
  const JxlResult r = run_jxl(b, UINT64_MAX, false);
  return {ImageFormat::jxl, int(r.info.xsize), int(r.info.ysize)};
}

StoredImage decode_jxl(std::span<const uint8_t> b, const DecodeOptions& opts) {
  JxlResult r = run_jxl(b, opts.max_pixels, true);
  StoredImage out;
  out.header = {ImageFormat::jxl, int(r.info.xsize), int(r.info.ysize)};
  out.orientation = r.info.orientation >= 1 && r.info.orientation <= 8 ? int(r.info.orientation) : 1;
  if (!r.jpeg.empty()) {
    StoredImage j = decode_jpeg_stored({r.jpeg.data(), r.jpeg.size()}, opts);
    out.rgb = std::move(j.rgb);
    // The codestream orientation is authoritative; a JPEG's Exif tag only when it has none.
    if (out.orientation == 1) out.orientation = j.orientation;
    out.oriented = false;
    return out;
  }
  if (r.pixels.channels() == 4) {  // composited on white like PNG
    cv::Mat bgra;
    cv::cvtColor(r.pixels, bgra, cv::COLOR_RGBA2BGRA);
    out.rgb = opencv_to_rgb8(bgra);
  } else {
    out.rgb = std::move(r.pixels);
  }
  out.oriented = true;
  return out;
}

}  // namespace irbis::io
