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

// A two-class head on the full descriptor with fixed random weights: its scores move with the
// picture, which is all LIME needs here.
ClassifierHead random_head(const ModelCard& card, uint64_t seed) {
  ClassifierHead h;
  h.embedding_model = card.name;
  h.input = ClassifierInput::full;
  const int d = card.descriptor_dim();
  h.model.mean = cv::Mat::zeros(1, d, CV_32F);
  h.model.scale = cv::Mat::ones(1, d, CV_32F);
  h.model.W.create(2, d, CV_32F);
  cv::RNG rng(seed);
  rng.fill(h.model.W, cv::RNG::NORMAL, 0.0, 3.0);
  h.model.b = cv::Mat::zeros(1, 2, CV_32F);
  return h;
}

Classifier random_classifier(const ModelCard& card, int heads = 1) {
  Classifier c;
  for (int h = 0; h < heads; ++h) c.heads.push_back(random_head(card, 7 + uint64_t(h)));
  c.classes = {"a", "b"};
  return c;
}

InferenceOptions one_thread() { return {InferenceEngine::onednn, Precision::automatic, 1}; }

// Per-core copies and one team-threaded set give the same superpixel weights (within 1e-4 of the
// largest, which must not be 0).
void expect_same_weights(const LimeResult& shared, const LimeResult& single) {
  ASSERT_EQ(shared.superpixels.size(), single.superpixels.size());
  double spread = 0;
  for (const auto& s : single.superpixels) spread = std::max(spread, std::abs(s.weight));
  ASSERT_GT(spread, 0.0);
  for (size_t i = 0; i < shared.superpixels.size(); ++i)
    EXPECT_NEAR(shared.superpixels[i].weight, single.superpixels[i].weight, 1e-4 * spread) << "superpixel " << i;
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
  ClassifierNetworks one({card}, one_thread());
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
  // One network scores every sample.
  ClassifierNetworks team({card}, {InferenceEngine::onednn, one[0].precision(), 2});
  const LimeResult single = explain_image(rgb, team, clf, opts);
  ASSERT_NO_FATAL_FAILURE(expect_same_weights(shared, single));
  EXPECT_EQ(shared.target, single.target);
}

// Two heads: every per-core copy holds both networks; the weights are those of one team-threaded
// set, and the probabilities the mean of each head's own.
TEST(LimeThreads, TwoHeadsSharedBatchesAverageTheHeads) {
  const ModelCard card = find_model(kDefaultModel);
  Classifier clf = random_classifier(card, 2);
  clf.heads[1].model.W *= 1e-3;  // softened: its probabilities differ from head 1's, so a mean shows
  const cv::Mat rgb = test::synthetic_photo(320, 240, 12);
  LimeOptions opts;
  opts.samples = 64;
  opts.superpixels = 16;
  opts.seed = 5;
  ClassifierNetworks two({card, card}, one_thread());
  ASSERT_TRUE(two.single_threaded_onednn());
  const LimeResult shared = explain_image(rgb, two, clf, opts);
  ClassifierNetworks team({card, card}, {InferenceEngine::onednn, two[0].precision(), 2});
  ASSERT_FALSE(team.single_threaded_onednn());
  const LimeResult single = explain_image(rgb, team, clf, opts);
  ASSERT_NO_FATAL_FAILURE(expect_same_weights(shared, single));

  // The explained image's probabilities: the mean of the two heads explained alone.
  std::vector<float> mean(2, 0.f), head_p0(2, 0.f);
  for (size_t h = 0; h < 2; ++h) {
    Classifier alone = clf;
    alone.heads = {clf.heads[h]};
    ClassifierNetworks net({card}, one_thread());
    LimeOptions few = opts;
    few.samples = 16;  // the first sample shows the whole image
    const LimeResult r = explain_image(rgb, net, alone, few);
    for (size_t k = 0; k < 2; ++k) mean[k] += r.proba[k] / 2;
    head_p0[h] = r.proba[0];
  }
  ASSERT_EQ(shared.proba.size(), 2u);
  EXPECT_GT(std::abs(head_p0[0] - head_p0[1]), 1e-3f) << "the heads agree: the mean would not show";
  for (size_t k = 0; k < 2; ++k) EXPECT_NEAR(shared.proba[k], mean[k], 1e-4) << "class " << k;
}

}  // namespace
