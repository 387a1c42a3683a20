// Synthetic embedding-like data shared by the search tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <opencv2/core.hpp>

namespace irbis::test {

// n unit vectors around `centres` Gaussian centres, coordinate j scaled by (1 + j)^-0.5 (a
// decaying spectrum, like real embeddings' PCA spectrum; isotropic noise has no neighbourhood
// structure that any index or reduction could keep). The centres come from centre_seed (0 = seed),
// so two calls with the same centre_seed draw from the same distribution (held-out queries).
inline cv::Mat mixture(int n, int d, int centres, float spread, uint64_t seed, uint64_t centre_seed = 0) {
  std::mt19937_64 crng(centre_seed ? centre_seed : seed);
  std::normal_distribution<float> g(0.f, 1.f);
  cv::Mat c(centres, d, CV_32F), x(n, d, CV_32F);
  for (int i = 0; i < centres; ++i)
    for (int j = 0; j < d; ++j) c.at<float>(i, j) = g(crng);
  std::mt19937_64 rng = centre_seed ? std::mt19937_64(seed) : crng;
  std::uniform_int_distribution<int> pick(0, centres - 1);
  for (int i = 0; i < n; ++i) {
    const int k = pick(rng);
    for (int j = 0; j < d; ++j) x.at<float>(i, j) = (c.at<float>(k, j) + spread * g(rng)) / std::sqrt(1.f + float(j));
    cv::normalize(x.row(i), x.row(i));
  }
  return x;
}

inline std::vector<int64_t> iota_ids(int n, int64_t first = 0) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = first + i;
  return v;
}

}  // namespace irbis::test
