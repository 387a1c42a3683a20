// Accuracy gates of the oneDNN engine (src/models/onednn_engine.cpp). The fp32 gate against
// nsfwjs's own outputs is in model_reference_test.cpp (every model, both engines); here: bf16
// against fp32 on real photos from Debian packages, the automatic choices, and the fallback to
// OpenCV DNN for operators the engine does not cover. Needs ./setup.sh's imported models and the
// opencv-doc / python3-skimage / python3-sklearn sample photos (setup.sh installs them): the
// gates fail, never skip, without them.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/collection_layout.h"
#include "irbis/model.h"
#include "models/ir.h"
#include "models/onednn_engine.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kModelDir = fs::path(IRBIS_SOURCE_DIR) / "models" / "onnx";

// Every photo of the Debian sample folders (sorted, so the set is fixed), as 8-bit RGB. Each also
// gives a second view, its mirrored central 60 % crop, so the gate sees about 240 inputs.
std::vector<cv::Mat> debian_photos_rgb() {
  std::vector<fs::path> files;
  for (const char* dir : {"/usr/share/doc/opencv-doc/examples/data", "/usr/lib/python3/dist-packages/skimage/data",
                          "/usr/lib/python3/dist-packages/sklearn/datasets/images"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<cv::Mat> out;
  for (const auto& f : files) {
    cv::Mat bgr = cv::imread(f.string(), cv::IMREAD_COLOR);
    if (bgr.empty() || bgr.cols < 64 || bgr.rows < 64) continue;  // icons, masks, tiny patterns
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    out.push_back(rgb);
    cv::Rect crop(rgb.cols / 5, rgb.rows / 5, rgb.cols * 3 / 5, rgb.rows * 3 / 5);
    cv::Mat view;
    cv::flip(rgb(crop), view, 1);
    out.push_back(view);
  }
  return out;
}

irbis::ModelCard default_card() { return irbis::find_model(irbis::kDefaultModel, kModelDir); }

// The photos preprocessed for the default model once (both engines share the preprocessing).
const std::vector<cv::Mat>& debian_inputs() {
  static const std::vector<cv::Mat> inputs = [] {
    irbis::Embedder e(default_card(), {irbis::InferenceEngine::opencv, irbis::Precision::fp32});
    std::vector<cv::Mat> v;
    for (const auto& rgb : debian_photos_rgb()) v.push_back(e.preprocess(rgb));
    return v;
  }();
  return inputs;
}

// One thread per forward pass while a gate runs: a 2-thread OpenMP team spins at every layer's
// barrier when the machine is busy (BENCHMARKS.md), which made the gates 10x slower under load.
struct SingleThreaded {
  int before = cv::getNumThreads();
  SingleThreaded() { cv::setNumThreads(1); }
  ~SingleThreaded() { cv::setNumThreads(before); }
};

struct CosineStats {
  double median = 0, min = 0;
  size_t n = 0;
};

CosineStats descriptor_agreement(irbis::Embedder& a, irbis::Embedder& b, const std::vector<cv::Mat>& inputs,
                                 size_t limit = SIZE_MAX) {
  std::vector<double> cos;
  for (size_t i = 0; i < inputs.size() && i < limit; ++i) {
    cv::Mat da = a.descriptor_from_blocks(a.forward_blocks({inputs[i]}));
    cv::Mat db = b.descriptor_from_blocks(b.forward_blocks({inputs[i]}));
    cos.push_back(da.dot(db));
  }
  std::sort(cos.begin(), cos.end());
  return {cos[cos.size() / 2], cos.front(), cos.size()};
}

}  // namespace

TEST(OnednnEngine, DefaultModelRunsOnOnednnAndMatchesOpencv) {
  SingleThreaded one_thread;
  irbis::ModelCard card = default_card();
  irbis::Embedder dnnl(card, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
  irbis::Embedder ocv(card, {irbis::InferenceEngine::opencv, irbis::Precision::automatic});
  EXPECT_EQ(dnnl.inference_tag(), "onednn/fp32");
  EXPECT_EQ(ocv.inference_tag(), "opencv/fp32");
  const std::vector<cv::Mat>& photos = debian_inputs();
  ASSERT_GE(photos.size(), 200u) << "opencv-doc / python3-skimage sample photos missing (./setup.sh installs them)";
  // Blocks and outputs (the classifier) of both engines agree to float rounding.
  std::vector<cv::Mat> inputs;
  for (size_t i = 0; i < 6; ++i) inputs.push_back(photos[i * 7]);
  std::vector<cv::Mat> out_a, out_b;
  cv::Mat ba = dnnl.forward_blocks(inputs, &out_a), bb = ocv.forward_blocks(inputs, &out_b);
  ASSERT_EQ(ba.size, bb.size);
  double max_abs = cv::norm(bb, cv::NORM_INF);
  EXPECT_LE(cv::norm(ba, bb, cv::NORM_INF), 1e-4 * std::max(1.0, max_abs));
  ASSERT_EQ(out_a.size(), out_b.size());
  for (size_t o = 0; o < out_a.size(); ++o) EXPECT_LE(cv::norm(out_a[o], out_b[o], cv::NORM_INF), 1e-5);
  CosineStats s = descriptor_agreement(dnnl, ocv, photos, 40);  // OpenCV DNN is the slow one
  std::cout << "[ gate ] onednn fp32 vs opencv fp32 descriptor cosine over " << s.n << " photos: median " << s.median
            << ", min " << s.min << "\n";
  EXPECT_GE(s.min, 0.99999);
  EXPECT_TRUE(irbis::inference_interchangeable(dnnl.inference_tag(), ocv.inference_tag()));
}

// The bf16 gate: descriptor cosine to fp32 on real photos, median >= 0.999 and min >= 0.99. On a
// CPU without native bf16 the engine would only emulate it: then auto must not choose it.
TEST(OnednnEngine, Bf16GateOnDebianPhotos) {
  SingleThreaded one_thread;
  irbis::ModelCard card = default_card();
  if (!irbis::onednn::cpu_has_native_bf16()) {
    EXPECT_EQ(irbis::best_precision(), irbis::Precision::fp32) << "auto must not pick emulated bf16";
    std::cout << "[ gate ] no native bf16 on this CPU (" << irbis::inference_isa() << "): auto stays fp32\n";
    return;
  }
  EXPECT_EQ(irbis::best_precision(), irbis::Precision::bf16);
  EXPECT_EQ(irbis::auto_precision(card), irbis::Precision::bf16);
  irbis::Embedder fp32(card, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
  irbis::Embedder bf16(card, {irbis::InferenceEngine::onednn, irbis::Precision::bf16});
  EXPECT_EQ(bf16.inference_tag(), "onednn/bf16");
  const std::vector<cv::Mat>& photos = debian_inputs();
  ASSERT_GE(photos.size(), 200u) << "opencv-doc / python3-skimage sample photos missing (./setup.sh installs them)";
  CosineStats s = descriptor_agreement(fp32, bf16, photos);
  std::cout << "[ gate ] bf16 vs fp32 descriptor cosine over " << s.n << " inputs (" << irbis::inference_isa()
            << "): median " << s.median << ", min " << s.min << "\n";
  EXPECT_GE(s.median, 0.999);
  EXPECT_GE(s.min, 0.99);
  EXPECT_FALSE(irbis::inference_interchangeable(bf16.inference_tag(), fp32.inference_tag()));
}

TEST(OnednnEngine, AutomaticChoice) {
  irbis::ModelCard card = default_card();
  irbis::Embedder e(card, {});
  EXPECT_EQ(e.engine(), irbis::InferenceEngine::onednn);
  EXPECT_EQ(e.precision(), irbis::auto_precision(card));
  EXPECT_THROW(irbis::Embedder(card, {irbis::InferenceEngine::opencv, irbis::Precision::bf16}), irbis::UsageError);
  EXPECT_THROW(irbis::parse_engine("tensorrt"), irbis::UsageError);
  EXPECT_THROW(irbis::parse_precision("fp8"), irbis::UsageError);
  EXPECT_EQ(irbis::parse_precision("bf16"), irbis::Precision::bf16);
  EXPECT_EQ(irbis::engine_name(irbis::parse_engine("opencv")), "opencv");
  EXPECT_FALSE(irbis::inference_isa().empty());
}

// A graph with an operator the engine does not cover runs on OpenCV DNN under auto, and asking
// for oneDNN names the operator.
TEST(OnednnEngine, UncoveredOperatorFallsBackToOpencv) {
  irbis::test::TempDir dir("onednn");
  irbis::ir::Graph g("input", {3, 16, 16});
  irbis::ir::Node conv;
  conv.op = "Conv";
  conv.inputs = {"input"};
  conv.output = "conv";
  conv.weight.assign(4 * 3, 0.5f);
  conv.weight_shape = {4, 3, 1, 1};
  conv.bias = {0.f, 1.f, 2.f, 3.f};
  g.add(conv);
  irbis::ir::Node bn;  // an unfolded BatchNormalization: not covered
  bn.op = "BatchNormalization";
  bn.inputs = {"conv"};
  bn.output = "bn";
  bn.bn_gamma = bn.bn_beta = bn.bn_mean = {0, 0, 0, 0};
  bn.bn_var = {1, 1, 1, 1};
  bn.bn_gamma = {1, 1, 1, 1};
  g.add(bn);
  g.mark_output("bn");
  g.mark_output("conv");  // keeps the BN from being folded
  g.write_onnx(dir.path() / "tiny.onnx", "tiny", "test");
  EXPECT_NE(irbis::onednn::unsupported_op(dir.path() / "tiny.onnx").find("BatchNormalization"), std::string::npos);

  irbis::ModelCard card;
  card.name = "tiny";
  card.onnx_file = "tiny.onnx";
  card.input_tensor = "input";
  card.input_size = 16;
  card.blocks = {{"bn", "bn", 4}};
  card.descriptor = {"bn"};
  card.semantic_block = "bn";
  card.embedding_dim = 4;
  card.card_path = dir.path() / "tiny.json";
  irbis::Embedder e(card, {});
  EXPECT_EQ(e.inference_tag(), "opencv/fp32");
  try {
    irbis::Embedder forced(card, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
    ADD_FAILURE() << "oneDNN accepted a graph with BatchNormalization";
  } catch (const irbis::ModelError& err) {
    EXPECT_NE(std::string(err.what()).find("BatchNormalization"), std::string::npos) << err.what();
  }
}

// Covered operators on a small graph: a strided conv with asymmetric pads, a grouped conv, a
// residual add, max and average pooling (padding excluded) and a concatenation, against OpenCV DNN.
TEST(OnednnEngine, SmallGraphMatchesOpencv) {
  irbis::test::TempDir dir("onednn");
  cv::RNG rng(7);
  auto rnd = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = float(rng.uniform(-1.0, 1.0));
    return v;
  };
  irbis::ir::Graph g("input", {3, 19, 19});
  irbis::ir::Node a;
  a.op = "Conv", a.inputs = {"input"}, a.output = "a";
  a.weight = rnd(8 * 3 * 3 * 3), a.weight_shape = {8, 3, 3, 3}, a.bias = rnd(8);
  a.kernel = {3, 3}, a.stride = {2, 2}, a.pads = {0, 0, 1, 1};
  g.add(a);
  irbis::ir::Node relu;
  relu.op = "Clip", relu.inputs = {"a"}, relu.output = "a6", relu.clip_min = 0, relu.clip_max = 6;
  g.add(relu);
  irbis::ir::Node dw;
  dw.op = "Conv", dw.inputs = {"a6"}, dw.output = "dw";
  dw.weight = rnd(8 * 9), dw.weight_shape = {8, 1, 3, 3}, dw.bias = rnd(8), dw.group = 8;
  dw.kernel = {3, 3}, dw.pads = {1, 1, 1, 1};
  g.add(dw);
  irbis::ir::Node add;
  add.op = "Add", add.inputs = {"a6", "dw"}, add.output = "res";
  g.add(add);
  irbis::ir::Node mp;
  mp.op = "MaxPool", mp.inputs = {"res"}, mp.output = "mp", mp.kernel = {3, 3}, mp.stride = {1, 1}, mp.pads = {1, 1, 1, 1};
  g.add(mp);
  irbis::ir::Node ap;
  ap.op = "AveragePool", ap.inputs = {"res"}, ap.output = "ap", ap.kernel = {3, 3}, ap.stride = {1, 1};
  ap.pads = {1, 1, 1, 1};
  g.add(ap);
  irbis::ir::Node cat;
  cat.op = "Concat", cat.inputs = {"mp", "ap"}, cat.output = "cat", cat.axis = 1;
  g.add(cat);
  g.mark_output("res");
  g.mark_output("cat");
  g.write_onnx(dir.path() / "small.onnx", "small", "test");
  EXPECT_EQ(irbis::onednn::unsupported_op(dir.path() / "small.onnx"), "");

  irbis::ModelCard card;
  card.name = "small";
  card.onnx_file = "small.onnx";
  card.input_tensor = "input";
  card.input_size = 19;
  card.blocks = {{"res", "res", 8}, {"cat", "cat", 16}};
  card.descriptor = {"res", "cat"};
  card.semantic_block = "cat";
  card.embedding_dim = 24;
  card.card_path = dir.path() / "small.json";
  irbis::Embedder dnnl(card, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
  irbis::Embedder ocv(card, {irbis::InferenceEngine::opencv, irbis::Precision::fp32});
  cv::Mat in(19, 19, CV_32FC3);
  rng.fill(in, cv::RNG::UNIFORM, -1, 1);
  cv::Mat ba = dnnl.forward_blocks({in}), bb = ocv.forward_blocks({in});
  EXPECT_LE(cv::norm(ba, bb, cv::NORM_INF), 1e-5) << ba << "\n" << bb;
}

// The same bf16 gate on the other imported models, on the first 40 inputs (Inception v3 costs
// 5x the default model per image): `auto` may pick bf16 only for a model that passes it.
TEST(OnednnEngine, Bf16GateOtherModels) {
  SingleThreaded one_thread;
  if (!irbis::onednn::cpu_has_native_bf16()) {
    EXPECT_EQ(irbis::best_precision(), irbis::Precision::fp32);
    return;
  }
  std::vector<cv::Mat> photos = debian_photos_rgb();
  ASSERT_GE(photos.size(), 40u) << "opencv-doc / python3-skimage sample photos missing (./setup.sh installs them)";
  photos.resize(40);
  for (const char* name : {"mobilenet_v2", "inception_v3"}) {
    irbis::ModelCard card = irbis::find_model(name, kModelDir);
    irbis::Embedder fp32(card, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
    irbis::Embedder bf16(card, {irbis::InferenceEngine::onednn, irbis::Precision::bf16});
    std::vector<cv::Mat> inputs;
    for (const auto& p : photos) inputs.push_back(fp32.preprocess(p));
    CosineStats s = descriptor_agreement(fp32, bf16, inputs);
    std::cout << "[ gate ] " << name << " bf16 vs fp32 descriptor cosine over " << s.n << " inputs: median " << s.median
              << ", min " << s.min << "\n";
    const bool passes = s.median >= 0.999 && s.min >= 0.99;
    std::cout << "[ gate ] " << name << ": " << (passes ? "passes" : "fails") << ", auto precision "
              << irbis::precision_name(irbis::auto_precision(card)) << "\n";
    EXPECT_TRUE(passes || irbis::auto_precision(card) == irbis::Precision::fp32) << name << ": auto picks a failing bf16";
    EXPECT_TRUE(!passes || irbis::auto_precision(card) == irbis::Precision::bf16) << name << ": passes, auto should use it";
  }
}
