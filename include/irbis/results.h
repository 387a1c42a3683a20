// One serializer per answer. The CLI (`--format json|csv|table`), the static report's CSV files,
// the web API (/api/...) and the Python module all build their output here, so every front end
// gives a field the same name and the CLI's JSON and the API's JSON are the same objects (the API
// only adds paging — offset, limit — and links — thumb, file — to image objects).
// The field names are listed in README.md ("JSON answers") and docs/api.md.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/issues.h"
#include "irbis/search.h"

namespace irbis {

// Rows for a CSV file or a terminal table (cells are raw; csv_field / display_path at output).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// A window of a long list (the API pages, the CLI's --top); the default is everything.
struct Page {
  size_t offset = 0;
  size_t limit = SIZE_MAX;
  size_t end(size_t total) const { return offset >= total ? total : offset + std::min(limit, total - offset); }
};

// An image in every answer: id, path, name (file name), status, format, width, height, size
// (bytes), and reason when it failed. Paths through display_path.
nlohmann::json image_json(const ImageRecord& r);

// ---- `irbis info`, /api/overview
// images (ok), failed, removed, retired, formats {name: images}, bytes, megapixels,
// features [{name, dtype, dim, rows}], failures [{id, path, reason}], scan_problems [{path, reason}].
nlohmann::json collection_summary_json(const CollectionSummary& s);

// ---- `irbis dupes`, /api/dupes, dupes.csv
// threshold, cnn_threshold (null without --cnn), images, total_groups, duplicates,
// groups [{group (1-based), keep: image, keep_reason (keep_reason_text), duplicates: [image + kind,
// distance (+ similarity with --cnn)]}].
// cnn_threshold set = the groups came from find_collection_dupes with CNN pairs.
nlohmann::json dupes_json(const CollectionDupes& d, int threshold, std::optional<double> cnn_threshold,
                          Page groups = {});
// group, path, role (keep | duplicate), distance, kind, width, height, size, [similarity,] id.
Table dupes_table(const CollectionDupes& d, bool with_similarity);
// Why the kept images were kept, under the table: "kept: most pixels (4 groups); earliest modified
// of equal pixels (groups 2, 5)". Empty without groups.
std::string keep_reasons_line(const CollectionDupes& d);

// ---- `irbis unique`, /api/unique, unique.csv
// "high" (distance above the summary's upper fence, Q3 + 1.5 IQR), "low" (below the lower fence)
// or "" (inside, or no neighbour).
const char* outlier_side(const BoxSummary& s, const UniqueRow& u);
// model, index, distance ("1 - cosine"), images, top_exact, summary (box_summary_json), total,
// items [image + rank, exact, distance, density, outlier (bool: high outlier), neighbor: image | null].
nlohmann::json unique_json(const VectorSearch& vs, const UniqueResult& u, Page items = {});
// rank, id, path, distance, neighbor_id, neighbor_path, density, outlier (high | low | ""), exact (yes | no).
Table unique_table(const VectorSearch& vs, const UniqueResult& u, Page items = {});

// ---- `irbis search`, /api/search
// model, index, k, query (an image object; a file outside the collection: {path}; an upload:
// {width, height, format}), results [image + rank, similarity (cosine)].
nlohmann::json search_json(const VectorSearch& vs, const nlohmann::json& query, int k, const std::vector<Neighbor>& hits);
// rank, similarity, path, id.
Table search_table(const VectorSearch& vs, const std::vector<Neighbor>& hits);

// ---- `irbis issues`, /api/issues, the report's issues section, Python Collection.issues()
// images, embeddings (bool: odd_one_out used the CNN neighbourhood),
// summary [{issue, images, threshold, rule}], total, issues [image + issue, score, threshold, reason].
nlohmann::json issues_json(const CollectionIssues& c, Page items = {});
// path, issue, score, threshold, reason, id.
Table issues_table(const CollectionIssues& c);
// issue, images, threshold, rule.
Table issues_summary_table(const CollectionIssues& c);

}  // namespace irbis
