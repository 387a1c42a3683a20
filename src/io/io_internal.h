// Private helpers of the io subsystem.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <opencv2/core.hpp>

#include "irbis/image.h"

namespace irbis::io {

inline uint32_t be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | p[1]; }
inline uint32_t le16(const uint8_t* p) { return uint32_t(p[1]) << 8 | p[0]; }
inline uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }
inline uint32_t le32(const uint8_t* p) { return le16(p + 2) << 16 | le16(p); }

// The fields of the first IFD of a TIFF structure (a TIFF file or an Exif block) that we use.
struct TiffInfo {
  int width = 0;        // 0 when the tag is absent
  int height = 0;
  int orientation = 1;  // 1 when absent or out of range
  // The unit the decoder reads at once: TileWidth x TileLength, or width x RowsPerStrip for strips;
  // 0 when absent (one strip of the whole image).
  int tile_width = 0;
  int tile_height = 0;
};
// Parses a TIFF header and its first IFD. Returns false and sets *error when malformed, when a
// size tag (ImageWidth, ImageLength, TileWidth, TileLength, RowsPerStrip) is repeated or has a
// type we cannot read.
bool parse_tiff_ifd0(std::span<const uint8_t> bytes, TiffInfo* info, std::string* error);

// A TurboJPEG decompressor for one file (never reused: a handle keeps state between files, and a
// damaged file could make the next valid one fail). Throws DecodeError if it cannot be created.
class JpegDecompressor {
 public:
  JpegDecompressor();
  ~JpegDecompressor();
  JpegDecompressor(const JpegDecompressor&) = delete;
  JpegDecompressor& operator=(const JpegDecompressor&) = delete;
  void* get() const { return handle_; }

 private:
  void* handle_;
};

// Applies an EXIF orientation (1..8) in place; other values are ignored.
void apply_orientation(cv::Mat& img, int orientation);

// Decodes the first frame of a GIF composited onto its logical screen, as 8-bit RGB.
// Checks the declared sizes against max_pixels before allocating. Throws DecodeError.
cv::Mat decode_gif_first_frame(std::span<const uint8_t> bytes, uint64_t max_pixels);

// --- formats in their own files (heif.cpp, avif.cpp, jxl.cpp, netpbm.cpp, mpo.cpp, raw.cpp) ------
// Each decode_X is callable on arbitrary bytes (fuzz targets): it checks the declared size against
// opts.max_pixels before allocating and throws DecodeError with the reason on anything bad.
// opts.min_side is the largest side any consumer needs (0 = full size): decoders with a reduced-size
// source (thumbnails, previews, DCT scaling) pick the smallest one that is still large enough.

// A decode before shrinking: 8-bit RGB, the file's own format and stored size, its orientation.
struct StoredImage {
  cv::Mat rgb;
  ImageHeader header;     // stored size, before orientation
  int orientation = 1;    // Exif-equivalent orientation of the file
  bool oriented = false;  // rgb already has `orientation` applied (the codec did it)
};

// 8-bit RGB from what cv::imdecode(IMREAD_UNCHANGED) gives (BGR(A) or gray, 8/16-bit or float);
// alpha composited on white. Defined in decode.cpp.
cv::Mat opencv_to_rgb8(const cv::Mat& m);
// decode_image_sizes' JPEG decode, for formats that hold a JPEG (MPO, RAW previews, JPEG XL
// reconstruction). Defined in decode.cpp.
StoredImage decode_jpeg_stored(std::span<const uint8_t> bytes, const DecodeOptions& opts);
// The Exif orientation (1..8) equal to an ISOBMFF irot (anticlockwise quarter turns, 0..3) followed
// by an imir (mirror_axis 0: top and bottom exchanged, 1: left and right; -1: no imir).
int orientation_from_irot_imir(int quarter_turns_ccw, int mirror_axis);

// ISOBMFF (ftyp brands): heif, avif, raw (Canon CR3) or unknown.
ImageFormat sniff_isobmff(std::span<const uint8_t> bytes);
// True when a top-level ISOBMFF box runs past the end of the bytes (the file was cut short).
bool isobmff_is_truncated(std::span<const uint8_t> bytes);
ImageHeader heif_header(std::span<const uint8_t> bytes);
StoredImage decode_heif(std::span<const uint8_t> bytes, const DecodeOptions& opts);
ImageHeader avif_header(std::span<const uint8_t> bytes);
StoredImage decode_avif(std::span<const uint8_t> bytes, const DecodeOptions& opts);

bool is_jxl(std::span<const uint8_t> bytes);
ImageHeader jxl_header(std::span<const uint8_t> bytes);
StoredImage decode_jxl(std::span<const uint8_t> bytes, const DecodeOptions& opts);

bool is_netpbm(std::span<const uint8_t> bytes);
ImageHeader netpbm_header(std::span<const uint8_t> bytes);
StoredImage decode_netpbm(std::span<const uint8_t> bytes, const DecodeOptions& opts);

// A JPEG with an APP2 "MPF" (multi-picture format) segment before its first scan.
bool is_mpo(std::span<const uint8_t> bytes);

// Camera RAW by magic bytes: TIFF-based (DNGVersion tag, CR2 magic, or a camera Make with SubIFDs
// in IFD0) and the non-TIFF families LibRaw reads (ORF, RW2, RAF, MRW, X3F); CR3 via sniff_isobmff.
bool is_raw(std::span<const uint8_t> bytes);
ImageHeader raw_header(std::span<const uint8_t> bytes);
StoredImage decode_raw(std::span<const uint8_t> bytes, const DecodeOptions& opts);

}  // namespace irbis::io
