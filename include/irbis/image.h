// Image decoding: format sniffing from bytes, header-only size checks (decompression bombs),
// DCT-scaled JPEG decode, EXIF orientation, and normalisation to 8-bit RGB.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>
#include <opencv2/core.hpp>

namespace irbis {

// heif: HEIC/HEIF (libheif); avif: AV1 in HEIF (libavif); jxl: JPEG XL (libjxl); netpbm: PBM, PGM,
// PPM, PAM; mpo: multi-picture JPEG (first image); raw: camera RAW (LibRaw: DNG, CR2, CR3, NEF, ...).
enum class ImageFormat { unknown, jpeg, png, webp, bmp, tiff, gif, heif, avif, jxl, netpbm, mpo, raw };

const char* format_name(ImageFormat f);

struct ImageHeader {
  ImageFormat format = ImageFormat::unknown;
  int width = 0;   // as stored, before EXIF orientation
  int height = 0;
};

struct DecodeOptions {
  // Refuse images whose header declares more pixels than this (before allocating anything).
  uint64_t max_pixels = 128ull * 1024 * 1024;
  // Smallest side the caller needs. JPEG is decoded at the smallest DCT scale whose both sides
  // are >= min_side (or at full size when the image is smaller). 0 = full size.
  int min_side = 0;
};

struct DecodedImage {
  cv::Mat rgb;            // CV_8UC3, RGB order, EXIF orientation applied, alpha composited on white
  ImageHeader header;     // the file's own format and full dimensions (before DCT scaling)
  int orientation = 1;    // EXIF orientation tag that was applied (1 = none)
};

// Identifies the format from magic bytes; the file name's extension is never consulted.
ImageFormat sniff_format(std::span<const uint8_t> bytes);

// The name of an image format recognised by its magic bytes that irbis cannot decode ("JPEG 2000",
// "Photoshop PSD", ...), or nullptr. decode_image refuses such files with "unsupported format: NAME",
// and `index` lists them as failed instead of skipping them as not images.
const char* unsupported_image_format(std::span<const uint8_t> bytes);

// Reads dimensions from the header only. Throws DecodeError for unknown or malformed headers.
ImageHeader read_header(std::span<const uint8_t> bytes);

// Decodes to 8-bit RGB. Throws DecodeError with the reason (unsupported format, too many pixels,
// truncated or corrupt data).
//  - The declared size (and for JPEG the DCT-scaled size) is checked against max_pixels before
//    anything is decoded or allocated: "image declares WxH pixels, over the limit of N".
//  - JPEG: TurboJPEG, decoded straight at the DCT scale (see min_side); grayscale and CMYK/YCCK
//    become RGB (CMYK without colour management; Adobe-marker files store inverted CMYK). A file
//    that ends early ("Premature end of JPEG file") is refused as "truncated JPEG data"; other
//    libjpeg warnings (extraneous bytes, ...) are tolerated and the image is kept.
//  - PNG, WebP, BMP, TIFF: cv::imdecode(IMREAD_UNCHANGED); 16-bit samples keep their high byte.
//    Files shorter than their headers say are refused first ("truncated PNG", ...). When min_side
//    asks for at most half the size, the image is shrunk right after decoding (INTER_AREA) to the
//    size a DCT-scaled JPEG would have, so a JPEG and a PNG copy decode to the same size.
//  - GIF: the first frame only (giflib), placed on its logical screen, which is filled with the
//    background colour, or white when the frame has a transparent colour.
//  - Orientation: the Exif Orientation tag of JPEG (APP1), PNG (eXIf), WebP (EXIF chunk) and TIFF
//    (IFD0) is applied and recorded in DecodedImage::orientation.
//  - HEIF/HEIC (libheif): the primary image; the smallest stored thumbnail whose sides are both
//    >= min_side is decoded instead when there is one. Its irot/imir properties are applied and
//    recorded as the equivalent Exif orientation.
//  - AVIF (libavif): the primary image, irot/imir applied (no reduced-size decode in libavif 0.11).
//  - JPEG XL (libjxl): the codestream orientation is applied; a losslessly recompressed JPEG is
//    reconstructed and decoded DCT-scaled like a JPEG.
//  - Netpbm (PBM, PGM, PPM, PAM): cv::imdecode; binary files shorter than declared are refused.
//  - MPO: the first (primary) image, decoded as a JPEG.
//  - Camera RAW (LibRaw): the embedded preview when its sides are both >= min_side, otherwise the
//    raw data demosaiced (half size when that is still >= min_side); LibRaw's flip is applied.
//  - For HEIF, AVIF, JPEG XL, Netpbm and RAW the declared size is checked as for the others
//    (HEIF: the primary image's, RAW: the sensor's), before any pixel buffer exists.
DecodedImage decode_image(std::span<const uint8_t> bytes, const DecodeOptions& opts = {});

// Decodes once for several consumers that each need their own size: element i is exactly what
// decode_image(bytes, opts with min_side = min_sides[i]) gives (JPEG: one DCT-scaled decode per
// distinct scale, elements with the same scale share pixels; other formats: one decode, shrunk
// for each size). `index` uses it so that the hashes and each model see the decode they would
// get if they ran alone.
std::vector<DecodedImage> decode_image_sizes(std::span<const uint8_t> bytes, const DecodeOptions& opts,
                                             const std::vector<int>& min_sides);

// The image's grey levels (CV_8UC1), oriented and sized exactly as decode_image(bytes, opts) gives
// it, with the same checks and errors. A JPEG (or MPO) gives its luma plane, decoded without the
// chroma planes (TurboJPEG's TJPF_GRAY skips their inverse DCT, upsampling and colour conversion:
// about a third of the RGB decode's CPU); it is the encoder's own grey, within a level or two of
// decode_image's RGB through cv::COLOR_RGB2GRAY, which is what every other format (and CMYK JPEG,
// which has no luma) gives. For consumers that only look at grey levels: the verifier's first test.
cv::Mat decode_gray(std::span<const uint8_t> bytes, const DecodeOptions& opts = {});

// The header with width and height as displayed after an EXIF orientation (5..8 swap them).
// ImageRecord::width/height hold these oriented dimensions; ImageHeader keeps the stored ones.
ImageHeader oriented_header(const ImageHeader& header, int orientation);

// The IJG quality (1..100) a JPEG's quantisation tables were made with: the q whose scaled
// ITU-T T.81 Annex K tables (what libjpeg, PIL and OpenCV write) are nearest to the file's
// luminance and chrominance tables (docs/issues.md, `jpeg_quality`). NaN for anything that is not
// a JPEG or whose header libjpeg cannot read. Reads the header only (~20 us).
float jpeg_quality(std::span<const uint8_t> bytes);

// Area-averaging resize to exactly (width, height); the resampler every feature uses so that a
// JPEG and a PNG copy of one photo give the same features.
// A shrink on both axes is computed by irbis itself, bit for bit what cv::resize(INTER_AREA) gives.
cv::Mat resize_area(const cv::Mat& src, int width, int height);
// The same for several sizes of one image, in one pass over its rows (the hashes' 32x32, 9x8 and
// 8x8): element i equals resize_area(src, sizes[i].width, sizes[i].height).
std::vector<cv::Mat> resize_area(const cv::Mat& src, const std::vector<cv::Size>& sizes);

}  // namespace irbis
