// Model cards, the registry and `add_onnx_model` on a tiny generated ONNX file (no setup needed).
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "irbis/errors.h"
#include "irbis/model.h"
#include "models/ir.h"
#include "test_util.h"

namespace fs = std::filesystem;
using irbis::ModelCard;
using irbis::ModelError;

namespace {

ModelCard sample_card() {
  ModelCard c;
  c.name = "tiny";
  c.onnx_file = "tiny.onnx";
  c.input_size = 32;
  c.blocks = {{"a", "conv_a", 4}, {"b", "pool_b", 6}};
  c.descriptor = {"a", "b"};
  c.semantic_block = c.descriptor.back();  // "b" (assigned from a literal here, GCC 12 warns -Wrestrict: its bug 105329)
  c.embedding_dim = 10;
  return c;
}

// conv 3->4 (tensor conv_a), conv 4->6 stride 2, global average pool + flatten (pool_b).
fs::path write_tiny_onnx(const fs::path& p) {
  irbis::ir::Graph g("image", irbis::ir::Shape{3, 32, 32, false});
  irbis::ir::Node c1;
  c1.op = "Conv";
  c1.inputs = {"image"};
  c1.output = "conv_a";
  c1.kernel = {3, 3};
  c1.pads = {1, 1, 1, 1};
  c1.weight_shape = {4, 3, 3, 3};
  for (int i = 0; i < 4 * 27; ++i) c1.weight.push_back(float((i % 7) - 3) * 0.1f);
  c1.bias = {0.1f, 0.2f, 0.3f, 0.4f};
  g.add(c1);
  irbis::ir::Node c2 = c1;
  c2.inputs = {"conv_a"};
  c2.output = "conv_b";
  c2.stride = {2, 2};
  c2.weight_shape = {6, 4, 3, 3};
  c2.weight.assign(6 * 36, 0.05f);
  c2.bias.assign(6, 0.f);
  g.add(c2);
  irbis::ir::Node gap;
  gap.op = "GlobalAveragePool";
  gap.inputs = {"conv_b"};
  gap.output = "gap_b";
  g.add(gap);
  irbis::ir::Node fl;
  fl.op = "Flatten";
  fl.inputs = {"gap_b"};
  fl.output = "pool_b";
  g.add(fl);
  g.mark_output("conv_a");
  g.mark_output("pool_b");
  g.write_onnx(p, "tiny", "test model");
  return p;
}

}  // namespace

TEST(ModelCard, JsonRoundTrip) {
  ModelCard c = sample_card();
  c.mean = {0.485, 0.456, 0.406};
  c.std = {0.229, 0.224, 0.225};
  c.color_order = "BGR";
  c.outputs = {{"probabilities", "prob", 5}};
  ModelCard d = ModelCard::from_json(c.to_json());
  EXPECT_EQ(d.name, "tiny");
  EXPECT_EQ(d.blocks.size(), 2u);
  EXPECT_EQ(d.blocks[1].tensor, "pool_b");
  EXPECT_EQ(d.descriptor, c.descriptor);
  EXPECT_EQ(d.mean, c.mean);
  EXPECT_EQ(d.std, c.std);
  EXPECT_EQ(d.color_order, "BGR");
  EXPECT_EQ(d.outputs[0].dim, 5);
  EXPECT_EQ(d.blocks_dim(), 10);
  EXPECT_EQ(d.block_offset("b"), 4);
}

TEST(ModelCard, ValidationErrors) {
  ModelCard c = sample_card();
  c.embedding_dim = 11;
  EXPECT_THROW(c.validate(), ModelError);
  c = sample_card();
  c.descriptor = {"zzz"};
  EXPECT_THROW(c.validate(), ModelError);
  c = sample_card();
  c.name = "a/b";
  EXPECT_THROW(c.validate(), ModelError);
  EXPECT_THROW(ModelCard::from_json("{not json"), ModelError);
  EXPECT_THROW(ModelCard::from_json("{\"name\": \"x\"}"), ModelError);
}

// F15 (fuzz_model_card, after 471,332 executions): {"card_version": 1e31} reached nlohmann's
// get<int>(), an out-of-range float-to-int conversion (undefined behaviour, UBSan's report). Integer
// fields are JSON integers within int, else a ModelError naming the field.
TEST(ModelCard, IntegerFieldsMustBeIntegersInRange) {
  const std::string good = sample_card().to_json();
  EXPECT_EQ(ModelCard::from_json(good).embedding_dim, sample_card().embedding_dim);
  const auto error = [](const std::string& text) {
    try {
      ModelCard::from_json(text, "card.json");
    } catch (const ModelError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error("{\"card_version\": 10000000000000000000000000000000}"), "card.json: card_version must be an integer");
  EXPECT_EQ(error("{\"card_version\": 4294967297}"), "card.json: card_version is out of range");
  const auto with = [&](const std::string& key, const std::string& value) {
    nlohmann::json j = nlohmann::json::parse(good);
    j[key] = nlohmann::json::parse(value);
    return j.dump();
  };
  EXPECT_EQ(error(with("embedding_dim", "4.7")), "card.json: embedding_dim must be an integer");
  EXPECT_EQ(error(with("embedding_dim", "-9223372036854775808")), "card.json: embedding_dim is out of range");
}

TEST(ModelRegistry, UnknownModelNamesInstalledAndSetup) {
  irbis::test::TempDir dir("model_registry");
  ModelCard c = sample_card();
  c.save(dir / "tiny.json");
  try {
    irbis::find_model("nope", dir.path());
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown model 'nope'"), std::string::npos) << m;
    EXPECT_NE(m.find("installed: tiny"), std::string::npos) << m;
    // Models are installed: a mistyped name, not a missing setup (issue 20, item 6).
    EXPECT_EQ(m.find("setup.sh"), std::string::npos) << m;
    EXPECT_NE(m.find("irbis model add"), std::string::npos) << m;
  }
  irbis::test::TempDir empty("model_registry_empty");
  try {
    irbis::find_model("nope", empty.path());
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("installed: none"), std::string::npos) << m;
    EXPECT_NE(m.find("run ./setup.sh"), std::string::npos) << m;
  }
  EXPECT_EQ(irbis::find_model("tiny", dir.path()).embedding_dim, 10);
  EXPECT_EQ(irbis::list_models(dir.path()).size(), 1u);
}

TEST(ModelRegistry, EnvironmentOverridesDirectory) {
  const char* old = std::getenv("IRBIS_MODEL_DIR");
  std::string saved = old ? old : "";
  setenv("IRBIS_MODEL_DIR", "/some/where", 1);
  EXPECT_EQ(irbis::model_dir(), fs::path("/some/where"));
  if (old) setenv("IRBIS_MODEL_DIR", saved.c_str(), 1);
  else unsetenv("IRBIS_MODEL_DIR");
  EXPECT_EQ(irbis::model_dir().filename(), "onnx");
}

TEST(ModelAdd, RegistersOnnxAndMeasuresDims) {
  irbis::test::TempDir dir("model_add");
  fs::path onnx = write_tiny_onnx(dir / "mine.onnx");
  ModelCard c;
  c.name = "mine";
  c.input_size = 32;
  c.blocks = {{"conv_a", "conv_a", 0}, {"pool_b", "pool_b", 0}};
  c.descriptor = {"pool_b"};
  ModelCard saved = irbis::add_onnx_model(onnx, c, dir / "registry");
  EXPECT_EQ(saved.blocks[0].dim, 4);
  EXPECT_EQ(saved.blocks[1].dim, 6);
  EXPECT_EQ(saved.embedding_dim, 6);
  EXPECT_EQ(saved.onnx_sha256, irbis::sha256_file(dir / "registry" / "mine.onnx"));
  EXPECT_EQ(saved.input_tensor, "image");

  irbis::Embedder e(irbis::find_model("mine", dir / "registry"));
  cv::Mat img(50, 70, CV_8UC3, cv::Scalar(10, 200, 30)), desc, blocks;
  e.embed({img, img}, desc, &blocks);
  EXPECT_EQ(desc.cols, 6);
  EXPECT_EQ(blocks.cols, 10);
  EXPECT_NEAR(cv::norm(desc.row(0)), 1.0, 1e-5);
}

TEST(ModelAdd, RejectsWrongDimensionAndNonOnnx) {
  irbis::test::TempDir dir("model_add_bad");
  fs::path onnx = write_tiny_onnx(dir / "mine.onnx");
  ModelCard c;
  c.name = "mine";
  c.input_size = 32;
  c.blocks = {{"pool_b", "pool_b", 0}};
  c.embedding_dim = 7;  // the model gives 6
  EXPECT_THROW(irbis::add_onnx_model(onnx, c, dir / "registry"), ModelError);
  c.embedding_dim = 0;
  c.blocks = {{"nope", "no_such_tensor", 0}};
  EXPECT_THROW(irbis::add_onnx_model(onnx, c, dir / "registry"), ModelError);
  irbis::test::write_file(dir / "text.onnx", {'h', 'e', 'l', 'l', 'o'});
  c.blocks.clear();
  EXPECT_THROW(irbis::add_onnx_model(dir / "text.onnx", c, dir / "registry"), ModelError);
}

TEST(Sha256, KnownVectors) {
  irbis::test::TempDir dir("sha256");
  irbis::test::write_file(dir / "empty", {});
  EXPECT_EQ(irbis::sha256_file(dir / "empty"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  irbis::test::write_file(dir / "abc", {'a', 'b', 'c'});
  EXPECT_EQ(irbis::sha256_file(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::vector<uint8_t> big(1000000, 'a');
  irbis::test::write_file(dir / "big", big);
  EXPECT_EQ(irbis::sha256_file(dir / "big"), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
