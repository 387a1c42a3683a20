// Synthetic embeddings with structure, shared by the benchmarks that need a large collection's
// worth of vectors without embedding that many images.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "irbis/collection.h"

namespace irbis::bench {

// The `centres` Gaussian centres (unit variance per coordinate) mixture() draws from centre_seed.
inline cv::Mat mixture_centres(int centres, int d, uint64_t centre_seed) {
  std::mt19937_64 crng(centre_seed);
  std::normal_distribution<float> g(0.f, 1.f);
  cv::Mat c(centres, d, CV_32F);
  for (int i = 0; i < centres; ++i)
    for (int j = 0; j < d; ++j) c.at<float>(i, j) = g(crng);
  return c;
}

// The per-coordinate scale (1 + j)^-alpha of the mixture's decaying spectrum.
inline std::vector<float> spectrum_scale(int d, float alpha) {
  std::vector<float> scale(static_cast<size_t>(d));
  for (int j = 0; j < d; ++j) scale[size_t(j)] = std::pow(1.f + float(j), -alpha);
  return scale;
}

// One unit-norm point around centre row `cc` (d floats): coordinate j is (cc[j] + spread * N(0, 1))
// times scale[j] (spectrum_scale).
inline void point_around(const float* cc, const std::vector<float>& scale, float spread, std::mt19937_64& rng,
                         std::normal_distribution<float>& g, float* r) {
  const int d = int(scale.size());
  double s = 0;
  for (int j = 0; j < d; ++j) {
    r[j] = (cc[j] + spread * g(rng)) * scale[size_t(j)];
    s += double(r[j]) * r[j];
  }
  const float inv = float(1.0 / std::sqrt(s));
  for (int j = 0; j < d; ++j) r[j] *= inv;
}

// n unit-norm points around `centres` Gaussian centres, coordinate j scaled by (1 + j)^-alpha: a
// decaying spectrum like the PCA spectrum of real CNN embeddings (alpha 0.5: the top 256 of 2696
// directions hold ~70 % of the variance). alpha 0 = isotropic.
inline cv::Mat mixture(int64_t n, int d, int centres, float spread, uint64_t seed, uint64_t centre_seed,
                       float alpha = 0.5f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  const cv::Mat c = mixture_centres(centres, d, centre_seed);
  cv::Mat x(int(n), d, CV_32F);
  const std::vector<float> scale = spectrum_scale(d, alpha);
  std::uniform_int_distribution<int> pick(0, centres - 1);
  for (int64_t i = 0; i < n; ++i) point_around(c.ptr<float>(pick(rng)), scale, spread, rng, g, x.ptr<float>(int(i)));
  return x;
}

// The catalog row of synthetic image i: a 1-1.5 MP JPEG of ~250 KB at `path`, content hash from i.
inline ImageRecord synthetic_record(int64_t i, std::string path, std::mt19937_64& rng) {
  ImageRecord r;
  r.path = std::move(path);
  r.size = 200000 + int64_t(rng() % 100000);
  for (size_t b = 0; b < 8; ++b) r.content_hash[b] = uint8_t(uint64_t(i) >> (8 * b));
  r.content_hash[8] = 1;
  r.format = ImageFormat::jpeg;
  r.width = 1024 + int(rng() % 512);
  r.height = 768 + int(rng() % 256);
  return r;
}

}  // namespace irbis::bench
