// Model card JSON and the model registry directory.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "irbis/errors.h"
#include "irbis/model.h"
#include "models/json_int.h"

namespace irbis {
namespace fs = std::filesystem;
using nlohmann::json;

fs::path ModelCard::onnx_path() const {
  fs::path f(onnx_file);
  if (f.is_absolute() || card_path.empty()) return f;
  return card_path.parent_path() / f;
}

int ModelCard::blocks_dim() const {
  int d = 0;
  for (const auto& b : blocks) d += b.dim;
  return d;
}

int ModelCard::descriptor_dim() const {
  int d = 0;
  for (const auto& n : descriptor) d += block(n).dim;
  return d;
}

const ModelBlock& ModelCard::block(const std::string& n) const {
  for (const auto& b : blocks)
    if (b.name == n) return b;
  throw ModelError("model '" + name + "': no block named '" + n + "'");
}

int ModelCard::block_offset(const std::string& n) const {
  int off = 0;
  for (const auto& b : blocks) {
    if (b.name == n) return off;
    off += b.dim;
  }
  throw ModelError("model '" + name + "': no block named '" + n + "'");
}

void ModelCard::validate() const {
  std::string where = card_path.empty() ? "model card '" + name + "'" : card_path.string();
  auto fail = [&](const std::string& why) { throw ModelError(where + ": " + why); };
  if (name.empty()) fail("missing name");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      fail("model name '" + name + "' may only use letters, digits, '_', '-', '.'");
  if (onnx_file.empty()) fail("missing onnx_file");
  if (input_tensor.empty()) fail("missing input_tensor");
  if (input_size < 16 || input_size > 4096) fail("input_size " + std::to_string(input_size) + " out of range");
  if (color_order != "RGB" && color_order != "BGR") fail("color_order must be RGB or BGR, not '" + color_order + "'");
  if (!(pixel_scale > 0)) fail("pixel_scale must be > 0");
  for (double s : std)
    if (!(s > 0)) fail("std values must be > 0");
  if (blocks.empty()) fail("no blocks (embedding tensors)");
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i].name.empty() || blocks[i].tensor.empty()) fail("block without name or tensor");
    if (blocks[i].dim <= 0) fail("block '" + blocks[i].name + "' has no dimension");
    for (size_t j = 0; j < i; ++j)
      if (blocks[j].name == blocks[i].name) fail("duplicate block '" + blocks[i].name + "'");
  }
  if (descriptor.empty()) fail("empty descriptor recipe");
  for (const auto& d : descriptor) {
    bool found = std::any_of(blocks.begin(), blocks.end(), [&](const ModelBlock& b) { return b.name == d; });
    if (!found) fail("descriptor names unknown block '" + d + "'");
  }
  if (!semantic_block.empty() &&
      !std::any_of(blocks.begin(), blocks.end(), [&](const ModelBlock& b) { return b.name == semantic_block; }))
    fail("semantic_block names unknown block '" + semantic_block + "'");
  if (embedding_dim != descriptor_dim())
    fail("embedding_dim " + std::to_string(embedding_dim) + " disagrees with the descriptor blocks (" +
         std::to_string(descriptor_dim()) + ")");
}

std::string ModelCard::to_json() const {
  json j;
  j["card_version"] = card_version;
  j["name"] = name;
  j["architecture"] = architecture;
  j["source"] = {{"kind", source}, {"package", source_package}, {"version", source_version},
                 {"path", source_path}, {"license", license}};
  j["onnx"] = {{"file", onnx_file}, {"sha256", onnx_sha256}};
  j["input"] = {{"tensor", input_tensor}, {"size", input_size}, {"layout", "NCHW"},
                {"resize", "area, squash to size x size"}, {"color_order", color_order},
                {"pixel_scale", pixel_scale}, {"mean", mean}, {"std", std}};
  json bl = json::array();
  for (const auto& b : blocks) bl.push_back({{"name", b.name}, {"tensor", b.tensor}, {"dim", b.dim}});
  j["blocks"] = bl;
  j["descriptor"] = {{"blocks", descriptor}, {"recipe", "global average pool, L2 each, concatenate, L2"},
                     {"dim", embedding_dim}};
  j["semantic_block"] = semantic_block;
  json outs = json::array();
  for (const auto& o : outputs) outs.push_back({{"name", o.name}, {"tensor", o.tensor}, {"dim", o.dim}});
  j["outputs"] = outs;
  j["embedding_dim"] = embedding_dim;
  if (!int8.empty()) {
    json ranges = json::object();
    for (const auto& [tensor, r] : int8.ranges) ranges[tensor] = {r.first, r.second};
    j["int8"] = {{"calibration", {{"photos", int8.photos}, {"photo_set", int8.photo_set}, {"method", int8.method}}},
                 {"activation_ranges", ranges}};
    if (!int8.float_until.empty()) j["int8"]["float_until"] = int8.float_until;
    if (!int8.float_after.empty()) j["int8"]["float_after"] = int8.float_after;
  }
  return j.dump(2) + "\n";
}

namespace {
// An integer field of a card: a JSON integer within int (models/json_int.h; F15).
int card_int(const json& v, const std::string& where, const std::string& field) {
  if (!v.is_number_integer()) throw ModelError(where + ": " + field + " must be an integer");
  if (!json_int_fits(v)) throw ModelError(where + ": " + field + " is out of range");
  return int(v.get<int64_t>());
}
int card_int(const json& obj, const char* key, int fallback, const std::string& where) {
  return obj.contains(key) ? card_int(obj[key], where, key) : fallback;
}
}  // namespace

ModelCard ModelCard::from_json(const std::string& text, const fs::path& origin) {
  std::string where = origin.empty() ? std::string("model card") : origin.string();
  ModelCard c;
  c.card_path = origin;
  try {
    json j = json::parse(text);
    c.card_version = card_int(j, "card_version", 1, where);
    if (c.card_version != 1) throw ModelError(where + ": unsupported card_version " + std::to_string(c.card_version));
    c.name = j.at("name").get<std::string>();
    c.architecture = j.value("architecture", "");
    if (j.contains("source")) {
      const auto& s = j["source"];
      c.source = s.value("kind", "");
      c.source_package = s.value("package", "");
      c.source_version = s.value("version", "");
      c.source_path = s.value("path", "");
      c.license = s.value("license", "");
    }
    c.onnx_file = j.at("onnx").at("file").get<std::string>();
    c.onnx_sha256 = j["onnx"].value("sha256", "");
    const auto& in = j.at("input");
    c.input_tensor = in.value("tensor", "input");
    c.input_size = card_int(in.at("size"), where, "input size");
    c.color_order = in.value("color_order", "RGB");
    c.pixel_scale = in.value("pixel_scale", 1.0 / 255.0);
    if (in.contains("mean")) c.mean = in["mean"].get<std::array<double, 3>>();
    if (in.contains("std")) c.std = in["std"].get<std::array<double, 3>>();
    for (const auto& b : j.at("blocks"))
      c.blocks.push_back({b.at("name").get<std::string>(), b.at("tensor").get<std::string>(),
                          card_int(b.at("dim"), where, "block dim")});
    c.descriptor = j.at("descriptor").at("blocks").get<std::vector<std::string>>();
    c.semantic_block = j.value("semantic_block", "");
    if (j.contains("outputs"))
      for (const auto& o : j["outputs"])
        c.outputs.push_back({o.at("name").get<std::string>(), o.at("tensor").get<std::string>(),
                             card_int(o, "dim", 0, where)});
    c.embedding_dim = card_int(j.at("embedding_dim"), where, "embedding_dim");
    if (j.contains("int8")) {
      const auto& q = j["int8"];
      const auto& cal = q.at("calibration");
      c.int8.photos = card_int(cal, "photos", 0, where);
      c.int8.photo_set = cal.value("photo_set", "");
      c.int8.method = cal.value("method", "");
      for (const auto& [tensor, r] : q.at("activation_ranges").items()) {
        auto lo = r.at(0).get<float>(), hi = r.at(1).get<float>();
        if (!(lo <= hi)) throw ModelError(where + ": int8 range of '" + tensor + "' has min > max");
        c.int8.ranges[tensor] = {lo, hi};
      }
      c.int8.float_until = q.value("float_until", "");
      c.int8.float_after = q.value("float_after", "");
    }
  } catch (const json::exception& e) {
    throw ModelError(where + ": invalid model card: " + e.what());
  }
  c.validate();
  return c;
}

ModelCard ModelCard::load(const fs::path& card_json) {
  std::ifstream in(card_json, std::ios::binary);
  if (!in) throw ModelError("cannot read model card " + card_json.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), card_json);
}

void ModelCard::save(const fs::path& card_json) const {
  validate();
  fs::path tmp = card_json;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError("cannot write " + tmp.string());
    out << to_json();
    if (!out) throw IoError("error writing " + tmp.string());
  }
  fs::rename(tmp, card_json);
}

fs::path model_dir() {
  if (const char* env = std::getenv("IRBIS_MODEL_DIR"); env && *env) return fs::path(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return fs::path("models") / "onnx";
  // build/irbis -> <repo>/models/onnx; binaries one level deeper (build/tests, build/bench) find
  // the same directory through the second candidate when the first does not exist.
  fs::path first = (exe.parent_path().parent_path() / "models" / "onnx").lexically_normal();
  fs::path second = (exe.parent_path().parent_path().parent_path() / "models" / "onnx").lexically_normal();
  if (!fs::is_directory(first, ec) && fs::is_directory(second, ec)) return second;
  return first;
}

std::vector<ModelCard> list_models(const fs::path& dir) {
  std::vector<ModelCard> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    try {
      out.push_back(ModelCard::load(e.path()));
    } catch (const Error&) {
      // not a card (or a broken one): not installed
    }
  }
  std::sort(out.begin(), out.end(), [](const ModelCard& a, const ModelCard& b) { return a.name < b.name; });
  return out;
}

std::vector<ModelCard> list_models() { return list_models(model_dir()); }

ModelCard find_model(const std::string& name, const fs::path& dir) {
  fs::path p = dir / (name + ".json");
  std::error_code ec;
  if (fs::exists(p, ec)) {
    ModelCard c = ModelCard::load(p);
    if (c.name != name) throw ModelError(p.string() + ": card names model '" + c.name + "', expected '" + name + "'");
    return c;
  }
  std::string installed;
  for (const auto& c : list_models(dir)) installed += (installed.empty() ? "" : ", ") + c.name;
  // Point at setup.sh only when it would help: with the defaults installed, the user mistyped a
  // name or wants a model of their own.
  throw ModelError("unknown model '" + name + "'; installed: " +
                   (installed.empty() ? "none (in " + dir.string() + "); run ./setup.sh to import the defaults"
                                      : installed + " (`irbis model add` registers an ONNX model of your own)"));
}

ModelCard find_model(const std::string& name) { return find_model(name, model_dir()); }

}  // namespace irbis
