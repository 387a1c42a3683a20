// The one serializer of each answer (results.h): the CLI, the report, the API and Python call these.
#include "irbis/results.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/text.h"

namespace irbis {

namespace {

std::string base_name(const std::string& p) {
  const auto s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

const ImageRecord& record_of_row(const VectorSearch& vs, int64_t row) { return vs.records()[size_t(row)]; }

}  // namespace

nlohmann::json image_json(const ImageRecord& r) {
  nlohmann::json j = {{"id", r.id},
                      {"path", display_path(r.path)},
                      {"name", display_path(base_name(r.path))},
                      {"status", status_name(r.status)},
                      {"format", format_name(r.format)},
                      {"width", r.width},
                      {"height", r.height},
                      {"size", r.size}};
  if (!r.reason.empty()) j["reason"] = r.reason;
  return j;
}

nlohmann::json merge_report_json(const MergeReport& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.scan_problems) problems.push_back({{"path", p.path}, {"reason", p.reason}});
  return {{"partials", r.partials}, {"records", r.records}, {"ok", r.ok},
          {"failed", r.failed},     {"resumed", r.resumed}, {"scan_problems", problems}};
}

nlohmann::json collection_summary_json(const CollectionSummary& s) {
  nlohmann::json features = nlohmann::json::array(), failures = nlohmann::json::array(),
                 problems = nlohmann::json::array();
  for (const auto& f : s.features)
    features.push_back({{"name", f.spec.name}, {"dtype", f.spec.dtype}, {"dim", f.spec.dim}, {"rows", f.rows}});
  for (const auto& r : s.failures) failures.push_back({{"id", r.id}, {"path", display_path(r.path)}, {"reason", r.reason}});
  for (const auto& p : s.scan_problems) problems.push_back({{"path", p.path}, {"reason", p.reason}});
  return {{"images", s.ok},   {"failed", s.failed},   {"removed", s.removed},
          {"retired", s.retired}, {"formats", s.formats}, {"bytes", s.bytes},
          {"megapixels", double(s.pixels) / 1e6}, {"features", features}, {"failures", failures},
          {"scan_problems", problems}};
}

namespace {

// The evidence of one duplicate (dupes_json, match_json), null where it did not apply;
// "similarity" only when CNN similarity was used. dupes_table and match_table agree.
nlohmann::json dupe_evidence_json(const DupeMember& m, bool with_similarity) {
  auto or_null = [](auto v, bool has) { return has ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"kind", dupe_kind_name(m.kind)},
                      {"distance", m.distance},
                      {"variant_distance", or_null(m.variant_distance, m.variant_distance >= 0)},
                      {"variant", m.variant > 0 ? nlohmann::json(hash_variant_name(HashVariant(m.variant)))
                                                : nlohmann::json(nullptr)},
                      {"dhash_distance", or_null(m.dhash_distance, m.dhash_distance >= 0)}};
  if (with_similarity) j["similarity"] = or_null(m.similarity, m.has_similarity());
  j["inliers"] = or_null(m.inliers, m.verified());
  return j;
}

}  // namespace

nlohmann::json dupes_json(const CollectionDupes& d, int threshold, std::optional<double> cnn_threshold, Page page) {
  auto or_null = [](auto v, bool has) { return has ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json groups = nlohmann::json::array();
  for (size_t g = page.offset; g < page.end(d.groups.size()); ++g) {
    const DupeGroup& grp = d.groups[g];
    nlohmann::json members = nlohmann::json::array();
    for (const DupeMember& m : grp.duplicates) {
      nlohmann::json j = image_json(d.records[m.index]);
      j.update(dupe_evidence_json(m, cnn_threshold.has_value()));
      members.push_back(std::move(j));
    }
    groups.push_back({{"group", g + 1},
                      {"keep", image_json(d.records[grp.keep])},
                      {"keep_reason", keep_reason_text(grp.keep_reason)},
                      {"duplicates", std::move(members)}});
  }
  nlohmann::json variants = nlohmann::json::array();
  for (int v = 1; v <= d.variants; ++v) variants.push_back(hash_variant_name(HashVariant(v)));
  return {{"threshold", threshold},
          {"cnn_threshold", or_null(cnn_threshold.value_or(0), cnn_threshold.has_value())},
          {"variants", std::move(variants)},
          {"verify_max_distance", or_null(d.verify_max_distance.value_or(0), d.verify_max_distance.has_value())},
          {"verify_max_dhash_distance",
           or_null(d.verify_max_dhash_distance.value_or(0), d.verify_max_dhash_distance.has_value())},
          {"verify_min_similarity", or_null(d.verify_min_similarity.value_or(0), d.verify_min_similarity.has_value())},
          {"pairs_verified", d.pairs_verified},
          {"verify_seconds", d.verify_seconds},
          {"pairs_checked", d.pairs_checked},
          {"check_seconds", d.check_seconds},
          {"images", d.records.size()},
          {"total_groups", d.groups.size()},
          {"duplicates", d.duplicates()},
          {"groups", std::move(groups)}};
}

Table dupes_table(const CollectionDupes& d, bool with_similarity) {
  Table t{{"group", "path", "role", "distance", "kind", "width", "height", "size"}, {}};
  if (with_similarity) t.header.push_back("similarity");
  for (const char* h : {"variant_distance", "variant", "dhash_distance", "inliers", "id"}) t.header.push_back(h);
  auto row = [&](size_t g, const ImageRecord& r, const char* role, const DupeMember* m) {
    std::vector<std::string> v{std::to_string(g + 1), r.path, role, m ? std::to_string(m->distance) : "0",
                               m ? dupe_kind_name(m->kind) : "", std::to_string(r.width), std::to_string(r.height),
                               std::to_string(r.size)};
    if (with_similarity) v.push_back(!m ? "1.0000" : m->has_similarity() ? fixed(m->similarity, 4) : "");
    v.push_back(m && m->variant_distance >= 0 ? std::to_string(m->variant_distance) : "");
    v.push_back(m && m->variant > 0 ? hash_variant_name(HashVariant(m->variant)) : "");
    v.push_back(m && m->dhash_distance >= 0 ? std::to_string(m->dhash_distance) : "");
    v.push_back(m && m->verified() ? std::to_string(m->inliers) : "");
    v.push_back(std::to_string(r.id));
    t.rows.push_back(std::move(v));
  };
  for (size_t g = 0; g < d.groups.size(); ++g) {
    row(g, d.records[d.groups[g].keep], "keep", nullptr);
    for (const DupeMember& m : d.groups[g].duplicates) row(g, d.records[m.index], "duplicate", &m);
  }
  return t;
}

std::string dupe_evidence_text(const DupeMember& m) {
  std::string s = std::string(dupe_kind_name(m.kind)) + ", distance " + std::to_string(m.distance);
  if (m.variant > 0 && m.variant_distance < m.distance)
    s += std::string(", ") + hash_variant_name(HashVariant(m.variant)) + " distance " + std::to_string(m.variant_distance);
  if (m.dhash_distance >= 0) s += ", dHash distance " + std::to_string(m.dhash_distance);
  if (m.has_similarity()) s += ", similarity " + fixed(m.similarity, 3);
  if (m.verified()) s += ", " + std::to_string(m.inliers) + " inliers";
  return s;
}

nlohmann::json match_json(const MatchResult& m, const MatchOptions& o) {
  nlohmann::json results = nlohmann::json::array();
  for (const MatchedQuery& q : m.queries) {
    nlohmann::json query = {{"path", display_path(q.path)}};
    if (q.failed()) query["reason"] = q.reason;
    else query.update({{"format", format_name(q.format)}, {"width", q.width}, {"height", q.height}});
    nlohmann::json matches = nlohmann::json::array();
    for (const DupeMember& d : q.matches) {
      nlohmann::json j = image_json(m.records[d.index]);
      j.update(dupe_evidence_json(d, true));
      matches.push_back(std::move(j));
    }
    results.push_back({{"query", std::move(query)}, {"matches", std::move(matches)}});
  }
  return {{"threshold", o.max_distance},
          {"cnn_threshold", m.cnn ? nlohmann::json(o.min_similarity) : nlohmann::json(nullptr)},
          {"note", m.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.note)},
          {"images", m.records.size()},
          {"queries", m.queries.size()},
          {"matched", m.matched()},
          {"failed", m.failed()},
          {"verified_pairs", m.verified_pairs},
          {"checked_pairs", m.checked_pairs},
          {"results", std::move(results)}};
}

Table match_table(const MatchResult& m) {
  Table t{{"query", "match", "kind", "distance", "variant_distance", "variant", "dhash_distance", "similarity",
           "inliers", "match_id", "reason"},
          {}};
  for (const MatchedQuery& q : m.queries) {
    if (q.failed()) t.rows.push_back({q.path, "", "", "", "", "", "", "", "", "", q.reason});
    for (const DupeMember& d : q.matches) {
      const ImageRecord& r = m.records[d.index];
      t.rows.push_back({q.path, r.path, dupe_kind_name(d.kind), std::to_string(d.distance),
                        d.variant_distance >= 0 ? std::to_string(d.variant_distance) : "",
                        d.variant > 0 ? hash_variant_name(HashVariant(d.variant)) : "",
                        d.dhash_distance >= 0 ? std::to_string(d.dhash_distance) : "",
                        d.has_similarity() ? fixed(d.similarity, 4) : "", d.verified() ? std::to_string(d.inliers) : "",
                        std::to_string(r.id), ""});
    }
  }
  return t;
}

std::string keep_reasons_line(const CollectionDupes& d) {
  std::map<KeepReason, std::vector<size_t>> by_reason;
  for (size_t g = 0; g < d.groups.size(); ++g) by_reason[d.groups[g].keep_reason].push_back(g + 1);
  std::string line;
  for (const auto& [reason, groups] : by_reason) {
    line += std::string(line.empty() ? "kept: " : "; ") + keep_reason_text(reason) + " (";
    if (groups.size() > 5) {
      line += std::to_string(groups.size()) + " groups)";
      continue;
    }
    line += groups.size() == 1 ? "group " : "groups ";
    for (size_t i = 0; i < groups.size(); ++i) line += (i ? ", " : "") + std::to_string(groups[i]);
    line += ")";
  }
  return line;
}

const char* outlier_side(const BoxSummary& s, const UniqueRow& u) {
  if (u.neighbor < 0 || s.n == 0) return "";
  return u.distance > s.upper_fence() ? "high" : u.distance < s.lower_fence() ? "low" : "";
}

nlohmann::json unique_json(const VectorSearch& vs, const UniqueResult& u, Page page) {
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = page.offset; i < page.end(u.rows.size()); ++i) {
    const UniqueRow& r = u.rows[i];
    nlohmann::json j = image_json(record_of_row(vs, r.row));
    j["rank"] = i + 1;
    j["exact"] = r.exact;
    if (r.neighbor >= 0) {
      j["distance"] = r.distance;
      j["density"] = r.density;
      j["outlier"] = std::string(outlier_side(u.summary, r)) == "high";
      j["neighbor"] = image_json(record_of_row(vs, r.neighbor));
    } else {  // every other image is an exact copy of it
      j["distance"] = j["density"] = j["neighbor"] = nullptr;
      j["outlier"] = false;
    }
    items.push_back(std::move(j));
  }
  return {{"model", vs.card().name},
          {"index", index_kind_name(vs.status().kind)},
          {"distance", "1 - cosine"},
          {"images", vs.size()},
          {"top_exact", u.top_exact},
          {"summary", box_summary_json(u.summary)},
          {"total", u.rows.size()},
          {"items", std::move(items)}};
}

Table unique_table(const VectorSearch& vs, const UniqueResult& u, Page page) {
  Table t{{"rank", "id", "path", "distance", "neighbor_id", "neighbor_path", "density", "outlier", "exact"}, {}};
  for (size_t i = page.offset; i < page.end(u.rows.size()); ++i) {
    const UniqueRow& r = u.rows[i];
    const ImageRecord& rec = record_of_row(vs, r.row);
    const bool nb = r.neighbor >= 0;
    t.rows.push_back({std::to_string(i + 1), std::to_string(rec.id), rec.path, nb ? fixed(r.distance, 6) : "",
                      nb ? std::to_string(vs.ids()[size_t(r.neighbor)]) : "",
                      nb ? record_of_row(vs, r.neighbor).path : "", nb ? fixed(r.density, 6) : "",
                      outlier_side(u.summary, r), r.exact ? "yes" : "no"});
  }
  return t;
}

nlohmann::json search_json(const VectorSearch& vs, const nlohmann::json& query, int k, const std::vector<Neighbor>& hits) {
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < hits.size(); ++i) {
    nlohmann::json j = image_json(record_of_row(vs, hits[i].row));
    j["rank"] = i + 1;
    j["similarity"] = hits[i].similarity;
    results.push_back(std::move(j));
  }
  return {{"model", vs.card().name}, {"index", index_kind_name(vs.status().kind)}, {"k", k}, {"query", query},
          {"results", std::move(results)}};
}

Table search_table(const VectorSearch& vs, const std::vector<Neighbor>& hits) {
  Table t{{"rank", "similarity", "path", "id"}, {}};
  for (size_t i = 0; i < hits.size(); ++i) {
    const ImageRecord& r = record_of_row(vs, hits[i].row);
    t.rows.push_back({std::to_string(i + 1), fixed(hits[i].similarity, 4), r.path, std::to_string(r.id)});
  }
  return t;
}

nlohmann::json palette_json(const std::vector<PaletteColor>& colors) {
  nlohmann::json out = nlohmann::json::array();
  for (const PaletteColor& c : colors)
    out.push_back({{"color", hex_color(c.lab)}, {"weight", c.weight}, {"lab", {c.lab.L, c.lab.a, c.lab.b}}});
  return out;
}

nlohmann::json color_search_json(const std::vector<std::string>& query, const std::vector<ImagePalette>& hits) {
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < hits.size(); ++i) {
    nlohmann::json j = image_json(hits[i].record);
    j["rank"] = i + 1;
    j["match"] = hits[i].match;
    j["palette"] = palette_json(hits[i].colors);
    results.push_back(std::move(j));
  }
  return {{"query", query}, {"results", std::move(results)}};
}

namespace {
std::string palette_text(const std::vector<PaletteColor>& colors) {
  std::string out;
  for (const PaletteColor& c : colors)
    out += (out.empty() ? "" : ", ") + hex_color(c.lab) + " " + std::to_string(int(std::lround(100 * c.weight))) + "%";
  return out;
}
}  // namespace

Table color_search_table(const std::vector<ImagePalette>& hits) {
  Table t{{"rank", "match", "path", "palette", "id"}, {}};
  for (size_t i = 0; i < hits.size(); ++i)
    t.rows.push_back({std::to_string(i + 1), fixed(hits[i].match, 4), hits[i].record.path, palette_text(hits[i].colors),
                      std::to_string(hits[i].record.id)});
  return t;
}

Table palettes_table(const std::vector<ImagePalette>& palettes) {
  Table t;
  t.header = {"path", "id"};
  for (int c = 1; c <= kPaletteColors; ++c)
    for (const char* f : {"color", "weight", "L", "a", "b"}) t.header.push_back(f + std::to_string(c));
  for (int h = 0; h < kColorHistBins; ++h) t.header.push_back((h < 10 ? "hist0" : "hist") + std::to_string(h));
  for (const ImagePalette& p : palettes) {
    std::vector<std::string> row = {p.record.path, std::to_string(p.record.id)};
    for (size_t c = 0; c < size_t(kPaletteColors); ++c) {
      if (c < p.colors.size()) {
        const PaletteColor& pc = p.colors[c];
        for (std::string v : {hex_color(pc.lab), fixed(pc.weight, 4), fixed(pc.lab.L, 2), fixed(pc.lab.a, 2), fixed(pc.lab.b, 2)})
          row.push_back(std::move(v));
      } else {
        row.insert(row.end(), 5, "");
      }
    }
    for (int h = 0; h < kColorHistBins; ++h) row.push_back(p.histogram.empty() ? "" : fixed(p.histogram[size_t(h)], 5));
    t.rows.push_back(std::move(row));
  }
  return t;
}

nlohmann::json issues_json(const CollectionIssues& c, Page page) {
  nlohmann::json summary = nlohmann::json::array(), items = nlohmann::json::array();
  for (const IssueSummary& s : c.summary)
    summary.push_back({{"issue", issue_name(s.kind)}, {"images", s.images}, {"threshold", s.threshold}, {"rule", s.rule}});
  for (size_t i = page.offset; i < page.end(c.issues.size()); ++i) {
    const ImageIssue& is = c.issues[i];
    nlohmann::json j = image_json(c.records[is.image]);
    j["issue"] = issue_name(is.kind);
    j["score"] = is.score;
    j["threshold"] = is.threshold;
    j["reason"] = is.reason;
    items.push_back(std::move(j));
  }
  return {{"images", c.records.size()}, {"embeddings", c.used_embeddings}, {"summary", std::move(summary)},
          {"total", c.issues.size()}, {"issues", std::move(items)}};
}

Table issues_table(const CollectionIssues& c) {
  Table t{{"path", "issue", "score", "threshold", "reason", "id"}, {}};
  for (const ImageIssue& is : c.issues)
    t.rows.push_back({c.records[is.image].path, issue_name(is.kind), general(is.score, 4),
                      general(is.threshold, 4), is.reason, std::to_string(c.records[is.image].id)});
  return t;
}

Table issues_summary_table(const CollectionIssues& c) {
  Table t{{"issue", "images", "threshold", "rule"}, {}};
  for (const IssueSummary& s : c.summary)
    t.rows.push_back({issue_name(s.kind), std::to_string(s.images), general(s.threshold, 4), s.rule});
  return t;
}

Table class_scores_table(const Evaluation& e, const std::vector<std::string>& classes, int digits) {
  Table t{{"class", "precision", "recall", "f1", "support"}, {}};
  for (size_t c = 0; c < classes.size() && c < e.per_class.size(); ++c) {
    const ClassScores& s = e.per_class[c];
    t.rows.push_back({classes[c], fixed(s.precision, digits), fixed(s.recall, digits), fixed(s.f1, digits),
                      std::to_string(s.support)});
  }
  return t;
}

Table confusion_table(const Evaluation& e, const std::vector<std::string>& classes, const std::string& predicted_prefix) {
  Table t{{"true_class"}, {}};
  for (const auto& name : classes) t.header.push_back(predicted_prefix + name);
  const int k = int(classes.size());
  if (e.confusion.rows != k || e.confusion.cols != k) return t;
  for (int r = 0; r < k; ++r) {
    std::vector<std::string> row{classes[size_t(r)]};
    for (int c = 0; c < k; ++c) row.push_back(std::to_string(e.confusion.at<int>(r, c)));
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::vector<SuspectRow> suspect_rows(const std::vector<SuspectLabel>& found, const std::vector<ImageRecord>& records,
                                     const std::vector<std::string>& classes) {
  std::vector<SuspectRow> rows;
  rows.reserve(found.size());
  for (const auto& s : found)
    rows.push_back({records[s.row].path, classes[size_t(s.label)], classes[size_t(s.predicted)], s.confidence, s.p_label});
  return rows;
}

nlohmann::json suspects_json(const std::vector<SuspectRow>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& s : rows)
    j.push_back({{"path", display_path(s.path)},
                 {"label", s.label},
                 {"predicted", s.predicted},
                 {"confidence", s.confidence},
                 {"p_label", s.p_label}});
  return j;
}

Table suspects_table(const std::vector<SuspectRow>& rows) {
  Table t{{"path", "label", "predicted", "confidence", "p_label"}, {}};
  for (const auto& s : rows) t.rows.push_back({s.path, s.label, s.predicted, fixed(s.confidence, 3), fixed(s.p_label, 3)});
  return t;
}

namespace {
float top_probability(const PredictionRow& r) { return *std::max_element(r.proba.begin(), r.proba.end()); }
}  // namespace

nlohmann::json predictions_json(const std::vector<std::string>& classes, const std::vector<PredictionRow>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json o = {{"path", display_path(r.path)}};
    if (!r.error.empty() || r.proba.size() != classes.size()) {
      o["error"] = r.error;
    } else {
      o["label"] = r.label;
      o["probability"] = top_probability(r);
      nlohmann::json p = nlohmann::json::object();
      for (size_t c = 0; c < classes.size(); ++c) p[classes[c]] = r.proba[c];
      o["probabilities"] = std::move(p);
    }
    j.push_back(std::move(o));
  }
  return j;
}

Table predictions_table(const std::vector<std::string>& classes, const std::vector<PredictionRow>& rows) {
  Table t{{"path", "label", "probability"}, {}};
  for (const auto& c : classes) t.header.push_back("p_" + c);
  for (const auto& r : rows) {
    std::vector<std::string> f{r.path, "", ""};
    if (r.error.empty() && r.proba.size() == classes.size()) {
      f[1] = r.label;
      f[2] = fixed(top_probability(r));
      for (float p : r.proba) f.push_back(fixed(p));
    } else {
      f[2] = "error: " + r.error;
      f.resize(t.header.size());
    }
    t.rows.push_back(std::move(f));
  }
  return t;
}

nlohmann::json retrieval_json(const RetrievalReport& r, const std::string& collection, const std::string& model,
                              const RetrievalParams& p, int64_t unknown_paths) {
  const bool has_topk = r.queries > 0, has_map = r.map_queries > 0;
  nlohmann::json topk = nlohmann::json::object();
  for (auto [k, a] : r.topk) topk[std::to_string(k)] = has_topk ? nlohmann::json(a) : nlohmann::json();
  return {{"collection", display_path(collection)},
          {"model", model},
          {"labelled", r.labelled},
          {"classes", r.classes},
          {"queries", r.queries},
          {"negatives", r.negatives_used},
          {"seed", p.seed},
          {"top_k_accuracy", std::move(topk)},
          {"knn1_accuracy", r.knn1},
          {"knn5_accuracy", r.knn5},
          {"map", has_map ? nlohmann::json(r.map) : nlohmann::json()},
          {"unknown_paths", unknown_paths},
          {"skipped_classes", r.skipped_classes}};
}

Table retrieval_table(const RetrievalReport& r) {
  const bool has_topk = r.queries > 0, has_map = r.map_queries > 0;
  Table t{{"metric", "value"}, {}};
  for (auto [k, a] : r.topk) t.rows.push_back({"top-" + std::to_string(k) + " accuracy", has_topk ? fixed(a) : "n/a"});
  t.rows.push_back({"leave-one-out 1-NN accuracy", fixed(r.knn1)});
  t.rows.push_back({"leave-one-out 5-NN accuracy", fixed(r.knn5)});
  t.rows.push_back({"mAP", has_map ? fixed(r.map) : "n/a"});
  return t;
}

}  // namespace irbis
