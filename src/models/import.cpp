// `irbis model import` / `irbis model add`: TF.js -> ONNX + card, and registering user ONNX files.
#include <algorithm>
#include <fstream>
#include <map>
#include <onnx/onnx_pb.h>

#include "irbis/errors.h"
#include "irbis/model.h"
#include "models/dnn_util.h"
#include "models/ir.h"
#include "models/tfjs.h"

namespace irbis {
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Recipe {
  std::string architecture;
  std::vector<std::pair<std::string, std::string>> blocks;  // short name, source tensor name
  std::vector<std::string> descriptor;
  std::string semantic;
};

// The built-in recipes for nsfwjs's three models (see docs/models.md); anything else gets the
// tensor that feeds its classifier as the one block.
Recipe make_recipe(const std::string& name, const tfjs::Converted& c) {
  // `name` is the TF.js folder's name (the nsfwjs package's model folder).
  Recipe r;
  auto find_suffix = [&](const std::string& suffix) {
    for (const auto& t : c.tensors)
      if (ends_with(t, suffix)) return t;
    throw ModelError("import " + name + ": no tensor ends with '" + suffix + "'");
  };
  if (name == "mobilenet_v2_mid") {
    r.architecture = "MobileNetV2 width 1.4, 224 px (TF Hub feature vector + nsfwjs classifier), TF.js graph model";
    // Every residual block output, the expansion of block 13, and the final pooled tensor.
    std::vector<std::pair<int, std::string>> adds;
    for (const auto& t : c.tensors) {
      auto p = t.find("MobilenetV2/expanded_conv_");
      if (p == std::string::npos || !ends_with(t, "/add")) continue;
      std::string short_name = t.substr(p + std::string("MobilenetV2/").size());
      adds.emplace_back(std::stoi(short_name.substr(std::string("expanded_conv_").size())), short_name);
    }
    std::sort(adds.begin(), adds.end());
    for (const auto& [idx, s] : adds) {
      r.blocks.emplace_back(s, find_suffix("MobilenetV2/" + s));
      if (idx == 12)
        r.blocks.emplace_back("expanded_conv_13/expand/Relu6", find_suffix("MobilenetV2/expanded_conv_13/expand/Relu6"));
    }
    r.blocks.emplace_back("feature_vector/SpatialSqueeze", find_suffix("feature_vector/SpatialSqueeze"));
    r.descriptor = {"expanded_conv_8/add", "expanded_conv_13/expand/Relu6", "feature_vector/SpatialSqueeze"};
    r.semantic = "feature_vector/SpatialSqueeze";
  } else if (name == "mobilenet_v2") {
    r.architecture = "MobileNetV2 width 1.0, 224 px (Keras applications + nsfwjs classifier), TF.js layers model";
    std::vector<std::pair<int, std::string>> adds;
    for (const auto& t : c.tensors)
      if (t.rfind("block_", 0) == 0 && ends_with(t, "_add")) adds.emplace_back(std::stoi(t.substr(6)), t);
    std::sort(adds.begin(), adds.end());
    for (const auto& [idx, s] : adds) r.blocks.emplace_back(s, s);
    r.blocks.emplace_back("global_pool", c.classifier_in);
    r.descriptor = {"global_pool"};
    r.semantic = "global_pool";
  } else if (name == "inception_v3") {
    r.architecture = "Inception v3, 299 px (Keras applications + nsfwjs classifier), TF.js layers model";
    for (const char* s : {"mixed2", "mixed5", "mixed7"}) r.blocks.emplace_back(s, find_suffix(s));
    r.blocks.emplace_back("global_pool", c.classifier_in);
    r.descriptor = {"global_pool"};
    r.semantic = "global_pool";
  } else {
    if (c.classifier_in.empty())
      throw ModelError("import " + name + ": no dense/MatMul classifier found, so no embedding tensor is known");
    r.architecture = "TF.js model";
    r.blocks.emplace_back("global_pool", c.classifier_in);
    r.descriptor = {"global_pool"};
    r.semantic = "global_pool";
  }
  return r;
}

// Runs a zero input through the model and returns the pooled dim of each tensor.
std::vector<int> probe_dims(const fs::path& onnx, const std::string& input_tensor, int size,
                            const std::vector<std::string>& tensors, const std::string& where) {
  cv::dnn::Net net = dnn_util::load_net(onnx);
  std::vector<cv::String> layers;
  for (const auto& t : tensors) layers.push_back(dnn_util::layer_for_tensor(net, t, where));
  int shape[4] = {1, 3, size, size};
  cv::Mat blob(4, shape, CV_32F, cv::Scalar(0));
  std::vector<cv::Mat> outs;
  try {
    net.setInput(blob, input_tensor);
    net.forward(outs, layers);
  } catch (const cv::Exception& e) {
    throw ModelError(where + ": OpenCV DNN cannot run the model at " + std::to_string(size) + " px (input '" +
                     input_tensor + "'): " + e.what());
  }
  std::vector<int> dims;
  for (const auto& o : outs) dims.push_back(dnn_util::pool_rows(o).cols);
  return dims;
}

void write_atomically(const fs::path& tmp, const fs::path& final_path) {
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) throw IoError("cannot rename " + tmp.string() + " to " + final_path.string() + ": " + ec.message());
}

}  // namespace

ModelCard import_tfjs(const fs::path& tfjs_dir, const fs::path& out_dir, const ImportOptions& opts) {
  tfjs::Model m = tfjs::load(tfjs_dir);
  fs::path folder = fs::absolute(tfjs_dir).lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();  // trailing slash
  const std::string folder_name = folder.filename().string();
  std::string name = opts.name.empty() ? folder_name : opts.name;
  tfjs::Converted c = tfjs::convert(m);
  // The built-in recipes are keyed by the source folder, so a renamed import keeps its recipe.
  Recipe r = make_recipe(folder_name, c);

  ModelCard card;
  card.name = name;
  card.architecture = r.architecture;
  card.source = "npm";
  card.source_package = opts.source_package;
  card.source_version = opts.source_version;
  card.source_path = "dist/models/" + folder_name;
  card.license = opts.license;
  if (opts.source_package.empty()) {
    card.source = "tfjs";
    card.source_path = folder.string();
  }
  card.onnx_file = name + ".onnx";
  card.input_tensor = c.input;
  card.input_size = c.graph.shape(c.input).h;
  card.color_order = "RGB";
  card.pixel_scale = 1.0 / 255.0;  // nsfwjs feeds value / 255; the graph model maps to [-1, 1] itself
  card.mean = {0, 0, 0};
  card.std = {1, 1, 1};
  for (const auto& [short_name, tensor] : r.blocks) {
    std::string t = c.resolve(tensor);
    c.graph.mark_output(t);
    card.blocks.push_back({short_name, t, c.graph.shape(t).c});
  }
  if (!c.probabilities.empty()) {
    std::string t = c.resolve(c.probabilities);
    c.graph.mark_output(t);
    card.outputs.push_back({"probabilities", t, c.graph.shape(t).c});
  }
  card.descriptor = r.descriptor;
  card.semantic_block = r.semantic;
  card.embedding_dim = card.descriptor_dim();
  card.validate();

  c.graph.prune();
  c.graph.fold_pad();
  c.graph.fold_batchnorm();

  fs::create_directories(out_dir);
  fs::path onnx = out_dir / card.onnx_file;
  fs::path tmp = out_dir / (card.onnx_file + ".tmp");
  c.graph.write_onnx(tmp, name,
                     "Converted by irbis from the TF.js model " + card.source_path +
                         (opts.source_package.empty() ? "" : " of npm " + opts.source_package + "@" + opts.source_version));
  // Check that OpenCV DNN loads and runs it, with the dims the card claims.
  std::vector<std::string> tensors;
  for (const auto& b : card.blocks) tensors.push_back(b.tensor);
  for (const auto& o : card.outputs) tensors.push_back(o.tensor);
  std::vector<int> dims = probe_dims(tmp, card.input_tensor, card.input_size, tensors, "import " + name);
  for (size_t i = 0; i < tensors.size(); ++i) {
    int want = i < card.blocks.size() ? card.blocks[i].dim : card.outputs[i - card.blocks.size()].dim;
    if (dims[i] != want)
      throw ModelError("import " + name + ": OpenCV DNN gives " + std::to_string(dims[i]) + " channels for '" +
                       tensors[i] + "', the converter expected " + std::to_string(want));
  }
  write_atomically(tmp, onnx);
  card.onnx_sha256 = sha256_file(onnx);
  card.card_path = out_dir / (name + ".json");
  card.save(card.card_path);
  return card;
}

ModelCard add_onnx_model(const fs::path& onnx_file, ModelCard card, const fs::path& out_dir) {
  std::string where = "model add " + onnx_file.string();
  {
    std::ifstream in(onnx_file, std::ios::binary);
    if (!in) throw ModelError(where + ": cannot read the file");
    onnx::ModelProto proto;
    if (!proto.ParseFromIstream(&in) || !proto.has_graph() || proto.graph().node_size() == 0)
      throw ModelError(where + ": not an ONNX model (protobuf ModelProto with a graph expected)");
    ir::check_onnx_model(proto, where);
    // The data inputs: graph inputs that are not initializers.
    std::vector<std::string> inits, inputs;
    for (const auto& i : proto.graph().initializer()) inits.push_back(i.name());
    for (const auto& i : proto.graph().input())
      if (std::find(inits.begin(), inits.end(), i.name()) == inits.end()) inputs.push_back(i.name());
    if (inputs.empty()) throw ModelError(where + ": the model has no input tensor");
    if (std::find(inputs.begin(), inputs.end(), card.input_tensor) == inputs.end()) {
      // Empty or the card's default name: take the first input; a name the user gave must exist.
      if (!card.input_tensor.empty() && card.input_tensor != ModelCard{}.input_tensor) {
        std::string all;
        for (const auto& i : inputs) all += (all.empty() ? "" : ", ") + i;
        throw ModelError(where + ": no input tensor named '" + card.input_tensor + "'; inputs: " + all);
      }
      card.input_tensor = inputs[0];
    }
    if (card.blocks.empty()) {
      if (proto.graph().output_size() == 0) throw ModelError(where + ": the model has no outputs; pass --output");
      card.blocks.push_back({proto.graph().output(0).name(), proto.graph().output(0).name(), 0});
    }
  }
  if (card.name.empty()) card.name = onnx_file.stem().string();
  card.onnx_file = card.name + ".onnx";
  card.source = "user";
  if (card.descriptor.empty())
    for (const auto& b : card.blocks) card.descriptor.push_back(b.name);
  if (card.semantic_block.empty()) card.semantic_block = card.blocks.back().name;

  std::vector<std::string> tensors;
  for (const auto& b : card.blocks) tensors.push_back(b.tensor);
  for (const auto& o : card.outputs) tensors.push_back(o.tensor);
  std::vector<int> dims = probe_dims(onnx_file, card.input_tensor, card.input_size, tensors, where);
  for (size_t i = 0; i < tensors.size(); ++i) {
    int& d = i < card.blocks.size() ? card.blocks[i].dim : card.outputs[i - card.blocks.size()].dim;
    if (d != 0 && d != dims[i])
      throw ModelError(where + ": the card says '" + tensors[i] + "' has dimension " + std::to_string(d) +
                       ", the model gives " + std::to_string(dims[i]));
    d = dims[i];
  }
  int desc = card.descriptor_dim();
  if (card.embedding_dim != 0 && card.embedding_dim != desc)
    throw ModelError(where + ": the card says the embedding has dimension " + std::to_string(card.embedding_dim) +
                     ", the model's output gives " + std::to_string(desc));
  card.embedding_dim = desc;
  card.validate();

  fs::create_directories(out_dir);
  fs::path dest = out_dir / card.onnx_file;
  std::error_code ec;
  if (!fs::exists(dest, ec) || !fs::equivalent(onnx_file, dest, ec)) {
    fs::path tmp = out_dir / (card.onnx_file + ".tmp");
    fs::copy_file(onnx_file, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) throw IoError("cannot copy " + onnx_file.string() + " to " + tmp.string() + ": " + ec.message());
    write_atomically(tmp, dest);
  }
  card.onnx_sha256 = sha256_file(dest);
  card.card_path = out_dir / (card.name + ".json");
  card.save(card.card_path);
  return card;
}

}  // namespace irbis
