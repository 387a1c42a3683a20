// Seeded synthetic data for tests, calibration and benchmarks (header-only, internal).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "analysis/analysis_util.h"

namespace irbis::analysis {

// k isotropic Gaussian blobs (std `spread`) with centres uniform in [-10, 10]^d, redrawn until
// every pair of centres is at least `min_center_distance` apart. Labels in `labels` when given.
inline std::vector<float> make_blobs(int64_t n, int d, int k, double spread, uint64_t seed,
                                     std::vector<int>* labels = nullptr, double min_center_distance = 0) {
  Rng rng(seed);
  std::vector<double> centers(static_cast<size_t>(k) * d);
  for (int c = 0; c < k; ++c) {
    for (int attempt = 0; attempt < 10000; ++attempt) {
      for (int j = 0; j < d; ++j) centers[c * d + j] = -10 + 20 * rng.uniform();
      bool ok = true;
      for (int o = 0; o < c && ok; ++o) {
        double s = 0;
        for (int j = 0; j < d; ++j) s += (centers[c * d + j] - centers[o * d + j]) * (centers[c * d + j] - centers[o * d + j]);
        ok = std::sqrt(s) >= min_center_distance;
      }
      if (ok) break;
    }
  }
  std::vector<float> x(static_cast<size_t>(n) * d);
  if (labels) labels->resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % k);
    if (labels) (*labels)[i] = c;
    for (int j = 0; j < d; ++j) x[i * d + j] = static_cast<float>(centers[c * d + j] + spread * rng.normal());
  }
  return x;
}

// Uniform noise in [0, 1]^d.
inline std::vector<float> make_uniform(int64_t n, int d, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n) * d);
  for (auto& v : x) v = static_cast<float>(rng.uniform());
  return x;
}

// One Gaussian; with `decay` > 0 the j-th axis has std exp(-decay * j) (embedding-like spectrum).
inline std::vector<float> make_gaussian(int64_t n, int d, uint64_t seed, double decay = 0) {
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n) * d);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) x[i * d + j] = static_cast<float>(std::exp(-decay * j) * rng.normal());
  return x;
}

}  // namespace irbis::analysis
