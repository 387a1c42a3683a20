// The TF.js reader on malformed model folders (written here): every problem is a ModelError naming
// the folder or its model.json, never a JSON library exception or a wrapped size computation.
#include <fstream>
#include <gtest/gtest.h>

#include "irbis/errors.h"
#include "models/tfjs.h"
#include "test_util.h"

namespace irbis {
namespace {

std::string load_error(const test::TempDir& dir, const std::string& model_json, const std::string& weights) {
  std::ofstream(dir / "model.json") << model_json;
  std::ofstream(dir / "weights.bin", std::ios::binary) << weights;
  try {
    const tfjs::Model m = tfjs::load(dir.path());
    tfjs::convert(m);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

std::string manifest(const std::string& shape) {
  return R"({"format": "layers-model", "modelTopology": {}, "weightsManifest": [{"paths": ["weights.bin"],
            "weights": [{"name": "w", "shape": )" + shape + R"(, "dtype": "float32"}]}]})";
}

TEST(TfjsLoad, NegativeOrHugeShapesAreModelErrors) {
  test::TempDir dir("tfjs-shapes");
  EXPECT_NE(load_error(dir, manifest("[-1, 4]"), "abcd").find("weight 'w' has a negative dimension"), std::string::npos);
  // 2^62 * 4 elements * 4 bytes wraps a 64-bit size to 0: must not pass the length check.
  const std::string huge = load_error(dir, manifest("[4611686018427387904, 4]"), "");
  EXPECT_NE(huge.find("weight files too short for 'w'"), std::string::npos) << huge;
}

TEST(TfjsLoad, FieldsOfTheWrongTypeAreModelErrorsNamingModelJson) {
  test::TempDir dir("tfjs-types");
  const std::string e1 = load_error(dir, R"({"modelTopology": {}, "weightsManifest": [{"paths": 7}]})", "");
  EXPECT_NE(e1.find("model.json: unexpected structure"), std::string::npos) << e1;
  const std::string e2 = load_error(dir, R"({"format": 5, "modelTopology": {"model_config": 3}, "weightsManifest": []})", "");
  EXPECT_NE(e2.find("model.json: unexpected structure"), std::string::npos) << e2;
}

TEST(TfjsLoad, NodeWithoutItsInputsIsAModelError) {
  // Found by fuzz_tfjs: a Relu node with no "input" made the converter throw std::out_of_range.
  test::TempDir dir("tfjs-inputs");
  const std::string e = load_error(dir, R"({"format": "graph-model", "modelTopology": {"node": [
      {"name": "input", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "8"},
       {"size": "8"}, {"size": "3"}]}}}},
      {"name": "relu", "op": "Relu"}]}, "weightsManifest": []})", "");
  EXPECT_NE(e.find("model.json: unexpected structure"), std::string::npos) << e;
}

}  // namespace
}  // namespace irbis
