#include "irbis/collection_layout.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "irbis/errors.h"

#include "irbis/text.h"

namespace irbis {

namespace {
constexpr const char* kEmbeddingPrefix = "emb.";
constexpr const char* kBlocksPrefix = "blocks.";
}  // namespace

bool valid_feature_name(const std::string& feature) {
  if (feature.empty() || feature.size() > 128 || feature[0] == '.') return false;
  return std::all_of(feature.begin(), feature.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::filesystem::path feature_file(const std::filesystem::path& collection_dir, const std::string& feature) {
  if (!valid_feature_name(feature))
    throw StoreError(collection_dir.string() + ": feature name '" + feature + "' is not a plain name");
  return collection_dir / kFeaturesDir / (feature + ".f");
}

std::string embedding_feature(const std::string& model) { return kEmbeddingPrefix + model; }
std::string blocks_feature(const std::string& model) { return kBlocksPrefix + model; }
std::string model_weights_key(const std::string& model) { return "model." + model + ".onnx_sha256"; }
std::string model_inference_key(const std::string& model) { return "model." + model + ".inference"; }

std::string feature_version_key(const std::string& feature) { return "feature." + feature + ".version"; }

bool inference_interchangeable(const std::string& a, const std::string& b) {
  auto precision_of = [](const std::string& tag) { return tag.substr(tag.find('/') + 1); };
  return precision_of(a) == precision_of(b);
}

std::string feature_model(const std::string& feature) {
  for (const std::string prefix : {kEmbeddingPrefix, kBlocksPrefix})
    if (feature.starts_with(prefix)) return feature.substr(prefix.size());
  return "";
}

std::vector<std::string> embedding_models(const std::vector<FeatureSpec>& specs) {
  std::vector<std::string> out;
  const std::string prefix = kEmbeddingPrefix;
  for (const auto& f : specs)
    if (f.name.starts_with(prefix)) out.push_back(f.name.substr(prefix.size()));
  return out;
}

void save_scan_problems(Collection& coll, const std::vector<ScanProblem>& problems) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& p : problems) j.push_back({{"path", display_path(p.path)}, {"reason", p.reason}});
  coll.set_meta(kScanProblemsKey, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::vector<ScanProblem> load_scan_problems(const Collection& coll) {
  std::vector<ScanProblem> out;
  const auto j = nlohmann::json::parse(coll.meta(kScanProblemsKey, "[]"), nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& p : j)
    if (p.is_object() && p.contains("path") && p.contains("reason") && p["path"].is_string() &&
        p["reason"].is_string())
      out.push_back({p["path"].get<std::string>(), p["reason"].get<std::string>()});
  return out;
}

}  // namespace irbis
