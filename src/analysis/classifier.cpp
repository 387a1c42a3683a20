// Training (split, cross-validated regularisation, evaluation, out-of-fold predictions), the
// classifier file and the inputs it reads.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <xxhash.h>

#include "irbis/classifier.h"
#include "irbis/errors.h"
#include "irbis/image.h"
#include "irbis/scan.h"
#include "irbis/text.h"
#include "io/parallel_indices.h"

namespace irbis {
namespace fs = std::filesystem;

ClassifierInput parse_classifier_input(const std::string& s) {
  if (s == "full") return ClassifierInput::full;
  if (s == "blocks") return ClassifierInput::blocks;
  if (s == "blocks-sqrt") return ClassifierInput::blocks_sqrt;
  if (s == "blocks-sqrt-rff") return ClassifierInput::blocks_sqrt_rff;
  throw UsageError("unknown classifier input '" + s + "' (expected full, blocks, blocks-sqrt or blocks-sqrt-rff)");
}

const char* classifier_input_name(ClassifierInput v) {
  switch (v) {
    case ClassifierInput::full: return "full";
    case ClassifierInput::blocks: return "blocks";
    case ClassifierInput::blocks_sqrt: return "blocks-sqrt";
    case ClassifierInput::blocks_sqrt_rff: return "blocks-sqrt-rff";
  }
  return "full";
}

std::vector<ClassifierInput> default_classifier_inputs() {
  // blocks-sqrt-rff is not a default candidate: on seven labelled sets it gained nothing beyond
  // noise where CV chose it and lost 4 points on one (docs/classify.md, "A non-linear head").
  return {ClassifierInput::full, ClassifierInput::blocks, ClassifierInput::blocks_sqrt};
}

int classifier_input_dim(const ModelCard& card, ClassifierInput v) {
  if (v == ClassifierInput::blocks_sqrt_rff) return kRandomFeatureDim;
  return reads_blocks(v) ? card.blocks_dim() : card.descriptor_dim();
}

ClassifierCandidate random_feature_candidate(const cv::Mat& blocks_sqrt) {
  ClassifierCandidate c;
  c.input = ClassifierInput::blocks_sqrt_rff;
  c.rff = make_random_features(blocks_sqrt.cols, kRandomFeatureDim, kRandomFeatureSeed, median_row_distance(blocks_sqrt));
  c.X = c.rff.map(blocks_sqrt);
  return c;
}

namespace {

// Per block: optional signed square root, L2; then the whole row L2 (in place on `out`).
cv::Mat blocks_l2(const ModelCard& card, const cv::Mat& blocks, bool signed_sqrt) {
  IRBIS_THROW_IF_NOT(blocks.type() == CV_32F && blocks.cols == card.blocks_dim(), ModelError,
                     "blocks rows do not match the model card");
  cv::Mat out(blocks.rows, blocks.cols, CV_32F);
  for (int i = 0; i < blocks.rows; ++i) {
    const float* src = blocks.ptr<float>(i);
    float* dst = out.ptr<float>(i);
    for (int d = 0; d < blocks.cols; ++d)
      dst[d] = signed_sqrt ? std::copysign(std::sqrt(std::fabs(src[d])), src[d]) : src[d];
    int off = 0;
    double total = 0;
    for (const auto& b : card.blocks) {
      double n = 0;
      for (int d = 0; d < b.dim; ++d) n += double(dst[off + d]) * dst[off + d];
      const double inv = n > 0 ? 1.0 / std::sqrt(n) : 0;
      for (int d = 0; d < b.dim; ++d) {
        dst[off + d] = float(dst[off + d] * inv);
        total += double(dst[off + d]) * dst[off + d];
      }
      off += b.dim;
    }
    if (total > 0) {
      const float inv = float(1.0 / std::sqrt(total));
      for (int d = 0; d < blocks.cols; ++d) dst[d] *= inv;
    }
  }
  return out;
}

}  // namespace

cv::Mat normalise_blocks(const ModelCard& card, const cv::Mat& blocks) { return blocks_l2(card, blocks, false); }

cv::Mat classifier_features_from_blocks(const ModelCard& card, ClassifierInput input, const cv::Mat& blocks,
                                        const RandomFeatures* rff) {
  switch (input) {
    case ClassifierInput::blocks: return blocks_l2(card, blocks, false);
    case ClassifierInput::blocks_sqrt: return blocks_l2(card, blocks, true);
    case ClassifierInput::blocks_sqrt_rff:
      if (!rff || rff->empty()) throw UsageError("the blocks-sqrt-rff classifier input needs its random-feature map");
      return rff->map(blocks_l2(card, blocks, true));
    case ClassifierInput::full: break;
  }
  throw UsageError("the full classifier input is the stored descriptor (Embedder::descriptor_from_blocks)");
}

// ---------------------------------------------------------------------------------------------
// training

namespace {

cv::Mat gather_rows(const cv::Mat& X, const std::vector<int>& rows) {
  cv::Mat out(int(rows.size()), X.cols, CV_32F);
  for (size_t i = 0; i < rows.size(); ++i) X.row(rows[i]).copyTo(out.row(int(i)));
  return out;
}

std::vector<int> gather(const std::vector<int>& v, const std::vector<int>& rows) {
  std::vector<int> out;
  out.reserve(rows.size());
  for (int r : rows) out.push_back(v[size_t(r)]);
  return out;
}

}  // namespace

namespace {

// Cross-validation of one input over a penalty grid: pooled held-out accuracy of every penalty and
// the out-of-fold logits (every CV row predicted by the fold model that did not see it).
struct PenaltyPath {
  std::vector<double> accuracy;
  std::vector<cv::Mat> oof_logits;  // per penalty, rows x K
};

// Every penalty of `grid` (strongest first) over the folds of X, warm-starting each fit from the
// previous penalty's.
PenaltyPath cv_path(const cv::Mat& X, const std::vector<int>& y, int K, const std::vector<int>& fold, int folds,
                    const std::vector<double>& grid, const FitOptions& base) {
  PenaltyPath path;
  path.accuracy.assign(grid.size(), 0.0);
  for (size_t g = 0; g < grid.size(); ++g) path.oof_logits.emplace_back(X.rows, K, CV_32F, cv::Scalar(0));
  for (int f = 0; f < folds; ++f) {
    std::vector<int> a, b;
    for (size_t i = 0; i < fold.size(); ++i) (fold[i] == f ? b : a).push_back(int(i));
    if (a.empty() || b.empty()) continue;
    const cv::Mat Xa = gather_rows(X, a), Xb = gather_rows(X, b);
    const std::vector<int> ya = gather(y, a), yb = gather(y, b);
    cv::Mat warm;
    for (size_t g = 0; g < grid.size(); ++g) {
      FitOptions fg = base;
      fg.l2 = grid[g];
      fg.max_iter = 200;  // model selection needs the ranking, not the last digit
      fg.epsilon = 1e-4;
      fg.init = warm;
      const LogisticModel m = fit_logistic(Xa, ya, K, fg);
      warm = m.params();
      const cv::Mat Z = m.logits(Xb);
      const auto pred = argmax_rows(Z);
      int ok = 0;
      for (size_t i = 0; i < b.size(); ++i) {
        ok += pred[i] == yb[i];
        Z.row(int(i)).copyTo(path.oof_logits[g].row(b[i]));
      }
      path.accuracy[g] += double(ok) / double(y.size());  // summed over folds = pooled accuracy
    }
  }
  return path;
}

}  // namespace

TrainResult train_classifier(const std::vector<ClassifierCandidate>& candidates, const std::vector<int>& y,
                             const std::vector<std::string>& classes, const TrainOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  const int K = int(classes.size());
  IRBIS_THROW_IF_NOT(!candidates.empty(), UsageError, "train: no classifier input");
  for (const auto& c : candidates)
    IRBIS_THROW_IF_NOT(c.X.type() == CV_32F && c.X.rows == int(y.size()), UsageError,
                       "train: one label per embedding row");
  std::vector<int> count(static_cast<size_t>(K), 0), labelled;
  for (size_t i = 0; i < y.size(); ++i)
    if (y[i] >= 0) {
      ++count[size_t(y[i])];
      labelled.push_back(int(i));
    }
  std::vector<std::string> present, single;
  for (int c = 0; c < K; ++c) {
    if (count[size_t(c)] > 0) present.push_back(classes[size_t(c)]);
    if (count[size_t(c)] == 1) single.push_back(classes[size_t(c)]);
  }
  if (present.size() < 2)
    throw UsageError("train: need at least two classes with labelled images, found " + std::to_string(present.size()) +
                     (present.empty() ? std::string() : " ('" + present[0] + "')"));
  if (!single.empty()) {
    std::string names;
    for (size_t i = 0; i < single.size() && i < 5; ++i) names += (i ? ", " : "") + single[i];
    if (single.size() > 5) names += ", ...";
    throw UsageError("train: every class needs at least two images (one to train, one to test); only one image in: " +
                     names + " (`--min-per-class 2` leaves such classes out and lists them)");
  }
  for (int c = 0; c < K; ++c)
    if (count[size_t(c)] == 0) throw UsageError("train: class '" + classes[size_t(c)] + "' has no images");

  const std::vector<int> yL = gather(y, labelled);
  TrainResult res;
  std::vector<int> tr, te;
  stratified_split(yL, K, opts.test_fraction, opts.seed, tr, te);
  const std::vector<int> ytr = gather(yL, tr);
  // Rows of the training part (indices into the original rows).
  std::vector<int> tr_rows, te_rows;
  for (int r : tr) tr_rows.push_back(labelled[size_t(r)]);
  for (int r : te) te_rows.push_back(labelled[size_t(r)]);

  FitOptions fo;
  fo.balanced = opts.balanced;
  res.l2 = opts.l2;
  size_t chosen = 0;
  const bool choose_input = candidates.size() > 1;
  res.input_cross_validated = choose_input;
  if (opts.l2 < 0 || choose_input) {
    // Cross-validation on (a stratified subsample of) the training part: the same folds for every
    // candidate, each candidate's penalty path strongest first with warm starts. The best pooled
    // held-out accuracy wins; ties go to the earlier candidate and the stronger penalty.
    const int max_rows = choose_input ? std::min(opts.cv_max_rows, opts.cv_input_max_rows) : opts.cv_max_rows;
    std::vector<int> cv_rows(ytr.size());
    for (size_t i = 0; i < cv_rows.size(); ++i) cv_rows[i] = int(i);
    if (int(ytr.size()) > max_rows) {
      std::vector<int> keep, drop;
      stratified_split(ytr, K, 1.0 - double(max_rows) / double(ytr.size()), opts.seed + 7, keep, drop);
      cv_rows = keep;
    }
    std::vector<int> cv_src;  // original row of every CV row
    for (int r : cv_rows) cv_src.push_back(tr_rows[size_t(r)]);
    const std::vector<int> ycv = gather(ytr, cv_rows);
    res.cv_images = int(cv_src.size());
    std::vector<double> grid = opts.l2 < 0 ? opts.l2_grid : std::vector<double>{opts.l2};
    std::sort(grid.rbegin(), grid.rend());
    const std::vector<int> fold = stratified_folds(ycv, K, opts.cv_folds, opts.seed + 13);
    for (size_t c = 0; c < candidates.size(); ++c) {
      PenaltyPath path = cv_path(gather_rows(candidates[c].X, cv_src), ycv, K, fold, opts.cv_folds, grid, fo);
      const std::vector<double>& acc = path.accuracy;
      InputScore s;
      s.input = candidates[c].input;
      s.dim = candidates[c].X.cols;
      size_t best = 0;
      for (size_t g = 0; g < grid.size(); ++g) {
        s.cv_accuracy.emplace_back(grid[g], acc[g]);
        if (acc[g] > acc[best] + 1e-9) best = g;
      }
      s.l2 = grid[best];
      s.accuracy = acc[best];
      s.log_loss = log_loss(path.oof_logits[best], ycv);
      res.input_scores.push_back(std::move(s));
      if (res.input_scores.back().accuracy > res.input_scores[chosen].accuracy + 1e-9) chosen = c;
    }
    res.l2 = res.input_scores[chosen].l2;
    if (opts.l2 < 0) res.cv_accuracy = res.input_scores[chosen].cv_accuracy;
    if (!choose_input) res.input_scores.clear();
  }
  const cv::Mat& X = candidates[chosen].X;
  res.input = candidates[chosen].input;
  res.rff = candidates[chosen].rff;
  fo.l2 = res.l2;
  const cv::Mat Xtr = gather_rows(X, tr_rows);
  if (opts.calibrate) {
    // Temperature scaling. A strong penalty (ties go to it) makes the probabilities
    // under-confident, a weak one on separable data over-confident; the temperature fixes either
    // without changing any predicted class. Its logits must look like the saved model's: converged
    // fits at the chosen input and penalty (not the loose fits of model selection) on folds of the
    // training part, each on (k-1)/k of it.
    std::vector<int> rows(ytr.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = int(i);
    if (int(ytr.size()) > opts.cv_max_rows) {
      std::vector<int> drop;
      stratified_split(ytr, K, 1.0 - double(opts.cv_max_rows) / double(ytr.size()), opts.seed + 37, rows, drop);
    }
    const cv::Mat Xc = gather_rows(Xtr, rows);
    const std::vector<int> yc = gather(ytr, rows);
    const int folds = std::max(2, opts.calibration_folds);
    const std::vector<int> fold = stratified_folds(yc, K, folds, opts.seed + 41);
    cv::Mat oof(Xc.rows, K, CV_32F, cv::Scalar(0));
    for (int f = 0; f < folds; ++f) {
      std::vector<int> a, b;
      for (size_t i = 0; i < fold.size(); ++i) (fold[i] == f ? b : a).push_back(int(i));
      if (a.empty() || b.empty()) continue;
      const cv::Mat Z = fit_logistic(gather_rows(Xc, a), gather(yc, a), K, fo).logits(gather_rows(Xc, b));
      for (size_t i = 0; i < b.size(); ++i) Z.row(int(i)).copyTo(oof.row(b[i]));
    }
    res.calibration = calibrate_temperature(oof, yc, fold, folds);
    // Only a sharpening temperature (T < 1) is kept. The fold models saw (k-1)/k of the images, so
    // they err more out of fold than the saved model will: their temperature is biased upwards.
    // Below 1 that bias makes the correction too small (safe); above 1 it can soften a model that
    // is already calibrated (objects set: test ECE 0.051 -> 0.093 at T = 1.35; docs/classify.md).
    // Following T > 1 to the saved model's image count (a second fit on (k-2)/k of the images,
    // log T linear in log(images)) was tried and still made the objects set worse (ECE 0.051 ->
    // 0.075, 0.035 -> 0.066): no T > 1 is kept.
    if (res.calibration.accepted && res.calibration.fitted > 1) {
      res.calibration.accepted = false;
      res.calibration.temperature = 1;
    }
    res.temperature = res.calibration.temperature;
  }
  res.model = fit_logistic(Xtr, ytr, K, fo);
  res.model.temperature = res.temperature;
  res.evaluated_iterations = res.model.iterations;
  res.model_images = int(tr_rows.size());
  res.train_logits = res.model.logits(Xtr);
  res.train_eval = evaluate(ytr, argmax_rows(res.train_logits), K);
  if (!te.empty()) {
    const cv::Mat Z = res.model.logits(gather_rows(X, te_rows));
    res.test_logits = Z;
    const std::vector<int> yte = gather(yL, te);
    res.test_eval = evaluate(yte, argmax_rows(Z), K);
    res.test_ece = expected_calibration_error(softmax_rows(Z, res.temperature), yte);
    res.test_ece_uncalibrated = expected_calibration_error(softmax_rows(Z, 1.0), yte);
    if (res.calibration.fitted > 1)
      res.test_ece_fitted = expected_calibration_error(softmax_rows(Z, res.calibration.fitted), yte);
    res.test_log_loss = log_loss(Z, yte, res.temperature);
    res.test_log_loss_uncalibrated = log_loss(Z, yte, 1.0);
  }
  res.train_rows = tr_rows;
  res.test_rows = te_rows;

  if (opts.refit && !te.empty()) {
    // The saved model sees every labelled image: the evaluation above estimates its accuracy
    // (slightly pessimistically: it was measured on a model fitted on fewer images).
    FitOptions fr = fo;
    fr.init = res.model.params();
    res.model = fit_logistic(gather_rows(X, labelled), yL, K, fr);
    res.model.temperature = res.temperature;
    res.refitted = true;
    res.model_images = int(labelled.size());
  }

  if (opts.out_of_fold) {
    const cv::Mat XL = gather_rows(X, labelled);
    res.oof_proba = cv::Mat(X.rows, K, CV_32F, cv::Scalar(0));
    const std::vector<int> fold = stratified_folds(yL, K, opts.oof_folds, opts.seed + 29);
    for (int f = 0; f < opts.oof_folds; ++f) {
      std::vector<int> a, b;
      for (size_t i = 0; i < fold.size(); ++i) (fold[i] == f ? b : a).push_back(int(i));
      if (a.empty() || b.empty()) continue;
      LogisticModel m = fit_logistic(gather_rows(XL, a), gather(yL, a), K, fo);
      m.temperature = res.temperature;
      const cv::Mat P = m.predict_proba(gather_rows(XL, b));
      for (size_t i = 0; i < b.size(); ++i) P.row(int(i)).copyTo(res.oof_proba.row(labelled[size_t(b[i])]));
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

TrainResult train_classifier(const cv::Mat& X, const std::vector<int>& y, const std::vector<std::string>& classes,
                             const TrainOptions& opts) {
  return train_classifier(std::vector<ClassifierCandidate>{{ClassifierInput::full, X, {}}}, y, classes, opts);
}

cv::Mat mean_probabilities(const std::vector<cv::Mat>& proba) {
  IRBIS_THROW_IF_NOT(!proba.empty(), UsageError, "mean_probabilities: no probabilities");
  if (proba.size() == 1) return proba[0];
  cv::Mat sum = cv::Mat::zeros(proba[0].rows, proba[0].cols, CV_32F);
  for (const cv::Mat& p : proba) {
    IRBIS_THROW_IF_NOT(p.type() == CV_32F && p.size() == sum.size(), UsageError,
                       "mean_probabilities: the heads' probabilities differ in shape");
    sum += p;
  }
  return sum / double(proba.size());
}

namespace {

// A classifier of one head: its summary is the head's own.
HeadsTrainResult heads_result_of_one(const TrainResult& tr) {
  HeadsTrainResult one;
  one.heads = {tr};
  one.train_eval = tr.train_eval;
  one.test_eval = tr.test_eval;
  one.test_ece = tr.test_ece;
  one.test_ece_uncalibrated = tr.test_ece_uncalibrated;
  one.test_log_loss = tr.test_log_loss;
  one.test_log_loss_uncalibrated = tr.test_log_loss_uncalibrated;
  one.oof_proba = tr.oof_proba;
  one.seconds = tr.seconds;
  return one;
}

}  // namespace

HeadsTrainResult train_classifier_heads(const std::vector<std::vector<ClassifierCandidate>>& heads,
                                        const std::vector<int>& y, const std::vector<std::string>& classes,
                                        const TrainOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  IRBIS_THROW_IF_NOT(!heads.empty(), UsageError, "train: no embedding model");
  std::vector<TrainResult> trained;
  for (const auto& candidates : heads) trained.push_back(train_classifier(candidates, y, classes, opts));
  HeadsTrainResult res;
  if (trained.size() == 1) {
    res = heads_result_of_one(trained[0]);
  } else {
    res.heads = std::move(trained);
    const TrainResult& first = res.heads[0];
    // Same labels, seed and split rule: every head holds out the same rows.
    for (const auto& h : res.heads)
      IRBIS_THROW_IF_NOT(h.train_rows == first.train_rows && h.test_rows == first.test_rows, UsageError,
                         "train: the heads' rows are not aligned");
    const int K = int(classes.size());
    std::vector<cv::Mat> tr_p, te_p, te_p1, oof;
    for (const auto& h : res.heads) {
      tr_p.push_back(softmax_rows(h.train_logits, h.temperature));
      if (!h.test_rows.empty()) {
        te_p.push_back(softmax_rows(h.test_logits, h.temperature));
        te_p1.push_back(softmax_rows(h.test_logits, 1.0));
      }
      if (!h.oof_proba.empty()) oof.push_back(h.oof_proba);
    }
    auto truth = [&](const std::vector<int>& rows) {
      std::vector<int> t;
      for (int r : rows) t.push_back(y[size_t(r)]);
      return t;
    };
    const std::vector<int> ytr = truth(first.train_rows), yte = truth(first.test_rows);
    res.train_eval = evaluate(ytr, argmax_rows(mean_probabilities(tr_p)), K);
    if (!te_p.empty()) {
      const cv::Mat P = mean_probabilities(te_p), P1 = mean_probabilities(te_p1);
      res.test_eval = evaluate(yte, argmax_rows(P), K);
      res.test_ece = expected_calibration_error(P, yte);
      res.test_ece_uncalibrated = expected_calibration_error(P1, yte);
      // log_loss takes logits: the log of the mean probabilities are logits of that mean.
      cv::Mat L, L1;
      cv::log(cv::max(P, 1e-12), L);
      cv::log(cv::max(P1, 1e-12), L1);
      res.test_log_loss = log_loss(L, yte);
      res.test_log_loss_uncalibrated = log_loss(L1, yte);
    }
    if (!oof.empty()) res.oof_proba = mean_probabilities(oof);
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

cv::Mat read_rgb(const std::string& path, int min_side) {
  DecodeOptions opts;
  opts.min_side = min_side;
  const auto bytes = read_file_bytes(path, 1ull << 30);
  try {
    return decode_image(bytes, opts).rgb;
  } catch (const DecodeError& e) {
    throw DecodeError(display_path(path) + ": " + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// the classifier file

cv::Mat ClassifierHead::features_from_blocks(const Embedder& embedder, const cv::Mat& blocks) const {
  return reads_blocks(input) ? classifier_features_from_blocks(embedder.card(), input, blocks, &rff)
                             : embedder.descriptor_from_blocks(blocks);
}

std::string Classifier::embedding_models_text() const {
  std::string out;
  for (const auto& h : heads) out += (out.empty() ? "" : ",") + h.embedding_model;
  return out;
}

std::string Classifier::inputs_text() const {
  std::string out;
  for (const auto& h : heads) out += std::string(out.empty() ? "" : ",") + classifier_input_name(h.input);
  return out;
}

cv::Mat Classifier::predict_proba(const std::vector<cv::Mat>& features) const {
  IRBIS_THROW_IF_NOT(features.size() == heads.size(), UsageError,
                     "classifier: " + std::to_string(heads.size()) + " head(s) but rows for " +
                         std::to_string(features.size()));
  std::vector<cv::Mat> p;
  for (size_t h = 0; h < heads.size(); ++h) {
    IRBIS_THROW_IF_NOT(features[h].rows == features[0].rows, UsageError, "classifier: the heads' row counts differ");
    p.push_back(heads[h].model.predict_proba(features[h]));
  }
  return mean_probabilities(p);
}

std::vector<ModelCard> Classifier::cards() const {
  std::vector<ModelCard> out;
  for (const auto& h : heads) {
    out.push_back(find_model(h.embedding_model));
    h.check_embedder(out.back());
  }
  return out;
}

ClassifierNetworks::ClassifierNetworks(const std::vector<ModelCard>& cards, const InferenceOptions& opts) {
  for (const auto& c : cards) nets_.push_back(std::make_unique<Embedder>(c, opts));
}

std::unique_ptr<ClassifierNetworks> ClassifierNetworks::single_threaded_copy() const {
  auto copy = std::unique_ptr<ClassifierNetworks>(new ClassifierNetworks());
  for (const auto& e : nets_)
    copy->nets_.push_back(std::make_unique<Embedder>(e->card(), InferenceOptions{e->engine(), e->precision(), 1}));
  return copy;
}

bool ClassifierNetworks::single_threaded_onednn() const {
  return std::all_of(nets_.begin(), nets_.end(), [](const auto& e) {
    return e->engine() == InferenceEngine::onednn && e->threads() == 1;
  });
}

int Classifier::class_index(const std::string& name) const {
  for (size_t i = 0; i < classes.size(); ++i)
    if (classes[i] == name) return int(i);
  std::string all;
  for (size_t i = 0; i < classes.size(); ++i) all += (i ? ", " : "") + classes[i];
  throw UsageError("unknown class '" + name + "'; the classifier knows: " + all);
}

void ClassifierHead::check_embedder(const ModelCard& card) const {
  if (card.name != embedding_model)
    throw ModelError("the classifier was trained on embeddings of model '" + embedding_model + "', not '" + card.name +
                     "'");
  if (!embedding_sha256.empty() && !card.onnx_sha256.empty() && card.onnx_sha256 != embedding_sha256)
    throw ModelError("the installed model '" + card.name + "' (sha256 " + card.onnx_sha256.substr(0, 12) +
                     ") differs from the one the classifier was trained with (sha256 " +
                     embedding_sha256.substr(0, 12) + "); retrain");
  if (input == ClassifierInput::blocks_sqrt_rff) {
    if (rff.input_dim != card.blocks_dim() || rff.dim != input_dim())
      throw ModelError("the classifier's random features read " + std::to_string(rff.input_dim) +
                       "-d pooled blocks but model '" + card.name + "' gives " + std::to_string(card.blocks_dim()));
    return;
  }
  const int want = classifier_input_dim(card, input);
  if (want != input_dim())
    throw ModelError("the classifier expects " + std::to_string(input_dim()) + "-d inputs but model '" + card.name +
                     "' gives " + std::to_string(want));
}

namespace {
constexpr char kMagic[8] = {'I', 'R', 'B', 'I', 'S', 'C', 'L', 'F'};

void put_mat(std::string& buf, const cv::Mat& m) {
  const cv::Mat c = m.isContinuous() ? m : m.clone();
  buf.append(reinterpret_cast<const char*>(c.data), c.total() * c.elemSize());
}
}  // namespace

namespace {

nlohmann::json head_header(const ClassifierHead& h) {
  nlohmann::json j;
  j["embedding_model"] = h.embedding_model;
  j["embedding_sha256"] = h.embedding_sha256;
  j["input"] = classifier_input_name(h.input);
  j["dim"] = h.model.dim();
  j["kind"] = "multinomial_logistic_regression";
  j["temperature"] = h.model.temperature;
  if (!h.rff.empty()) j["random_features"] = h.rff.to_json();
  return j;
}

// A head's keys (version 2: one object per head; version 1: the header itself). Throws ModelError
// or a json exception for what is missing or wrong.
ClassifierHead head_from_header(const nlohmann::json& h, const std::string& name, int* dim) {
  ClassifierHead c;
  c.embedding_model = h.at("embedding_model").get<std::string>();
  c.embedding_sha256 = h.value("embedding_sha256", "");
  c.input = parse_classifier_input(h.at("input").get<std::string>());
  *dim = h.at("dim").get<int>();
  // Files written before temperature scaling have none: temperature 1 is what they computed.
  c.model.temperature = h.value("temperature", 1.0);
  if (!(c.model.temperature > 0) || !std::isfinite(c.model.temperature))
    throw ModelError(name + ": classifier file is corrupted (temperature " + std::to_string(c.model.temperature) + ")");
  if (c.input == ClassifierInput::blocks_sqrt_rff) {
    if (!h.contains("random_features"))
      throw ModelError(name + ": classifier file is corrupted (blocks-sqrt-rff without its random features)");
    c.rff = RandomFeatures::from_json(h.at("random_features"));
    if (c.rff.dim != *dim) throw ModelError(name + ": classifier file is corrupted (random features width)");
  }
  return c;
}

}  // namespace

void Classifier::save(const fs::path& file) const {
  IRBIS_THROW_IF_NOT(!heads.empty(), UsageError, "classifier: no head to save");
  nlohmann::json h;
  h["classes"] = classes;
  h["heads"] = nlohmann::json::array();
  for (const auto& head : heads) h["heads"].push_back(head_header(head));
  h["combination"] = "mean of the heads' calibrated probabilities";
  h["report"] = report;
  const std::string js = h.dump();
  std::string buf(kMagic, 8);
  const uint32_t ver = kClassifierFormatVersion, reserved = 0;
  const uint64_t jlen = js.size();
  buf.append(reinterpret_cast<const char*>(&ver), 4);
  buf.append(reinterpret_cast<const char*>(&reserved), 4);
  buf.append(reinterpret_cast<const char*>(&jlen), 8);
  buf += js;
  for (const auto& head : heads) {
    put_mat(buf, head.model.mean);
    put_mat(buf, head.model.scale);
    put_mat(buf, head.model.W);
    put_mat(buf, head.model.b);
  }
  const uint64_t sum = XXH3_64bits(buf.data(), buf.size());
  buf.append(reinterpret_cast<const char*>(&sum), 8);
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(file.string() + ": cannot open for writing");
    out.write(buf.data(), std::streamsize(buf.size()));
    if (!out) throw IoError(file.string() + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw IoError(file.string() + ": " + ec.message());
}

Classifier Classifier::load(const fs::path& file) {
  const std::string name = file.string();
  std::error_code ec;
  // A folder here is most often the collection given where the classifier goes (`predict COLL img`).
  if (fs::is_directory(file, ec))
    throw UsageError(name + ": is a folder, not a classifier file (made by `irbis train --out FILE.clf`)" +
                     (fs::exists(file / "catalog.sqlite", ec) ? "; it is a collection: the classifier comes first, "
                                                               "e.g. `irbis predict MODEL.clf --collection " + name + "`"
                                                             : std::string()));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError(name + ": cannot open the classifier file");
  std::string buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (buf.size() < 32 || std::memcmp(buf.data(), kMagic, 8) != 0)
    throw ModelError(name + ": not an irbis classifier file (made by `irbis train --out`)");
  uint32_t ver = 0;
  std::memcpy(&ver, buf.data() + 8, 4);
  if (ver != 1 && ver != kClassifierFormatVersion)
    throw ModelError(name + ": classifier file format version " + std::to_string(ver) + ", this irbis reads versions 1 to " +
                     std::to_string(kClassifierFormatVersion) + "; retrain with `irbis train`");
  uint64_t sum = 0;
  std::memcpy(&sum, buf.data() + buf.size() - 8, 8);
  if (XXH3_64bits(buf.data(), buf.size() - 8) != sum)
    throw ModelError(name + ": classifier file is corrupted or truncated (checksum mismatch); retrain with `irbis train`");
  uint64_t jlen = 0;
  std::memcpy(&jlen, buf.data() + 16, 8);
  if (jlen > buf.size() - 32) throw ModelError(name + ": classifier file is corrupted (header length)");
  Classifier c;
  std::vector<int> dims;
  int K = 0;
  try {
    const auto h = nlohmann::json::parse(buf.substr(24, jlen));
    c.classes = h.at("classes").get<std::vector<std::string>>();
    c.report = h.value("report", nlohmann::json::object());
    K = int(c.classes.size());
    // Version 1 holds one head, its keys at the top of the header.
    const nlohmann::json heads = ver == 1 ? nlohmann::json::array({h}) : h.at("heads");
    if (!heads.is_array() || heads.empty()) throw ModelError(name + ": classifier file is corrupted (no heads)");
    for (const auto& hh : heads) {
      int D = 0;
      c.heads.push_back(head_from_header(hh, name, &D));
      dims.push_back(D);
    }
  } catch (const Error&) {
    throw ModelError(name + ": classifier file is corrupted (bad header)");
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(name + ": classifier file is corrupted (bad header: " + e.what() + ")");
  }
  size_t need = 24 + jlen + 8;
  for (int D : dims) {
    if (D < 1) throw ModelError(name + ": classifier file is corrupted (sizes)");
    need += sizeof(float) * (size_t(2) * size_t(D) + size_t(K) * size_t(D) + size_t(K));
  }
  if (K < 2 || need != buf.size()) throw ModelError(name + ": classifier file is corrupted (sizes)");
  const char* p = buf.data() + 24 + jlen;
  auto take = [&p](int rows, int cols) {
    cv::Mat m(rows, cols, CV_32F);
    std::memcpy(m.data, p, sizeof(float) * size_t(rows) * size_t(cols));
    p += sizeof(float) * size_t(rows) * size_t(cols);
    return m;
  };
  for (size_t i = 0; i < c.heads.size(); ++i) {
    LogisticModel& m = c.heads[i].model;
    m.mean = take(1, dims[i]);
    m.scale = take(1, dims[i]);
    m.W = take(K, dims[i]);
    m.b = take(1, K);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// what the train and predict commands build on

namespace {

// What one head chose and how: its input with every candidate's CV scores, penalty, temperature.
void add_head_report(nlohmann::json& rep, const TrainResult& tr, const TrainOptions& opts) {
  rep["input"] = classifier_input_name(tr.input);
  rep["input_chosen_by"] = tr.input_cross_validated ? "cross-validation" : "user";
  if (!tr.rff.empty()) rep["random_features"] = tr.rff.to_json();
  if (tr.input_cross_validated) {
    rep["inputs_cv"] = nlohmann::json::array();
    for (const auto& s : tr.input_scores) {
      nlohmann::json path = nlohmann::json::array();
      for (auto& [l2, acc] : s.cv_accuracy) path.push_back({{"l2", l2}, {"accuracy", acc}});
      rep["inputs_cv"].push_back({{"input", classifier_input_name(s.input)}, {"dim", s.dim}, {"l2", s.l2},
                                  {"accuracy", s.accuracy}, {"log_loss", s.log_loss}, {"cv_accuracy", path}});
    }
  }
  rep["cv_folds"] = opts.cv_folds;
  rep["cv_images"] = tr.cv_images;
  rep["l2"] = tr.l2;
  rep["l2_chosen_by"] = opts.l2 < 0 ? "cross-validation" : "user";
  rep["temperature"] = tr.temperature;
  if (tr.calibration.rows > 0)
    rep["calibration"] = {{"method", "temperature scaling on out-of-fold logits of converged fold models"},
                          {"folds", std::max(2, opts.calibration_folds)},
                          {"images", tr.calibration.rows},
                          {"fitted_temperature", tr.calibration.fitted},
                          {"accepted", tr.calibration.accepted},
                          {"rule", "kept when below 1 and it lowers the cross-fitted out-of-fold log-loss"},
                          {"oof_log_loss_uncalibrated", tr.calibration.log_loss_uncalibrated},
                          {"oof_log_loss_cross_fitted", tr.calibration.log_loss_cross_fitted}};
  rep["cv_accuracy"] = nlohmann::json::array();
  for (auto& [l2, acc] : tr.cv_accuracy) rep["cv_accuracy"].push_back({{"l2", l2}, {"accuracy", acc}});
  rep["iterations"] = tr.evaluated_iterations;
  if (tr.refitted) rep["refit_iterations"] = tr.model.iterations;
}

}  // namespace

Classifier make_classifier(const std::vector<ModelCard>& cards, const std::vector<std::string>& classes,
                           const HeadsTrainResult& tr, const TrainOptions& opts, int64_t unlabelled,
                           const nlohmann::json& source) {
  IRBIS_THROW_IF_NOT(!tr.heads.empty() && cards.size() == tr.heads.size(), UsageError,
                     "make_classifier: one model card per head");
  Classifier clf;
  clf.classes = classes;
  for (size_t h = 0; h < cards.size(); ++h) {
    ClassifierHead head;
    head.embedding_model = cards[h].name;
    head.embedding_sha256 = cards[h].onnx_sha256;
    head.input = tr.heads[h].input;
    head.rff = tr.heads[h].rff;
    head.model = tr.heads[h].model;
    clf.heads.push_back(std::move(head));
  }
  const TrainResult& first = tr.heads[0];
  const bool several = tr.heads.size() > 1;
  nlohmann::json rep = source.is_object() ? source : nlohmann::json::object();
  rep["seed"] = opts.seed;
  rep["test_fraction"] = opts.test_fraction;
  rep["class_weights"] = opts.balanced ? "balanced" : "none";
  rep["solver"] = "multinomial logistic regression, L-BFGS (liblbfgs)";
  rep["embedding_model"] = clf.embedding_models_text();
  if (several) {
    rep["input"] = clf.inputs_text();
    rep["combination"] = "mean of the heads' calibrated probabilities";
    rep["heads"] = nlohmann::json::array();
    for (size_t h = 0; h < tr.heads.size(); ++h) {
      nlohmann::json hr = {{"embedding_model", cards[h].name}};
      add_head_report(hr, tr.heads[h], opts);
      hr["train"] = evaluation_json(tr.heads[h].train_eval, classes);
      if (!tr.heads[h].test_rows.empty()) {
        hr["test"] = evaluation_json(tr.heads[h].test_eval, classes);
        hr["test"]["ece"] = tr.heads[h].test_ece;
      }
      rep["heads"].push_back(std::move(hr));
    }
  } else {
    add_head_report(rep, first, opts);
  }
  rep["train_images"] = first.train_rows.size();
  rep["test_images"] = first.test_rows.size();
  rep["unlabelled_images"] = unlabelled;
  rep["saved_model"] = first.refitted ? "refit" : "evaluated";
  rep["saved_model_images"] = first.model_images;
  rep["train"] = evaluation_json(tr.train_eval, classes);
  if (!first.test_rows.empty()) {
    rep["test"] = evaluation_json(tr.test_eval, classes);
    rep["test"]["ece"] = tr.test_ece;
    rep["test"]["ece_uncalibrated"] = tr.test_ece_uncalibrated;
    if (!several && first.test_ece_fitted >= 0) rep["test"]["ece_at_fitted_temperature"] = first.test_ece_fitted;
    rep["test"]["log_loss"] = tr.test_log_loss;
    rep["test"]["log_loss_uncalibrated"] = tr.test_log_loss_uncalibrated;
  }
  rep["seconds"] = several ? tr.seconds : first.seconds;
  clf.report = std::move(rep);
  return clf;
}

Classifier make_classifier(const ModelCard& card, const std::vector<std::string>& classes, const TrainResult& tr,
                           const TrainOptions& opts, int64_t unlabelled, const nlohmann::json& source) {
  return make_classifier(std::vector<ModelCard>{card}, classes, heads_result_of_one(tr), opts, unlabelled, source);
}

std::vector<SuspectLabel> suspect_labels(const cv::Mat& oof_proba, const std::vector<int>& label,
                                         double min_confidence) {
  IRBIS_THROW_IF_NOT(oof_proba.rows == int(label.size()), UsageError,
                     "suspect_labels: one out-of-fold probability row per label");
  const int K = oof_proba.cols;
  std::vector<SuspectLabel> out;
  for (size_t i = 0; i < label.size(); ++i) {
    const int g = label[i];
    if (g < 0) continue;
    const float* p = oof_proba.ptr<float>(int(i));
    const int pred = int(std::max_element(p, p + K) - p);
    if (pred != g && p[pred] >= min_confidence) out.push_back({i, g, pred, p[pred], p[g]});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SuspectLabel& a, const SuspectLabel& b) { return a.confidence > b.confidence; });
  return out;
}

cv::Mat predict_file(const Classifier& clf, ClassifierNetworks& nets, const std::string& path) {
  IRBIS_THROW_IF_NOT(nets.size() == clf.heads.size(), UsageError, "predict: one network per classifier head");
  std::vector<cv::Mat> features;
  for (size_t h = 0; h < clf.heads.size(); ++h) {
    // Each model decodes for its own input size, as `irbis index --model` did for its rows.
    Embedder& embedder = nets[h];
    const cv::Mat rgb = read_rgb(path, embedder.input_size());
    const cv::Mat blocks = embedder.forward_blocks({embedder.preprocess(rgb)});
    features.push_back(clf.heads[h].features_from_blocks(embedder, blocks));
  }
  return clf.predict_proba(features);
}

std::vector<FilePrediction> predict_files(const Classifier& clf, const std::vector<ModelCard>& cards,
                                          const std::vector<std::string>& paths, int workers) {
  std::vector<FilePrediction> out(paths.size());
  if (paths.empty()) return out;
  IRBIS_THROW_IF_NOT(cards.size() == clf.heads.size(), UsageError, "predict: one model card per classifier head");
  for (size_t h = 0; h < cards.size(); ++h) clf.heads[h].check_embedder(cards[h]);
  const int cores = std::max(1, int(std::thread::hardware_concurrency()));
  const int n = std::clamp(workers > 0 ? workers : cores, 1, int(paths.size()));
  // One network per worker; with fewer workers than cores each forward pass gets the spare cores
  // (OpenCV DNN through OpenCV's count, oneDNN through its team size).
  const int saved_threads = cv::getNumThreads();
  cv::setNumThreads(std::max(1, cores / n));
  InferenceOptions inference = default_inference();
  inference.threads = std::max(1, cores / n);
  try {
    std::vector<std::unique_ptr<ClassifierNetworks>> nets;
    for (int w = 0; w < n; ++w)  // one after another
      nets.push_back(std::make_unique<ClassifierNetworks>(cards, inference));
    // A file's own error stays in its row (with its exception, for Python's errors="raise"); any
    // other (a model error) stops every worker.
    parallel_indices(paths.size(), n, [&](int w, size_t i) {
      try {
        out[i].proba = predict_file(clf, *nets[size_t(w)], paths[i]);
      } catch (const IoError& e) {
        out[i].error = e.what();
        out[i].failure = std::current_exception();
      } catch (const DecodeError& e) {
        out[i].error = e.what();
        out[i].failure = std::current_exception();
      }
    });
  } catch (...) {
    cv::setNumThreads(saved_threads);
    throw;
  }
  cv::setNumThreads(saved_threads);
  return out;
}

}  // namespace irbis
