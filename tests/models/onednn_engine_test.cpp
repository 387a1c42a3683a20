// Accuracy gates of the oneDNN engine (src/models/onednn_engine.cpp). The fp32 gate against
// nsfwjs's own outputs is in model_reference_test.cpp (every model, both engines); here: bf16
// against fp32 on real photos from Debian packages, the automatic choices, and the fallback to
// OpenCV DNN for operators the engine does not cover. Needs ./setup.sh's imported models and the
// opencv-doc / python3-skimage / python3-sklearn sample photos (setup.sh installs them): the
// gates fail, never skip, without them.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <onnx/onnx_pb.h>

#include "irbis/errors.h"
#include "irbis/collection_layout.h"
#include "irbis/model.h"
#include "models/gate_photos.h"
#include "models/ir.h"
#include "models/onednn_engine.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using irbis::test::gate_photos;

const fs::path kModelDir = fs::path(IRBIS_SOURCE_DIR) / "models" / "onnx";

std::vector<float> random_weights(cv::RNG& rng, size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.uniform(-1.0, 1.0));
  return v;
}

// The start of both small test graphs (3x19x19 input, `ch` channels): a strided 3x3 convolution
// with asymmetric pads ("a"), ReLU6 ("a6"), a depthwise 3x3 convolution ("dw") and the residual
// sum "res" = a6 + dw.
irbis::ir::Graph small_graph_stem(int ch, cv::RNG& rng) {
  irbis::ir::Graph g("input", {3, 19, 19});
  irbis::ir::Node a;
  a.op = "Conv", a.inputs = {"input"}, a.output = "a";
  a.weight = random_weights(rng, size_t(ch) * 27), a.weight_shape = {ch, 3, 3, 3}, a.bias = random_weights(rng, ch);
  a.kernel = {3, 3}, a.stride = {2, 2}, a.pads = {0, 0, 1, 1};
  g.add(a);
  irbis::ir::Node relu;
  relu.op = "Clip", relu.inputs = {"a"}, relu.output = "a6", relu.clip_min = 0, relu.clip_max = 6;
  g.add(relu);
  irbis::ir::Node dw;
  dw.op = "Conv", dw.inputs = {"a6"}, dw.output = "dw";
  dw.weight = random_weights(rng, size_t(ch) * 9), dw.weight_shape = {ch, 1, 3, 3};
  dw.bias = random_weights(rng, ch), dw.group = ch;
  dw.kernel = {3, 3}, dw.pads = {1, 1, 1, 1};
  g.add(dw);
  irbis::ir::Node add;
  add.op = "Add", add.inputs = {"a6", "dw"}, add.output = "res";
  g.add(add);
  return g;
}

// "cat" = Concat(MaxPool 3x3 of `max_in`, AveragePool 3x3 of `avg_in`), both padded by 1.
void add_pools_and_concat(irbis::ir::Graph& g, const std::string& max_in, const std::string& avg_in) {
  irbis::ir::Node mp;
  mp.op = "MaxPool", mp.inputs = {max_in}, mp.output = "mp", mp.kernel = {3, 3}, mp.stride = {1, 1};
  mp.pads = {1, 1, 1, 1};
  g.add(mp);
  irbis::ir::Node ap;
  ap.op = "AveragePool", ap.inputs = {avg_in}, ap.output = "ap", ap.kernel = {3, 3}, ap.stride = {1, 1};
  ap.pads = {1, 1, 1, 1};
  g.add(ap);
  irbis::ir::Node cat;
  cat.op = "Concat", cat.inputs = {"mp", "ap"}, cat.output = "cat", cat.axis = 1;
  g.add(cat);
}

irbis::ModelCard default_card() { return irbis::find_model(irbis::kDefaultModel, kModelDir); }

// The photos preprocessed for the default model once (both engines share the preprocessing).
const std::vector<cv::Mat>& debian_inputs() {
  static const std::vector<cv::Mat> inputs = [] {
    irbis::Embedder e(default_card(), {irbis::InferenceEngine::opencv, irbis::Precision::fp32});
    std::vector<cv::Mat> v;
    for (const auto& rgb : gate_photos()) v.push_back(e.preprocess(rgb));
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
  size_t worst = 0;  // the input of the minimum
};

CosineStats descriptor_agreement(irbis::Embedder& a, irbis::Embedder& b, const std::vector<cv::Mat>& inputs,
                                 size_t limit = SIZE_MAX) {
  std::vector<double> cos;
  for (size_t i = 0; i < inputs.size() && i < limit; ++i) {
    cv::Mat da = a.descriptor_from_blocks(a.forward_blocks({inputs[i]}));
    cv::Mat db = b.descriptor_from_blocks(b.forward_blocks({inputs[i]}));
    cos.push_back(da.dot(db));
  }
  const size_t worst = size_t(std::min_element(cos.begin(), cos.end()) - cos.begin());
  std::sort(cos.begin(), cos.end());
  return {cos[cos.size() / 2], cos.front(), cos.size(), worst};
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
  const auto native = irbis::native_precisions();
  EXPECT_NE(std::find(native.begin(), native.end(), irbis::Precision::bf16), native.end());
  EXPECT_NE(irbis::auto_precision(card), irbis::Precision::fp32);
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

// A user's ONNX file (`irbis model add`) is input like any other (issue 16): a window the engines
// divide by or index (strides 0, a stride list shorter than the kernel's rank, negative pads, group
// 0) or an initializer whose data do not fill its shape is a ModelError naming the file, before the
// oneDNN engine or OpenCV's importer reads the graph. Before, a stride of 0 divided by zero in the
// oneDNN engine (SIGFPE: the process killed) and a 1-float weight under a 4x3x1x1 shape was read
// past its end.
TEST(OnednnEngine, HostileOnnxWindowsAndInitializersAreModelErrors) {
  irbis::test::TempDir dir("onnxhostile");
  irbis::ir::Graph g("input", {3, 16, 16});
  irbis::ir::Node conv;
  conv.op = "Conv", conv.inputs = {"input"}, conv.output = "conv";
  conv.weight.assign(4 * 3, 0.5f), conv.weight_shape = {4, 3, 1, 1}, conv.bias = {0.f, 1.f, 2.f, 3.f};
  g.add(conv);
  g.mark_output("conv");
  const fs::path file = dir.path() / "tiny.onnx";
  g.write_onnx(file, "tiny", "test");
  onnx::ModelProto good;
  {
    std::ifstream in(file, std::ios::binary);
    ASSERT_TRUE(good.ParseFromIstream(&in));
  }
  irbis::ModelCard card;
  card.name = "tiny";
  card.onnx_file = "tiny.onnx";
  card.input_tensor = "input";
  card.input_size = 16;
  card.blocks = {{"conv", "conv", 4}};
  card.descriptor = {"conv"};
  card.semantic_block = "conv";
  card.embedding_dim = 4;
  card.card_path = dir.path() / "tiny.json";
  for (const auto engine : {irbis::InferenceEngine::onednn, irbis::InferenceEngine::opencv})
    EXPECT_NO_THROW(irbis::Embedder(card, {engine, irbis::Precision::fp32}));  // as written

  const auto set_ints = [](onnx::ModelProto& m, const std::string& name, std::vector<int64_t> v) {
    onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
    onnx::AttributeProto* a = nullptr;
    for (auto& x : *n->mutable_attribute())
      if (x.name() == name) a = &x;
    if (!a) a = n->add_attribute();
    a->set_name(name);
    a->set_type(v.size() == 1 && name == "group" ? onnx::AttributeProto::INT : onnx::AttributeProto::INTS);
    a->clear_ints();
    if (name == "group") a->set_i(v[0]);
    else for (int64_t x : v) a->add_ints(x);
  };
  struct Case {
    std::string what, expected;
    std::function<void(onnx::ModelProto&)> edit;
  };
  const std::vector<Case> cases = {
      {"stride 0", "strides 0 1", [&](onnx::ModelProto& m) { set_ints(m, "strides", {0, 1}); }},
      {"one stride for a 2-D kernel", "strides 2", [&](onnx::ModelProto& m) { set_ints(m, "strides", {2}); }},
      {"negative pad", "pads 0 0 -5 0", [&](onnx::ModelProto& m) { set_ints(m, "pads", {0, 0, -5, 0}); }},
      {"dilation over 4096", "dilations 1 5000", [&](onnx::ModelProto& m) { set_ints(m, "dilations", {1, 5000}); }},
      {"group 0", "group 0", [&](onnx::ModelProto& m) { set_ints(m, "group", {0}); }},
      {"weights shorter than their shape", "holds 1 values, its shape 4x3x1x1 needs 12",
       [](onnx::ModelProto& m) {
         for (auto& t : *m.mutable_graph()->mutable_initializer())
           if (t.dims_size() == 4) t.mutable_raw_data()->resize(sizeof(float));
       }},
      {"negative dimension", "dimension -4",
       [](onnx::ModelProto& m) {
         for (auto& t : *m.mutable_graph()->mutable_initializer())
           if (t.dims_size() == 4) t.set_dims(0, -4);
       }},
  };
  for (const Case& c : cases) {
    onnx::ModelProto m = good;
    c.edit(m);
    {
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      ASSERT_TRUE(m.SerializeToOstream(&out));
    }
    for (const auto engine : {irbis::InferenceEngine::onednn, irbis::InferenceEngine::opencv}) {
      try {
        irbis::Embedder e(card, {engine, irbis::Precision::fp32});
        ADD_FAILURE() << c.what << ": accepted";
      } catch (const irbis::ModelError& err) {
        const std::string msg = err.what();
        EXPECT_NE(msg.find(c.expected), std::string::npos) << c.what << ": " << msg;
        EXPECT_NE(msg.find(file.string()), std::string::npos) << c.what << ": " << msg;
      }
    }
    // `irbis model add` refuses it before OpenCV's importer reads it.
    irbis::ModelCard add;
    add.input_size = 16;
    try {
      irbis::add_onnx_model(file, add, dir.path() / "registry");
      ADD_FAILURE() << c.what << ": added";
    } catch (const irbis::ModelError& err) {
      EXPECT_NE(std::string(err.what()).find(c.expected), std::string::npos) << c.what << ": " << err.what();
    }
  }
}

// Covered operators on a small graph: a strided conv with asymmetric pads, a grouped conv, a
// residual add, max and average pooling (padding excluded) and a concatenation, against OpenCV DNN.
TEST(OnednnEngine, SmallGraphMatchesOpencv) {
  irbis::test::TempDir dir("onednn");
  cv::RNG rng(7);
  irbis::ir::Graph g = small_graph_stem(8, rng);
  add_pools_and_concat(g, "res", "res");
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
  std::vector<cv::Mat> photos = gate_photos();
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
    EXPECT_TRUE(!passes || irbis::auto_precision(card) != irbis::Precision::fp32) << name << ": passes, auto should use it";
  }
}

// --- int8 ---

// The int8 gate: with the card's calibration (scripts/import_models.sh runs `irbis model
// calibrate` on every 3rd Debian sample photo), descriptor cosine to fp32 over all >= 200 inputs
// (the calibration photos are among them; their mirrored crops are not): median >= 0.995 and
// min >= 0.98. Runs on every CPU (oneDNN has int8 kernels down to SSE4.1); `auto` may choose int8
// only where the CPU has VNNI or AMX.
TEST(OnednnEngine, Int8GateOnDebianPhotos) {
  SingleThreaded one_thread;
  irbis::ModelCard card = default_card();
  ASSERT_FALSE(card.int8.empty()) << "the default model has no int8 calibration; run scripts/import_models.sh";
  irbis::Embedder fp32(card, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
  irbis::Embedder int8(card, {irbis::InferenceEngine::onednn, irbis::Precision::int8});
  EXPECT_EQ(int8.inference_tag(), "onednn/int8");
  const std::vector<cv::Mat>& photos = debian_inputs();
  ASSERT_GE(photos.size(), 200u) << "opencv-doc / python3-skimage sample photos missing (./setup.sh installs them)";
  CosineStats s = descriptor_agreement(fp32, int8, photos);
  std::cout << "[ gate ] int8 vs fp32 descriptor cosine over " << s.n << " inputs (" << irbis::inference_isa()
            << ", calibrated on " << card.int8.photos << " photos): median " << s.median << ", min " << s.min << "\n";
  EXPECT_GE(s.median, 0.995);
  EXPECT_GE(s.min, 0.98);
  EXPECT_FALSE(irbis::inference_interchangeable(int8.inference_tag(), fp32.inference_tag()));
  EXPECT_FALSE(irbis::inference_interchangeable(int8.inference_tag(), "onednn/bf16"));
  // auto: int8 exactly where the CPU has native int8 dot products (it passed the gate above).
  EXPECT_EQ(irbis::auto_precision(card) == irbis::Precision::int8, irbis::onednn::cpu_has_native_int8());
  // Without a calibration int8 is refused, naming the step to run; auto then does not pick it.
  irbis::ModelCard bare = card;
  bare.int8 = {};
  EXPECT_NE(irbis::auto_precision(bare), irbis::Precision::int8);
  try {
    irbis::Embedder e(bare, {irbis::InferenceEngine::automatic, irbis::Precision::int8});
    ADD_FAILURE() << "int8 ran without a calibration";
  } catch (const irbis::ModelError& err) {
    EXPECT_NE(std::string(err.what()).find("irbis model calibrate"), std::string::npos) << err.what();
  }
  EXPECT_THROW(irbis::Embedder(card, {irbis::InferenceEngine::opencv, irbis::Precision::int8}), irbis::UsageError);
  EXPECT_EQ(irbis::parse_precision("int8"), irbis::Precision::int8);
}

// The same int8 gate for inception_v3 (299 px, 5x the default model's work per image) on all 242
// inputs, with its card's calibration: MSE-clipped ranges and the 147 px stem in bf16
// (`--float-until activation_3`, scripts/import_models.sh). Every int8 convolution reading
// the bf16 stem, the branches kept in their own units through each concatenation and the final
// 8 x 8 mean in f32 are on this path. `auto` picks int8 exactly where the CPU has native int8.
TEST(OnednnEngine, Int8GateInceptionOnDebianPhotos) {
  SingleThreaded one_thread;
  irbis::ModelCard card = irbis::find_model("inception_v3", kModelDir);
  ASSERT_FALSE(card.int8.empty()) << "inception_v3 has no int8 calibration; run scripts/import_models.sh";
  EXPECT_EQ(card.int8.float_until, "activation_3") << "calibrated by an older scripts/import_models.sh";
  irbis::Embedder fp32(card, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
  irbis::Embedder int8(card, {irbis::InferenceEngine::onednn, irbis::Precision::int8});
  EXPECT_EQ(int8.inference_tag(), "onednn/int8");
  std::vector<cv::Mat> inputs;
  for (const auto& rgb : gate_photos()) inputs.push_back(fp32.preprocess(rgb));
  ASSERT_GE(inputs.size(), 200u) << "opencv-doc / python3-skimage sample photos missing (./setup.sh installs them)";
  CosineStats s = descriptor_agreement(fp32, int8, inputs);
  std::cout << "[ gate ] inception_v3 int8 vs fp32 descriptor cosine over " << s.n << " inputs ("
            << irbis::inference_isa() << ", calibrated on " << card.int8.photos << " photos): median " << s.median
            << ", min " << s.min << "\n";
  EXPECT_GE(s.median, 0.995);
  EXPECT_GE(s.min, 0.98);
  EXPECT_EQ(irbis::auto_precision(card) == irbis::Precision::int8, irbis::onednn::cpu_has_native_int8());
  // The whole network in int8 (no bf16 stem) fails on the smooth gradient of opencv-doc's
  // gradient.png (0.91): on the worst input of the gate the stem must make the difference.
  irbis::ModelCard all_int8 = card;
  all_int8.int8.float_until.clear();
  irbis::Embedder plain(all_int8, {irbis::InferenceEngine::onednn, irbis::Precision::int8});
  CosineStats p = descriptor_agreement(fp32, plain, {inputs[s.worst]});
  std::cout << "[ gate ] inception_v3 all-int8 on input " << s.worst << ": " << p.min << "\n";
  EXPECT_LT(p.min, s.min);
  // A mixed-precision tensor the network lacks is a ModelError naming the field.
  irbis::ModelCard wrong = card;
  wrong.int8.float_until = "no_such_tensor";
  try {
    irbis::Embedder e(wrong, {irbis::InferenceEngine::onednn, irbis::Precision::int8});
    ADD_FAILURE() << "an unknown float_until was accepted";
  } catch (const irbis::ModelError& err) {
    EXPECT_NE(std::string(err.what()).find("float_until"), std::string::npos) << err.what();
  }
  // The card keeps the mixed precision through its JSON.
  EXPECT_EQ(irbis::ModelCard::from_json(card.to_json(), card.card_path).int8.float_until, "activation_3");
}

// Calibration records a range for every activation the engine quantizes; ReLU6 outputs lie in
// [0, 6]; the ranges survive the card's JSON round trip; int8 of the small test graph (strided and
// grouped convolutions, an Add of a u8 and an s8 tensor, max / average pooling, a concatenation
// of tensors in different units) follows fp32.
TEST(OnednnEngine, Int8CalibrationAndSmallGraph) {
  SingleThreaded one_thread;
  irbis::ModelCard card = default_card();
  std::vector<cv::Mat> photos = gate_photos();
  ASSERT_GE(photos.size(), 8u);
  photos.resize(8);
  irbis::ModelCard cal = irbis::calibrate_int8(card, photos, "test: first 8 inputs");
  EXPECT_EQ(cal.int8.photos, 8);
  EXPECT_EQ(cal.int8.photo_set, "test: first 8 inputs");
  ASSERT_GT(cal.int8.ranges.size(), 50u);
  int relu6 = 0;
  for (const auto& [tensor, r] : cal.int8.ranges) {
    EXPECT_LE(r.first, r.second) << tensor;
    if (tensor.ends_with("Relu6")) {
      ++relu6;
      EXPECT_GE(r.first, 0.f) << tensor;
      EXPECT_LE(r.second, 6.f) << tensor;
    }
  }
  EXPECT_GT(relu6, 10);
  irbis::ModelCard back = irbis::ModelCard::from_json(cal.to_json(), card.card_path);
  EXPECT_EQ(back.int8.ranges, cal.int8.ranges);
  EXPECT_EQ(back.int8.photos, 8);
  EXPECT_THROW(irbis::calibrate_int8(card, {}, "none"), irbis::UsageError);

  irbis::test::TempDir dir("onednn_int8");
  cv::RNG rng(11);
  auto rnd = [&](size_t n) { return random_weights(rng, n); };
  irbis::ir::Graph g = small_graph_stem(16, rng);
  irbis::ir::Node pw;  // 1x1 with a residual of an s8 tensor: fused as a sum post-op
  pw.op = "Conv", pw.inputs = {"res"}, pw.output = "pw";
  pw.weight = rnd(16 * 16), pw.weight_shape = {16, 16, 1, 1}, pw.bias = rnd(16);
  pw.kernel = {1, 1};
  g.add(pw);
  irbis::ir::Node proj;
  proj.op = "Conv", proj.inputs = {"pw"}, proj.output = "proj";
  proj.weight = rnd(16 * 16), proj.weight_shape = {16, 16, 1, 1}, proj.bias = rnd(16);
  proj.kernel = {1, 1};
  g.add(proj);
  irbis::ir::Node add2;
  add2.op = "Add", add2.inputs = {"proj", "pw"}, add2.output = "res2";
  g.add(add2);
  add_pools_and_concat(g, "res2", "a6");
  g.mark_output("res2");
  g.mark_output("cat");
  g.write_onnx(dir.path() / "small.onnx", "small", "test");
  irbis::ModelCard small;
  small.name = "small";
  small.onnx_file = "small.onnx";
  small.input_tensor = "input";
  small.input_size = 19;
  small.pixel_scale = 1.0;
  small.blocks = {{"res2", "res2", 16}, {"cat", "cat", 32}};
  small.descriptor = {"res2", "cat"};
  small.semantic_block = "cat";
  small.embedding_dim = 48;
  small.card_path = dir.path() / "small.json";
  std::vector<cv::Mat> noise;  // 8-bit "photos" of noise: the input is pixel values 0..255
  for (int k = 0; k < 16; ++k) {
    cv::Mat m(19, 19, CV_8UC3);
    rng.fill(m, cv::RNG::UNIFORM, 0, 256);
    noise.push_back(m);
  }
  irbis::ModelCard small_cal = irbis::calibrate_int8(small, noise, "noise");
  for (const char* t : {"input", "a6", "res", "pw", "res2", "cat"}) EXPECT_TRUE(small_cal.int8.ranges.count(t)) << t;
  irbis::Embedder f(small_cal, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
  irbis::Embedder q(small_cal, {irbis::InferenceEngine::onednn, irbis::Precision::int8});
  for (int k = 0; k < 4; ++k) {
    cv::Mat in = f.preprocess(noise[size_t(k)]);
    cv::Mat bf = f.forward_blocks({in}), bq = q.forward_blocks({in});
    double scale = cv::norm(bf, cv::NORM_INF);
    // 6 %: without VNNI (e.g. DNNL_MAX_CPU_ISA=AVX2) oneDNN halves s8 weights against overflow,
    // and these random weights are harder than a trained network's; a wrong unit anywhere (bias,
    // residual sum, requantized concat input) is off by far more.
    EXPECT_LE(cv::norm(bf, bq, cv::NORM_INF), 0.06 * scale) << bf << "\n" << bq;
    EXPECT_GE(f.descriptor_from_blocks(bf).dot(q.descriptor_from_blocks(bq)), 0.999);
  }
}
