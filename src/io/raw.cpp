// Camera RAW through LibRaw (thread-safe libraw_r): the embedded preview when it is large enough for
// the caller, otherwise the raw data demosaiced (at half size when that still is large enough).
#include <cstring>
#include <libraw/libraw.h>
#include <memory>

#include "io/io_internal.h"
#include "irbis/errors.h"

namespace irbis::io {

namespace {

// True when IFD0 of a TIFF holds `tag`.
bool tiff_ifd0_has(std::span<const uint8_t> b, uint32_t tag) {
  if (b.size() < 8) return false;
  const bool le = b[0] == 'I';
  const auto u16 = [&](size_t off) { return le ? le16(b.data() + off) : be16(b.data() + off); };
  const auto u32 = [&](size_t off) { return le ? le32(b.data() + off) : be32(b.data() + off); };
  const size_t ifd = u32(4);
  if (ifd < 8 || ifd > b.size() - 2) return false;
  const size_t count = u16(ifd);
  for (size_t i = 0; i < count && ifd + 2 + (i + 1) * 12 <= b.size(); ++i)
    if (u16(ifd + 2 + i * 12) == tag) return true;
  return false;
}

bool starts_with(std::span<const uint8_t> b, const char* magic, size_t n, size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

// dcraw's flip (bit 4: transpose, 2: mirror top-bottom, 1: mirror left-right, as LibRaw applies them
// when it writes the image) as the Exif orientation that has the same effect.
int orientation_from_flip(int flip) {
  switch (flip) {
    case 1: return 2;
    case 2: return 4;
    case 3: return 3;
    case 4: return 5;
    case 5: return 8;
    case 6: return 6;
    case 7: return 7;
    default: return 1;
  }
}

[[noreturn]] void raw_fail(const char* what, int code) {
  const std::string why = libraw_strerror(code);
  if (code == LIBRAW_FILE_UNSUPPORTED) throw DecodeError("unsupported format: camera RAW of this kind (" + why + ")");
  if (code == LIBRAW_IO_ERROR || code == LIBRAW_DATA_ERROR) {
    throw DecodeError(std::string("truncated or corrupt camera RAW data (") + what + ": " + why + ")");
  }
  throw DecodeError(std::string("cannot decode camera RAW: ") + what + ": " + why);
}

void check_pixels(uint64_t w, uint64_t h, uint64_t max_pixels, const char* what = "") {
  if (w * h > max_pixels) {
    throw DecodeError("image declares " + std::string(what) + std::to_string(w) + "x" + std::to_string(h) +
                      " pixels, over the limit of " + std::to_string(max_pixels));
  }
}

std::unique_ptr<LibRaw> open_raw(std::span<const uint8_t> b) {
  auto lr = std::make_unique<LibRaw>(LIBRAW_OPTIONS_NONE);
  // LibRaw's default handler prints "Unexpected end of file" to stderr; error_count() reports it.
  lr->set_dataerror_handler([](void*, const char*, const int) {}, nullptr);
  // LibRaw only reads the buffer; its API takes a non-const pointer.
  const int rc = lr->open_buffer(const_cast<uint8_t*>(b.data()), b.size());
  if (rc != LIBRAW_SUCCESS) raw_fail("cannot read the file structure", rc);
  if (lr->imgdata.sizes.width == 0 || lr->imgdata.sizes.height == 0) {
    throw DecodeError("malformed camera RAW header: zero width or height");
  }
  return lr;
}

}  // namespace

bool is_raw(std::span<const uint8_t> b) {
  if (starts_with(b, "II*\0", 4) || starts_with(b, "MM\0*", 4)) {
    if (starts_with(b, "CR\x02", 3, 8)) return true;                 // Canon CR2
    if (tiff_ifd0_has(b, 50706)) return true;                         // DNGVersion
    return tiff_ifd0_has(b, 271) && tiff_ifd0_has(b, 330);            // camera Make + SubIFDs: NEF, ARW, PEF, ...
  }
  return starts_with(b, "IIRO", 4) || starts_with(b, "IIRS", 4) || starts_with(b, "MMOR", 4)  // Olympus ORF
         || starts_with(b, "IIU\0", 4)                                                           // Panasonic RW2
         || starts_with(b, "FUJIFILMCCD-RAW", 15)                                                // Fujifilm RAF
         || starts_with(b, "\0MRM", 4)                                                           // Minolta MRW
         || starts_with(b, "FOVb", 4);                                                           // Sigma X3F
}

ImageHeader raw_header(std::span<const uint8_t> b) {
  const auto lr = open_raw(b);
  return {ImageFormat::raw, int(lr->imgdata.sizes.width), int(lr->imgdata.sizes.height)};
}

StoredImage decode_raw(std::span<const uint8_t> b, const DecodeOptions& opts) {
  const auto lr = open_raw(b);
  const libraw_image_sizes_t& sz = lr->imgdata.sizes;
  StoredImage out;
  out.header = {ImageFormat::raw, int(sz.width), int(sz.height)};
  out.orientation = orientation_from_flip(sz.flip);
  // The sensor area LibRaw unpacks (margins included) is what it allocates.
  check_pixels(sz.width, sz.height, opts.max_pixels);
  check_pixels(sz.raw_width, sz.raw_height, opts.max_pixels, "a sensor of ");

  // The embedded preview, when both of its sides are >= min_side (JPEG or 8-bit RGB bitmap; the
  // format is known only once unpack_thumb has read it).
  const libraw_thumbnail_t& th = lr->imgdata.thumbnail;
  if (opts.min_side > 0 && th.twidth >= opts.min_side && th.theight >= opts.min_side) {
    check_pixels(th.twidth, th.theight, opts.max_pixels, "a preview of ");
    if (lr->unpack_thumb() == LIBRAW_SUCCESS && th.thumb && th.tlength > 0 &&
        (th.tformat == LIBRAW_THUMBNAIL_JPEG || th.tformat == LIBRAW_THUMBNAIL_BITMAP)) {
      const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(th.thumb), th.tlength);
      if (th.tformat == LIBRAW_THUMBNAIL_JPEG) {
        StoredImage p = decode_jpeg_stored(data, opts);
        out.rgb = std::move(p.rgb);
        if (p.orientation != 1) out.orientation = p.orientation;  // a preview with its own Exif
        return out;
      }
      if (uint64_t(th.twidth) * th.theight * 3 <= data.size()) {
        out.rgb = cv::Mat(th.theight, th.twidth, CV_8UC3, const_cast<uint8_t*>(data.data())).clone();
        return out;
      }
    }
    // An unreadable preview: fall back to the raw data.
  }

  libraw_output_params_t& p = lr->imgdata.params;
  p.output_bps = 8;
  p.use_camera_wb = 1;
  if (opts.min_side > 0) {
    p.user_qual = 0;  // bilinear demosaicing: the features look at a downscaled image anyway
    if (sz.width / 2 >= opts.min_side && sz.height / 2 >= opts.min_side) p.half_size = 1;  // no demosaicing
  }
  int rc = lr->unpack();
  if (rc != LIBRAW_SUCCESS) raw_fail("cannot read the raw data", rc);
  if (lr->error_count() > 0) throw DecodeError("truncated or corrupt camera RAW data (the raw data could not be read fully)");
  rc = lr->dcraw_process();
  if (rc != LIBRAW_SUCCESS) raw_fail("cannot process the raw data", rc);
  int err = 0;
  libraw_processed_image_t* img = lr->dcraw_make_mem_image(&err);
  if (!img) raw_fail("cannot produce the image", err);
  std::unique_ptr<libraw_processed_image_t, void (*)(libraw_processed_image_t*)> hold(img, LibRaw::dcraw_clear_mem);
  if (img->type != LIBRAW_IMAGE_BITMAP || img->bits != 8 || (img->colors != 3 && img->colors != 1)) {
    throw DecodeError("cannot decode camera RAW: unexpected output layout");
  }
  const cv::Mat view(img->height, img->width, img->colors == 3 ? CV_8UC3 : CV_8UC1, img->data);
  if (img->colors == 3) {
    out.rgb = view.clone();
  } else {
    out.rgb = opencv_to_rgb8(view);
  }
  out.oriented = true;  // LibRaw writes the image with its flip applied
  return out;
}

}  // namespace irbis::io
