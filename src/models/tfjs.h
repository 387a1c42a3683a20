// Reading TF.js model folders (model.json + weight files) and converting them to ir::Graph.
// Internal to src/models.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "models/ir.h"

namespace irbis::tfjs {

struct Weight {
  std::vector<int64_t> shape;
  std::vector<float> values;  // dequantized: min + scale * q, rounded to float once
};

struct Model {
  std::filesystem::path dir;
  nlohmann::json json;  // the whole model.json
  std::map<std::string, Weight> weights;
  bool is_graph_model() const;
  const Weight& weight(const std::string& name) const;  // throws ModelError naming it
  // The same, and it must have `rank` dimensions (a converter indexes its shape).
  const Weight& weight(const std::string& name, size_t rank) const;
};

// Reads model.json and the weight files its manifest names (joined in `paths` order).
Model load(const std::filesystem::path& dir);

struct Converted {
  ir::Graph graph;
  std::string input;           // input tensor name
  std::string classifier_in;   // tensor feeding the final dense layer (the pooled features)
  std::string probabilities;   // output of the final softmax ("" if none)
  // All tensors by the name the source model gives them (TF node or Keras layer name).
  std::vector<std::string> tensors;
  // Source names that are not IR tensors of their own (Identity, Dropout, linear Activation...).
  std::map<std::string, std::string> alias;
  std::string resolve(const std::string& name) const {
    auto it = alias.find(name);
    return it == alias.end() ? name : it->second;
  }
};

// Graph models: ops Placeholder, Const, Identity, Mul/Sub/Add/AddV2, Conv2D, _FusedConv2D,
// DepthwiseConv2dNative, FusedDepthwiseConv2dNative, Relu, Relu6, AvgPool, MaxPool, Mean,
// Squeeze, MatMul, _FusedMatMul, ConcatV2, Softmax.
Converted convert_graph_model(const Model& m);
// Keras layers models: InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D, BatchNormalization,
// ReLU, Activation, Add, Concatenate, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
// Flatten, Dense, Dropout, Softmax.
Converted convert_layers_model(const Model& m);
// The converter the model's format needs; JSON fields of the wrong type become ModelErrors.
Converted convert(const Model& m);

}  // namespace irbis::tfjs
