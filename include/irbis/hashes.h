// Perceptual hashes and colour statistics. Definitions (input size, filter, bit order) are in
// docs/features.md. Bit i of a hash is (h >> (63 - i)) & 1, i in row-major order.
#pragma once
#include <array>
#include <cstdint>
#include <opencv2/core.hpp>

namespace irbis {

// 64-bit DCT hash: gray 32x32 (area), 2-D DCT-II, top-left 8x8 coefficients, bit = coef > median.
uint64_t phash(const cv::Mat& rgb);
// The dihedral transforms of an image (mirrors and 90-degree rotations), in the order of
// phash_variants. rotate_90 turns clockwise. mirror = left-right flip.
enum class HashVariant { identity, mirror, flip_vertical, rotate_180, transpose, rotate_90, rotate_270, anti_transpose };
constexpr int kHashVariants = 8;
const char* hash_variant_name(HashVariant v);  // "mirror", "rotate-90", ...
// pHash of the image after each HashVariant, all from the one 32x32 DCT: element v equals
// phash(transformed image) up to floating-point rounding of the resampler (bit-exact on the
// photos of the tests), element 0 is phash(rgb). See docs/dupes.md ("Mirror- and rotation-proof").
std::array<uint64_t, kHashVariants> phash_variants(const cv::Mat& rgb);
// 64-bit difference hash: gray 9x8 (area), bit = pixel(x, y) < pixel(x + 1, y).
uint64_t dhash(const cv::Mat& rgb);
// 64-bit average hash: gray 8x8 (area), bit = pixel > mean.
uint64_t ahash(const cv::Mat& rgb);

// The decode `index` gives the hashes and colour statistics: JPEGs at the smallest DCT scale with
// both sides >= this, other formats shrunk to the same size (DecodeOptions::min_side). Not the CNN's
// 224 px decode: hashing that would save ~1 ms CPU per photo but move bits of every stored hash of
// a photo under ~1800 px (bench/producers.sh), so old and new rows of one photo would disagree.
constexpr int kHashMinSide = 32;

// All three at once, converting to gray a single time (what `index` uses).
struct ImageHashes {
  uint64_t phash = 0, dhash = 0, ahash = 0;
};
ImageHashes image_hashes(const cv::Mat& rgb);

constexpr int kColorHistBins = 64;  // 4 x 4 x 4 joint RGB histogram
constexpr int kColorStatsDim = kColorHistBins + 6;
// L1-normalised 4x4x4 RGB histogram followed by per-channel mean and std in [0, 1].
std::array<float, kColorStatsDim> color_stats(const cv::Mat& rgb);

inline int hamming(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }

}  // namespace irbis
