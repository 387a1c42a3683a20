// HEIF/HEIC through libheif (HEVC via libde265): the primary image, or its smallest thumbnail that is
// large enough. Also the ISOBMFF brand sniffing shared with AVIF and Canon CR3.
#include <algorithm>
#include <cstring>
#include <libheif/heif.h>
#include <string>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "io/library_messages.h"
#include "io/io_internal.h"
#include "io/lazy_library.h"
#include "irbis/errors.h"

namespace irbis::io {

namespace {

// libheif, loaded the first time a file needs it (lazy_library.h): not linked, so commands that
// decode no such file do not load it and its codecs at start-up.
LazyLibrary& libheif() {
  static LazyLibrary library(IRBIS_HEIF_SONAME, "HEIF/HEIC decoding", route_dav1d_log);  // AV1 items
  return library;
}

bool brand_is(const uint8_t* p, const char* brand) { return std::memcmp(p, brand, 4) == 0; }

// One ISOBMFF box inside [data, data + size): its type and payload. False when it does not fit.
struct Box {
  char type[4];
  std::span<const uint8_t> payload;
  size_t total = 0;
};
bool read_box(std::span<const uint8_t> b, size_t pos, Box* box) {
  if (pos + 8 > b.size()) return false;
  uint64_t size = be32(b.data() + pos);
  size_t header = 8;
  if (size == 1) {
    if (pos + 16 > b.size()) return false;
    size = uint64_t(be32(b.data() + pos + 8)) << 32 | be32(b.data() + pos + 12);
    header = 16;
  } else if (size == 0) {
    size = b.size() - pos;  // to the end of the enclosing data
  }
  if (size < header || size > b.size() - pos) return false;
  std::memcpy(box->type, b.data() + pos + 4, 4);
  box->payload = b.subspan(pos + header, size_t(size) - header);
  box->total = size_t(size);
  return true;
}

// Calls f(box) for each box directly inside `b`; stops early when f returns false.
template <class F>
void for_each_box(std::span<const uint8_t> b, F f) {
  Box box;
  for (size_t pos = 0; read_box(b, pos, &box); pos += box.total)
    if (!f(box)) return;
}

// The primary item's irot/imir, in the order ipma lists them, as an Exif orientation; 1 when the
// file has none or its boxes cannot be followed (libheif then reports the problem, if any).
int heif_primary_orientation(std::span<const uint8_t> b) {
  std::span<const uint8_t> meta;
  for_each_box(b, [&](const Box& x) {
    if (std::memcmp(x.type, "meta", 4) != 0) return true;
    if (x.payload.size() >= 4) meta = x.payload.subspan(4);  // full box: version and flags
    return false;
  });
  if (meta.empty()) return 1;
  uint32_t primary = 0;
  std::span<const uint8_t> ipco, ipma;
  for_each_box(meta, [&](const Box& x) {
    if (std::memcmp(x.type, "pitm", 4) == 0 && x.payload.size() >= 6) {
      primary = x.payload[0] == 0 ? be16(x.payload.data() + 4) : (x.payload.size() >= 8 ? be32(x.payload.data() + 4) : 0);
    } else if (std::memcmp(x.type, "iprp", 4) == 0) {
      for_each_box(x.payload, [&](const Box& y) {
        if (std::memcmp(y.type, "ipco", 4) == 0) ipco = y.payload;
        if (std::memcmp(y.type, "ipma", 4) == 0) ipma = y.payload;
        return true;
      });
    }
    return true;
  });
  if (ipco.empty() || ipma.size() < 8) return 1;
  std::vector<Box> props;  // 1-based in ipma
  for_each_box(ipco, [&](const Box& x) {
    props.push_back(x);
    return true;
  });
  const int version = ipma[0];
  const bool wide_index = ipma[3] & 1;
  const uint32_t entries = be32(ipma.data() + 4);
  size_t pos = 8;
  for (uint32_t e = 0; e < entries; ++e) {
    const size_t id_size = version < 1 ? 2 : 4;
    if (pos + id_size + 1 > ipma.size()) return 1;
    const uint32_t item = version < 1 ? be16(ipma.data() + pos) : be32(ipma.data() + pos);
    pos += id_size;
    const int n = ipma[pos++];
    const size_t step = wide_index ? 2 : 1;
    if (pos + n * step > ipma.size()) return 1;
    if (item != primary) {
      pos += n * step;
      continue;
    }
    int turns = 0, axis = -1;
    for (int k = 0; k < n; ++k, pos += step) {
      const size_t index = wide_index ? (be16(ipma.data() + pos) & 0x7fff) : (ipma[pos] & 0x7f);
      if (index == 0 || index > props.size()) continue;
      const Box& p = props[index - 1];
      if (p.payload.empty()) continue;
      if (std::memcmp(p.type, "irot", 4) == 0) turns = p.payload[0] & 3;
      if (std::memcmp(p.type, "imir", 4) == 0) axis = p.payload[0] & 1;
    }
    return orientation_from_irot_imir(turns, axis);
  }
  return 1;
}

struct HeifDeleter {
  void operator()(heif_context* c) const { IRBIS_LAZY_FN(libheif(), heif_context_free)(c); }
  void operator()(heif_image_handle* h) const { IRBIS_LAZY_FN(libheif(), heif_image_handle_release)(h); }
  void operator()(heif_image* i) const { IRBIS_LAZY_FN(libheif(), heif_image_release)(i); }
  void operator()(heif_decoding_options* o) const { IRBIS_LAZY_FN(libheif(), heif_decoding_options_free)(o); }
};
template <class T>
using HeifPtr = std::unique_ptr<T, HeifDeleter>;

[[noreturn]] void heif_fail(std::span<const uint8_t> b, const char* what, const heif_error& err) {
  std::string msg = err.message ? err.message : "unknown libheif error";
  if (const std::string said = take_library_messages(); !said.empty()) msg += " (dav1d: " + said + ")";
  if (isobmff_is_truncated(b)) throw DecodeError(std::string("truncated HEIF data (") + what + ")");
  if (err.code == heif_error_Unsupported_feature || err.code == heif_error_Unsupported_filetype) {
    throw DecodeError(std::string("unsupported format: HEIF (") + msg + ")");
  }
  // libheif reports a file cut short as "end of data" / "Invalid input ... data".
  if (err.subcode == heif_suberror_End_of_data) throw DecodeError(std::string("truncated HEIF data (") + what + ")");
  throw DecodeError(std::string("corrupt HEIF data: ") + what + ": " + msg);
}

struct OpenHeif {
  HeifPtr<heif_context> ctx;
  HeifPtr<heif_image_handle> primary;
};

OpenHeif open_heif(std::span<const uint8_t> b) {
  OpenHeif h;
  h.ctx.reset(IRBIS_LAZY_FN(libheif(), heif_context_alloc)());
  if (!h.ctx) throw DecodeError("cannot initialise the HEIF decoder");
  // libheif only reads the boxes here; nothing is decoded yet.
  heif_error err = IRBIS_LAZY_FN(libheif(), heif_context_read_from_memory_without_copy)(h.ctx.get(), b.data(), b.size(), nullptr);
  if (err.code != heif_error_Ok) heif_fail(b, "cannot read the file structure", err);
  heif_image_handle* handle = nullptr;
  err = IRBIS_LAZY_FN(libheif(), heif_context_get_primary_image_handle)(h.ctx.get(), &handle);
  if (err.code != heif_error_Ok) heif_fail(b, "no primary image", err);
  h.primary.reset(handle);
  return h;
}

// The size as stored (ispe), before irot: libheif's handle size is after the transformations.
ImageHeader stored_header(heif_image_handle* h, ImageFormat fmt) {
  int w = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_ispe_width)(h), hh = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_ispe_height)(h);
  if (w <= 0 || hh <= 0) {
    w = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_width)(h);
    hh = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_height)(h);
  }
  if (w <= 0 || hh <= 0) throw DecodeError("malformed HEIF header: zero width or height");
  return {fmt, w, hh};
}

void check_pixels(int w, int h, uint64_t max_pixels) {
  if (uint64_t(w) * uint64_t(h) > max_pixels) {
    throw DecodeError("image declares " + std::to_string(w) + "x" + std::to_string(h) +
                      " pixels, over the limit of " + std::to_string(max_pixels));
  }
}

}  // namespace

int orientation_from_irot_imir(int quarter_turns_ccw, int mirror_axis) {
  // Applies the operations to a small asymmetric image and finds the Exif orientation that gives
  // the same result: no hand-written table to get wrong.
  cv::Mat probe(2, 3, CV_8U);
  for (int i = 0; i < 6; ++i) probe.data[i] = uint8_t(i);
  cv::Mat t = probe.clone();
  for (int k = 0; k < (quarter_turns_ccw & 3); ++k) cv::rotate(t, t, cv::ROTATE_90_COUNTERCLOCKWISE);
  if (mirror_axis == 0) cv::flip(t, t, 0);  // top and bottom exchanged
  if (mirror_axis == 1) cv::flip(t, t, 1);  // left and right exchanged
  for (int o = 1; o <= 8; ++o) {
    cv::Mat c = probe.clone();
    apply_orientation(c, o);
    if (c.size() == t.size() && cv::countNonZero(c != t) == 0) return o;
  }
  return 1;
}

ImageFormat sniff_isobmff(std::span<const uint8_t> b) {
  if (b.size() < 16 || std::memcmp(b.data() + 4, "ftyp", 4) != 0) return ImageFormat::unknown;
  const size_t box = std::min<size_t>(be32(b.data()), b.size());
  if (box < 16) return ImageFormat::unknown;
  const uint8_t* major = b.data() + 8;
  if (brand_is(major, "crx ")) return ImageFormat::raw;  // Canon CR3
  bool heif = false, avif = false;
  const auto classify = [&](const uint8_t* p) {
    if (brand_is(p, "avif") || brand_is(p, "avis")) avif = true;
    for (const char* h : {"heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"})
      if (brand_is(p, h)) heif = true;
  };
  // The major brand decides when it names a codec; mif1 (generic HEIF) defers to the compatible list.
  if (brand_is(major, "avif") || brand_is(major, "avis")) return ImageFormat::avif;
  classify(major);
  for (size_t pos = 16; pos + 4 <= box; pos += 4) classify(b.data() + pos);
  if (avif && !(brand_is(major, "heic") || brand_is(major, "heix"))) return ImageFormat::avif;
  return heif ? ImageFormat::heif : ImageFormat::unknown;
}

bool isobmff_is_truncated(std::span<const uint8_t> b) {
  size_t pos = 0;
  while (pos + 8 <= b.size()) {
    uint64_t size = be32(b.data() + pos);
    if (size == 1) {
      if (pos + 16 > b.size()) return true;
      size = uint64_t(be32(b.data() + pos + 8)) << 32 | be32(b.data() + pos + 12);
    } else if (size == 0) {
      return false;  // the last box runs to the end of the file
    }
    if (size < 8) return false;  // malformed, not truncated
    if (size > b.size() - pos) return true;
    pos += size_t(size);
  }
  return pos < b.size();  // a box header cut in the middle
}

ImageHeader heif_header(std::span<const uint8_t> b) {
  OpenHeif h = open_heif(b);
  return stored_header(h.primary.get(), ImageFormat::heif);
}

StoredImage decode_heif(std::span<const uint8_t> b, const DecodeOptions& opts) {
  OpenHeif h = open_heif(b);
  StoredImage out;
  out.header = stored_header(h.primary.get(), ImageFormat::heif);
  check_pixels(out.header.width, out.header.height, opts.max_pixels);
  out.orientation = heif_primary_orientation(b);
  out.oriented = true;  // libheif applies irot/imir (and clap) when decoding

  // The smallest thumbnail whose displayed sides are both >= min_side, else the primary image.
  heif_image_handle* source = h.primary.get();
  HeifPtr<heif_image_handle> thumb;
  if (opts.min_side > 0) {
    const int n = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_number_of_thumbnails)(source);
    std::vector<heif_item_id> ids(size_t(std::max(n, 0)));
    if (n > 0) IRBIS_LAZY_FN(libheif(), heif_image_handle_get_list_of_thumbnail_IDs)(source, ids.data(), n);
    int64_t best = int64_t(IRBIS_LAZY_FN(libheif(), heif_image_handle_get_width)(source)) * IRBIS_LAZY_FN(libheif(), heif_image_handle_get_height)(source);
    for (heif_item_id id : ids) {
      heif_image_handle* t = nullptr;
      if (IRBIS_LAZY_FN(libheif(), heif_image_handle_get_thumbnail)(source, id, &t).code != heif_error_Ok) continue;
      HeifPtr<heif_image_handle> candidate(t);
      const int tw = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_width)(t), th = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_height)(t);
      if (tw >= opts.min_side && th >= opts.min_side && int64_t(tw) * th < best) {
        best = int64_t(tw) * th;
        thumb = std::move(candidate);
      }
    }
    if (thumb) source = thumb.get();
  }
  // A grid's or an overlay's canvas, and the HEVC frame itself, are allocated at the sizes their own
  // boxes and bitstream declare, which can differ from the ispe the pixel limit was checked on (F11:
  // a 756-byte HEIC whose grid item's ispe says 32x24 and whose grid box says 8192x6144 took 1.1 s
  // and ~200 MB, a 4000x3000 frame under an ispe of 32x24 0.77 s, before the size was found to
  // disagree). libheif checks canvases and coded frames against its side limit before decoding:
  // it is set to the declared long side plus the HEVC coding padding (frames are coded in blocks of
  // up to 64 px, a 32x24 image as 64x64), never below 1024 (a small image's grid tiles); an image
  // of another size than declared is refused below anyway.
  const ImageHeader declared = stored_header(source, ImageFormat::heif);
  const int long_side = std::max(declared.width, declared.height);
  const int side_limit = std::max(1024, (long_side + 63) / 64 * 64 + 64);
  IRBIS_LAZY_FN(libheif(), heif_context_set_maximum_image_size_limit)(h.ctx.get(), side_limit);
  const bool alpha = IRBIS_LAZY_FN(libheif(), heif_image_handle_has_alpha_channel)(source);
  HeifPtr<heif_decoding_options> dopts(IRBIS_LAZY_FN(libheif(), heif_decoding_options_alloc)());
  heif_image* raw = nullptr;
  take_library_messages();  // only this decode's messages name its error
  const heif_error err =
      IRBIS_LAZY_FN(libheif(), heif_decode_image)(source, &raw, heif_colorspace_RGB, alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB,
                        dopts.get());
  if (err.code != heif_error_Ok) heif_fail(b, "cannot decode the image", err);
  HeifPtr<heif_image> img(raw);
  const int w = IRBIS_LAZY_FN(libheif(), heif_image_get_width)(raw, heif_channel_interleaved), hh = IRBIS_LAZY_FN(libheif(), heif_image_get_height)(raw, heif_channel_interleaved);
  int stride = 0;
  const uint8_t* data = IRBIS_LAZY_FN(libheif(), heif_image_get_plane_readonly)(raw, heif_channel_interleaved, &stride);
  if (!data || w <= 0 || hh <= 0) throw DecodeError("corrupt HEIF data: the decoder returned no pixels");
  // libheif decodes the coded frame at the size its bitstream declares, which need not be the
  // size the container declares (ispe, checked against max_pixels above): F8, found by fuzz_decode.
  const int want_w = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_width)(source),
            want_h = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_height)(source);
  if (w != want_w || hh != want_h)
    throw DecodeError("corrupt HEIF data: the decoded image is " + std::to_string(w) + "x" + std::to_string(hh) +
                      " pixels, the file declares " + std::to_string(want_w) + "x" + std::to_string(want_h));
  const cv::Mat view(hh, w, alpha ? CV_8UC4 : CV_8UC3, const_cast<uint8_t*>(data), size_t(stride));
  if (alpha) {
    cv::Mat bgra;
    cv::cvtColor(view, bgra, cv::COLOR_RGBA2BGRA);
    out.rgb = opencv_to_rgb8(bgra);
  } else {
    out.rgb = view.clone();
  }
  return out;
}

}  // namespace irbis::io
