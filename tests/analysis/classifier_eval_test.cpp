#include <gtest/gtest.h>

#include <algorithm>

#include "irbis/classifier.h"
#include "irbis/errors.h"

using namespace irbis;

TEST(ClassifierEval, StratifiedSplitIsSeededAndKeepsProportions) {
  std::vector<int> y;
  for (int i = 0; i < 100; ++i) y.push_back(i % 10 < 7 ? 0 : 1);  // 70 / 30
  y.push_back(2);
  y.push_back(2);  // a class of two: one each side
  std::vector<int> tr, te, tr2, te2;
  stratified_split(y, 3, 0.3, 1, tr, te);
  stratified_split(y, 3, 0.3, 1, tr2, te2);
  EXPECT_EQ(te, te2);
  int c[3] = {0, 0, 0};
  for (int i : te) ++c[y[size_t(i)]];
  EXPECT_EQ(c[0], 21);
  EXPECT_EQ(c[1], 9);
  EXPECT_EQ(c[2], 1);
  EXPECT_EQ(tr.size() + te.size(), y.size());
  stratified_split(y, 3, 0.3, 2, tr2, te2);
  EXPECT_NE(te, te2);
}

TEST(ClassifierEval, FoldsAreBalanced) {
  std::vector<int> y(90);
  for (int i = 0; i < 90; ++i) y[size_t(i)] = i % 3;
  const auto f = stratified_folds(y, 3, 3, 4);
  int cnt[3][3] = {};
  for (size_t i = 0; i < y.size(); ++i) ++cnt[f[i]][y[i]];
  for (auto& row : cnt)
    for (int v : row) EXPECT_EQ(v, 10);
}

TEST(ClassifierEval, MetricsByHand) {
  // truth 0 0 0 1 1 2, pred 0 0 1 1 1 0
  const Evaluation e = evaluate({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 1, 0}, 3);
  EXPECT_NEAR(e.accuracy, 4.0 / 6, 1e-12);
  EXPECT_NEAR(e.per_class[0].precision, 2.0 / 3, 1e-12);
  EXPECT_NEAR(e.per_class[0].recall, 2.0 / 3, 1e-12);
  EXPECT_NEAR(e.per_class[1].precision, 2.0 / 3, 1e-12);
  EXPECT_NEAR(e.per_class[1].recall, 1.0, 1e-12);
  EXPECT_NEAR(e.per_class[1].f1, 0.8, 1e-12);
  EXPECT_EQ(e.per_class[2].f1, 0.0);
  EXPECT_EQ(e.confusion.at<int>(2, 0), 1);
  EXPECT_NEAR(e.balanced_accuracy, (2.0 / 3 + 1 + 0) / 3, 1e-12);
}

TEST(ClassifierEval, EvaluationJsonRoundTrips) {
  const std::vector<std::string> classes{"a", "b", "c"};
  const Evaluation e = evaluate({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 1, 0}, 3);
  const Evaluation back = evaluation_from_json(evaluation_json(e, classes), classes);
  EXPECT_EQ(back.accuracy, e.accuracy);
  EXPECT_EQ(back.balanced_accuracy, e.balanced_accuracy);
  ASSERT_EQ(back.per_class.size(), 3u);
  EXPECT_EQ(back.per_class[1].f1, e.per_class[1].f1);
  EXPECT_EQ(back.per_class[2].support, 1);
  EXPECT_EQ(cv::countNonZero(back.confusion != e.confusion), 0);
  // Another class list, or a damaged report, is refused rather than misread.
  EXPECT_THROW(evaluation_from_json(evaluation_json(e, classes), {"a", "b"}), ModelError);
  EXPECT_THROW(evaluation_from_json(evaluation_json(e, classes), {"a", "x", "c"}), ModelError);
  auto j = evaluation_json(e, classes);
  j["confusion"][1] = {1, 2};
  EXPECT_THROW(evaluation_from_json(j, classes), ModelError);
  EXPECT_THROW(evaluation_from_json(nlohmann::json::object(), classes), ModelError);
}

TEST(ClassifierEval, TrainRefusesBadLabels) {
  cv::Mat X(6, 3, CV_32F, cv::Scalar(1));
  EXPECT_THROW(train_classifier(X, {0, 0, 0, 0, 0, 0}, {"a"}, {}), UsageError);
  try {
    train_classifier(X, {0, 0, 0, 0, 0, 1}, {"a", "lonely"}, {});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("lonely"), std::string::npos);
  }
}
