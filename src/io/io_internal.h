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

}  // namespace irbis::io
