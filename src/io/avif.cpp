// AVIF through libavif (AV1 via dav1d or libaom): the primary image as 8-bit RGB, irot/imir reported
// as the equivalent Exif orientation (libavif does not apply them; decode_image_sizes does).
#include <avif/avif.h>
#include <memory>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "io/library_messages.h"
#include "io/io_internal.h"
#include "io/lazy_library.h"
#include "irbis/errors.h"

namespace irbis::io {

namespace {

// libavif, loaded the first time a file needs it (lazy_library.h): not linked, so commands that
// decode no such file do not load it and its codecs at start-up.
LazyLibrary& libavif() {
  static LazyLibrary library(IRBIS_AVIF_SONAME, "AVIF decoding", route_dav1d_log);
  return library;
}

struct AvifDecoderDeleter {
  void operator()(avifDecoder* d) const { IRBIS_LAZY_FN(libavif(), avifDecoderDestroy)(d); }
};
using AvifDecoderPtr = std::unique_ptr<avifDecoder, AvifDecoderDeleter>;

[[noreturn]] void avif_fail(std::span<const uint8_t> b, const char* what, avifResult r) {
  std::string why = IRBIS_LAZY_FN(libavif(), avifResultToString)(r);
  if (const std::string said = take_library_messages(); !said.empty()) why += " (dav1d: " + said + ")";
  if (r == AVIF_RESULT_TRUNCATED_DATA || isobmff_is_truncated(b)) throw DecodeError(std::string("truncated AVIF data (") + what + ")");
  if (r == AVIF_RESULT_NOT_IMPLEMENTED || r == AVIF_RESULT_NO_CODEC_AVAILABLE) {
    throw DecodeError("unsupported format: AVIF (" + why + ")");
  }
  throw DecodeError(std::string("corrupt AVIF data: ") + what + ": " + why);
}

// A decoder over the bytes with the container parsed (sizes known, nothing decoded yet).
AvifDecoderPtr parse_avif(std::span<const uint8_t> b, uint64_t max_pixels) {
  AvifDecoderPtr d(IRBIS_LAZY_FN(libavif(), avifDecoderCreate)());
  if (!d) throw DecodeError("cannot initialise the AVIF decoder");
  d->maxThreads = 1;  // index already decodes one file per core
  d->ignoreXMP = AVIF_TRUE;
  d->ignoreExif = AVIF_TRUE;  // irot/imir are what orient an AVIF
  d->strictFlags = AVIF_STRICT_DISABLED;  // phones and old encoders omit boxes the spec requires
  // libavif's own bound stays at its default (a file over it fails to parse); ours is checked right
  // after parsing, which reads the boxes only: no pixel plane exists before avifDecoderNextImage.
  avifResult r = IRBIS_LAZY_FN(libavif(), avifDecoderSetIOMemory)(d.get(), b.data(), b.size());
  if (r != AVIF_RESULT_OK) avif_fail(b, "cannot read the file", r);
  r = IRBIS_LAZY_FN(libavif(), avifDecoderParse)(d.get());
  if (r != AVIF_RESULT_OK) avif_fail(b, "cannot read the file structure", r);
  const avifImage* img = d->image;
  if (img->width == 0 || img->height == 0) throw DecodeError("malformed AVIF header: zero width or height");
  if (uint64_t(img->width) * img->height > max_pixels) {
    throw DecodeError("image declares " + std::to_string(img->width) + "x" + std::to_string(img->height) +
                      " pixels, over the limit of " + std::to_string(max_pixels));
  }
  return d;
}

}  // namespace

ImageHeader avif_header(std::span<const uint8_t> b) {
  const AvifDecoderPtr d = parse_avif(b, UINT64_MAX);
  return {ImageFormat::avif, int(d->image->width), int(d->image->height)};
}

StoredImage decode_avif(std::span<const uint8_t> b, const DecodeOptions& opts) {
  const AvifDecoderPtr d = parse_avif(b, opts.max_pixels);
  StoredImage out;
  out.header = {ImageFormat::avif, int(d->image->width), int(d->image->height)};
  const avifImage* meta = d->image;
  const int turns = (meta->transformFlags & AVIF_TRANSFORM_IROT) ? meta->irot.angle & 3 : 0;
  const int mirror = (meta->transformFlags & AVIF_TRANSFORM_IMIR) ? meta->imir.mode & 1 : -1;
  out.orientation = orientation_from_irot_imir(turns, mirror);

  // The size checked above is the container's (ispe); the AV1 frame declares its own, which dav1d
  // allocates. Bound that by max_pixels too (libavif hands the limit to dav1d when it creates the
  // codec, in avifDecoderNextImage), and refuse a frame of another size than the container's, as
  // for a TIFF whose size tags disagree (docs/reliability.md, F8).
  d->imageSizeLimit = uint32_t(std::min<uint64_t>({opts.max_pixels, d->imageSizeLimit, UINT32_MAX}));
  take_library_messages();  // only this decode's messages name its error
  const avifResult r = IRBIS_LAZY_FN(libavif(), avifDecoderNextImage)(d.get());  // the primary image (first frame of a sequence)
  if (r != AVIF_RESULT_OK) avif_fail(b, "cannot decode the image", r);
  const avifImage* img = d->image;
  if (int(img->width) != out.header.width || int(img->height) != out.header.height)
    throw DecodeError("corrupt AVIF data: the AV1 image is " + std::to_string(img->width) + "x" +
                      std::to_string(img->height) + " pixels, the file declares " + std::to_string(out.header.width) +
                      "x" + std::to_string(out.header.height));
  avifRGBImage rgb;
  IRBIS_LAZY_FN(libavif(), avifRGBImageSetDefaults)(&rgb, img);
  rgb.depth = 8;  // libavif scales 10/12-bit samples
  const bool alpha = img->alphaPlane != nullptr;
  rgb.format = alpha ? AVIF_RGB_FORMAT_BGRA : AVIF_RGB_FORMAT_RGB;
  cv::Mat m(int(rgb.height), int(rgb.width), alpha ? CV_8UC4 : CV_8UC3);
  rgb.pixels = m.data;
  rgb.rowBytes = uint32_t(m.step);
  const avifResult c = IRBIS_LAZY_FN(libavif(), avifImageYUVToRGB)(img, &rgb);
  if (c != AVIF_RESULT_OK) avif_fail(b, "cannot convert to RGB", c);
  out.rgb = alpha ? opencv_to_rgb8(m) : m;  // BGRA: composited on white like PNG
  return out;
}

}  // namespace irbis::io
