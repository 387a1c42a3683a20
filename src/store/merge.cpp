#include "irbis/merge.h"

#include <unordered_set>

#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis {

namespace fs = std::filesystem;

namespace {

std::string describe(const std::vector<FeatureSpec>& specs) {
  if (specs.empty()) return "no features";
  std::string s;
  for (const auto& f : specs) {
    if (!s.empty()) s += ", ";
    s += f.name + " " + f.dtype + "[" + std::to_string(f.dim) + "]";
  }
  return s;
}

bool same_specs(const std::vector<FeatureSpec>& a, const std::vector<FeatureSpec>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].dtype != b[i].dtype || a[i].dim != b[i].dim) return false;
  return true;
}

void check_complete(const Collection& c, const std::string& what) {
  for (const auto& f : c.feature_specs())
    if (c.feature_rows(f.name) != c.committed_rows())
      throw StoreError(what + ": feature '" + f.name + "' has " + std::to_string(c.feature_rows(f.name)) + " of " +
                       std::to_string(c.committed_rows()) +
                       " rows (a model back-fill is pending); finish it with `irbis index` before merging");
}

bool is_live(const ImageRecord& r) { return r.status == ImageStatus::ok || r.status == ImageStatus::failed; }

}  // namespace

MergeReport merge_collections(Collection& dest, const std::vector<fs::path>& partials, int commit_every) {
  if (commit_every < 1) throw UsageError("merge_collections: commit_every must be at least 1");
  MergeReport rep;
  rep.partials = int64_t(partials.size());
  if (partials.empty()) return rep;

  // ---- open and check everything before writing
  std::vector<std::unique_ptr<Collection>> parts;
  std::error_code ec;
  for (const auto& p : partials) {
    if (fs::equivalent(p, dest.dir(), ec))
      throw UsageError(p.string() + ": cannot merge a collection into itself");
    parts.push_back(Collection::open(p));
  }
  const std::vector<FeatureSpec> specs = parts[0]->feature_specs();
  const std::string first = partials[0].string();
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string name = partials[i].string();
    const auto have = parts[i]->feature_specs();
    if (!same_specs(have, specs))
      throw StoreError("cannot merge " + name + " (" + describe(have) + ") with " + first + " (" + describe(specs) +
                       "): the partials were indexed with different features or models");
    check_complete(*parts[i], name);
  }
  const bool dest_has_features = !dest.feature_specs().empty();
  if (dest_has_features && !same_specs(dest.feature_specs(), specs))
    throw StoreError("cannot merge " + first + " (" + describe(specs) + ") into " + dest.dir().string() + " (" +
                     describe(dest.feature_specs()) + "): different features or models");
  check_complete(dest, dest.dir().string());
  // Same model name must mean the same weights.
  for (const auto& model : embedding_models(specs)) {
    const std::string key = model_weights_key(model);
    std::string want = dest.meta(key), want_from = dest.dir().string();
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string got = parts[i]->meta(key);
      if (got.empty()) continue;  // collections indexed before the weights were recorded
      if (want.empty()) {
        want = got;
        want_from = partials[i].string();
      } else if (got != want) {
        throw StoreError("cannot merge " + partials[i].string() + " with " + want_from + ": model '" + model +
                         "' has different weights (ONNX sha256 " + got.substr(0, 12) + "… vs " +
                         want.substr(0, 12) + "…)");
      }
    }
  }
  // ... and interchangeable engines/precisions (fp32 from either engine; bf16 only with bf16).
  for (const auto& model : embedding_models(specs)) {
    const std::string key = model_inference_key(model);
    std::string want = dest.meta(key), want_from = dest.dir().string();
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string got = parts[i]->meta(key);
      if (got.empty()) continue;
      if (want.empty()) {
        want = got;
        want_from = partials[i].string();
      } else if (!inference_interchangeable(got, want)) {
        throw StoreError("cannot merge " + partials[i].string() + " with " + want_from + ": model '" + model +
                         "' was run with " + got + " there and " + want + " here");
      }
    }
  }
  // ... and one definition version per feature (docs/storage.md, "Definition versions"; absent = 1).
  for (const auto& f : specs) {
    const std::string key = feature_version_key(f.name);
    const std::string want = dest_has_features ? dest.meta(key, "1") : parts[0]->meta(key, "1");
    for (size_t i = 0; i < parts.size(); ++i)
      if (const std::string got = parts[i]->meta(key, "1"); got != want)
        throw StoreError("cannot merge " + partials[i].string() + ": its feature '" + f.name + "' is of definition version " +
                         got + ", not " + want + " (index the partials with one irbis)");
  }
  // Every live path once.
  std::unordered_set<std::string> live;
  for (const auto& r : dest.records())
    if (is_live(r)) live.insert(r.path);
  std::vector<std::vector<ImageRecord>> records(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    records[i] = parts[i]->records();
    for (size_t k = 0; k < records[i].size(); ++k) {
      const auto& r = records[i][k];
      if (r.id != int64_t(k))
        throw StoreError(partials[i].string() + ": catalog ids are not contiguous at id " + std::to_string(r.id));
      if (is_live(r) && !live.insert(r.path).second)
        throw StoreError("cannot merge " + partials[i].string() + ": " + display_path(r.path) +
                         " is already in the merged collection (a file in two partitions?)");
    }
  }

  // ---- write
  if (!dest_has_features)
    for (const auto& f : specs) {
      dest.ensure_feature(f);
      if (const std::string v = parts[0]->meta(feature_version_key(f.name)); !v.empty()) dest.set_meta(feature_version_key(f.name), v);
    }
  for (const auto& model : embedding_models(specs)) {
    for (const std::string& key : {model_weights_key(model), model_inference_key(model)})
      for (const auto& p : parts)
        if (const std::string v = p->meta(key); !v.empty()) {
          dest.set_meta(key, v);
          break;
        }
  }
  int64_t staged = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::vector<FeatureView> views;
    for (const auto& f : specs) views.push_back(parts[i]->view(f.name));
    std::vector<std::pair<std::string, std::span<const uint8_t>>> rows(specs.size());
    for (const auto& r : records[i]) {
      for (size_t f = 0; f < specs.size(); ++f)
        rows[f] = {specs[f].name, std::span(views[f].row_bytes(r.id), specs[f].row_bytes())};
      dest.stage_image(r, rows);
      ++rep.records;
      rep.ok += r.status == ImageStatus::ok;
      rep.failed += r.status == ImageStatus::failed;
      if (++staged >= commit_every) {
        dest.commit();
        staged = 0;
      }
    }
    for (auto& p : load_scan_problems(*parts[i])) rep.scan_problems.push_back(std::move(p));
  }
  save_scan_problems(dest, rep.scan_problems);
  dest.commit();
  return rep;
}

}  // namespace irbis
