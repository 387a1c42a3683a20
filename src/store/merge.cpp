#include "irbis/merge.h"

#include <unordered_set>

#include <nlohmann/json.hpp>

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

bool same_record(const ImageRecord& a, const ImageRecord& b) {
  return a.path == b.path && a.size == b.size && a.mtime_ns == b.mtime_ns && a.content_hash == b.content_hash &&
         a.format == b.format && a.width == b.width && a.height == b.height && a.status == b.status &&
         a.reason == b.reason;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// What identifies a merge: each partial's absolute path and committed rows, in order (a partial
// indexed further since the merge began is another merge).
nlohmann::json merge_identity(const std::vector<fs::path>& partials,
                              const std::vector<std::unique_ptr<Collection>>& parts) {
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < parts.size(); ++i) {
    std::error_code ec;
    fs::path abs = fs::weakly_canonical(fs::absolute(partials[i]), ec);
    if (ec) abs = fs::absolute(partials[i]);
    list.push_back({{"path", abs.string()}, {"rows", parts[i]->committed_rows()}});
  }
  return list;
}

// The marker of an unfinished merge, parsed; StoreError when it is not one (a damaged catalog).
nlohmann::json read_marker(const Collection& coll, const std::string& value) {
  const auto j = nlohmann::json::parse(value, nullptr, false);
  const auto damaged = [&] {
    return StoreError(coll.dir().string() + ": catalog damaged: meta " + kMergeInProgressKey + " is not a merge record");
  };
  if (!j.is_object() || !j.contains("base_rows") || !j["base_rows"].is_number_integer() || !j.contains("partials") ||
      !j["partials"].is_array())
    throw damaged();
  const int64_t base = j["base_rows"].get<int64_t>();
  if (base < 0 || base > coll.committed_rows()) throw damaged();
  int64_t total = 0;
  for (const auto& p : j["partials"]) {
    if (!p.is_object() || !p.contains("path") || !p["path"].is_string() || !p.contains("rows") ||
        !p["rows"].is_number_integer() || p["rows"].get<int64_t>() < 0)
      throw damaged();
    total += p["rows"].get<int64_t>();
  }
  if (coll.committed_rows() - base > total) throw damaged();
  return j;
}

}  // namespace

std::string unfinished_merge(const Collection& coll) {
  const std::string value = coll.meta(kMergeInProgressKey);
  if (value.empty()) return "";
  const auto j = read_marker(coll, value);
  int64_t total = 0;
  std::string names;
  for (const auto& p : j["partials"]) {
    total += p["rows"].get<int64_t>();
    if (!names.empty()) names += ", ";
    names += p["path"].get<std::string>();
  }
  return coll.dir().string() + ": a merge of " + std::to_string(j["partials"].size()) + " collections (" + names +
         ") stopped after " + std::to_string(coll.committed_rows() - j["base_rows"].get<int64_t>()) + " of " +
         std::to_string(total) + " rows; run the same merge again to finish it";
}

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
  // An earlier run of this merge that stopped half-way is resumed; any other merge is refused.
  const nlohmann::json identity = merge_identity(partials, parts);
  int64_t base_rows = dest.committed_rows();
  if (const std::string marker = dest.meta(kMergeInProgressKey); !marker.empty()) {
    const auto j = read_marker(dest, marker);
    if (dump(j["partials"]) != dump(identity))
      throw StoreError(unfinished_merge(dest) + " (not this merge of " + std::to_string(partials.size()) +
                       " collections; a partial indexed again since is another merge)");
    base_rows = j["base_rows"].get<int64_t>();
  } else if (const std::string last = dest.meta(kLastMergeKey); !last.empty()) {
    // This merge finished already (killed after its last commit, before it could say so): done.
    const auto j = nlohmann::json::parse(last, nullptr, false);
    if (j.is_object() && j.contains("partials") && dump(j["partials"]) == dump(identity)) {
      for (const auto& p : parts)
        for (const auto& r : p->records()) {
          ++rep.records;
          ++rep.resumed;
          rep.ok += r.status == ImageStatus::ok;
          rep.failed += r.status == ImageStatus::failed;
        }
      rep.scan_problems = load_scan_problems(dest);
      return rep;
    }
  }
  const int64_t already = dest.committed_rows() - base_rows;
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
    // A destination with no rows yet (or one whose first merge commit never happened) takes the partials' version.
    const std::string want = dest.committed_rows() > 0 ? dest.meta(key, "1") : parts[0]->meta(key, "1");
    for (size_t i = 0; i < parts.size(); ++i)
      if (const std::string got = parts[i]->meta(key, "1"); got != want)
        throw StoreError("cannot merge " + partials[i].string() + ": its feature '" + f.name + "' is of definition version " +
                         got + ", not " + want + " (index the partials with one irbis)");
  }
  // Every live path once.
  // Every live path once (dest's rows before the merge; those it merged are the partials' own).
  std::unordered_set<std::string> live;
  const std::vector<ImageRecord> dest_records = dest.records();
  for (const auto& r : dest_records)
    if (r.id < base_rows && is_live(r)) live.insert(r.path);
  std::vector<std::vector<ImageRecord>> records(parts.size());
  int64_t next = base_rows;  // the id each partial record gets in dest
  for (size_t i = 0; i < parts.size(); ++i) {
    records[i] = parts[i]->records();
    for (size_t k = 0; k < records[i].size(); ++k, ++next) {
      const auto& r = records[i][k];
      if (r.id != int64_t(k))
        throw StoreError(partials[i].string() + ": catalog ids are not contiguous at id " + std::to_string(r.id));
      if (is_live(r) && !live.insert(r.path).second)
        throw StoreError("cannot merge " + partials[i].string() + ": " + display_path(r.path) +
                         " is already in the merged collection (a file in two partitions?)");
      if (next < dest.committed_rows() && !same_record(dest_records[size_t(next)], r))
        throw StoreError(dest.dir().string() + ": id " + std::to_string(next) + " of the unfinished merge is not " +
                         display_path(r.path) + " of " + partials[i].string() + "; the partial changed since");
    }
  }

  // ---- write
  if (!dest_has_features)
    for (const auto& f : specs) dest.ensure_feature(f);
  for (const auto& f : specs)
    if (const std::string v = parts[0]->meta(feature_version_key(f.name)); !v.empty() && dest.meta(feature_version_key(f.name)) != v)
      dest.set_meta(feature_version_key(f.name), v);
  for (const auto& model : embedding_models(specs)) {
    for (const std::string& key : {model_weights_key(model), model_inference_key(model)})
      for (const auto& p : parts)
        if (const std::string v = p->meta(key); !v.empty()) {
          dest.set_meta(key, v);
          break;
        }
  }
  // The marker goes into the first commit, with the first rows, and leaves with the last.
  const std::string marker = dump({{"base_rows", base_rows}, {"partials", identity}});
  if (already == 0) dest.set_meta(kMergeInProgressKey, marker);
  int64_t staged = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::vector<FeatureView> views;
    for (const auto& f : specs) views.push_back(parts[i]->view(f.name));
    std::vector<std::pair<std::string, std::span<const uint8_t>>> rows(specs.size());
    for (const auto& r : records[i]) {
      ++rep.records;
      rep.ok += r.status == ImageStatus::ok;
      rep.failed += r.status == ImageStatus::failed;
      if (rep.resumed < already) {  // committed by the interrupted run (checked above)
        ++rep.resumed;
        continue;
      }
      for (size_t f = 0; f < specs.size(); ++f)
        rows[f] = {specs[f].name, std::span(views[f].row_bytes(r.id), specs[f].row_bytes())};
      dest.stage_image(r, rows);
      if (++staged >= commit_every) {
        dest.commit();
        staged = 0;
      }
    }
    for (auto& p : load_scan_problems(*parts[i])) rep.scan_problems.push_back(std::move(p));
  }
  save_scan_problems(dest, rep.scan_problems);
  dest.set_meta(kMergeInProgressKey, "");
  dest.set_meta(kLastMergeKey, marker);
  dest.commit();
  return rep;
}

}  // namespace irbis
