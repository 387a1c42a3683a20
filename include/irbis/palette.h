// Dominant colours of an image (`palette` feature, f32 x kPaletteDim, computed at index time with
// the quality measures): k-means in CIELAB, so distances are perceptual (Delta E 1976). Used by
// `irbis search COLL --colors`, `irbis export --view colors` and the report's cards (docs/colors.md).
#pragma once
#include <array>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "irbis/quality.h"

namespace irbis {

constexpr int kPaletteColors = 5;
// Per colour, heaviest first: L (0..100), a, b, weight (share of the pixels, the weights sum to 1).
// An image with fewer distinct colours than kPaletteColors has zero-weight slots at the end.
constexpr int kPaletteDim = kPaletteColors * 4;
// Pixels clustered, about: a grid of the colour sample (a palette, not a segmentation; 4096 gave
// the same colours at four times the k-means cost).
constexpr int kPaletteSamples = 1024;

using PaletteRow = std::array<float, kPaletteDim>;

struct LabColor {
  float L = 0, a = 0, b = 0;
};

struct PaletteColor {
  LabColor lab;
  float weight = 0;
};

// k-means (k = kPaletteColors, k-means++ seeded with a fixed seed: the same image always gives the
// same palette) on the CIELAB pixels of one CV_8UC3 RGB image. Throws irbis::Error for an empty image.
PaletteRow dominant_colors(const cv::Mat& rgb);
// The same from the small colour image `index` shares with the quality measures (quality.h): about
// kPaletteSamples of its pixels, on a regular grid.
PaletteRow dominant_colors(const QualityInput& in);

// The colours of a stored row with a weight above zero, heaviest first.
std::vector<PaletteColor> palette_colors(const float* row);

// "#1f3a5f" or "1f3a5f" (sRGB) -> CIELAB; throws UsageError naming the text otherwise.
LabColor parse_hex_color(const std::string& text);
// A comma-separated list of them ("#1f3a5f,#ffffff"); throws UsageError for an empty list.
std::vector<LabColor> parse_hex_colors(const std::string& text);
// CIELAB -> "#rrggbb" (sRGB, clipped to the gamut).
std::string hex_color(const LabColor& c);

// Delta E 1976 (Euclidean distance in CIELAB).
double delta_e(const LabColor& x, const LabColor& y);

// How well a palette holds every query colour, 0..1: per query colour the share of the image near
// it (sum of weights x exp(-(dE / 20)^2)), then the geometric mean over the query colours, so an
// image must hold all of them to rank high.
double palette_match(const std::vector<PaletteColor>& palette, const std::vector<LabColor>& query);

}  // namespace irbis
