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
  // F20 (fuzz_tfjs run 3, after 329,681 executions): a dimension 5.55556e22 reached nlohmann's
  // unchecked float-to-int conversion (UBSan); 4.7 was read as 4. A dimension is a JSON integer.
  for (const std::string dim : {"5.55556e22", "4.7", "\"4\"", "true"}) {
    const std::string e = load_error(dir, manifest("[" + dim + ", 4]"), std::string(64, 'a'));
    EXPECT_NE(e.find("weight 'w' has a dimension that is not a JSON integer"), std::string::npos) << dim << ": " << e;
  }
  const std::string past_int64 = load_error(dir, manifest("[18446744073709551615, 4]"), "");
  EXPECT_NE(past_int64.find("weight files too short for 'w'"), std::string::npos) << past_int64;
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

// F18 (fuzz_tfjs, after ~169,000 executions): a graph model's integers are strings; an input
// dimension "x" made std::stoll throw std::invalid_argument out of the converter (the process ended
// on an unexpected exception), and "12abc" was read as 12. Input kept in fuzz/regressions/tfjs/.
TEST(TfjsLoad, GraphModelIntegersMustBeDecimalIntegersWithinInt) {
  test::TempDir dir("tfjs-ints");
  // Input 1x8xSIZEx3, a 3x3 Conv2D "conv" with the given first stride, ReLU.
  const auto graph = [](const std::string& size, const std::string& stride) {
    return R"({"format": "graph-model", "modelTopology": {"node": [
      {"name": "input", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "8"},
       {"size": ")" + size + R"("}, {"size": "3"}]}}}},
      {"name": "w", "op": "Const", "attr": {"value": {"tensor": {"dtype": "DT_FLOAT"}}}},
      {"name": "conv", "op": "Conv2D", "input": ["input", "w"], "attr": {"strides": {"list": {"i": ["1", ")" + stride +
           R"(", "1", "1"]}}, "padding": {"s": "U0FNRQ=="}}},
      {"name": "relu", "op": "Relu", "input": ["conv"]}]},
      "weightsManifest": [{"paths": ["weights.bin"], "weights": [{"name": "w", "shape": [3, 3, 3, 4], "dtype": "float32"}]}]})";
  };
  const std::string weights(3 * 3 * 3 * 4 * sizeof(float), '\0');
  for (const std::string bad : {"x", "12abc", "", "-", "99999999999", "2147483648", " 8"}) {
    const std::string e = load_error(dir, graph(bad, "1"), weights);
    EXPECT_NE(e.find("input dimension \"" + bad + "\" is not an integer within int"), std::string::npos) << bad << ": " << e;
  }
  const std::string stride = load_error(dir, graph("8", "1x"), weights);
  EXPECT_NE(stride.find("node 'conv' attribute strides \"1x\" is not an integer within int"), std::string::npos) << stride;
  EXPECT_EQ(load_error(dir, graph("8", "1"), weights), "");  // the same graph with its integers right converts
}

// F19 (fuzz_tfjs, this branch's second run, after 38,091 executions): a Placeholder whose "shape"
// attribute has no inner "shape" (or no "dim"): the converter read them with nlohmann's const
// operator[], which asserts on a missing key (Debian's build keeps the assertion: the process
// aborted) and reads past the map without assertions. Input kept in fuzz/regressions/tfjs/.
TEST(TfjsLoad, PlaceholderWithoutItsShapeIsAModelError) {
  test::TempDir dir("tfjs-shape");
  for (const std::string shape : {R"({"sfiltershape": {"dim": [{"size": "1"}]}})", R"({"shape": {"unknown_rank": true}})"}) {
    const std::string e = load_error(dir, R"({"format": "graph-model", "modelTopology": {"node": [
        {"name": "input", "op": "Placeholder", "attr": {"shape": )" + shape + R"(}},
        {"name": "relu", "op": "Relu", "input": ["input"]}]}, "weightsManifest": []})", "");
    EXPECT_NE(e.find("model.json: unexpected structure"), std::string::npos) << shape << ": " << e;
  }
}

// A Keras model (input 8x8x3, Conv2D "conv" 3x3 -> 4, global pooling, Dense "dense" 4 -> 2) whose
// weights have the given shapes, and as many float32 zeros as they need.
std::pair<std::string, std::string> layers_model(const std::vector<std::pair<std::string, std::string>>& weights) {
  std::string manifest;
  size_t floats = 0;
  for (const auto& [name, shape] : weights) {
    size_t n = 1;
    for (size_t at = shape.find_first_of("0123456789"); at != std::string::npos; at = shape.find_first_of("0123456789", at)) {
      size_t len = 0;
      n *= std::stoul(shape.substr(at), &len);
      at += len;
    }
    floats += n;
    manifest += std::string(manifest.empty() ? "" : ", ") + R"({"name": ")" + name + R"(", "shape": )" + shape +
                R"(, "dtype": "float32"})";
  }
  const auto layer = [](const std::string& cls, const std::string& name, const std::string& cfg, const std::string& in) {
    return R"({"class_name": ")" + cls + R"(", "name": ")" + name + R"(", "config": {"name": ")" + name + "\"" + cfg +
           R"(}, "inbound_nodes": )" + (in.empty() ? "[]" : R"([[[")" + in + R"(", 0, 0, {}]]])") + "}";
  };
  const std::string json =
      R"({"format": "layers-model", "modelTopology": {"model_config": {"class_name": "Model", "config": {"layers": [)" +
      layer("InputLayer", "input", R"(, "batch_input_shape": [null, 8, 8, 3], "dtype": "float32")", "") + ", " +
      layer("Conv2D", "conv", R"(, "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "activation": "relu", "use_bias": true, "dilation_rate": [1, 1])", "input") +
      ", " + layer("GlobalAveragePooling2D", "pool", "", "conv") + ", " +
      layer("Dense", "dense", R"(, "units": 2, "activation": "softmax", "use_bias": true)", "pool") +
      R"(], "input_layers": [["input", 0, 0]], "output_layers": [["dense", 0, 0]]}}}, "weightsManifest": [{"paths": ["weights.bin"], "weights": [)" +
      manifest + "]}]}";
  return {json, std::string(floats * 4, '\0')};
}

TEST(TfjsLoad, WeightsThatDoNotFitTheirLayerAreModelErrors) {
  test::TempDir dir("tfjs-fit");
  const auto error = [&](const std::vector<std::pair<std::string, std::string>>& weights) {
    const auto [json, bin] = layers_model(weights);
    return load_error(dir, json, bin);
  };
  // As written, the model converts.
  EXPECT_EQ(error({{"conv/kernel", "[3, 3, 3, 4]"}, {"conv/bias", "[4]"}, {"dense/kernel", "[4, 2]"}, {"dense/bias", "[2]"}}), "");
  // F14 (fuzz_tfjs, after 5,775 executions): a Conv2D kernel of two dimensions; the converter read
  // its shape[2] and shape[3] past the end (ASan: heap-buffer-overflow in convert_layers_model).
  const std::string rank = error({{"conv/kernel", "[4, 2]"}, {"conv/bias", "[4]"}, {"dense/kernel", "[4, 2]"}, {"dense/bias", "[2]"}});
  EXPECT_NE(rank.find("weight 'conv/kernel' has 2 dimensions, its layer needs 4"), std::string::npos) << rank;
  // Kernels of the right rank that do not fit the input or each other, and biases of another size:
  // refused where the graph is built, before anything indexes them.
  const std::string channels = error({{"conv/kernel", "[3, 3, 5, 4]"}, {"conv/bias", "[4]"}, {"dense/kernel", "[4, 2]"}, {"dense/bias", "[2]"}});
  EXPECT_NE(channels.find("Conv 'conv/conv': weights for 5 input channels, the input has 3"), std::string::npos) << channels;
  const std::string bias = error({{"conv/kernel", "[3, 3, 3, 4]"}, {"conv/bias", "[4]"}, {"dense/kernel", "[4, 2]"}, {"dense/bias", "[3]"}});
  EXPECT_NE(bias.find("Gemm 'dense/gemm': bias of another size than the outputs"), std::string::npos) << bias;
  const std::string dense = error({{"conv/kernel", "[3, 3, 3, 4]"}, {"conv/bias", "[4]"}, {"dense/kernel", "[6, 2]"}, {"dense/bias", "[2]"}});
  EXPECT_NE(dense.find("Gemm 'dense/gemm': weights for 6 inputs, the input has 4"), std::string::npos) << dense;
}

TEST(TfjsLoad, WindowsAndIntegersOutOfRangeAreModelErrors) {
  test::TempDir dir("tfjs-window");
  // Not a structured binding: clang 14 (the sanitizer build) cannot capture one in the lambda.
  const std::pair<std::string, std::string> model =
      layers_model({{"conv/kernel", "[3, 3, 3, 4]"}, {"conv/bias", "[4]"}, {"dense/kernel", "[4, 2]"}, {"dense/bias", "[2]"}});
  const std::string &json = model.first, &bin = model.second;
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string j = json;
    const size_t at = j.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return load_error(dir, j.replace(at, from.size(), to), bin);
  };
  // F16 (fuzz_tfjs, after 11,169 executions): strides [0, 1] divided by zero computing the padding
  // (UBSan; SIGFPE in a normal build).
  const std::string stride = with(R"("strides": [1, 1])", R"("strides": [0, 1])");
  EXPECT_NE(stride.find("importer: kernel 3, stride 0, dilation 1: each must be 1..4096"), std::string::npos) << stride;
  // F15's class in model.json: an integer field holding 1e31 (nlohmann converts it unchecked).
  const std::string huge = with(R"("strides": [1, 1])", R"("strides": [1e31, 1])");
  EXPECT_NE(huge.find("where an integer was expected"), std::string::npos) << huge;
}

}  // namespace
}  // namespace irbis
