#include "models/ir.h"

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <onnx/onnx_pb.h>

#include "irbis/errors.h"

namespace irbis::ir {

namespace {
// Window sizes come from model files: bounded so that no product below overflows and no stride
// divides by zero (F16: a Conv2D with strides [0, 1], SIGFPE before).
constexpr int kMaxWindow = 4096;
void check_window(int k, int s, int d) {
  if (k < 1 || k > kMaxWindow || s < 1 || s > kMaxWindow || d < 1 || d > kMaxWindow)
    throw ModelError("importer: kernel " + std::to_string(k) + ", stride " + std::to_string(s) + ", dilation " +
                     std::to_string(d) + ": each must be 1.." + std::to_string(kMaxWindow));
}
}  // namespace

std::array<int, 2> same_pads(int in, int k, int s, int d) {
  check_window(k, s, d);
  int out = (in + s - 1) / s;
  int eff = (k - 1) * d + 1;
  int total = std::max((out - 1) * s + eff - in, 0);
  return {total / 2, total - total / 2};
}

int conv_out(int in, int k, int s, int d, int pad_total) {
  check_window(k, s, d);
  if (pad_total < 0 || pad_total > 2 * kMaxWindow) throw ModelError("importer: padding " + std::to_string(pad_total) + " out of range");
  int eff = (k - 1) * d + 1;
  return (in + pad_total - eff) / s + 1;
}

Graph::Graph(std::string input_name, Shape input_shape)
    : input_(std::move(input_name)), input_shape_(input_shape) {
  shapes_[input_] = input_shape_;
}

const Shape& Graph::shape(const std::string& t) const {
  auto it = shapes_.find(t);
  if (it == shapes_.end()) throw ModelError("importer: unknown tensor '" + t + "'");
  return it->second;
}

Shape Graph::infer(const Node& n) const {
  if (n.inputs.empty()) throw ModelError("importer: node '" + n.output + "' has no input");
  const Shape& x = shape(n.inputs[0]);
  Shape y = x;
  const std::string& op = n.op;
  // A converter builds the parameters from a model file's weights: they must fit the input, since
  // folding, export and inference index them by these shapes (a TF.js Conv2D given a 2-D kernel
  // read past its shape: F14 in docs/reliability.md).
  const auto volume = [](const std::vector<int64_t>& s) {
    int64_t v = 1;
    for (int64_t d : s) v = d <= 0 || v > INT32_MAX / d ? -1 : v * d;
    return v;
  };
  const auto fits = [&](bool ok, const std::string& what) {
    if (!ok) throw ModelError("importer: " + op + " '" + n.output + "': " + what);
  };
  if (op == "Conv") {
    if (x.flat) throw ModelError("importer: Conv '" + n.output + "' on a 2-D tensor");
    const std::vector<int64_t>& ws = n.weight_shape;
    fits(ws.size() == 4 && volume(ws) > 0 && size_t(volume(ws)) == n.weight.size(), "weights do not match their shape");
    fits(n.group >= 1 && ws[1] * n.group == x.c, "weights for " + std::to_string(ws[1] * n.group) + " input channels, the input has " + std::to_string(x.c));
    fits(n.kernel[0] == ws[2] && n.kernel[1] == ws[3], "kernel size differs from the weights'");
    fits(n.bias.empty() || n.bias.size() == size_t(ws[0]), "bias of another size than the output channels");
    y.c = int(n.weight_shape[0]);
    y.h = conv_out(x.h, n.kernel[0], n.stride[0], n.dilation[0], n.pads[0] + n.pads[2]);
    y.w = conv_out(x.w, n.kernel[1], n.stride[1], n.dilation[1], n.pads[1] + n.pads[3]);
  } else if (op == "MaxPool" || op == "AveragePool") {
    y.h = conv_out(x.h, n.kernel[0], n.stride[0], 1, n.pads[0] + n.pads[2]);
    y.w = conv_out(x.w, n.kernel[1], n.stride[1], 1, n.pads[1] + n.pads[3]);
  } else if (op == "Pad") {
    for (int p : n.pads)
      fits(p >= 0 && p <= kMaxWindow, "padding " + std::to_string(p) + " out of range");
    y.h = x.h + n.pads[0] + n.pads[2];
    y.w = x.w + n.pads[1] + n.pads[3];
  } else if (op == "GlobalAveragePool") {
    y.h = y.w = 1;
  } else if (op == "Concat") {
    y.c = 0;
    for (const auto& i : n.inputs) y.c += shape(i).c;
  } else if (op == "Flatten") {
    y = Shape{x.flat ? x.c : x.c * x.h * x.w, 1, 1, true};
  } else if (op == "Transpose") {
    y = Shape{x.h, x.w, x.c, false};  // only perm {0, 2, 3, 1} (NCHW -> NHWC) is emitted
  } else if (op == "Gemm") {
    const std::vector<int64_t>& ws = n.weight_shape;
    fits(ws.size() == 2 && volume(ws) > 0 && size_t(volume(ws)) == n.weight.size(), "weights do not match their shape");
    fits(x.flat && ws[1] == x.c, "weights for " + std::to_string(ws[1]) + " inputs, the input has " + std::to_string(x.c));
    fits(n.bias.empty() || n.bias.size() == size_t(ws[0]), "bias of another size than the outputs");
    y = Shape{int(n.weight_shape[0]), 1, 1, true};
  } else if (op == "BatchNormalization") {
    const size_t c = size_t(x.c);
    fits(n.bn_gamma.size() == c && n.bn_beta.size() == c && n.bn_mean.size() == c && n.bn_var.size() == c,
         "parameters of another size than the " + std::to_string(c) + " channels");
  } else if (op == "Add" || op == "Mul" || op == "Sub" || op == "Clip" || op == "Relu" || op == "Softmax" ||
             op == "Identity" || op == "Sigmoid") {
    // same shape as the first input
  } else {
    throw ModelError("importer: cannot infer the shape of op " + op);
  }
  if (y.c <= 0 || y.h <= 0 || y.w <= 0)
    throw ModelError("importer: '" + n.output + "' (" + op + ") has an empty output at this input size");
  return y;
}

const std::string& Graph::add(Node n) {
  if (shapes_.count(n.output)) throw ModelError("importer: tensor '" + n.output + "' defined twice");
  Shape s = infer(n);
  shapes_[n.output] = s;
  nodes_.push_back(std::move(n));
  return nodes_.back().output;
}

void Graph::mark_output(const std::string& t) {
  shape(t);
  for (const auto& o : outputs_)
    if (o == t) return;
  outputs_.push_back(t);
}

void Graph::fold_batchnorm() {
  std::map<std::string, int> consumers;
  for (const auto& n : nodes_)
    for (const auto& i : n.inputs) consumers[i]++;
  std::set<std::string> outs(outputs_.begin(), outputs_.end());
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes_.size(); ++i) producer[nodes_[i].output] = i;
  std::vector<bool> drop(nodes_.size(), false);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& bn = nodes_[i];
    if (bn.op != "BatchNormalization") continue;
    auto it = producer.find(bn.inputs[0]);
    if (it == producer.end()) continue;
    Node& conv = nodes_[it->second];
    if (conv.op != "Conv" || consumers[conv.output] != 1 || outs.count(conv.output)) continue;
    size_t oc = size_t(conv.weight_shape[0]);
    size_t per = conv.weight.size() / oc;
    if (conv.bias.empty()) conv.bias.assign(oc, 0.f);
    for (size_t o = 0; o < oc; ++o) {
      double s = double(bn.bn_gamma[o]) / std::sqrt(double(bn.bn_var[o]) + double(bn.bn_eps));
      for (size_t k = 0; k < per; ++k) conv.weight[o * per + k] = float(double(conv.weight[o * per + k]) * s);
      conv.bias[o] = float((double(conv.bias[o]) - double(bn.bn_mean[o])) * s + double(bn.bn_beta[o]));
    }
    // The conv now produces the BN's output name; the BN node goes away.
    shapes_.erase(conv.output);
    conv.output = bn.output;
    producer[conv.output] = it->second;
    drop[i] = true;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!drop[i]) kept.push_back(std::move(nodes_[i]));
  nodes_ = std::move(kept);
}

void Graph::fold_pad() {
  std::set<std::string> outs(outputs_.begin(), outputs_.end());
  std::vector<bool> drop(nodes_.size(), false);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& pad = nodes_[i];
    if (pad.op != "Pad" || outs.count(pad.output)) continue;
    bool only_convs = true, any = false;
    for (const auto& n : nodes_)
      for (const auto& in : n.inputs)
        if (in == pad.output) {
          any = true;
          if (n.op != "Conv") only_convs = false;
        }
    if (!any || !only_convs) continue;
    for (auto& n : nodes_)
      if (n.op == "Conv" && n.inputs[0] == pad.output) {
        n.inputs[0] = pad.inputs[0];
        for (int k = 0; k < 4; ++k) n.pads[k] += pad.pads[k];
      }
    drop[i] = true;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!drop[i]) kept.push_back(std::move(nodes_[i]));
  nodes_ = std::move(kept);
}

void Graph::prune() {
  std::set<std::string> needed(outputs_.begin(), outputs_.end());
  std::vector<bool> keep(nodes_.size(), false);
  for (size_t i = nodes_.size(); i-- > 0;) {
    if (!needed.count(nodes_[i].output)) continue;
    keep[i] = true;
    for (const auto& in : nodes_[i].inputs) needed.insert(in);
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (keep[i]) kept.push_back(std::move(nodes_[i]));
  nodes_ = std::move(kept);
}

namespace {

void add_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<float>& data,
                     const std::vector<int64_t>& dims) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float)));
}

void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void attr_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

void value_info(onnx::ValueInfoProto* v, const std::string& name, const Shape& s) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* sh = tt->mutable_shape();
  sh->add_dim()->set_dim_param("N");
  sh->add_dim()->set_dim_value(s.c);
  if (!s.flat) {
    sh->add_dim()->set_dim_value(s.h);
    sh->add_dim()->set_dim_value(s.w);
  }
}

}  // namespace

void Graph::write_onnx(const std::filesystem::path& out, const std::string& graph_name,
                       const std::string& doc) const {
  onnx::ModelProto m;
  m.set_ir_version(5);
  // Never "pytorch": OpenCV 4.6 then counts AveragePool padding in the mean (Keras does not).
  m.set_producer_name("irbis");
  m.set_producer_version(IRBIS_VERSION);
  m.set_doc_string(doc);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(10);
  auto* g = m.mutable_graph();
  g->set_name(graph_name);
  value_info(g->add_input(), input_, input_shape_);
  for (const auto& n : nodes_) {
    auto* p = g->add_node();
    p->set_op_type(n.op);
    p->set_name(n.output);
    for (const auto& i : n.inputs) p->add_input(i);
    p->add_output(n.output);
    if (n.op == "Conv") {
      p->add_input(n.output + "/W");
      add_initializer(g, n.output + "/W", n.weight, n.weight_shape);
      if (!n.bias.empty()) {
        p->add_input(n.output + "/B");
        add_initializer(g, n.output + "/B", n.bias, {int64_t(n.bias.size())});
      }
      attr_ints(p, "kernel_shape", {n.kernel[0], n.kernel[1]});
      attr_ints(p, "strides", {n.stride[0], n.stride[1]});
      attr_ints(p, "dilations", {n.dilation[0], n.dilation[1]});
      attr_ints(p, "pads", {n.pads[0], n.pads[1], n.pads[2], n.pads[3]});
      attr_int(p, "group", n.group);
    } else if (n.op == "Gemm") {
      p->add_input(n.output + "/W");
      add_initializer(g, n.output + "/W", n.weight, n.weight_shape);
      p->add_input(n.output + "/B");
      std::vector<float> b = n.bias;
      if (b.empty()) b.assign(size_t(n.weight_shape[0]), 0.f);
      add_initializer(g, n.output + "/B", b, {int64_t(b.size())});
      attr_float(p, "alpha", 1.f);
      attr_float(p, "beta", 1.f);
      attr_int(p, "transA", 0);
      attr_int(p, "transB", 1);  // OpenCV reads a missing transB wrongly; B is [out, in]
    } else if (n.op == "MaxPool" || n.op == "AveragePool") {
      attr_ints(p, "kernel_shape", {n.kernel[0], n.kernel[1]});
      attr_ints(p, "strides", {n.stride[0], n.stride[1]});
      attr_ints(p, "pads", {n.pads[0], n.pads[1], n.pads[2], n.pads[3]});
      if (n.op == "AveragePool") attr_int(p, "count_include_pad", 0);
    } else if (n.op == "Pad") {
      attr_string(p, "mode", "constant");
      attr_ints(p, "pads", {0, 0, n.pads[0], n.pads[1], 0, 0, n.pads[2], n.pads[3]});
      attr_float(p, "value", 0.f);
    } else if (n.op == "Clip") {
      attr_float(p, "min", n.clip_min);  // opset <= 10: bounds are attributes
      attr_float(p, "max", n.clip_max);
    } else if (n.op == "Concat" || n.op == "Softmax" || n.op == "Flatten") {
      attr_int(p, "axis", n.axis);
    } else if (n.op == "Transpose") {
      attr_ints(p, "perm", n.perm);
    } else if (n.op == "BatchNormalization") {
      for (auto [suffix, v] : {std::pair{"/gamma", &n.bn_gamma}, {"/beta", &n.bn_beta},
                               {"/mean", &n.bn_mean}, {"/var", &n.bn_var}}) {
        p->add_input(n.output + suffix);
        add_initializer(g, n.output + suffix, *v, {int64_t(v->size())});
      }
      attr_float(p, "epsilon", n.bn_eps);
    } else if ((n.op == "Mul" || n.op == "Sub" || n.op == "Add") && n.inputs.size() == 1) {
      p->add_input(n.output + "/const");
      add_initializer(g, n.output + "/const", n.constant, n.constant_shape);
    }
  }
  for (const auto& o : outputs_) value_info(g->add_output(), o, shape(o));
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  if (!f || !m.SerializeToOstream(&f)) throw IoError("cannot write " + out.string());
}


namespace {

// Bytes per element of the ONNX tensor types of a fixed size; 0 for the others (strings).
size_t onnx_element_bytes(int type) {
  switch (type) {
    case onnx::TensorProto::UINT8: case onnx::TensorProto::INT8: case onnx::TensorProto::BOOL:
      return 1;
    case onnx::TensorProto::UINT16: case onnx::TensorProto::INT16: case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      return 2;
    case onnx::TensorProto::FLOAT: case onnx::TensorProto::INT32: case onnx::TensorProto::UINT32:
      return 4;
    case onnx::TensorProto::INT64: case onnx::TensorProto::UINT64: case onnx::TensorProto::DOUBLE:
      return 8;
    default:
      return 0;
  }
}

// Values in a tensor's typed field (a tensor without raw_data): the narrower integer types and the
// 16-bit floats are stored one per int32.
int64_t onnx_typed_values(const onnx::TensorProto& t) {
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: return t.float_data_size();
    case onnx::TensorProto::INT64: return t.int64_data_size();
    case onnx::TensorProto::DOUBLE: return t.double_data_size();
    case onnx::TensorProto::UINT32: case onnx::TensorProto::UINT64: return t.uint64_data_size();
    default: return t.int32_data_size();
  }
}

std::string spelled(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) {
    if (!s.empty()) s += ' ';
    s += std::to_string(x);
  }
  return s;
}

}  // namespace

void check_onnx_model(const onnx::ModelProto& model, const std::string& where) {
  const onnx::GraphProto& g = model.graph();
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const onnx::TensorProto& t : g.initializer()) {
    inits[t.name()] = &t;
    const std::string what = where + ": initializer '" + t.name() + "'";
    uint64_t count = 1;
    std::string shape;
    for (int64_t d : t.dims()) {
      if (d < 0) throw ModelError(what + " has dimension " + std::to_string(d));
      if (!shape.empty()) shape += 'x';
      shape += std::to_string(d);
      if (d != 0 && count > (uint64_t(1) << 40) / uint64_t(d)) throw ModelError(what + " has a shape over 2^40 values");
      count *= uint64_t(d);
    }
    const size_t bytes = onnx_element_bytes(t.data_type());
    if (bytes == 0) continue;
    const uint64_t held = t.has_raw_data() ? t.raw_data().size() / bytes : uint64_t(onnx_typed_values(t));
    if (held != count || (t.has_raw_data() && t.raw_data().size() % bytes != 0))
      throw ModelError(what + " holds " + std::to_string(held) + " values, its shape " + (shape.empty() ? "(scalar)" : shape) +
                       " needs " + std::to_string(count));
  }
  for (const onnx::NodeProto& n : g.node()) {
    const std::string& op = n.op_type();
    const bool conv = op == "Conv" || op == "ConvTranspose";
    if (!conv && op != "MaxPool" && op != "AveragePool" && op != "LpPool") continue;
    const std::string what = where + ": " + op + " '" + n.name() + "'";
    // The kernel's rank: kernel_shape's length, else a Conv weight's dimensions after the first two.
    long rank = -1;
    std::vector<int64_t> kernel;
    for (const onnx::AttributeProto& a : n.attribute())
      if (a.name() == "kernel_shape") kernel.assign(a.ints().begin(), a.ints().end()), rank = long(kernel.size());
    if (rank < 0 && conv && n.input_size() > 1) {
      if (const auto w = inits.find(n.input(1)); w != inits.end() && w->second->dims_size() >= 2) {
        kernel.assign(w->second->dims().begin() + 2, w->second->dims().end());
        rank = long(kernel.size());
      }
    }
    const auto check = [&](const std::string& name, const std::vector<int64_t>& v, int64_t lo, int64_t hi, long length) {
      for (int64_t x : v)
        if (x < lo || x > hi)
          throw ModelError(what + ": " + name + " " + spelled(v) + ": each must be " + std::to_string(lo) + ".." + std::to_string(hi));
      if (length >= 0 && long(v.size()) != length)
        throw ModelError(what + ": " + name + " " + spelled(v) + ": " + std::to_string(v.size()) + " values for a " +
                         std::to_string(rank) + "-D kernel");
    };
    check("kernel", kernel, 1, kMaxWindow, -1);
    for (const onnx::AttributeProto& a : n.attribute()) {
      const std::vector<int64_t> v(a.ints().begin(), a.ints().end());
      if (a.name() == "strides" || a.name() == "dilations") check(a.name(), v, 1, kMaxWindow, rank);
      if (a.name() == "pads") check("pads", v, 0, kMaxWindow, rank < 0 ? -1 : 2 * rank);
      if (a.name() == "group" && (a.i() < 1 || a.i() > 65536))
        throw ModelError(what + ": group " + std::to_string(a.i()) + ": must be 1..65536");
    }
  }
}

}  // namespace irbis::ir
