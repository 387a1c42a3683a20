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

#include "irbis/classifier.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/issues.h"
#include "irbis/merge.h"
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

// ---- `irbis merge`
// partials, records (appended by the whole merge), ok, failed, resumed (of records, those an
// interrupted run of the same merge had already committed), scan_problems [{path, reason}].
nlohmann::json merge_report_json(const MergeReport& r);

// ---- `irbis dupes`, /api/dupes, dupes.csv
// threshold, cnn_threshold (null without --cnn), variants (names of the variant hashes compared,
// e.g. ["mirror"]; [] when the collection has none stored), verify_max_distance and
// verify_min_similarity (the uncertain band that was geometrically verified; null = no band),
// pairs_verified, verify_seconds, pairs_checked and check_seconds (pixel checks of sure pairs),
// images, total_groups, duplicates,
// groups [{group (1-based), keep: image, keep_reason (keep_reason_text), duplicates: [image +
// evidence]}], the evidence being
// kind (exact | near | cnn | verified), distance (pHash hamming distance to the kept image),
// variant_distance and variant (smallest distance over the variant hashes and its name, e.g.
// "mirror"; null when none were compared), dhash_distance (dHash distance for the transform that
// decided, identity or mirror; null when not compared), similarity (CNN cosine to the kept image; only with
// --cnn, null when an embedding is missing), inliers (geometric verification; null = not verified).
// cnn_threshold set = the groups came from find_collection_dupes with CNN pairs.
nlohmann::json dupes_json(const CollectionDupes& d, int threshold, std::optional<double> cnn_threshold,
                          Page groups = {});
// group, path, role (keep | duplicate), distance, kind, width, height, size, [similarity,]
// variant_distance, variant, dhash_distance, inliers, id; evidence cells empty where it did not apply.
Table dupes_table(const CollectionDupes& d, bool with_similarity);
// One line of a duplicate's evidence for a caption: "near, distance 2, mirror distance 0,
// dHash distance 3, similarity 0.981, 57 inliers" (the parts that applied; the variant only when it matched closer).
std::string dupe_evidence_text(const DupeMember& m);
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
// ---- `irbis match`, /api/match, Collection.match
// threshold, cnn_threshold (null when CNN similarity was not used), note (null or how to add
// embeddings), images (collection), queries, matched, failed, verified_pairs, checked_pairs,
// results [{query: {path, format, width, height} or {path, reason}, matches: [image + kind,
// distance, variant_distance (null: none compared), variant (null | "mirror" | ...),
// dhash_distance (null: not compared), similarity (null: none), inliers (null: not verified)]}].
nlohmann::json match_json(const MatchResult& m, const MatchOptions& o);
// query, match, kind, distance, variant_distance, variant, dhash_distance, similarity, inliers,
// match_id, reason:
// one row per matched pair (best first per query), and one row with the reason (match empty) per
// query that failed.
Table match_table(const MatchResult& m);

// ---- `irbis train`, the report's classifier section (classifier_scores.csv, classifier_confusion.csv)
// class, precision, recall, f1, support (scores to `digits` decimals).
Table class_scores_table(const Evaluation& e, const std::vector<std::string>& classes, int digits = 4);
// true_class, then one count column per predicted class named `predicted_prefix` + class.
Table confusion_table(const Evaluation& e, const std::vector<std::string>& classes,
                      const std::string& predicted_prefix = "predicted_");

// ---- `irbis train --suspects`
// path, label, predicted, confidence, p_label: labelled images the out-of-fold model disagrees with.
struct SuspectRow {
  std::string path, label, predicted;
  double confidence = 0, p_label = 0;
};
// suspect_labels' rows named: records[row].path and the classes' names.
std::vector<SuspectRow> suspect_rows(const std::vector<SuspectLabel>& found, const std::vector<ImageRecord>& records,
                                     const std::vector<std::string>& classes);
nlohmann::json suspects_json(const std::vector<SuspectRow>& rows);
Table suspects_table(const std::vector<SuspectRow>& rows);

// ---- `irbis predict` (stdout and --out)
// One labelled file: its class probabilities, or the reason it could not be read.
struct PredictionRow {
  std::string path, label, error;
  std::vector<float> proba;  // one per class; empty when error is set
};
// [{path, label, probability (the label's), probabilities {class: p}} | {path, error}].
nlohmann::json predictions_json(const std::vector<std::string>& classes, const std::vector<PredictionRow>& rows);
// path, label, probability, p_<class>... ; a failed file: probability "error: reason", the rest empty.
Table predictions_table(const std::vector<std::string>& classes, const std::vector<PredictionRow>& rows);

// ---- `irbis evaluate retrieval`
// collection, model, labelled, classes, queries, negatives, seed, top_k_accuracy {k: accuracy | null},
// knn1_accuracy, knn5_accuracy, map (null without a query), unknown_paths, skipped_classes.
nlohmann::json retrieval_json(const RetrievalReport& r, const std::string& collection, const std::string& model,
                              const RetrievalParams& p, int64_t unknown_paths);
// metric, value ("n/a" where undefined).
Table retrieval_table(const RetrievalReport& r);

// ---- dominant colours: `irbis search --colors`, `irbis export --view colors`, the report's cards
// [{color: "#rrggbb", weight, lab: [L, a, b]}], heaviest first.
nlohmann::json palette_json(const std::vector<PaletteColor>& colors);
// query ["#rrggbb", ...], results [image + rank, match (0..1), palette].
nlohmann::json color_search_json(const std::vector<std::string>& query, const std::vector<ImagePalette>& hits);
// rank, match, path, palette ("#1f3a5f 42%, ..."), id.
Table color_search_table(const std::vector<ImagePalette>& hits);
// path, id, then per colour (1..5) color<i>, weight<i>, L<i>, a<i>, b<i>, then hist00..hist63 (the
// 4x4x4 RGB histogram, red slowest; empty cells without the color feature).
Table palettes_table(const std::vector<ImagePalette>& palettes);

}  // namespace irbis
