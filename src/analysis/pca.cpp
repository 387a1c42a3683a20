// PCA: covariance by BLAS (ssyrk), eigen-decomposition by OpenCV (small d) or subspace iteration
// with a Rayleigh-Ritz step (large d, few components).
#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <numeric>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"

namespace irbis {

MatrixView::MatrixView(std::span<const float> values, int64_t n_, int d_) : data(values.data()), n(n_), d(d_) {
  IRBIS_THROW_IF_NOT(n_ >= 0 && d_ >= 0 && static_cast<int64_t>(values.size()) == n_ * d_, UsageError,
                     "matrix size does not match n x d");
}

MatrixView::MatrixView(const cv::Mat& m) : data(m.ptr<float>()), n(m.rows), d(m.cols) {
  IRBIS_THROW_IF_NOT(m.empty() || (m.type() == CV_32FC1 && m.isContinuous()), UsageError,
                     "matrix must be continuous CV_32FC1");
  if (m.empty()) { data = nullptr; n = 0; d = m.cols; }
}

namespace analysis {

std::vector<int64_t> sample_indices(int64_t n, int64_t m, uint64_t seed) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  if (m >= n || m <= 0) return idx;
  Rng rng(seed);
  for (int64_t i = 0; i < m; ++i) std::swap(idx[i], idx[i + rng.below(n - i)]);  // partial Fisher-Yates
  idx.resize(m);
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<float> centered_rows(MatrixView x, const std::vector<int64_t>& idx, std::vector<double>* mean_out) {
  const int64_t m = idx.empty() ? x.n : static_cast<int64_t>(idx.size());
  const int d = x.d;
  std::vector<float> out(static_cast<size_t>(m) * d);
  std::vector<double> mean(d, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    const float* r = x.row(idx.empty() ? i : idx[i]);
    std::copy(r, r + d, out.begin() + i * d);
    for (int j = 0; j < d; ++j) mean[j] += r[j];
  }
  if (m == 0) return out;
  for (auto& v : mean) v /= static_cast<double>(m);
  if (mean_out) *mean_out = mean;
  for (int64_t i = 0; i < m; ++i)
    for (int j = 0; j < d; ++j) out[i * d + j] = static_cast<float>(out[i * d + j] - mean[j]);
  return out;
}

static void fix_signs(std::vector<float>& axes, int c, int d) {
  for (int a = 0; a < c; ++a) {
    float* v = axes.data() + static_cast<size_t>(a) * d;
    int best = 0;
    for (int j = 1; j < d; ++j)
      if (std::fabs(v[j]) > std::fabs(v[best]) + 1e-7f) best = j;
    if (v[best] < 0)
      for (int j = 0; j < d; ++j) v[j] = -v[j];
  }
}

// Orthonormalises the columns of q (d x c, row-major) in place (modified Gram-Schmidt).
static void orthonormalize(std::vector<double>& q, int d, int c) {
  for (int a = 0; a < c; ++a) {
    for (int b = 0; b < a; ++b) {
      double dot = 0;
      for (int j = 0; j < d; ++j) dot += q[j * c + a] * q[j * c + b];
      for (int j = 0; j < d; ++j) q[j * c + a] -= dot * q[j * c + b];
    }
    double nrm = 0;
    for (int j = 0; j < d; ++j) nrm += q[j * c + a] * q[j * c + a];
    nrm = std::sqrt(nrm);
    if (nrm < 1e-300) {  // degenerate: replace with a unit vector
      for (int j = 0; j < d; ++j) q[j * c + a] = (j == a % d) ? 1.0 : 0.0;
      --a;  // re-orthogonalise this column
      continue;
    }
    for (int j = 0; j < d; ++j) q[j * c + a] /= nrm;
  }
}

void principal_axes(const float* centered, int64_t m, int d, int components, std::vector<double>& eigenvalues,
                    std::vector<float>& axes) {
  const int c = std::min(components, d);
  eigenvalues.assign(c, 0.0);
  axes.assign(static_cast<size_t>(c) * d, 0.0f);
  if (d == 0 || c == 0) return;
  std::vector<float> cov(static_cast<size_t>(d) * d, 0.0f);
  if (m > 0)
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, static_cast<int>(m), 1.0f / std::max<int64_t>(1, m - 1),
                centered, d, 0.0f, cov.data(), d);
  cv::Mat C(d, d, CV_64F);
  for (int i = 0; i < d; ++i)
    for (int j = i; j < d; ++j) C.at<double>(i, j) = C.at<double>(j, i) = cov[static_cast<size_t>(i) * d + j];
  if (d <= 400) {
    cv::Mat evals, evecs;
    cv::eigen(C, evals, evecs);  // descending, eigenvectors in rows
    for (int a = 0; a < c; ++a) {
      eigenvalues[a] = std::max(0.0, evals.at<double>(a));
      for (int j = 0; j < d; ++j) axes[static_cast<size_t>(a) * d + j] = static_cast<float>(evecs.at<double>(a, j));
    }
  } else {
    // Subspace iteration with oversampling, then Rayleigh-Ritz on the small projected matrix.
    const int cc = std::min(d, c + 10);
    std::vector<double> q(static_cast<size_t>(d) * cc), z(q.size());
    Rng rng(12345);
    for (auto& v : q) v = rng.normal();
    orthonormalize(q, d, cc);
    const double* Cp = C.ptr<double>();
    for (int it = 0; it < 40; ++it) {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, cc, d, 1.0, Cp, d, q.data(), cc, 0.0, z.data(), cc);
      q.swap(z);
      orthonormalize(q, d, cc);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, cc, d, 1.0, Cp, d, q.data(), cc, 0.0, z.data(), cc);
    cv::Mat T(cc, cc, CV_64F);
    for (int a = 0; a < cc; ++a)
      for (int b = 0; b < cc; ++b) {
        double s = 0;
        for (int j = 0; j < d; ++j) s += q[j * cc + a] * z[j * cc + b];
        T.at<double>(a, b) = s;
      }
    T = (T + T.t()) * 0.5;
    cv::Mat evals, evecs;
    cv::eigen(T, evals, evecs);
    for (int a = 0; a < c; ++a) {
      eigenvalues[a] = std::max(0.0, evals.at<double>(a));
      for (int j = 0; j < d; ++j) {
        double s = 0;
        for (int b = 0; b < cc; ++b) s += q[j * cc + b] * evecs.at<double>(a, b);
        axes[static_cast<size_t>(a) * d + j] = static_cast<float>(s);
      }
    }
  }
  fix_signs(axes, c, d);
}

}  // namespace analysis

PcaBasis pca_fit(MatrixView x, int components) {
  IRBIS_THROW_IF_NOT(components >= 1, UsageError, "PCA needs at least one component");
  PcaBasis b;
  b.d = x.d;
  b.components = components;
  b.mean.assign(x.d, 0.0);
  const int c = std::min(components, x.d);
  b.axes.assign(static_cast<size_t>(c) * x.d, 0.0f);
  if (x.n <= 1 || x.d == 0) return b;
  const std::vector<float> xc = analysis::centered_rows(x, {}, &b.mean);
  std::vector<double> ev;
  analysis::principal_axes(xc.data(), x.n, x.d, c, ev, b.axes);
  return b;
}

void pca_apply(const PcaBasis& b, MatrixView x, float* out) {
  IRBIS_THROW_IF_NOT(x.d == b.d, UsageError, "PCA basis was fitted on another dimension");
  const int c = std::min(b.components, b.d);
  std::fill(out, out + x.n * b.components, 0.0f);
  if (x.n == 0 || c == 0) return;
  std::vector<float> xc(static_cast<size_t>(x.n) * x.d);
  for (int64_t i = 0; i < x.n; ++i)
    for (int j = 0; j < x.d; ++j) xc[i * x.d + j] = static_cast<float>(x.row(i)[j] - b.mean[j]);
  std::vector<float> proj(static_cast<size_t>(x.n) * c);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(x.n), c, x.d, 1.0f, xc.data(), x.d,
              b.axes.data(), x.d, 0.0f, proj.data(), c);
  for (int64_t i = 0; i < x.n; ++i)
    for (int a = 0; a < c; ++a) {
      const float v = proj[i * c + a];
      out[i * b.components + a] = std::isfinite(v) ? v : 0.0f;
    }
}

std::vector<float> pca_project(MatrixView x, int components) {
  std::vector<float> out(static_cast<size_t>(x.n) * std::max(components, 1), 0.0f);
  pca_apply(pca_fit(x, components), x, out.data());
  return out;
}

}  // namespace irbis
