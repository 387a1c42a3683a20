// Random Fourier features for the classifier's non-linear candidate (blocks-sqrt-rff). W and b are
// drawn by splitmix64 + Box-Muller rather than std::normal_distribution, whose numbers differ
// between standard libraries: a .clf stores only (seed, dim, sigma) and must give the same map
// wherever it is loaded.
#include <algorithm>
#include <cmath>
#include <vector>

#include <cblas.h>

#include "irbis/classifier.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1): 53 random bits, never 0 (log below).
  double uniform() { return (double(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
};

constexpr double kTwoPi = 6.283185307179586;

}  // namespace

RandomFeatures make_random_features(int input_dim, int dim, uint64_t seed, double sigma) {
  IRBIS_THROW_IF_NOT(input_dim > 0 && dim > 0, UsageError, "random features: input and output widths must be positive");
  IRBIS_THROW_IF_NOT(sigma > 0 && std::isfinite(sigma), UsageError, "random features: the kernel width must be positive");
  RandomFeatures r;
  r.input_dim = input_dim;
  r.dim = dim;
  r.seed = seed;
  r.sigma = sigma;
  r.W.create(dim, input_dim, CV_32F);
  r.b.create(1, dim, CV_32F);
  SplitMix64 g{seed};
  const double inv_sigma = 1.0 / sigma;
  float* w = r.W.ptr<float>(0);
  const size_t total = size_t(dim) * size_t(input_dim);
  for (size_t i = 0; i < total; i += 2) {  // Box-Muller: two normals per pair of uniforms
    const double rad = std::sqrt(-2.0 * std::log(g.uniform())), ang = kTwoPi * g.uniform();
    w[i] = float(rad * std::cos(ang) * inv_sigma);
    if (i + 1 < total) w[i + 1] = float(rad * std::sin(ang) * inv_sigma);
  }
  float* b = r.b.ptr<float>(0);
  for (int j = 0; j < dim; ++j) b[j] = float(kTwoPi * g.uniform());
  return r;
}

cv::Mat RandomFeatures::map(const cv::Mat& X) const {
  IRBIS_THROW_IF_NOT(!empty(), UsageError, "random features: no map");
  IRBIS_THROW_IF_NOT(X.type() == CV_32F && X.cols == input_dim, ModelError,
                     "random features: rows of " + std::to_string(X.cols) + " values, the map reads " +
                         std::to_string(input_dim));
  cv::Mat Z(X.rows, dim, CV_32F);
  if (X.rows == 0) return Z;
  const cv::Mat Xc = X.isContinuous() ? X : X.clone();
  for (int i = 0; i < Z.rows; ++i) std::copy(b.ptr<float>(0), b.ptr<float>(0) + dim, Z.ptr<float>(i));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, X.rows, dim, input_dim, 1.f, Xc.ptr<float>(0),
              int(Xc.step1()), W.ptr<float>(0), int(W.step1()), 1.f, Z.ptr<float>(0), int(Z.step1()));
  const float s = float(std::sqrt(2.0 / dim));
  for (int i = 0; i < Z.rows; ++i) {
    float* z = Z.ptr<float>(i);
    for (int j = 0; j < dim; ++j) z[j] = s * std::cos(z[j]);
  }
  return Z;
}

nlohmann::json RandomFeatures::to_json() const {
  return {{"input_dim", input_dim}, {"dim", dim}, {"seed", seed}, {"sigma", sigma}};
}

RandomFeatures RandomFeatures::from_json(const nlohmann::json& j) {
  try {
    return make_random_features(j.at("input_dim").get<int>(), j.at("dim").get<int>(), j.at("seed").get<uint64_t>(),
                                j.at("sigma").get<double>());
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(std::string("random features: incomplete parameters (") + e.what() + ")");
  } catch (const UsageError& e) {
    throw ModelError(e.what());
  }
}

double median_row_distance(const cv::Mat& X, int max_rows) {
  IRBIS_THROW_IF_NOT(X.type() == CV_32F, UsageError, "median_row_distance: CV_32F rows expected");
  const int n = X.rows;
  if (n < 2) return 1;
  const int m = std::min(n, std::max(2, max_rows));
  std::vector<int> rows(static_cast<size_t>(m), 0);
  for (int i = 0; i < m; ++i) rows[size_t(i)] = int(int64_t(i) * n / m);  // evenly spaced, deterministic
  std::vector<double> d;
  d.reserve(size_t(m) * size_t(m - 1) / 2);
  for (int a = 0; a < m; ++a) {
    const float* x = X.ptr<float>(rows[size_t(a)]);
    for (int c = a + 1; c < m; ++c) {
      const float* y = X.ptr<float>(rows[size_t(c)]);
      double s = 0;
      for (int k = 0; k < X.cols; ++k) s += double(x[k] - y[k]) * double(x[k] - y[k]);
      d.push_back(std::sqrt(s));
    }
  }
  auto mid = d.begin() + long(d.size() / 2);
  std::nth_element(d.begin(), mid, d.end());
  return *mid > 0 ? *mid : 1;
}

}  // namespace irbis
