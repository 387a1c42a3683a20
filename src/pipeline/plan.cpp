#include "pipeline/impl/plan.h"

#include <algorithm>
#include <filesystem>
#include <thread>
#include <unordered_map>

#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/model.h"

namespace irbis::indexing {

std::string absolute_root(const std::string& root) {
  std::error_code ec;
  auto p = std::filesystem::absolute(std::filesystem::path(root), ec);
  if (ec) return root;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool under_root(const std::string& path, const std::string& root) {
  if (path == root) return true;
  if (root == "/") return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
}

FilePlan plan_files(const Collection& coll, const std::vector<std::string>& roots, const ScanResult& scanned) {
  FilePlan plan;
  std::unordered_map<std::string, ImageRecord> live;
  for (auto& r : coll.records()) {
    if (r.status != ImageStatus::ok && r.status != ImageStatus::failed) continue;
    if (std::any_of(roots.begin(), roots.end(), [&](const std::string& root) { return under_root(r.path, root); }))
      live.emplace(r.path, std::move(r));
  }
  for (const auto& e : scanned.files) {
    auto it = live.find(e.path);
    if (it != live.end()) {
      const bool same = it->second.size == e.size && it->second.mtime_ns == e.mtime_ns;
      const int64_t old_id = it->second.id;
      live.erase(it);
      if (same) {
        ++plan.unchanged;
        continue;
      }
      plan.replaces.push_back(old_id);
    } else {
      plan.replaces.push_back(-1);
    }
    plan.todo.push_back(e);
  }
  // What is left in `live` was not found: removed, unless its directory could not be read.
  for (const auto& entry : live) {  // not a structured binding: clang 14 (sanitizer build) cannot capture one
    const auto& path = entry.first;
    const bool unreadable = std::any_of(scanned.problems.begin(), scanned.problems.end(),
                                        [&](const ScanProblem& p) { return under_root(path, p.path); });
    if (!unreadable) plan.removed.push_back(entry.second.id);
  }
  std::sort(plan.removed.begin(), plan.removed.end());
  return plan;
}

std::vector<std::string> collection_models(const Collection& coll) {
  std::vector<std::string> out;
  for (const auto& spec : coll.feature_specs())
    for (const auto& f : model_features()) {
      const std::string prefix = f.name("");
      if (!spec.name.starts_with(prefix)) continue;
      const std::string m = spec.name.substr(prefix.size());
      if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
  return out;
}

int index_workers(const IndexParams& params) {
  return params.threads > 0 ? params.threads : int(std::max(1u, std::thread::hardware_concurrency()));
}

int network_threads(const IndexParams& params) {
  return std::max(1, int(std::max(1u, std::thread::hardware_concurrency())) / index_workers(params));
}

FeaturePlan plan_features(const Collection& coll, const IndexParams& params) {
  FeaturePlan plan;
  for (const auto& group : image_feature_groups()) {
    // Every image feature group comes with the hashes (IndexParams::hashes): hashes, colour, quality.
    const bool asked = params.hashes;
    const bool has = std::any_of(group.features.begin(), group.features.end(),
                                 [&](const FeatureDef& f) { return coll.has_feature(f.spec.name); });
    if (!asked && !has) continue;
    if (!asked) plan.also_computed.push_back(group.label);
    plan.producers.push_back(make_image_producer(group));
  }
  std::vector<std::string> names;
  if (!params.model.empty()) names.push_back(params.model);
  for (const auto& m : collection_models(coll))
    if (m != params.model) {
      names.push_back(m);
      plan.also_computed.push_back("cnn:" + m);
    }
  for (const auto& name : names) {
    ModelCard card;
    try {
      card = find_model(name);
    } catch (const ModelError& e) {
      if (name == params.model) throw;
      throw ModelError(coll.dir().string() + " has embeddings of model '" + name +
                       "', which every new image gets too, but it is not installed: " + e.what());
    }
    const std::string stored = coll.meta(model_weights_key(card.name));
    if (!stored.empty() && !card.onnx_sha256.empty() && stored != card.onnx_sha256)
      throw ModelError(coll.dir().string() + ": its embeddings of model '" + card.name +
                       "' were computed with other weights (ONNX sha256 " + stored.substr(0, 12) +
                       "…) than the installed ones (" + card.onnx_sha256.substr(0, 12) +
                       "…); restore those weights or index into a new collection");
    // Engine and precision: rows of one model in one collection come from interchangeable ones
    // (docs/models.md). An automatic precision follows what made the collection's rows.
    std::string stored_inference = coll.meta(model_inference_key(card.name));
    if (stored_inference.empty() && coll.has_feature(embedding_feature(card.name)))
      stored_inference = "opencv/fp32";  // indexed before the engine was recorded
    InferenceOptions inference = default_inference();
    inference.threads = network_threads(params);
    const std::string stored_precision = stored_inference.substr(stored_inference.find('/') + 1);
    if (!stored_inference.empty() && inference.precision == Precision::automatic)
      inference.precision =
          inference.engine == InferenceEngine::opencv ? Precision::fp32 : parse_precision(stored_precision);
    auto first = std::make_unique<Embedder>(card, inference);
    if (!stored_inference.empty() && !inference_interchangeable(stored_inference, first->inference_tag()))
      throw ModelError(coll.dir().string() + ": its embeddings of model '" + card.name + "' were computed with " +
                       stored_inference + ", which this run's " + first->inference_tag() +
                       " does not reproduce; use --precision " + stored_precision +
                       (stored_precision == "fp32" ? "" : " --engine onednn") + " or index into a new collection");
    plan.producers.push_back(make_model_producer(std::move(first)));
  }
  return plan;
}

std::vector<std::string> declare_features(Collection& coll, const std::vector<std::unique_ptr<FeatureProducer>>& producers) {
  const auto have = coll.feature_specs();
  for (const auto& p : producers)
    for (const auto& w : p->specs())
      for (const auto& h : have)
        if (h.name == w.name && (h.dtype != w.dtype || h.dim != w.dim))
          throw StoreError(coll.dir().string() + ": feature '" + w.name + "' exists with " + h.dtype + "[" +
                           std::to_string(h.dim) + "], but the model card gives " + w.dtype + "[" +
                           std::to_string(w.dim) + "]");
  for (const auto& p : producers)
    for (const auto& w : p->specs()) coll.ensure_feature(w);
  // Rows of another definition version are emptied (and back-filled): a collection never holds
  // values of two definitions in one feature file.
  std::vector<std::string> redefined;
  for (const auto& p : producers)
    for (size_t f = 0; f < p->specs().size(); ++f) {
      const std::string& name = p->specs()[f].name;
      const std::string key = feature_version_key(name), want = std::to_string(p->version(f));
      const bool existed = std::any_of(have.begin(), have.end(), [&](const FeatureSpec& h) { return h.name == name; });
      if (!existed) {
        coll.set_meta(key, want);  // committed with its first rows
        continue;
      }
      const std::string stored = coll.meta(key, "1");
      if (stored == want) continue;
      coll.clear_feature(name, {{key, want}});
      redefined.push_back(name);
    }
  for (const auto& p : producers) p->record_provenance(coll);
  return redefined;
}

std::vector<int64_t> backfill_starts(const Collection& coll,
                                     const std::vector<std::unique_ptr<FeatureProducer>>& producers) {
  std::vector<int64_t> out;
  for (const auto& p : producers) {
    int64_t from = coll.committed_rows();
    for (const auto& s : p->specs()) from = std::min(from, coll.feature_rows(s.name));
    out.push_back(from);
  }
  return out;
}

}  // namespace irbis::indexing
