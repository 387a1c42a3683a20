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

TEST(ClassifierEval, SuspectLabelsByHand) {
  // Out-of-fold probabilities of 4 rows, 2 classes: row 1 (label 0) is predicted 1 at 0.9, row 2
  // (label 1) predicted 0 at only 0.7, row 3 is unlabelled.
  const cv::Mat p = (cv::Mat_<float>(4, 2) << 0.8f, 0.2f, 0.1f, 0.9f, 0.7f, 0.3f, 0.0f, 1.0f);
  auto s = suspect_labels(p, {0, 0, 1, -1}, 0.65);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].row, 1u);  // most confident first
  EXPECT_EQ(s[0].label, 0);
  EXPECT_EQ(s[0].predicted, 1);
  EXPECT_FLOAT_EQ(s[0].confidence, 0.9f);
  EXPECT_FLOAT_EQ(s[0].p_label, 0.1f);
  EXPECT_EQ(s[1].row, 2u);
  EXPECT_EQ(suspect_labels(p, {0, 0, 1, -1}, 0.8).size(), 1u);
  EXPECT_THROW(suspect_labels(p, {0, 1}, 0.5), UsageError);
}

TEST(ClassifierEval, MakeClassifierReport) {
  TrainResult tr;
  tr.l2 = 0.1;
  tr.cv_accuracy = {{0.01, 0.5}, {0.1, 0.75}};
  tr.train_rows = {0, 1, 2};
  tr.test_rows = {3};
  tr.train_eval = evaluate({0, 1, 1}, {0, 1, 0}, 2);
  tr.test_eval = evaluate({1}, {1}, 2);
  tr.model.W = cv::Mat(2, 4, CV_32F, cv::Scalar(0));
  ModelCard card;
  card.name = "m";
  card.onnx_sha256 = "abc";
  TrainOptions opts;
  opts.seed = 7;
  tr.input = ClassifierInput::blocks;
  tr.input_cross_validated = true;
  tr.input_scores = {{ClassifierInput::full, 4, 0.1, 0.5, {{0.1, 0.5}}}, {ClassifierInput::blocks, 4, 0.1, 0.75, {{0.1, 0.75}}}};
  tr.refitted = true;
  tr.model_images = 4;
  tr.test_ece = 0.125;
  const Classifier c = make_classifier(card, {"a", "b"}, tr, opts, 5, {{"labels", "folders"}});
  ASSERT_EQ(c.heads.size(), 1u);
  EXPECT_EQ(c.heads[0].embedding_model, "m");
  EXPECT_EQ(c.heads[0].embedding_sha256, "abc");
  EXPECT_EQ(c.heads[0].input, ClassifierInput::blocks);
  EXPECT_FALSE(c.report.contains("heads"));  // one head: its choices at the top, as before
  EXPECT_EQ(c.classes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.report["labels"], "folders");
  EXPECT_EQ(c.report["seed"], 7);
  EXPECT_EQ(c.report["l2_chosen_by"], "cross-validation");
  EXPECT_EQ(c.report["cv_accuracy"].size(), 2u);
  EXPECT_EQ(c.report["unlabelled_images"], 5);
  EXPECT_EQ(c.report["train_images"], 3);
  EXPECT_NEAR(c.report["train"]["accuracy"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_EQ(c.report["test"]["accuracy"], 1.0);
  EXPECT_EQ(c.report["test"]["ece"], 0.125);
  EXPECT_EQ(c.report["input"], "blocks");
  EXPECT_EQ(c.report["input_chosen_by"], "cross-validation");
  ASSERT_EQ(c.report["inputs_cv"].size(), 2u);
  EXPECT_EQ(c.report["inputs_cv"][0]["input"], "full");
  EXPECT_EQ(c.report["inputs_cv"][1]["accuracy"], 0.75);
  EXPECT_EQ(c.report["saved_model"], "refit");
  EXPECT_EQ(c.report["saved_model_images"], 4);
  tr.test_rows.clear();
  tr.input = ClassifierInput::full;
  tr.input_cross_validated = false;
  tr.refitted = false;
  tr.model_images = 3;
  opts.l2 = 0.5;
  const Classifier d = make_classifier(card, {"a", "b"}, tr, opts, 0, {});
  EXPECT_FALSE(d.report.contains("test"));
  EXPECT_FALSE(d.report.contains("inputs_cv"));
  EXPECT_EQ(d.heads[0].input, ClassifierInput::full);
  EXPECT_EQ(d.report["l2_chosen_by"], "user");
  EXPECT_EQ(d.report["input_chosen_by"], "user");
  EXPECT_EQ(d.report["saved_model"], "evaluated");
  EXPECT_EQ(d.report["saved_model_images"], 3);
}
