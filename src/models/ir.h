// A small NCHW network description that the TF.js importers build and write_onnx() emits as an
// opset-10 ONNX graph that OpenCV 4.6's DNN importer reads. Internal to src/models.
#pragma once
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace onnx {
class ModelProto;
}

namespace irbis::ir {

// An ONNX model file is user input (`irbis model add`): throws a ModelError naming `where` when an
// initializer's data do not fill its shape (or a dimension is negative), or a Conv / pooling window
// is out of range (kernel, strides, dilations 1..4096, pads 0..4096, group 1..65536, each list as
// long as the kernel's rank): what the oneDNN engine and OpenCV's importer divide by and index with.
void check_onnx_model(const onnx::ModelProto& model, const std::string& where);

struct Shape {
  int c = 0, h = 0, w = 0;
  bool flat = false;  // 2-D [N, c]
};

struct Node {
  std::string op;  // ONNX op type
  std::vector<std::string> inputs;  // data inputs (tensor names)
  std::string output;
  // Conv / Gemm weights (already in ONNX layout: OIHW, Gemm B as [out, in]) and bias.
  std::vector<float> weight;
  std::vector<int64_t> weight_shape;
  std::vector<float> bias;
  int group = 1;
  std::array<int, 2> kernel{1, 1}, stride{1, 1}, dilation{1, 1};
  std::array<int, 4> pads{0, 0, 0, 0};  // top, left, bottom, right
  float clip_min = 0, clip_max = 6;
  int axis = 1;
  std::vector<int64_t> perm;
  // Elementwise with a constant (Mul/Sub/Add with one tensor input): broadcast constant.
  std::vector<float> constant;
  std::vector<int64_t> constant_shape;
  // BatchNormalization: y = (x - mean) / sqrt(var + eps) * gamma + beta
  std::vector<float> bn_gamma, bn_beta, bn_mean, bn_var;
  float bn_eps = 1e-3f;
};

// TF "SAME" padding for one axis: total = max((ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, 0),
// begin = total / 2, end = total - begin (the extra pixel goes to the end).
std::array<int, 2> same_pads(int in, int k, int s, int d);
int conv_out(int in, int k, int s, int d, int pad_total);

class Graph {
 public:
  Graph(std::string input_name, Shape input_shape);

  const Shape& shape(const std::string& tensor) const;
  bool has(const std::string& tensor) const { return shapes_.count(tensor) != 0; }
  const std::string& input() const { return input_; }

  // Appends a node whose output shape is inferred; returns the output name.
  const std::string& add(Node n);
  // Marks a tensor as a graph output (in this order).
  void mark_output(const std::string& tensor);
  const std::vector<std::string>& outputs() const { return outputs_; }
  std::vector<Node>& nodes() { return nodes_; }

  // Folds BatchNormalization nodes into the Conv that feeds them when that conv output has no
  // other consumer and is not a graph output; the BN's output name is kept.
  void fold_batchnorm();
  // Folds zero Pad nodes into the Convs that consume them (when nothing else reads the Pad's
  // output); Keras' ZeroPadding2D before a stride-2 "valid" conv becomes asymmetric conv pads.
  void fold_pad();
  // Drops nodes whose outputs reach no graph output.
  void prune();

  // Writes an opset-10 ONNX model (producer "irbis").
  void write_onnx(const std::filesystem::path& out, const std::string& graph_name,
                  const std::string& doc) const;

 private:
  Shape infer(const Node& n) const;
  std::string input_;
  Shape input_shape_;
  std::vector<Node> nodes_;
  std::map<std::string, Shape> shapes_;
  std::vector<std::string> outputs_;
};

}  // namespace irbis::ir
