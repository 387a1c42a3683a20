// TF.js graph model (TensorFlow GraphDef as JSON, NHWC) -> ir::Graph (NCHW).
#include <algorithm>
#include <functional>
#include <limits>
#include <set>

#include "irbis/errors.h"
#include "models/tfjs.h"

namespace irbis::tfjs {
using nlohmann::json;

namespace {

std::string base64_decode(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int buf = 0, bits = 0;
  for (char c : s) {
    int v = val(c);
    if (v < 0) continue;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((buf >> bits) & 0xff));
    }
  }
  return out;
}

// A TF graph's integers are JSON strings ("1", "-1"): an optional '-' and decimal digits, within
// int, else a ModelError naming what it is (F18: std::stoll threw std::invalid_argument on "x", which
// escaped the converter; "12abc" was read as 12).
int64_t tf_int(const std::string& text, const std::string& what) {
  const size_t digits = !text.empty() && text[0] == '-' ? 1 : 0;
  const bool ok = text.size() > digits && text.size() - digits <= 10 &&
                  std::all_of(text.begin() + long(digits), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const long long v = ok ? std::stoll(text) : 0;
  if (!ok || v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    throw ModelError("graph model: " + what + " \"" + text + "\" is not an integer within int");
  return v;
}

struct TfNode {
  std::string name, op;
  std::vector<std::string> inputs;
  const json* attr = nullptr;

  bool has(const std::string& k) const { return attr && attr->contains(k); }
  std::string s(const std::string& k, const std::string& def = "") const {
    if (!has(k) || !(*attr)[k].contains("s")) return def;
    return base64_decode((*attr)[k]["s"].get<std::string>());
  }
  std::vector<int64_t> ints(const std::string& k) const {
    std::vector<int64_t> v;
    if (has(k) && (*attr)[k].contains("list") && (*attr)[k]["list"].contains("i"))
      for (const auto& x : (*attr)[k]["list"]["i"]) v.push_back(tf_int(x.get<std::string>(), "node '" + name + "' attribute " + k));
    return v;
  }
  std::vector<std::string> strings(const std::string& k) const {
    std::vector<std::string> v;
    if (has(k) && (*attr)[k].contains("list") && (*attr)[k]["list"].contains("s"))
      for (const auto& x : (*attr)[k]["list"]["s"]) v.push_back(base64_decode(x.get<std::string>()));
    return v;
  }
  bool b(const std::string& k, bool def = false) const {
    if (!has(k) || !(*attr)[k].contains("b")) return def;
    return (*attr)[k]["b"].get<bool>();
  }
};

std::string clean_input(const std::string& in) {
  std::string s = in;
  auto colon = s.rfind(':');
  if (colon != std::string::npos && colon + 1 < s.size() &&
      s.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
    if (s.substr(colon + 1) != "0") throw ModelError("graph model: output " + s + " of a multi-output op is not supported");
    s = s.substr(0, colon);
  }
  return s;
}

}  // namespace

Converted convert_graph_model(const Model& m) {
  const json& nodes_json = m.json["modelTopology"].at("node");
  std::vector<TfNode> nodes;
  std::map<std::string, size_t> by_name;
  for (const auto& nj : nodes_json) {
    TfNode n;
    n.name = nj.at("name").get<std::string>();
    n.op = nj.at("op").get<std::string>();
    if (nj.contains("input"))
      for (const auto& i : nj["input"]) {
        std::string s = i.get<std::string>();
        if (!s.empty() && s[0] == '^') continue;  // control dependency
        n.inputs.push_back(clean_input(s));
      }
    if (nj.contains("attr")) n.attr = &nj["attr"];
    by_name[n.name] = nodes.size();
    nodes.push_back(std::move(n));
  }
  const TfNode* placeholder = nullptr;
  for (const auto& n : nodes)
    if (n.op == "Placeholder") {
      if (placeholder) throw ModelError("graph model: more than one input (Placeholder) is not supported");
      placeholder = &n;
    }
  if (!placeholder) throw ModelError("graph model: no Placeholder input");
  std::vector<int64_t> in_dims;
  // .at(): a missing key is a json::out_of_range (a ModelError naming model.json, from convert()),
  // never the const operator[]'s assertion or its read past the map (F19).
  if (placeholder->has("shape"))
    for (const auto& d : placeholder->attr->at("shape").at("shape").at("dim"))
      in_dims.push_back(tf_int(d.value("size", "-1"), "input dimension"));
  if (in_dims.size() != 4 || in_dims[1] <= 0 || in_dims[2] <= 0 || in_dims[3] <= 0)
    throw ModelError("graph model: input must be NHWC with a fixed size");

  Converted out{ir::Graph(placeholder->name, ir::Shape{int(in_dims[3]), int(in_dims[1]), int(in_dims[2]), false}),
                placeholder->name, "", "", {}, {}};
  ir::Graph& g = out.graph;
  std::map<std::string, std::string> alias;  // TF name -> IR tensor name (Identity, Squeeze...)
  std::set<std::string> done;

  auto is_const = [&](const std::string& name) {
    auto it = by_name.find(name);
    return it != by_name.end() && nodes[it->second].op == "Const";
  };
  auto tensor = [&](const std::string& name) -> std::string {
    auto it = alias.find(name);
    return it == alias.end() ? name : it->second;
  };
  auto hwio_to_oihw = [](const Weight& w) {
    int64_t kh = w.shape[0], kw = w.shape[1], ci = w.shape[2], co = w.shape[3];
    std::vector<float> o(w.values.size());
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        for (int64_t i = 0; i < ci; ++i)
          for (int64_t c = 0; c < co; ++c) o[((c * ci + i) * kh + y) * kw + x] = w.values[((y * kw + x) * ci + i) * co + c];
    return std::make_pair(o, std::vector<int64_t>{co, ci, kh, kw});
  };
  auto depthwise_to_oihw = [](const Weight& w) {
    int64_t kh = w.shape[0], kw = w.shape[1], ci = w.shape[2], mult = w.shape[3];
    std::vector<float> o(w.values.size());
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        for (int64_t i = 0; i < ci; ++i)
          for (int64_t j = 0; j < mult; ++j) o[((i * mult + j) * kh + y) * kw + x] = w.values[((y * kw + x) * ci + i) * mult + j];
    return std::make_pair(o, std::vector<int64_t>{ci * mult, 1, kh, kw});
  };
  auto set_window = [&](ir::Node& n, const TfNode& t, const ir::Shape& x, int kh, int kw) {
    std::vector<int64_t> st = t.ints("strides");
    std::vector<int64_t> dl = t.ints("dilations");
    if (t.s("data_format", "NHWC") != "NHWC") throw ModelError("graph model: " + t.name + ": only NHWC is supported");
    n.kernel = {kh, kw};
    n.stride = {st.size() == 4 ? int(st[1]) : 1, st.size() == 4 ? int(st[2]) : 1};
    n.dilation = {dl.size() == 4 ? int(dl[1]) : 1, dl.size() == 4 ? int(dl[2]) : 1};
    std::string pad = t.s("padding", "VALID");
    if (pad == "SAME") {
      auto ph = ir::same_pads(x.h, kh, n.stride[0], n.dilation[0]);
      auto pw = ir::same_pads(x.w, kw, n.stride[1], n.dilation[1]);
      n.pads = {ph[0], pw[0], ph[1], pw[1]};
    } else if (pad == "EXPLICIT") {
      std::vector<int64_t> e = t.ints("explicit_paddings");
      if (e.size() != 8) throw ModelError("graph model: " + t.name + ": bad explicit_paddings");
      n.pads = {int(e[2]), int(e[4]), int(e[3]), int(e[5])};
    } else if (pad != "VALID") {
      throw ModelError("graph model: " + t.name + ": unsupported padding " + pad);
    }
  };
  // Emits activation nodes after `pre`; returns the final name (= the TF node's name).
  auto activation = [&](const std::string& pre, const std::string& final_name, const std::string& act) {
    ir::Node a;
    a.inputs = {pre};
    a.output = final_name;
    if (act == "Relu") a.op = "Relu";
    else if (act == "Relu6") { a.op = "Clip"; a.clip_min = 0; a.clip_max = 6; }
    else if (act == "Sigmoid") a.op = "Sigmoid";
    else throw ModelError("graph model: " + final_name + ": unsupported fused activation " + act);
    g.add(std::move(a));
  };

  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    if (done.count(name)) return;
    auto it = by_name.find(name);
    if (it == by_name.end()) throw ModelError("graph model: node '" + name + "' not found");
    const TfNode& t = nodes[it->second];
    done.insert(name);
    if (t.op == "Const" || t.op == "Placeholder") return;
    for (const auto& i : t.inputs) visit(i);
    const std::string& op = t.op;
    if (op == "Identity" || op == "StopGradient") {
      alias[t.name] = tensor(t.inputs.at(0));
    } else if (op == "Conv2D" || op == "_FusedConv2D" || op == "DepthwiseConv2dNative" ||
               op == "FusedDepthwiseConv2dNative") {
      bool depthwise = op.find("Depthwise") != std::string::npos;
      const Weight& w = m.weight(t.inputs.at(1), 4);
      std::string x = tensor(t.inputs.at(0));
      ir::Node n;
      n.op = "Conv";
      n.inputs = {x};
      auto [wv, ws] = depthwise ? depthwise_to_oihw(w) : hwio_to_oihw(w);
      n.weight = std::move(wv);
      n.weight_shape = ws;
      if (depthwise) n.group = g.shape(x).c;
      set_window(n, t, g.shape(x), int(w.shape[0]), int(w.shape[1]));
      std::vector<std::string> fused = t.strings("fused_ops");
      size_t fi = 0;
      if (fi < fused.size() && fused[fi] == "BiasAdd") {
        n.bias = m.weight(t.inputs.at(2)).values;
        ++fi;
      }
      std::string act = fi < fused.size() ? fused[fi++] : "";
      if (fi < fused.size()) throw ModelError("graph model: " + t.name + ": unsupported fused ops");
      if (!act.empty() && act != "Relu" && act != "Relu6" && act != "Sigmoid")
        throw ModelError("graph model: " + t.name + ": unsupported fused op " + act);
      n.output = act.empty() ? t.name : t.name + "/conv";
      g.add(std::move(n));
      if (!act.empty()) activation(t.name + "/conv", t.name, act);
    } else if (op == "Relu" || op == "Relu6" || op == "Sigmoid") {
      activation(tensor(t.inputs.at(0)), t.name, op);
    } else if (op == "Add" || op == "AddV2" || op == "Mul" || op == "Sub" || op == "BiasAdd") {
      std::string onnx_op = (op == "AddV2" || op == "BiasAdd") ? "Add" : op;
      ir::Node n;
      n.op = onnx_op;
      n.output = t.name;
      bool c0 = is_const(t.inputs.at(0)), c1 = is_const(t.inputs.at(1));
      if (c0 && c1) throw ModelError("graph model: " + t.name + ": constant folding is not supported");
      if (c0 || c1) {
        if (c0 && op == "Sub") throw ModelError("graph model: " + t.name + ": constant - tensor is not supported");
        std::string x = tensor(t.inputs.at(c0 ? 1 : 0));
        const Weight& w = m.weight(t.inputs.at(c0 ? 0 : 1));
        n.inputs = {x};
        n.constant = w.values;
        const ir::Shape& xs = g.shape(x);
        if (w.values.size() == 1) n.constant_shape = {1};
        else if (int(w.values.size()) == xs.c) n.constant_shape = xs.flat ? std::vector<int64_t>{1, xs.c} : std::vector<int64_t>{1, xs.c, 1, 1};
        else throw ModelError("graph model: " + t.name + ": only scalar or per-channel constants are supported");
      } else {
        n.inputs = {tensor(t.inputs.at(0)), tensor(t.inputs.at(1))};
      }
      g.add(std::move(n));
    } else if (op == "AvgPool" || op == "MaxPool") {
      std::string x = tensor(t.inputs.at(0));
      std::vector<int64_t> k = t.ints("ksize");
      if (k.size() != 4) throw ModelError("graph model: " + t.name + ": bad ksize");
      ir::Node n;
      n.op = op == "AvgPool" ? "AveragePool" : "MaxPool";
      n.inputs = {x};
      n.output = t.name;
      set_window(n, t, g.shape(x), int(k[1]), int(k[2]));
      n.dilation = {1, 1};
      g.add(std::move(n));
    } else if (op == "Mean") {
      const Weight& axes = m.weight(t.inputs.at(1));
      if (axes.values.size() != 2 || axes.values[0] != 1 || axes.values[1] != 2)
        throw ModelError("graph model: " + t.name + ": only Mean over H, W is supported");
      ir::Node n;
      n.op = "GlobalAveragePool";
      n.inputs = {tensor(t.inputs.at(0))};
      n.output = t.b("keep_dims") ? t.name : t.name + "/gap";
      g.add(std::move(n));
      if (!t.b("keep_dims")) {
        ir::Node f;
        f.op = "Flatten";
        f.axis = 1;
        f.inputs = {t.name + "/gap"};
        f.output = t.name;
        g.add(std::move(f));
      }
    } else if (op == "Squeeze") {
      std::string x = tensor(t.inputs.at(0));
      const ir::Shape& xs = g.shape(x);
      std::vector<int64_t> dims = t.ints("squeeze_dims");
      if (xs.flat || xs.h != 1 || xs.w != 1 || (dims != std::vector<int64_t>{1, 2} && !dims.empty()))
        throw ModelError("graph model: " + t.name + ": only Squeeze of 1x1 spatial dims is supported");
      ir::Node f;
      f.op = "Flatten";
      f.axis = 1;
      f.inputs = {x};
      f.output = t.name;
      g.add(std::move(f));
    } else if (op == "MatMul" || op == "_FusedMatMul") {
      if (t.b("transpose_a")) throw ModelError("graph model: " + t.name + ": transpose_a is not supported");
      std::string x = tensor(t.inputs.at(0));
      if (!g.shape(x).flat) throw ModelError("graph model: " + t.name + ": MatMul on a 4-D tensor");
      const Weight& w = m.weight(t.inputs.at(1), 2);
      ir::Node n;
      n.op = "Gemm";
      n.inputs = {x};
      int64_t rows = w.shape[0], cols = w.shape[1];
      if (t.b("transpose_b")) {
        n.weight = w.values;
        n.weight_shape = {rows, cols};
      } else {
        n.weight.resize(w.values.size());
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t o = 0; o < cols; ++o) n.weight[o * rows + i] = w.values[i * cols + o];
        n.weight_shape = {cols, rows};
      }
      std::vector<std::string> fused = t.strings("fused_ops");
      size_t fi = 0;
      if (fi < fused.size() && fused[fi] == "BiasAdd") {
        n.bias = m.weight(t.inputs.at(2)).values;
        ++fi;
      }
      std::string act = fi < fused.size() ? fused[fi++] : "";
      n.output = act.empty() ? t.name : t.name + "/gemm";
      g.add(std::move(n));
      if (!act.empty()) activation(t.name + "/gemm", t.name, act);
      out.classifier_in = x;
    } else if (op == "ConcatV2") {
      const Weight& axis = m.weight(t.inputs.back());
      int a = int(axis.values.at(0));
      ir::Node n;
      n.op = "Concat";
      n.output = t.name;
      for (size_t i = 0; i + 1 < t.inputs.size(); ++i) n.inputs.push_back(tensor(t.inputs[i]));
      bool flat = g.shape(n.inputs[0]).flat;
      if (flat ? (a != 1 && a != -1) : (a != 3 && a != -1))
        throw ModelError("graph model: " + t.name + ": only channel concatenation is supported");
      n.axis = 1;
      g.add(std::move(n));
    } else if (op == "Softmax") {
      ir::Node n;
      n.op = "Softmax";
      n.axis = 1;
      n.inputs = {tensor(t.inputs.at(0))};
      n.output = t.name;
      if (!g.shape(n.inputs[0]).flat) throw ModelError("graph model: " + t.name + ": Softmax on a 4-D tensor");
      g.add(std::move(n));
      out.probabilities = t.name;
    } else {
      throw ModelError("graph model: op " + op + " (node " + t.name + ") is not supported by the importer");
    }
  };
  for (const auto& n : nodes) visit(n.name);
  for (const auto& n : nodes)
    if (n.op != "Const" && n.op != "Placeholder") out.tensors.push_back(n.name);
  out.alias = alias;
  return out;
}

}  // namespace irbis::tfjs
