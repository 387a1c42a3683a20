// TF.js Keras layers model (model_config JSON, NHWC) -> ir::Graph (NCHW).
#include "irbis/errors.h"
#include "models/json_int.h"
#include "models/tfjs.h"

namespace irbis::tfjs {
using nlohmann::json;

namespace {

// An integer of model.json: a JSON integer within int (models/json_int.h), else a ModelError.
int int_of(const json& v) {
  if (!json_int_fits(v))
    throw ModelError("layers model: " + v.dump() + " where an integer was expected");
  return int(v.get<int64_t>());
}
int int_of(const json& obj, const char* key, int fallback) { return obj.contains(key) ? int_of(obj[key]) : fallback; }

std::array<int, 2> pair_of(const json& v, int def) {
  if (v.is_null()) return {def, def};
  if (v.is_number()) return {int_of(v), int_of(v)};
  return {int_of(v.at(0)), int_of(v.at(1))};
}

}  // namespace

Converted convert_layers_model(const Model& m) {
  const json& topo = m.json["modelTopology"];
  const json& cfg = topo.contains("model_config") ? topo["model_config"] : topo;
  std::string cls = cfg.value("class_name", "");
  if (cls != "Model" && cls != "Functional" && cls != "Sequential")
    throw ModelError("layers model: unsupported model class '" + cls + "'");
  const json& layers = cfg.at("config").is_array() ? cfg.at("config") : cfg.at("config").at("layers");
  if (cls == "Sequential") throw ModelError("layers model: Sequential models are not supported yet");

  const json* input_layer = nullptr;
  for (const auto& l : layers)
    if (l.at("class_name") == "InputLayer") {
      if (input_layer) throw ModelError("layers model: more than one input is not supported");
      input_layer = &l;
    }
  if (!input_layer) throw ModelError("layers model: no InputLayer");
  const json& bis = input_layer->at("config").at("batch_input_shape");
  if (bis.size() != 4 || bis[1].is_null() || bis[2].is_null())
    throw ModelError("layers model: input must be NHWC with a fixed size");
  std::string in_name = input_layer->at("config").value("name", input_layer->value("name", "input"));
  Converted out{ir::Graph(in_name, ir::Shape{int_of(bis[3]), int_of(bis[1]), int_of(bis[2]), false}),
                in_name, "", "", {}, {}};
  ir::Graph& g = out.graph;
  auto tensor = [&](const std::string& n) { return out.resolve(n); };

  auto activation = [&](const std::string& pre, const std::string& name, const std::string& act) {
    if (act == "linear" || act.empty()) {
      out.alias[name] = pre;
      return;
    }
    ir::Node a;
    a.inputs = {pre};
    a.output = name;
    if (act == "relu") a.op = "Relu";
    else if (act == "relu6") { a.op = "Clip"; a.clip_min = 0; a.clip_max = 6; }
    else if (act == "sigmoid") a.op = "Sigmoid";
    else if (act == "softmax") { a.op = "Softmax"; a.axis = 1; out.probabilities = name; }
    else throw ModelError("layers model: " + name + ": unsupported activation '" + act + "'");
    if (a.op == "Softmax" && !g.shape(pre).flat) throw ModelError("layers model: " + name + ": softmax on a 4-D tensor");
    g.add(std::move(a));
  };
  auto window = [&](ir::Node& n, const json& c, const ir::Shape& x, std::array<int, 2> k, std::array<int, 2> s,
                    std::array<int, 2> d, const std::string& name) {
    if (c.value("data_format", "channels_last") != "channels_last")
      throw ModelError("layers model: " + name + ": only channels_last is supported");
    n.kernel = k;
    n.stride = s;
    n.dilation = d;
    std::string pad = c.value("padding", "valid");
    if (pad == "same") {
      auto ph = ir::same_pads(x.h, k[0], s[0], d[0]);
      auto pw = ir::same_pads(x.w, k[1], s[1], d[1]);
      n.pads = {ph[0], pw[0], ph[1], pw[1]};
    } else if (pad != "valid") {
      throw ModelError("layers model: " + name + ": unsupported padding '" + pad + "'");
    }
  };

  for (const auto& l : layers) {
    const std::string type = l.at("class_name").get<std::string>();
    const json& c = l.at("config");
    const std::string name = c.value("name", l.value("name", ""));
    if (type == "InputLayer") continue;
    std::vector<std::string> ins;
    const json& inbound = l.at("inbound_nodes");
    if (inbound.size() != 1) throw ModelError("layers model: " + name + ": shared layers are not supported");
    for (const auto& i : inbound[0]) {
      if (int_of(i.at(1)) != 0 || int_of(i.at(2)) != 0)
        throw ModelError("layers model: " + name + ": multi-output inputs are not supported");
      ins.push_back(tensor(i.at(0).get<std::string>()));
    }
    if (ins.empty()) throw ModelError("layers model: " + name + " has no input");
    const std::string x = ins[0];
    out.tensors.push_back(name);

    if (type == "Dropout" || type == "SpatialDropout2D" || type == "GaussianNoise") {
      out.alias[name] = x;
    } else if (type == "ZeroPadding2D") {
      const json& p = c.at("padding");
      ir::Node n;
      n.op = "Pad";
      n.inputs = {x};
      n.output = name;
      if (p.is_number()) {
        int v = int_of(p);
        n.pads = {v, v, v, v};
      } else if (p.at(0).is_number()) {
        n.pads = {int_of(p[0]), int_of(p[1]), int_of(p[0]), int_of(p[1])};
      } else {
        n.pads = {int_of(p[0][0]), int_of(p[1][0]), int_of(p[0][1]), int_of(p[1][1])};
      }
      g.add(std::move(n));
    } else if (type == "Conv2D" || type == "DepthwiseConv2D") {
      bool depthwise = type == "DepthwiseConv2D";
      const Weight& w = m.weight(name + (depthwise ? "/depthwise_kernel" : "/kernel"), 4);
      int64_t kh = w.shape[0], kw = w.shape[1], ci = w.shape[2], co = w.shape[3];
      ir::Node n;
      n.op = "Conv";
      n.inputs = {x};
      n.weight.resize(w.values.size());
      if (depthwise) {  // [kh, kw, C, mult] -> [C * mult, 1, kh, kw], group C
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t xx = 0; xx < kw; ++xx)
            for (int64_t i = 0; i < ci; ++i)
              for (int64_t j = 0; j < co; ++j)
                n.weight[((i * co + j) * kh + y) * kw + xx] = w.values[((y * kw + xx) * ci + i) * co + j];
        n.weight_shape = {ci * co, 1, kh, kw};
        n.group = int(ci);
      } else {  // HWIO -> OIHW
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t xx = 0; xx < kw; ++xx)
            for (int64_t i = 0; i < ci; ++i)
              for (int64_t o = 0; o < co; ++o)
                n.weight[((o * ci + i) * kh + y) * kw + xx] = w.values[((y * kw + xx) * ci + i) * co + o];
        n.weight_shape = {co, ci, kh, kw};
        if (int_of(c, "groups", 1) != 1) throw ModelError("layers model: " + name + ": grouped Conv2D is not supported");
      }
      if (c.value("use_bias", true)) n.bias = m.weight(name + "/bias").values;
      window(n, c, g.shape(x), {int(kh), int(kw)}, pair_of(c.value("strides", json()), 1),
             pair_of(c.value("dilation_rate", json()), 1), name);
      std::string act = c.value("activation", "linear");
      n.output = act == "linear" ? name : name + "/conv";
      g.add(std::move(n));
      if (act != "linear") activation(name + "/conv", name, act);
    } else if (type == "BatchNormalization") {
      int axis = int_of(c, "axis", -1);
      if (axis != -1 && axis != 3) throw ModelError("layers model: " + name + ": BatchNormalization only on channels");
      int ch = g.shape(x).c;
      ir::Node n;
      n.op = "BatchNormalization";
      n.inputs = {x};
      n.output = name;
      n.bn_eps = float(c.value("epsilon", 1e-3));
      n.bn_gamma = c.value("scale", true) ? m.weight(name + "/gamma").values : std::vector<float>(size_t(ch), 1.f);
      n.bn_beta = c.value("center", true) ? m.weight(name + "/beta").values : std::vector<float>(size_t(ch), 0.f);
      n.bn_mean = m.weight(name + "/moving_mean").values;
      n.bn_var = m.weight(name + "/moving_variance").values;
      g.add(std::move(n));
    } else if (type == "ReLU") {
      if (c.value("negative_slope", 0.0) != 0.0 || c.value("threshold", 0.0) != 0.0)
        throw ModelError("layers model: " + name + ": leaky or thresholded ReLU is not supported");
      ir::Node n;
      n.inputs = {x};
      n.output = name;
      if (c.contains("max_value") && !c["max_value"].is_null()) {
        n.op = "Clip";
        n.clip_min = 0;
        n.clip_max = float(c["max_value"].get<double>());
      } else {
        n.op = "Relu";
      }
      g.add(std::move(n));
    } else if (type == "Activation") {
      activation(x, name, c.value("activation", "linear"));
    } else if (type == "Softmax") {
      activation(x, name, "softmax");
    } else if (type == "Add") {
      std::string acc = ins[0];
      for (size_t i = 1; i < ins.size(); ++i) {
        ir::Node n;
        n.op = "Add";
        n.inputs = {acc, ins[i]};
        n.output = i + 1 == ins.size() ? name : name + "/" + std::to_string(i);
        acc = g.add(std::move(n));
      }
    } else if (type == "Concatenate") {
      int axis = int_of(c, "axis", -1);
      if (axis != -1 && axis != 3) throw ModelError("layers model: " + name + ": only channel concatenation is supported");
      ir::Node n;
      n.op = "Concat";
      n.axis = 1;
      n.inputs = ins;
      n.output = name;
      g.add(std::move(n));
    } else if (type == "MaxPooling2D" || type == "AveragePooling2D") {
      ir::Node n;
      n.op = type == "MaxPooling2D" ? "MaxPool" : "AveragePool";
      n.inputs = {x};
      n.output = name;
      auto k = pair_of(c.at("pool_size"), 2);
      auto s = c.contains("strides") && !c["strides"].is_null() ? pair_of(c["strides"], 1) : k;
      window(n, c, g.shape(x), k, s, {1, 1}, name);
      g.add(std::move(n));
    } else if (type == "GlobalAveragePooling2D" || type == "GlobalMaxPooling2D") {
      if (type == "GlobalMaxPooling2D") throw ModelError("layers model: " + name + ": GlobalMaxPooling2D is not supported");
      ir::Node n;
      n.op = "GlobalAveragePool";
      n.inputs = {x};
      n.output = name + "/gap";
      g.add(std::move(n));
      ir::Node f;
      f.op = "Flatten";
      f.axis = 1;
      f.inputs = {name + "/gap"};
      f.output = name;
      g.add(std::move(f));
    } else if (type == "Flatten") {
      const ir::Shape& xs = g.shape(x);
      std::string src = x;
      if (!xs.flat && (xs.h != 1 || xs.w != 1)) {  // Keras flattens NHWC: transpose first
        ir::Node t;
        t.op = "Transpose";
        t.perm = {0, 2, 3, 1};
        t.inputs = {x};
        t.output = name + "/nhwc";
        src = g.add(std::move(t));
      }
      ir::Node f;
      f.op = "Flatten";
      f.axis = 1;
      f.inputs = {src};
      f.output = name;
      g.add(std::move(f));
    } else if (type == "Dense") {
      if (!g.shape(x).flat) throw ModelError("layers model: " + name + ": Dense on a 4-D tensor");
      const Weight& w = m.weight(name + "/kernel", 2);
      int64_t rows = w.shape[0], cols = w.shape[1];
      ir::Node n;
      n.op = "Gemm";
      n.inputs = {x};
      n.weight.resize(w.values.size());
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t o = 0; o < cols; ++o) n.weight[o * rows + i] = w.values[i * cols + o];
      n.weight_shape = {cols, rows};
      if (c.value("use_bias", true)) n.bias = m.weight(name + "/bias").values;
      std::string act = c.value("activation", "linear");
      n.output = act == "linear" ? name : name + "/gemm";
      g.add(std::move(n));
      if (act != "linear") activation(name + "/gemm", name, act);
      if (out.classifier_in.empty()) out.classifier_in = x;  // the first Dense reads the pooled features
    } else {
      throw ModelError("layers model: layer " + type + " ('" + name + "') is not supported by the importer");
    }
  }
  return out;
}

}  // namespace irbis::tfjs
