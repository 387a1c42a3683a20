// Multinomial logistic regression, fitted with L-BFGS (liblbfgs). The standardisation
// (x - mean) * scale is folded into the weights on every evaluation, so the data matrix is used
// as given (no standardised copy of a 100k x 2696 matrix); the two products per evaluation are
// OpenBLAS sgemm calls.
#include <algorithm>
#include <cmath>
#include <vector>

#include <cblas.h>
#include <lbfgs.h>

#include "irbis/classifier.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

struct Problem {
  const cv::Mat* X;          // n x D CV_32F
  const std::vector<int>* y;
  std::vector<float> sw;     // per-row weight, normalised to sum 1
  cv::Mat mean, scale;       // 1 x D
  int K = 0, D = 0, n = 0;
  double l2 = 0;
  int iters = 0;
  // scratch
  cv::Mat Weff, Z, G, GW;    // K x D, n x K, n x K, K x D
};

// Effective weights on raw x: Weff = W ⊙ scale, beff = b - Weff·mean.
void effective(const Problem& p, const double* x, cv::Mat& Weff, std::vector<float>& beff) {
  Weff.create(p.K, p.D, CV_32F);
  beff.assign(size_t(p.K), 0.f);
  const float* s = p.scale.ptr<float>(0);
  const float* m = p.mean.ptr<float>(0);
  for (int k = 0; k < p.K; ++k) {
    const double* wk = x + size_t(k) * size_t(p.D + 1);
    float* we = Weff.ptr<float>(k);
    double bb = wk[p.D];
    for (int d = 0; d < p.D; ++d) {
      we[d] = float(wk[d]) * s[d];
      bb -= double(we[d]) * m[d];
    }
    beff[size_t(k)] = float(bb);
  }
}

// Z = X Weff^T + beff (logits).
void logits_of(const cv::Mat& X, const cv::Mat& Weff, const std::vector<float>& beff, cv::Mat& Z) {
  const int n = X.rows, D = X.cols, K = Weff.rows;
  Z.create(n, K, CV_32F);
  for (int i = 0; i < n; ++i) std::copy(beff.begin(), beff.end(), Z.ptr<float>(i));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, K, D, 1.f, X.ptr<float>(0), int(X.step1()),
              Weff.ptr<float>(0), int(Weff.step1()), 1.f, Z.ptr<float>(0), int(Z.step1()));
}

// Rows of Z -> softmax(Z * inv_t) in place.
void softmax_in_place(cv::Mat& Z, double inv_t) {
  const int K = Z.cols;
  for (int i = 0; i < Z.rows; ++i) {
    float* z = Z.ptr<float>(i);
    const float mx = *std::max_element(z, z + K);
    double sum = 0;
    for (int k = 0; k < K; ++k) sum += (z[k] = float(std::exp(double(z[k] - mx) * inv_t)));
    const float inv = float(1.0 / sum);
    for (int k = 0; k < K; ++k) z[k] *= inv;
  }
}

void logits_softmax(const cv::Mat& X, const cv::Mat& Weff, const std::vector<float>& beff, cv::Mat& Z) {
  logits_of(X, Weff, beff, Z);
  softmax_in_place(Z, 1.0);
}

lbfgsfloatval_t evaluate_cb(void* inst, const lbfgsfloatval_t* x, lbfgsfloatval_t* g, const int nvar,
                            const lbfgsfloatval_t /*step*/) {
  Problem& p = *static_cast<Problem*>(inst);
  std::vector<float> beff;
  effective(p, x, p.Weff, beff);
  logits_softmax(*p.X, p.Weff, beff, p.Z);
  // Loss and G = sw * (P - Y).
  double loss = 0;
  p.G.create(p.n, p.K, CV_32F);
  std::vector<double> gsum(static_cast<size_t>(p.K), 0.0);
  for (int i = 0; i < p.n; ++i) {
    const float* pr = p.Z.ptr<float>(i);
    float* gi = p.G.ptr<float>(i);
    const int yi = (*p.y)[size_t(i)];
    const float w = p.sw[size_t(i)];
    loss -= double(w) * std::log(std::max(pr[yi], 1e-30f));
    for (int k = 0; k < p.K; ++k) {
      gi[k] = w * (pr[k] - (k == yi ? 1.f : 0.f));
      gsum[size_t(k)] += gi[k];
    }
  }
  // GW = G^T X  (K x D)
  p.GW.create(p.K, p.D, CV_32F);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p.K, p.D, p.n, 1.f, p.G.ptr<float>(0), int(p.G.step1()),
              p.X->ptr<float>(0), int(p.X->step1()), 0.f, p.GW.ptr<float>(0), int(p.GW.step1()));
  const float* s = p.scale.ptr<float>(0);
  const float* m = p.mean.ptr<float>(0);
  double reg = 0;
  for (int k = 0; k < p.K; ++k) {
    const double* wk = x + size_t(k) * size_t(p.D + 1);
    double* gk = g + size_t(k) * size_t(p.D + 1);
    const float* gw = p.GW.ptr<float>(k);
    for (int d = 0; d < p.D; ++d) {
      gk[d] = double(s[d]) * (double(gw[d]) - gsum[size_t(k)] * m[d]) + p.l2 * wk[d];
      reg += wk[d] * wk[d];
    }
    gk[p.D] = gsum[size_t(k)];
  }
  (void)nvar;
  return loss + 0.5 * p.l2 * reg;
}

}  // namespace

cv::Mat LogisticModel::predict_proba(const cv::Mat& X) const {
  cv::Mat Z = logits(X);
  softmax_in_place(Z, 1.0 / temperature);
  return Z;
}

cv::Mat LogisticModel::logits(const cv::Mat& X) const {
  IRBIS_THROW_IF_NOT(X.type() == CV_32F && X.cols == dim(), UsageError,
                     "classifier expects " + std::to_string(dim()) + "-d features, got " + std::to_string(X.cols));
  cv::Mat Xc = X.isContinuous() ? X : X.clone();
  cv::Mat Weff(W.rows, W.cols, CV_32F);
  std::vector<float> beff(static_cast<size_t>(W.rows));
  for (int k = 0; k < W.rows; ++k) {
    double bb = b.at<float>(0, k);
    for (int d = 0; d < W.cols; ++d) {
      Weff.at<float>(k, d) = W.at<float>(k, d) * scale.at<float>(0, d);
      bb -= double(Weff.at<float>(k, d)) * mean.at<float>(0, d);
    }
    beff[size_t(k)] = float(bb);
  }
  cv::Mat Z;
  if (Xc.rows == 0) return cv::Mat(0, W.rows, CV_32F);
  logits_of(Xc, Weff, beff, Z);
  return Z;
}

cv::Mat softmax_rows(const cv::Mat& logits, double temperature) {
  IRBIS_THROW_IF_NOT(logits.type() == CV_32F && temperature > 0, UsageError,
                     "softmax_rows: float32 logits and a positive temperature");
  cv::Mat Z = logits.clone();
  softmax_in_place(Z, 1.0 / temperature);
  return Z;
}

double log_loss(const cv::Mat& logits, const std::vector<int>& truth, double temperature) {
  IRBIS_THROW_IF_NOT(logits.type() == CV_32F && logits.rows == int(truth.size()) && temperature > 0, UsageError,
                     "log_loss: one float32 logit row per label and a positive temperature");
  if (logits.rows == 0) return 0;
  const double inv_t = 1.0 / temperature;
  double total = 0;
  for (int i = 0; i < logits.rows; ++i) {
    const float* z = logits.ptr<float>(i);
    const int y = truth[size_t(i)];
    IRBIS_THROW_IF_NOT(y >= 0 && y < logits.cols, UsageError, "log_loss: label out of range");
    const double mx = *std::max_element(z, z + logits.cols) * inv_t;
    double sum = 0;
    for (int k = 0; k < logits.cols; ++k) sum += std::exp(double(z[k]) * inv_t - mx);
    total += mx + std::log(sum) - double(z[y]) * inv_t;
  }
  return total / double(logits.rows);
}

double fit_temperature(const cv::Mat& logits, const std::vector<int>& truth) {
  if (logits.rows == 0) return 1;
  // Golden-section search on u = log(temperature) in [log 1/100, log 100]: log_loss is convex in
  // 1 / temperature, hence unimodal in u.
  const double phi = (std::sqrt(5.0) - 1) / 2;
  double a = std::log(0.01), b = std::log(100.0);
  double c = b - phi * (b - a), d = a + phi * (b - a);
  double fc = log_loss(logits, truth, std::exp(c)), fd = log_loss(logits, truth, std::exp(d));
  for (int it = 0; it < 60 && b - a > 1e-4; ++it) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - phi * (b - a);
      fc = log_loss(logits, truth, std::exp(c));
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + phi * (b - a);
      fd = log_loss(logits, truth, std::exp(d));
    }
  }
  return std::exp((a + b) / 2);
}

TemperatureCalibration calibrate_temperature(const cv::Mat& oof_logits, const std::vector<int>& truth,
                                             const std::vector<int>& fold, int folds) {
  IRBIS_THROW_IF_NOT(oof_logits.type() == CV_32F && oof_logits.rows == int(truth.size()) &&
                         fold.size() == truth.size(),
                     UsageError, "calibrate_temperature: one logit row, label and fold per row");
  TemperatureCalibration c;
  c.rows = oof_logits.rows;
  if (c.rows == 0) return c;
  c.fitted = fit_temperature(oof_logits, truth);
  c.log_loss_uncalibrated = log_loss(oof_logits, truth, 1.0);
  // Cross-fitting: the temperature that scores a fold never saw that fold's rows.
  double total = 0;
  for (int f = 0; f < folds; ++f) {
    std::vector<int> in, out;
    for (size_t i = 0; i < fold.size(); ++i) (fold[i] == f ? out : in).push_back(int(i));
    if (out.empty()) continue;
    auto rows_of = [&](const std::vector<int>& idx, cv::Mat& Z, std::vector<int>& y) {
      Z.create(int(idx.size()), oof_logits.cols, CV_32F);
      y.clear();
      for (size_t i = 0; i < idx.size(); ++i) {
        oof_logits.row(idx[i]).copyTo(Z.row(int(i)));
        y.push_back(truth[size_t(idx[i])]);
      }
    };
    cv::Mat Zin, Zout;
    std::vector<int> yin, yout;
    rows_of(in, Zin, yin);
    rows_of(out, Zout, yout);
    const double t = in.empty() ? 1.0 : fit_temperature(Zin, yin);
    total += log_loss(Zout, yout, t) * double(out.size());
  }
  c.log_loss_cross_fitted = total / double(c.rows);
  c.accepted = c.log_loss_cross_fitted < c.log_loss_uncalibrated;
  c.temperature = c.accepted ? c.fitted : 1.0;
  return c;
}

cv::Mat LogisticModel::params() const {
  cv::Mat p(W.rows, W.cols + 1, CV_64F);
  for (int k = 0; k < W.rows; ++k) {
    for (int d = 0; d < W.cols; ++d) p.at<double>(k, d) = W.at<float>(k, d);
    p.at<double>(k, W.cols) = b.at<float>(0, k);
  }
  return p;
}

LogisticModel fit_logistic(const cv::Mat& X, const std::vector<int>& y, int K, const FitOptions& opts) {
  IRBIS_THROW_IF_NOT(X.type() == CV_32F && X.rows == int(y.size()) && X.rows > 0, UsageError,
                     "fit_logistic: X must be n x d float32 with one label per row");
  IRBIS_THROW_IF_NOT(K >= 2, UsageError, "fit_logistic: need at least two classes");
  cv::Mat Xc = X.isContinuous() ? X : X.clone();
  Problem p;
  p.X = &Xc;
  p.y = &y;
  p.K = K;
  p.D = X.cols;
  p.n = X.rows;
  p.l2 = opts.l2;
  std::vector<int> count(static_cast<size_t>(K), 0);
  for (int v : y) {
    IRBIS_THROW_IF_NOT(v >= 0 && v < K, UsageError, "fit_logistic: label out of range");
    ++count[size_t(v)];
  }
  // Sample weights: balanced class weights n / (K n_c), then normalised to sum 1.
  p.sw.resize(size_t(p.n));
  double total = 0;
  for (int i = 0; i < p.n; ++i) {
    const int c = y[size_t(i)];
    const double w = opts.balanced ? double(p.n) / (double(K) * count[size_t(c)]) : 1.0;
    p.sw[size_t(i)] = float(w);
    total += w;
  }
  for (auto& w : p.sw) w = float(w / total);
  // Standardisation (weighted by nothing: plain column mean / std).
  cv::Mat mean, sd;
  cv::reduce(Xc, mean, 0, cv::REDUCE_AVG, CV_64F);
  cv::Mat sq;
  cv::reduce(Xc.mul(Xc), sq, 0, cv::REDUCE_AVG, CV_64F);
  p.mean.create(1, p.D, CV_32F);
  p.scale.create(1, p.D, CV_32F);
  for (int d = 0; d < p.D; ++d) {
    const double m = mean.at<double>(0, d);
    const double v = std::max(0.0, sq.at<double>(0, d) - m * m);
    p.mean.at<float>(0, d) = float(m);
    p.scale.at<float>(0, d) = v > 1e-12 ? float(1.0 / std::sqrt(v)) : 0.f;
  }

  const int nvar = K * (p.D + 1);
  lbfgsfloatval_t* x = lbfgs_malloc(nvar);
  if (!x) throw Error("fit_logistic: out of memory");
  if (!opts.init.empty() && opts.init.rows == K && opts.init.cols == p.D + 1 && opts.init.type() == CV_64F)
    for (int k = 0; k < K; ++k) std::copy_n(opts.init.ptr<double>(k), p.D + 1, x + size_t(k) * size_t(p.D + 1));
  else
    std::fill(x, x + nvar, 0.0);
  lbfgs_parameter_t param;
  lbfgs_parameter_init(&param);
  param.max_iterations = opts.max_iter;
  param.epsilon = opts.epsilon;
  param.past = 5;
  param.delta = 1e-7;
  param.m = 10;
  lbfgsfloatval_t fx = 0;
  // Small problems: OpenBLAS's threads cost more than they save (5x slower on a busy 2-core
  // machine for 300 x 2696), and one thread also makes the result independent of the core count.
  const int blas_threads = openblas_get_num_threads();
  const bool single = double(p.n) * p.D * K < 2e8;
  if (single) openblas_set_num_threads(1);
  const int ret = lbfgs(
      nvar, x, &fx, evaluate_cb,
      [](void* inst, const lbfgsfloatval_t*, const lbfgsfloatval_t*, const lbfgsfloatval_t, const lbfgsfloatval_t,
         const lbfgsfloatval_t, const lbfgsfloatval_t, int, int k, int) -> int {
        static_cast<Problem*>(inst)->iters = k;
        return 0;
      },
      &p, &param);
  if (single) openblas_set_num_threads(blas_threads);
  // Non-convergence codes (iteration limit, rounding, line-search limits) keep the last point:
  // it has the lowest objective seen. Anything else is a bug or bad input.
  if (ret < 0 && ret != LBFGSERR_MAXIMUMITERATION && ret != LBFGSERR_ROUNDING_ERROR &&
      ret != LBFGSERR_MAXIMUMLINESEARCH && ret != LBFGSERR_MINIMUMSTEP && ret != LBFGSERR_MAXIMUMSTEP &&
      ret != LBFGSERR_WIDTHTOOSMALL && ret != LBFGSERR_INCREASEGRADIENT && ret != LBFGSERR_CANCELED) {
    lbfgs_free(x);
    throw Error("fit_logistic: L-BFGS failed with code " + std::to_string(ret));
  }
  LogisticModel model;
  model.mean = p.mean;
  model.scale = p.scale;
  model.W.create(K, p.D, CV_32F);
  model.b.create(1, K, CV_32F);
  for (int k = 0; k < K; ++k) {
    const double* wk = x + size_t(k) * size_t(p.D + 1);
    for (int d = 0; d < p.D; ++d) model.W.at<float>(k, d) = float(wk[d]);
    model.b.at<float>(0, k) = float(wk[p.D]);
  }
  model.iterations = p.iters;
  model.loss = fx;
  lbfgs_free(x);
  return model;
}

}  // namespace irbis
