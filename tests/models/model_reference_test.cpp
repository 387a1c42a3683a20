// irbis's ONNX conversions of nsfwjs's three models against the outputs nsfwjs gives in node
// (pure-JS TF.js CPU backend) on the same input tensors: tests/models/reference/ holds the
// inputs, the outputs and the script that produced them. Needs the imported models in
// <repo>/models/onnx (./setup.sh makes them).
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/model.h"

namespace fs = std::filesystem;

namespace {

const fs::path kRefDir = fs::path(IRBIS_SOURCE_DIR) / "tests" / "models" / "reference";
const fs::path kModelDir = fs::path(IRBIS_SOURCE_DIR) / "models" / "onnx";
constexpr double kTolerance = 1e-4;

struct Reference {
  nlohmann::json layout;
  std::vector<float> values;
};

const Reference& reference() {
  static Reference r = [] {
    Reference out;
    std::ifstream j(kRefDir / "outputs.json");
    out.layout = nlohmann::json::parse(j);
    std::ifstream b(kRefDir / "outputs.f32", std::ios::binary);
    b.seekg(0, std::ios::end);
    size_t n = size_t(b.tellg()) / sizeof(float);
    b.seekg(0);
    out.values.resize(n);
    b.read(reinterpret_cast<char*>(out.values.data()), std::streamsize(n * sizeof(float)));
    return out;
  }();
  return r;
}

// The central size x size crop of a fixture image, value / 255 in float32 (as TF.js divides).
cv::Mat fixture_input(const std::string& file, int size) {
  cv::Mat bgr = cv::imread((kRefDir / "inputs" / file).string(), cv::IMREAD_COLOR);
  if (bgr.empty()) throw std::runtime_error("cannot read fixture " + file);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  int off = (rgb.cols - size) / 2;
  cv::Mat crop = rgb(cv::Rect(off, off, size, size));
  cv::Mat f(size, size, CV_32FC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) f.at<cv::Vec3f>(y, x)[c] = float(crop.at<cv::Vec3b>(y, x)[c]) / 255.0f;
  return f;
}

irbis::ModelCard card_or_fail(const std::string& name) {
  if (!fs::exists(kModelDir / (name + ".json")))
    throw std::runtime_error("model '" + name + "' is not imported in " + kModelDir.string() +
                             "; run ./setup.sh (scripts/fetch_models.sh and scripts/import_models.sh) first");
  return irbis::find_model(name, kModelDir);
}

void compare_model(const std::string& name, irbis::InferenceEngine engine) {
  const Reference& ref = reference();
  const nlohmann::json* entry = nullptr;
  for (const auto& m : ref.layout["models"])
    if (m["name"] == name) entry = &m;
  ASSERT_NE(entry, nullptr) << "no reference outputs for " << name;
  irbis::ModelCard card;
  try {
    card = card_or_fail(name);
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  int size = (*entry)["input_size"].get<int>();
  ASSERT_EQ(card.input_size, size);
  irbis::Embedder emb(card, {engine, irbis::Precision::fp32});
  ASSERT_EQ(emb.engine(), engine) << emb.inference_tag();
  std::vector<cv::Mat> inputs;
  std::vector<std::string> images = ref.layout["images"].get<std::vector<std::string>>();
  for (const auto& img : images) inputs.push_back(fixture_input(img, size));
  std::vector<cv::Mat> outputs;
  cv::Mat blocks = emb.forward_blocks(inputs, &outputs);  // one batch of all fixture images

  for (const auto& t : (*entry)["tensors"]) {
    std::string tname = t["name"], tensor = t["tensor"];
    int dim = t["dim"];
    // The reference names the source tensor; find the block or output that holds it.
    cv::Mat got;
    for (size_t o = 0; o < card.outputs.size(); ++o)
      if (card.outputs[o].name == tname) got = outputs[o];
    for (const auto& b : card.blocks)
      if (got.empty() && (b.name == tname || b.tensor == tensor || b.tensor == tname))
        got = blocks.colRange(card.block_offset(b.name), card.block_offset(b.name) + b.dim);
    if (got.empty() && (tname == "flatten_1")) {
      const auto& b = card.block("global_pool");
      got = blocks.colRange(card.block_offset(b.name), card.block_offset(b.name) + b.dim);
    }
    ASSERT_FALSE(got.empty()) << name << ": no block or output for reference tensor " << tname;
    ASSERT_EQ(got.cols, dim) << name << " " << tname;
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < images.size(); ++i) {
      size_t off = t["offsets"][i].get<size_t>();
      for (int k = 0; k < dim; ++k) {
        double r = ref.values[off + size_t(k)], g = got.at<float>(int(i), k);
        max_diff = std::max(max_diff, std::abs(r - g));
        max_abs = std::max(max_abs, std::abs(r));
      }
    }
    std::cout << "[ reference ] " << emb.inference_tag() << " " << name << " " << tname << " (" << dim << "): max |diff| " << max_diff
              << " (max |value| " << max_abs << ")\n";
    EXPECT_LE(max_diff, kTolerance) << name << " " << tname;
  }
}

}  // namespace

// Both engines at fp32 (the oneDNN engine's fp32 gate is this same 1e-4).
using irbis::InferenceEngine;
TEST(ModelReference, MobilenetV2MidMatchesTfjs) { compare_model("mobilenet_v2_mid", InferenceEngine::opencv); }
TEST(ModelReference, MobilenetV2MatchesTfjs) { compare_model("mobilenet_v2", InferenceEngine::opencv); }
TEST(ModelReference, InceptionV3MatchesTfjs) { compare_model("inception_v3", InferenceEngine::opencv); }
TEST(ModelReference, OnednnMobilenetV2MidMatchesTfjs) { compare_model("mobilenet_v2_mid", InferenceEngine::onednn); }
TEST(ModelReference, OnednnMobilenetV2MatchesTfjs) { compare_model("mobilenet_v2", InferenceEngine::onednn); }
TEST(ModelReference, OnednnInceptionV3MatchesTfjs) { compare_model("inception_v3", InferenceEngine::onednn); }

TEST(ModelReference, DefaultDescriptorRecipe) {
  irbis::ModelCard card;
  try {
    card = card_or_fail(irbis::kDefaultModel);
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  irbis::Embedder emb(card);
  EXPECT_EQ(emb.dim(), 2696);
  EXPECT_EQ(emb.input_size(), 224);
  int total = 0;
  for (const auto& [n, d] : emb.block_layout()) total += d;
  EXPECT_EQ(total, emb.blocks_dim());
  EXPECT_EQ(card.block("feature_vector/SpatialSqueeze").dim, 1792);
  EXPECT_EQ(card.semantic_block, "feature_vector/SpatialSqueeze");

  // Full images through embed(): batched equals one at a time, rows are unit length, and the
  // descriptor is the recipe applied to the blocks.
  std::vector<cv::Mat> imgs;
  for (const char* f : {"fruits.png", "butterfly.png", "synthetic.png"}) {
    cv::Mat bgr = cv::imread((kRefDir / "inputs" / f).string(), cv::IMREAD_COLOR), rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    imgs.push_back(rgb);
  }
  cv::Mat desc, blocks;
  emb.embed(imgs, desc, &blocks);
  ASSERT_EQ(desc.rows, 3);
  ASSERT_EQ(desc.cols, 2696);
  ASSERT_EQ(blocks.cols, emb.blocks_dim());
  for (int r = 0; r < 3; ++r) EXPECT_NEAR(cv::norm(desc.row(r)), 1.0, 1e-5);
  for (int i = 0; i < 3; ++i) {
    cv::Mat one;
    emb.embed({imgs[size_t(i)]}, one, nullptr);
    EXPECT_LE(cv::norm(one, desc.row(i), cv::NORM_INF), 1e-5);
  }
  // Recipe by hand: L2 each of the three blocks, concatenate, L2.
  std::vector<float> manual;
  for (const char* b : {"expanded_conv_8/add", "expanded_conv_13/expand/Relu6", "feature_vector/SpatialSqueeze"}) {
    cv::Mat v = blocks.row(0).colRange(card.block_offset(b), card.block_offset(b) + card.block(b).dim).clone();
    v /= cv::norm(v);
    manual.insert(manual.end(), v.begin<float>(), v.end<float>());
  }
  cv::Mat m(1, int(manual.size()), CV_32F, manual.data());
  m /= cv::norm(m);
  EXPECT_LE(cv::norm(m, desc.row(0), cv::NORM_INF), 1e-6);
  cv::Mat sem = emb.block_view(blocks, card.semantic_block);
  EXPECT_EQ(sem.cols, 1792);
  // Different photos are not near-duplicates.
  EXPECT_LT(desc.row(0).dot(desc.row(1)), 0.95);
}

TEST(ModelReference, DescriptorIsStableUnderDownscaling) {
  irbis::ModelCard card;
  try {
    card = card_or_fail(irbis::kDefaultModel);
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  irbis::Embedder emb(card);
  cv::Mat photo = cv::imread("/usr/share/doc/opencv-doc/examples/data/aloeL.jpg", cv::IMREAD_COLOR);
  cv::Mat other = cv::imread("/usr/share/doc/opencv-doc/examples/data/baboon.jpg", cv::IMREAD_COLOR);
  if (photo.empty() || other.empty()) GTEST_SKIP() << "opencv-doc sample photos not installed";
  cv::cvtColor(photo, photo, cv::COLOR_BGR2RGB);
  cv::cvtColor(other, other, cv::COLOR_BGR2RGB);
  cv::Mat quarter;
  cv::resize(photo, quarter, cv::Size(photo.cols / 4, photo.rows / 4), 0, 0, cv::INTER_AREA);
  cv::Mat desc, blocks;
  emb.embed({photo, quarter, other}, desc, &blocks);
  double same = desc.row(0).dot(desc.row(1)), diff = desc.row(0).dot(desc.row(2));
  std::cout << "[ stability ] cosine photo vs its 25 % copy " << same << ", vs another photo " << diff << "\n";
  EXPECT_GT(same, 0.97);
  EXPECT_LT(diff, same - 0.1);
  cv::Mat sem = emb.block_view(blocks, card.semantic_block);
  EXPECT_GT(sem.row(0).dot(sem.row(1)), 0.95);
}
