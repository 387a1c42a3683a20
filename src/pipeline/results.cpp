// The one serializer of each answer (results.h): the CLI, the report, the API and Python call these.
#include "irbis/results.h"

#include <algorithm>
#include <map>

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

nlohmann::json dupes_json(const CollectionDupes& d, int threshold, std::optional<double> cnn_threshold, Page page) {
  nlohmann::json groups = nlohmann::json::array();
  for (size_t g = page.offset; g < page.end(d.groups.size()); ++g) {
    const DupeGroup& grp = d.groups[g];
    nlohmann::json members = nlohmann::json::array();
    for (const DupeMember& m : grp.duplicates) {
      nlohmann::json j = image_json(d.records[m.index]);
      j["kind"] = dupe_kind_name(m.kind);
      j["distance"] = m.distance;
      if (cnn_threshold) j["similarity"] = m.has_similarity() ? nlohmann::json(m.similarity) : nlohmann::json(nullptr);
      members.push_back(std::move(j));
    }
    groups.push_back({{"group", g + 1},
                      {"keep", image_json(d.records[grp.keep])},
                      {"keep_reason", keep_reason_text(grp.keep_reason)},
                      {"duplicates", std::move(members)}});
  }
  return {{"threshold", threshold},
          {"cnn_threshold", cnn_threshold ? nlohmann::json(*cnn_threshold) : nlohmann::json(nullptr)},
          {"images", d.records.size()},
          {"total_groups", d.groups.size()},
          {"duplicates", d.duplicates()},
          {"groups", std::move(groups)}};
}

Table dupes_table(const CollectionDupes& d, bool with_similarity) {
  Table t{{"group", "path", "role", "distance", "kind", "width", "height", "size"}, {}};
  if (with_similarity) t.header.push_back("similarity");
  t.header.push_back("id");
  auto row = [&](size_t g, const ImageRecord& r, const char* role, int distance, const char* kind, std::string sim) {
    std::vector<std::string> v{std::to_string(g + 1),    r.path, role, std::to_string(distance), kind,
                               std::to_string(r.width), std::to_string(r.height), std::to_string(r.size)};
    if (with_similarity) v.push_back(std::move(sim));
    v.push_back(std::to_string(r.id));
    t.rows.push_back(std::move(v));
  };
  for (size_t g = 0; g < d.groups.size(); ++g) {
    row(g, d.records[d.groups[g].keep], "keep", 0, "", "1.0000");
    for (const DupeMember& m : d.groups[g].duplicates)
      row(g, d.records[m.index], "duplicate", m.distance, dupe_kind_name(m.kind),
          m.has_similarity() ? fixed(m.similarity, 4) : "");
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

}  // namespace irbis
