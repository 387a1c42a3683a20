// A classifier of two heads (mobilenet_v2_mid + inception_v3) on a small generated collection
// indexed with both models: `train`'s default takes every model indexed, and the classifier's
// probabilities are the mean of its heads' (from the collection and from files).
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/classifier.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/errors.h"
#include "irbis/labels.h"
#include "irbis/model.h"
#include "irbis/pipeline.h"
#include "test_util.h"

using namespace irbis;
namespace fs = std::filesystem;

namespace {

// A noisy checkerboard or a noisy flat colour, 96 x 96 BGR.
cv::Mat class_image(std::mt19937& rng, bool checker) {
  std::uniform_int_distribution<int> colour(40, 215), cell(8, 16);
  cv::Mat img(96, 96, CV_8UC3, cv::Scalar(colour(rng), colour(rng), colour(rng)));
  if (checker) {
    const int c = cell(rng);
    const cv::Scalar ink(colour(rng), colour(rng), colour(rng));
    for (int y = 0; y < img.rows; y += c)
      for (int x = (y / c) % 2 ? c : 0; x < img.cols; x += 2 * c) cv::rectangle(img, cv::Rect(x, y, c, c), ink, -1);
  }
  cv::Mat noise(img.size(), CV_8UC3);
  cv::randu(noise, 0, 24);
  return img + noise;
}

bool installed(const std::string& model) {
  try {
    find_model(model);
    return true;
  } catch (const ModelError&) {
    return false;
  }
}

}  // namespace

TEST(ClassifierHeads, TwoModelsPredictTheMeanOfTheirHeads) {
  for (const char* m : {"mobilenet_v2_mid", "inception_v3"})
    if (!installed(m)) GTEST_SKIP() << m << " not installed (./setup.sh imports it)";
  test::TempDir tmp("heads");
  std::mt19937 rng(5);
  for (const char* cls : {"checker", "plain"}) {
    fs::create_directories(tmp / "pics" / cls);
    for (int i = 0; i < 8; ++i)
      cv::imwrite((tmp / "pics" / cls / (std::to_string(i) + ".png")).string(), class_image(rng, cls[0] == 'c'));
  }
  fs::create_directories(tmp / "new");
  const std::string new_file = (tmp / "new" / "c.png").string();
  cv::imwrite(new_file, class_image(rng, true));

  auto coll = Collection::open_or_create(tmp / "c.irbis");
  EXPECT_EQ(classifier_models(*coll), std::vector<std::string>{kDefaultModel});  // nothing indexed yet
  for (const char* model : {"inception_v3", "mobilenet_v2_mid"}) {
    IndexParams p;
    p.roots = {(tmp / "pics").string()};
    p.model = model;
    index_collection(*coll, p);
  }
  // Every model indexed, the default one first (one head per model).
  const std::vector<std::string> models = classifier_models(*coll);
  ASSERT_EQ(models, (std::vector<std::string>{"mobilenet_v2_mid", "inception_v3"}));

  const ClassifierHeadInputs in = load_classifier_head_inputs(*coll, models);
  ASSERT_EQ(in.heads.size(), 2u);
  ASSERT_EQ(in.records.size(), 16u);
  const LabelSet labels = load_labels("folders", in.records);
  TrainOptions opts;
  opts.test_fraction = 0.25;
  opts.out_of_fold = true;
  const HeadsTrainResult tr = train_classifier_heads(in.heads, labels.label, labels.classes, opts);
  ASSERT_EQ(tr.heads.size(), 2u);
  EXPECT_EQ(tr.heads[0].test_rows, tr.heads[1].test_rows);  // one split for every head
  const Classifier clf = make_classifier(in.cards, labels.classes, tr, opts, 0, {});
  EXPECT_EQ(clf.embedding_models_text(), "mobilenet_v2_mid,inception_v3");
  ASSERT_EQ(clf.report["heads"].size(), 2u);
  EXPECT_EQ(clf.report["heads"][1]["embedding_model"], "inception_v3");
  EXPECT_EQ(clf.report["test_images"], 4);
  EXPECT_GE(clf.report["test"]["accuracy"].get<double>(), 0.75);

  // The classifier's evaluation is that of the mean of the heads' test probabilities.
  const cv::Mat mean_test = (softmax_rows(tr.heads[0].test_logits, tr.heads[0].temperature) +
                             softmax_rows(tr.heads[1].test_logits, tr.heads[1].temperature)) / 2;
  std::vector<int> truth;
  for (int r : tr.heads[0].test_rows) truth.push_back(labels.label[size_t(r)]);
  EXPECT_EQ(tr.test_eval.accuracy, evaluate(truth, argmax_rows(mean_test), 2).accuracy);
  EXPECT_NEAR(tr.test_ece, expected_calibration_error(mean_test, truth), 1e-9);
  // Out-of-fold probabilities (suspects) are the heads' mean too.
  EXPECT_LT(cv::norm(tr.oof_proba, (tr.heads[0].oof_proba + tr.heads[1].oof_proba) / 2, cv::NORM_INF), 1e-6);

  // Saved and loaded: both heads; on the collection, the mean of each head alone. The generated
  // classes are easy (both heads near 0 or 1), so head 2 is made much softer here: a classifier
  // that read one head only, or did not average, is then far from the mean.
  clf.save(tmp / "two.clf");
  Classifier back = Classifier::load(tmp / "two.clf");
  back.heads[1].model.temperature *= 1000;
  const std::vector<ModelCard> cards = back.cards();
  const CollectionPredictions both = predict_collection(back, cards, *coll);
  ASSERT_EQ(both.records.size(), 16u);
  cv::Mat sum = cv::Mat::zeros(16, 2, CV_32F);
  for (size_t h = 0; h < 2; ++h) {
    Classifier one;
    one.heads = {back.heads[h]};
    one.classes = back.classes;
    const CollectionPredictions alone = predict_collection(one, {cards[h]}, *coll);
    sum += alone.proba;
    EXPECT_GT(cv::norm(alone.proba, both.proba, cv::NORM_INF), 1e-4);  // each head alone differs
  }
  EXPECT_LT(cv::norm(both.proba, sum / 2, cv::NORM_INF), 1e-6);

  // A file is embedded with each head's model; its probabilities are the mean of the heads' and
  // match the stored rows of the same image (same decode and embedding as index).
  ClassifierNetworks nets(cards);
  const cv::Mat p = predict_file(back, nets, new_file);
  cv::Mat heads_mean = cv::Mat::zeros(1, 2, CV_32F);
  for (size_t h = 0; h < 2; ++h) {
    Classifier one;
    one.heads = {back.heads[h]};
    one.classes = back.classes;
    ClassifierNetworks net({cards[h]});
    heads_mean += predict_file(one, net, new_file) / 2;
  }
  EXPECT_LT(cv::norm(p, heads_mean, cv::NORM_INF), 1e-5);
  EXPECT_GT(p.at<float>(0, 0), 0.5f);  // checker
  const std::string stored = both.records[0].path;
  const std::vector<FilePrediction> files = predict_files(back, cards, {stored, (tmp / "missing.png").string()});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_LT(cv::norm(files[0].proba, both.proba.row(0), cv::NORM_INF), 2e-3);
  EXPECT_NE(files[1].error.find("missing.png"), std::string::npos);

  // A collection that lacks one head's model says which and how to add it.
  auto only_one = Collection::open_or_create(tmp / "one.irbis");
  IndexParams p1;
  p1.roots = {(tmp / "pics").string()};
  p1.model = "mobilenet_v2_mid";
  index_collection(*only_one, p1);
  try {
    predict_collection(back, cards, *only_one);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--model inception_v3"), std::string::npos) << e.what();
  }
}

TEST(ClassifierHeads, ModelLists) {
  EXPECT_EQ(parse_model_list("a,b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_model_list("a"), std::vector<std::string>{"a"});
  EXPECT_THROW(parse_model_list("a,,b"), UsageError);
  EXPECT_THROW(parse_model_list("a,a"), UsageError);
  EXPECT_THROW(parse_model_list(""), UsageError);
}
