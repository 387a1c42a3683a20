// Per-image quality measures (`quality` feature, f32 x kQualityDim), computed at index time from
// the decode the pipeline already made. Column order is fixed (stored rows depend on it); each
// measure is defined in docs/issues.md. Size and aspect ratio are not columns: the catalog holds
// every image's full, EXIF-oriented width and height.
#pragma once
#include <array>
#include <cstdint>

#include <opencv2/core.hpp>

namespace irbis {

enum QualityColumn : int {
  kLaplacianVar = 0,   // variance of the 3x3 Laplacian of the grey image area-resized to 128x128 (0..255 scale)
  kEdgeRatio,          // p99 gradient magnitude at 128 px / the same at 64 px: ~1 sharp edges, ~0.5 blurred
  kLumP01,             // luminance (Rec. 601, 0..1) percentiles, on a grid of ~kLumGridPoints of the decode's pixels
  kLumP05,
  kLumP50,
  kLumP95,
  kLumP99,
  kLumMean,
  kLumStd,             // contrast
  kEntropy,            // Shannon entropy of the 256-bin grey histogram, bits (0..8)
  kUniqueColors,       // distinct colours after keeping 5 bits per channel (1..32768)
  kColorfulness,       // Hasler & Suesstrunk (2003) M on 0..255 RGB
  kColoredFraction,    // fraction of pixels whose max channel difference exceeds 16/255
  kQualityDim
};

// Grey side the sharpness measures resize to, so they do not depend on the decode's size. 128 px
// since definition version 2 (256 px before; docs/issues.md, "Definition versions").
constexpr int kQualityGreySide = 128;
// Grey side the sharpness feature resizes to (version 2; 256 px in version 1): at 128 px a mild
// blur (sigma 2 px on a 400 px photo) could no longer be told from a soft photo (docs/issues.md).
constexpr int kSharpnessGreySide = 192;
// Points of the grid the luminance histogram counts (at least this many, fewer than 4x: every pixel of a smaller
// decode), and of the colour sample's (about 64 x 64).
constexpr int kLumGridPoints = 128 * 128;
constexpr int kColorGridPoints = 64 * 64;
// A sampling grid's step for a decode of cols x rows: every step-th pixel of every step-th row,
// starting at step / 2, step = max(1, floor(sqrt(cols * rows / points))).
int sample_grid_step(int cols, int rows, int points);
// Decoded side the quality feature asks for (the CNN's input side, so with embeddings the JPEG
// DCT-scaled decode is shared and nothing is decoded twice).
constexpr int kQualityMinSide = 224;

using QualityRow = std::array<float, kQualityDim>;

// Sharpness that soft content does not fake (`sharpness` feature, f32 x kSharpnessDim, computed
// with the quality measures; docs/issues.md). Blur is judged by two things a blurred photo lacks:
// edges that a further small blur still softens, and fine grain (sensor noise, texture) anywhere.
enum SharpnessColumn : int {
  kEdgeReblur = 0,  // p99 gradient of the 192 px grey after a Gaussian blur (sigma 1 px) / before: ~0.65 sharp, -> 1 blurred
  kFineNoise,       // Immerkaer's (1996) noise sigma of the 192 px grey, grey levels (0..255)
  kSharpnessDim
};
using SharpnessRow = std::array<float, kSharpnessDim>;

// The small images the quality, sharpness and palette measures share, made once per image from
// the decode (`index` makes it once for all three: no measure reads the decode itself).
struct QualityInput {
  std::array<int64_t, 256> lum_hist{};  // BT.601 grey levels of the decode, counted on the kLumGridPoints grid
  cv::Mat grey;   // CV_8U kQualityGreySide x kQualityGreySide: BT.601 grey of the decode, area-resized
  cv::Mat color;  // CV_8UC3 RGB: the decode's pixels at the kColorGridPoints grid's points (~64 x 64)
  cv::Mat sharpness_grey;  // CV_8U kSharpnessGreySide x kSharpnessGreySide: the same grey, area-resized
};
// Throws irbis::Error for an empty or non-CV_8UC3 image.
QualityInput quality_input(const cv::Mat& rgb);

// The measures of one image. Throws irbis::Error for an empty image.
QualityRow quality_measures(const QualityInput& in);
QualityRow quality_measures(const cv::Mat& rgb);  // CV_8UC3 RGB: quality_measures(quality_input(rgb))

// The re-blur of edge_reblur: the sigma = 1 px Gaussian (9 taps, reflected borders) of an 8-bit
// grey image as float, the values of cv::GaussianBlur on its float copy bit for bit (the same
// taps and operations) without OpenCV's filter set-up per call (40 of the ~50 us at 192 px).
// Throws irbis::Error below 5 x 5.
void gaussian_blur_sigma1(const cv::Mat& grey, cv::Mat& out);

// The sharpness measures of one image. Throws irbis::Error for an empty image.
SharpnessRow sharpness_measures(const QualityInput& in);
SharpnessRow sharpness_measures(const cv::Mat& rgb);  // CV_8UC3 RGB

// Column names in order ("laplacian_var", "edge_ratio", ...).
const std::array<const char*, kQualityDim>& quality_column_names();
const std::array<const char*, kSharpnessDim>& sharpness_column_names();  // "edge_reblur", "fine_noise"

}  // namespace irbis
