// Stratified splits / folds and classification metrics (accuracy, per-class scores, confusion,
// expected calibration error).
#include <algorithm>
#include <cmath>
#include <random>

#include "irbis/classifier.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

// Fisher-Yates with a fixed generator (std::shuffle's use of the engine is not specified).
void seeded_shuffle(std::vector<int>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(rng() % i)]);
}

std::vector<std::vector<int>> by_class(const std::vector<int>& y, int K) {
  std::vector<std::vector<int>> idx(static_cast<size_t>(K), std::vector<int>{});
  for (size_t i = 0; i < y.size(); ++i)
    if (y[i] >= 0 && y[i] < K) idx[size_t(y[i])].push_back(int(i));
  return idx;
}

}  // namespace

void stratified_split(const std::vector<int>& y, int K, double test_fraction, uint64_t seed,
                      std::vector<int>& train, std::vector<int>& test) {
  IRBIS_THROW_IF_NOT(test_fraction >= 0 && test_fraction < 1, UsageError, "test fraction must be in [0, 1)");
  train.clear();
  test.clear();
  std::mt19937_64 rng(seed);
  for (auto& idx : by_class(y, K)) {
    seeded_shuffle(idx, rng);
    const int n = int(idx.size());
    int nt = int(std::lround(test_fraction * n));
    if (test_fraction > 0 && n >= 2) nt = std::max(nt, 1);
    nt = std::min(nt, n - 1);
    if (nt < 0) nt = 0;
    test.insert(test.end(), idx.begin(), idx.begin() + nt);
    train.insert(train.end(), idx.begin() + nt, idx.end());
  }
  std::sort(train.begin(), train.end());
  std::sort(test.begin(), test.end());
}

std::vector<int> stratified_folds(const std::vector<int>& y, int K, int k, uint64_t seed) {
  IRBIS_THROW_IF_NOT(k >= 2, UsageError, "need at least two folds");
  std::vector<int> fold(y.size(), -1);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  int offset = 0;  // continue the round robin across classes so folds stay balanced in size
  for (auto& idx : by_class(y, K)) {
    seeded_shuffle(idx, rng);
    for (size_t j = 0; j < idx.size(); ++j) fold[size_t(idx[j])] = int((j + size_t(offset)) % size_t(k));
    offset += int(idx.size());
  }
  return fold;
}

std::vector<int> argmax_rows(const cv::Mat& proba) {
  std::vector<int> out(static_cast<size_t>(proba.rows));
  for (int i = 0; i < proba.rows; ++i) {
    const float* p = proba.ptr<float>(i);
    out[size_t(i)] = int(std::max_element(p, p + proba.cols) - p);
  }
  return out;
}

Evaluation evaluate(const std::vector<int>& truth, const std::vector<int>& pred, int K) {
  IRBIS_THROW_IF_NOT(truth.size() == pred.size(), UsageError, "evaluate: sizes differ");
  Evaluation e;
  e.confusion = cv::Mat::zeros(K, K, CV_32S);
  int correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    e.confusion.at<int>(truth[i], pred[i])++;
    correct += truth[i] == pred[i];
  }
  e.accuracy = truth.empty() ? 0 : double(correct) / double(truth.size());
  e.per_class.resize(size_t(K));
  double recall_sum = 0;
  int present = 0;
  for (int c = 0; c < K; ++c) {
    int tp = e.confusion.at<int>(c, c), row = 0, col = 0;
    for (int j = 0; j < K; ++j) {
      row += e.confusion.at<int>(c, j);
      col += e.confusion.at<int>(j, c);
    }
    auto& s = e.per_class[size_t(c)];
    s.support = row;
    s.precision = col ? double(tp) / col : 0;
    s.recall = row ? double(tp) / row : 0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0;
    if (row) {
      recall_sum += s.recall;
      ++present;
    }
  }
  e.balanced_accuracy = present ? recall_sum / present : 0;
  return e;
}

nlohmann::json evaluation_json(const Evaluation& e, const std::vector<std::string>& classes) {
  nlohmann::json j;
  j["accuracy"] = e.accuracy;
  j["balanced_accuracy"] = e.balanced_accuracy;
  j["per_class"] = nlohmann::json::array();
  for (size_t c = 0; c < e.per_class.size(); ++c) {
    const auto& s = e.per_class[c];
    j["per_class"].push_back({{"class", classes[c]}, {"precision", s.precision}, {"recall", s.recall},
                              {"f1", s.f1}, {"support", s.support}});
  }
  nlohmann::json m = nlohmann::json::array();
  for (int r = 0; r < e.confusion.rows; ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (int c = 0; c < e.confusion.cols; ++c) row.push_back(e.confusion.at<int>(r, c));
    m.push_back(row);
  }
  j["confusion"] = m;
  return j;
}

Evaluation evaluation_from_json(const nlohmann::json& j, const std::vector<std::string>& classes) {
  const size_t K = classes.size();
  Evaluation e;
  try {
    e.accuracy = j.at("accuracy").get<double>();
    e.balanced_accuracy = j.value("balanced_accuracy", 0.0);
    const auto& pc = j.at("per_class");
    const auto& cm = j.at("confusion");
    if (!pc.is_array() || pc.size() != K || !cm.is_array() || cm.size() != K)
      throw ModelError("evaluation of " + std::to_string(pc.size()) + " classes, expected " + std::to_string(K));
    e.confusion = cv::Mat::zeros(int(K), int(K), CV_32S);
    for (size_t c = 0; c < K; ++c) {
      if (pc[c].at("class").get<std::string>() != classes[c])
        throw ModelError("per-class scores out of order at '" + classes[c] + "'");
      e.per_class.push_back({pc[c].at("precision").get<double>(), pc[c].at("recall").get<double>(),
                             pc[c].at("f1").get<double>(), pc[c].at("support").get<int>()});
      if (!cm[c].is_array() || cm[c].size() != K)
        throw ModelError("confusion matrix is not " + std::to_string(K) + " x " + std::to_string(K));
      for (size_t p = 0; p < K; ++p) e.confusion.at<int>(int(c), int(p)) = cm[c][p].get<int>();
    }
  } catch (const nlohmann::json::exception& x) {
    throw ModelError(std::string("malformed evaluation: ") + x.what());
  }
  return e;
}

double expected_calibration_error(const cv::Mat& proba, const std::vector<int>& truth, int bins) {
  IRBIS_THROW_IF_NOT(proba.type() == CV_32F && proba.rows == int(truth.size()), UsageError,
                     "expected_calibration_error: one probability row per label");
  IRBIS_THROW_IF_NOT(bins >= 1, UsageError, "expected_calibration_error: need at least one bin");
  if (proba.rows == 0) return 0;
  std::vector<double> conf(size_t(bins), 0.0), hits(size_t(bins), 0.0), count(size_t(bins), 0.0);
  for (int i = 0; i < proba.rows; ++i) {
    const float* p = proba.ptr<float>(i);
    const int pred = int(std::max_element(p, p + proba.cols) - p);
    const double top = p[pred];
    const int bin = std::clamp(int(std::floor(top * bins)), 0, bins - 1);
    conf[size_t(bin)] += top;
    hits[size_t(bin)] += pred == truth[size_t(i)] ? 1.0 : 0.0;
    count[size_t(bin)] += 1;
  }
  double ece = 0;
  for (size_t b = 0; b < size_t(bins); ++b)
    if (count[b] > 0) ece += std::fabs(hits[b] - conf[b]) / double(proba.rows);  // (n_b / n) |acc_b - conf_b|
  return ece;
}

}  // namespace irbis
