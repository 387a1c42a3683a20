#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "irbis/errors.h"
#include "models/tfjs.h"

namespace irbis::tfjs {
namespace fs = std::filesystem;
using nlohmann::json;

bool Model::is_graph_model() const {
  return json.value("format", "") == "graph-model" ||
         (json.contains("modelTopology") && json["modelTopology"].contains("node"));
}

const Weight& Model::weight(const std::string& name) const {
  auto it = weights.find(name);
  if (it == weights.end()) throw ModelError(dir.string() + ": weight '" + name + "' is not in the manifest");
  return it->second;
}

const Weight& Model::weight(const std::string& name, size_t rank) const {
  const Weight& w = weight(name);
  if (w.shape.size() != rank)
    throw ModelError(dir.string() + ": weight '" + name + "' has " + std::to_string(w.shape.size()) +
                     " dimensions, its layer needs " + std::to_string(rank));
  return w;
}

namespace {
std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ModelError("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

float half_to_float(uint16_t h) {
  int s = (h >> 15) & 1, e = (h >> 10) & 31, f = h & 1023;
  double v = e == 0 ? std::ldexp(f, -24) : e == 31 ? (f ? NAN : INFINITY) : std::ldexp(f + 1024, e - 25);
  return float(s ? -v : v);
}
}  // namespace

namespace {

Model load_json_checked_by_caller(const fs::path& dir) {
  Model m;
  m.dir = dir;
  fs::path mj = dir / "model.json";
  if (!fs::exists(mj))
    throw ModelError(mj.string() + " not found; run scripts/fetch_models.sh (called by ./setup.sh) to fetch and "
                     "unwrap the TF.js models");
  try {
    m.json = json::parse(read_all(mj));
  } catch (const json::exception& e) {
    throw ModelError(mj.string() + ": not JSON: " + e.what());
  }
  if (!m.json.contains("modelTopology") || !m.json.contains("weightsManifest"))
    throw ModelError(mj.string() + ": not a TF.js model (no modelTopology/weightsManifest)");
  std::string bytes;
  for (const auto& g : m.json["weightsManifest"])
    for (const auto& p : g.at("paths")) bytes += read_all(dir / p.get<std::string>());
  size_t off = 0;
  for (const auto& g : m.json["weightsManifest"]) {
    for (const auto& w : g.at("weights")) {
      std::string name = w.at("name").get<std::string>();
      Weight out;
      size_t n = 1;
      for (const auto& d : w.at("shape")) {
        // A JSON integer: nlohmann's get<int64_t>() converts 5.5e22 unchecked (undefined) and 4.7 to 4 (F20).
        if (!d.is_number_integer())
          throw ModelError(dir.string() + ": weight '" + name + "' has a dimension that is not a JSON integer: " + d.dump());
        const int64_t dim = d.is_number_unsigned() && d.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : d.get<int64_t>();
        // Bounded by the weight bytes below; checked here so that the product cannot wrap.
        if (dim < 0) throw ModelError(dir.string() + ": weight '" + name + "' has a negative dimension");
        if (dim > 0 && n > bytes.size() / size_t(dim))
          throw ModelError(dir.string() + ": weight files too short for '" + name + "'");
        out.shape.push_back(dim);
        n *= size_t(dim);
      }
      std::string dtype = w.value("dtype", "float32");
      std::string stored = dtype;
      double qmin = 0, qscale = 1;
      if (w.contains("quantization")) {
        const auto& q = w["quantization"];
        stored = q.at("dtype").get<std::string>();
        qmin = q.value("min", 0.0);
        qscale = q.value("scale", 1.0);
      }
      size_t esize = stored == "uint8" ? 1 : (stored == "uint16" || stored == "float16") ? 2 : 4;
      if (n * esize > bytes.size() - off)
        throw ModelError(dir.string() + ": weight files too short for '" + name + "'");
      const auto* p = reinterpret_cast<const uint8_t*>(bytes.data() + off);
      out.values.resize(n);
      for (size_t i = 0; i < n; ++i) {
        if (stored == "uint8") {
          out.values[i] = float(double(p[i]) * qscale + qmin);
        } else if (stored == "uint16") {
          uint16_t q;
          std::memcpy(&q, p + 2 * i, 2);
          out.values[i] = float(double(q) * qscale + qmin);
        } else if (stored == "float16") {
          uint16_t q;
          std::memcpy(&q, p + 2 * i, 2);
          out.values[i] = half_to_float(q);
        } else if (stored == "float32") {
          std::memcpy(&out.values[i], p + 4 * i, 4);
        } else if (stored == "int32") {
          int32_t q;
          std::memcpy(&q, p + 4 * i, 4);
          out.values[i] = float(q);
        } else {
          throw ModelError(dir.string() + ": weight '" + name + "' has unsupported dtype " + stored);
        }
      }
      off += n * esize;
      m.weights[name] = std::move(out);
    }
  }
  if (off != bytes.size())
    throw ModelError(dir.string() + ": manifest describes " + std::to_string(off) + " weight bytes, files hold " +
                     std::to_string(bytes.size()));
  return m;
}

}  // namespace

// Fields of the wrong JSON type surface as nlohmann exceptions anywhere in the reader and the
// converters; they become ModelErrors naming the model.json.
Model load(const fs::path& dir) {
  try {
    return load_json_checked_by_caller(dir);
  } catch (const json::exception& e) {
    throw ModelError((dir / "model.json").string() + ": unexpected structure: " + e.what());
  }
}

Converted convert(const Model& m) {
  try {
    return m.is_graph_model() ? convert_graph_model(m) : convert_layers_model(m);
  } catch (const json::exception& e) {
    throw ModelError((m.dir / "model.json").string() + ": unexpected structure: " + e.what());
  } catch (const std::out_of_range& e) {  // .at() on a list the model's JSON makes too short
    throw ModelError((m.dir / "model.json").string() + ": unexpected structure: " + e.what());
  }
}

}  // namespace irbis::tfjs
