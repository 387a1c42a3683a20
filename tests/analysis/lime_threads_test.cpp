// explain_image shares LIME's batches between one single-threaded network per core (docs/models.md,
// "Threads"): the weights are those of one network scoring every sample, and no thread (an OpenMP
// pool, a scoring worker) is left behind beyond OpenCV's own pool, which a short explain starts first.
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "irbis/classifier.h"
#include "irbis/lime.h"
#include "irbis/model.h"
#include "test_util.h"

using namespace irbis;

namespace {

// A two-class classifier on the full descriptor with fixed random weights: its scores move with
// the picture, which is all LIME needs here.
Classifier random_classifier(const ModelCard& card) {
  Classifier c;
  c.embedding_model = card.name;
  c.input = ClassifierInput::full;
  c.classes = {"a", "b"};
  const int d = card.descriptor_dim();
  c.model.mean = cv::Mat::zeros(1, d, CV_32F);
  c.model.scale = cv::Mat::ones(1, d, CV_32F);
  c.model.W.create(2, d, CV_32F);
  cv::RNG rng(7);
  rng.fill(c.model.W, cv::RNG::NORMAL, 0.0, 3.0);
  c.model.b = cv::Mat::zeros(1, 2, CV_32F);
  return c;
}

TEST(LimeThreads, SharedBatchesGiveTheWeightsOfOneNetworkAndLeaveNoThread) {
  const ModelCard card = find_model(kDefaultModel);
  const Classifier clf = random_classifier(card);
  const cv::Mat rgb = test::synthetic_photo(320, 240, 11);
  LimeOptions opts;
  opts.samples = 64;  // enough for the copies (>= 64)
  opts.superpixels = 16;
  opts.seed = 5;
  int calls = 0, last = 0;
  bool monotonic = true;
  opts.progress = [&](int done, int total) {
    monotonic &= done > last && total == opts.samples;
    last = done;
    ++calls;
  };
  Embedder one(card, {InferenceEngine::onednn, Precision::automatic, 1});
  {  // below 64 samples one network scores: OpenCV's own pool (SLIC, resizes) starts here, once
    LimeOptions few = opts;
    few.samples = 16;
    few.progress = nullptr;
    (void)explain_image(rgb, one, clf, few);
  }
  const int threads_before = test::process_threads();
  const LimeResult shared = explain_image(rgb, one, clf, opts);
  EXPECT_EQ(test::process_threads(), threads_before) << "threads left behind by explain";
  EXPECT_EQ(calls, (opts.samples + opts.batch - 1) / opts.batch);
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(last, opts.samples);

  opts.progress = nullptr;
  Embedder team(card, {InferenceEngine::onednn, one.precision(), 2});  // one network scores every sample
  const LimeResult single = explain_image(rgb, team, clf, opts);
  ASSERT_EQ(shared.superpixels.size(), single.superpixels.size());
  double spread = 0;
  for (const auto& s : single.superpixels) spread = std::max(spread, std::abs(s.weight));
  ASSERT_GT(spread, 0.0);
  for (size_t i = 0; i < shared.superpixels.size(); ++i)
    EXPECT_NEAR(shared.superpixels[i].weight, single.superpixels[i].weight, 1e-4 * spread) << "superpixel " << i;
  EXPECT_EQ(shared.target, single.target);
}

}  // namespace
