// "See it": thumbnails, the HTML report of a whole collection (`irbis report`) and the data behind
// the local web UI (`irbis serve`, server.h). Both render the same views from one ReportData: each
// view is a ReportSection (HTML fragment + CSV tables + JSON for the API), so new analyses plug in
// as one more section (see report_sections() in src/server/sections.cpp). docs/report.md
// describes the output.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "irbis/classifier.h"
#include "irbis/cluster.h"
#include "irbis/collection.h"
#include "irbis/dupes.h"
#include "irbis/issues.h"
#include "irbis/embeddings.h"
#include "irbis/model.h"
#include "irbis/results.h"
#include "irbis/search.h"
#include "irbis/text.h"

namespace irbis {

// ---------------------------------------------------------------------------------------------
// Thumbnails: <collection>/thumbs/<id>.jpg, long side kThumbSide px (never upscaled), JPEG q80.
// Made lazily (or by `irbis report`), written whole through FileReplacer (replace_file.h: temporary
// file, fdatasync, rename), so readers never see a half-written file, a power cut leaves none under
// the thumbnail's name, and concurrent makers of the same thumbnail are harmless. A cached file
// that is not a whole JPEG (cut, emptied) is made again, never served.
inline constexpr int kThumbSide = 256;
std::filesystem::path thumb_path(const Collection& coll, int64_t id);
// The thumbnail's JPEG bytes (what `serve` answers): the cached file, else made from the image and
// written to the cache. When the cache cannot be written (a full disk, an I/O error) the bytes made
// in memory are returned all the same and `cache_error` names the thumbnail and the reason; no
// part of the failed write is left. Throws IoError/DecodeError naming the image when it cannot be
// read.
struct Thumbnail {
  std::vector<uint8_t> jpeg;
  std::string cache_error;  // "" when served from or written to the cache
};
Thumbnail cached_thumbnail(const Collection& coll, const ImageRecord& rec, int side = kThumbSide);
// Returns the thumbnail's path, making it when missing. Throws IoError/DecodeError naming the
// image, StoreError naming the thumbnail and the reason when it cannot be written (a full disk).
std::filesystem::path ensure_thumbnail(const Collection& coll, const ImageRecord& rec, int side = kThumbSide);
// The thumbnail's JPEG bytes, made from the image without touching the cache (what the cache holds).
std::vector<uint8_t> thumbnail_jpeg(const ImageRecord& rec, int side = kThumbSide);
// Makes the thumbnails of many images on `threads` workers (0 = one per core); failures are
// skipped (the views then show a placeholder). Returns how many exist afterwards.
size_t ensure_thumbnails(const Collection& coll, const std::vector<ImageRecord>& recs, int threads = 0);

// ---------------------------------------------------------------------------------------------
struct ReportOptions {
  std::string model = kDefaultModel;       // embeddings for clusters, unique and "more like this"
  int dupes_threshold = DupesParams{}.max_distance;  // pHash distance
  int cluster_k = 0;                       // 0 = automatic over [k_min, k_max]
  int k_min = 2, k_max = 30;
  std::string map = "auto";                // tsne, pca, none; auto = tsne up to 2000 images, else pca
  uint64_t seed = 1;
  std::string classifier;                  // --classifier FILE (.clf from `irbis train`): its scores
  int unique_top = 12;                     // most unique images drawn beside their neighbour (proven exact)
  IndexOptions index;                      // the vector index behind unique and search (--index)
  // Static report: at most this many duplicate groups / failures in the HTML (CSV has all).
  int html_max_groups = 300;
  int html_max_rows = 300;
  int map_thumbs_max = 400;                // the map shows thumbnails up to this many images, else points
};

struct ClustersResult {
  std::string features;               // "cnn-semantic" or "color"
  std::vector<ImageRecord> records;   // row i of the report
  ClusterReport report;
};

// The analyses of one collection, computed on first use and cached (thread-safe), shared by the
// report writer and the server.
class ReportData {
 public:
  ReportData(const Collection& coll, ReportOptions opts);
  const Collection& collection() const { return coll_; }
  const ReportOptions& options() const { return opts_; }
  const std::vector<ImageRecord>& live();           // ok images, id order
  const ImageRecord* by_id(int64_t id);             // any status; null when unknown
  const CollectionSummary& overview();               // summarize_collection, what `irbis info` shows
  // find_collection_dupes at opts.dupes_threshold, what `irbis dupes` groups (empty without hashes).
  const CollectionDupes& dupes();
  const ClustersResult* clusters();                 // null when there is nothing to cluster
  std::string clusters_error();                     // why clusters() is null
  // The collection's vector index of opts.model (VectorSearch::open: exact below 10 000 images,
  // else the persisted HNSW index, repaired or built when needed); null when the collection has
  // no embeddings of that model (search_error() says why). Its queries are const and safe from many threads at once.
  const VectorSearch* search();
  std::string search_error();
  // Row of an id in search(), -1 when it has none.
  int64_t search_row(int64_t id);
  // rank_unique over search(), rows by distance descending (the first opts.unique_top proven
  // exact); null when there is no index or fewer than two images (unique_error() says why).
  const UniqueResult* unique();
  std::string unique_error();
  // The opts.classifier file (Classifier::load) with its stored training report; null without
  // --classifier or when the file cannot be read (classifier_error(): missing, not a classifier,
  // another format version, corrupted).
  const Classifier* classifier();
  std::string classifier_error();
  // find_collection_issues with opts.model for odd ones out, what `irbis issues` lists; null
  // when the collection has no quality feature (issues_error() says why).
  const CollectionIssues* issues();
  std::string issues_error();
  // An image's dominant colours (load_palettes), heaviest first; null when it has none (a
  // collection without the palette feature, a failed image).
  const std::vector<PaletteColor>* palette(int64_t id);
  // The colour search of `irbis search --colors` (search_collection_colors' answer) over the
  // palettes loaded once, with the other analyses, not read again per query. Throws UsageError
  // naming a malformed colour, or the index command when the collection has no palettes.
  ColorSearch color_search(const std::string& colors, int k);

 private:
  const Collection& coll_;
  ReportOptions opts_;
  // One lock per analysis, so a long one (clusters) never blocks the others or record lookups.
  std::mutex mu_, overview_mu_, dupes_mu_, clusters_mu_, search_mu_, unique_mu_, classifier_mu_;
  std::optional<std::vector<ImageRecord>> all_, live_;
  std::map<int64_t, size_t> by_id_;
  std::optional<CollectionSummary> overview_;
  std::optional<CollectionDupes> dupes_;
  std::optional<std::unique_ptr<ClustersResult>> clusters_;
  std::string clusters_error_;
  std::optional<std::unique_ptr<VectorSearch>> search_;
  std::string search_error_;
  std::optional<std::unique_ptr<UniqueResult>> unique_;
  std::string unique_error_;
  std::optional<std::unique_ptr<Classifier>> classifier_;
  std::string classifier_error_;
  std::mutex issues_mu_;
  std::optional<std::unique_ptr<CollectionIssues>> issues_;
  std::string issues_error_;
  std::mutex palettes_mu_;
  std::optional<std::vector<ImagePalette>> palettes_;  // load_palettes, id order; empty when it threw
  std::string palettes_error_;                         // what load_palettes threw
  const std::vector<ImagePalette>& palettes_locked();
  void load_records_locked();
};

// File-size histogram bins (upper bounds in bytes) of the overview; the last is open.
std::vector<std::pair<std::string, int64_t>> size_bins();
// Live images per size_bins() bin.
std::vector<int64_t> size_histogram(const std::vector<ImageRecord>& live);

// ---------------------------------------------------------------------------------------------
// "More like this": nearest images by cosine similarity of the embeddings, from
// ReportData::search() (exact or HNSW; the query need not be in the collection).
struct SimilarHit {
  int64_t id = -1;
  float similarity = 0;   // cosine similarity (embeddings are L2-normalised)
};
// query: 1 x dim floats, L2-normalised (a stored row or embed_image's output). Empty when the
// collection has no index or the query's dimension differs.
std::vector<SimilarHit> more_like_this(ReportData& data, const cv::Mat& query, int k, int64_t exclude_id = -1);

// ---------------------------------------------------------------------------------------------
// Views
// How a view links to images: the static report uses relative files, the server its routes.
struct ViewContext {
  bool live = false;                                 // served (links to search) or static
  std::function<std::string(int64_t id)> thumb_url;  // e.g. "thumbs/12.jpg" or "/thumbs/12.jpg"
  std::function<std::string(int64_t id)> link_url;   // where a click on a thumbnail goes ("" = none)
  std::function<std::string(const std::string& csv)> csv_url;  // link to a section's CSV ("" = none)
  int page = 0;                                      // pagination (served views)
  int page_size = 0;                                 // 0 = the static report's caps
};

struct CsvTable {
  std::string file;                                  // e.g. "dupes.csv"
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  CsvTable(std::string f, std::vector<std::string> h, std::vector<std::vector<std::string>> r)
      : file(std::move(f)), header(std::move(h)), rows(std::move(r)) {}
  CsvTable(std::string f, Table t) : file(std::move(f)), header(std::move(t.header)), rows(std::move(t.rows)) {}
};

struct ReportSection {
  std::string id;      // anchor and API name: "overview", "dupes", "unique", "clusters", "issues", "classifier"
  std::string title;
  // Whether the section is shown; one whose analysis cannot run on a collection (no embeddings,
  // an unreadable classifier) is still shown and says why.
  std::function<bool(ReportData&)> available;
  std::function<std::string(ReportData&, const ViewContext&)> html;
  std::function<std::vector<CsvTable>(ReportData&)> tables;
  // Images whose thumbnails the static view shows.
  std::function<std::vector<int64_t>(ReportData&, const ViewContext&)> images;
};

// In display order: overview, duplicates, unique, clusters, issues, classifier (when opts.classifier is set).
std::vector<ReportSection> report_sections(const ReportOptions& opts);

struct ReportSummary {
  std::filesystem::path index_html;
  std::vector<std::string> sections;  // ids written
  std::vector<std::string> csv_files;
  size_t thumbnails = 0;
  size_t images = 0, dupe_groups = 0;
  int cluster_k = 0;           // 0 when not clustered
  int cluster_k_min = 0, cluster_k_max = 0;  // the range an automatic k was chosen from (0: k was given)
  int64_t unique_ranked = 0;   // images with a neighbour to measure uniqueness against (0: no unique analysis)
  std::string most_unique;     // path of the most unique image ("" when none)
  double most_unique_distance = -1;
  double seconds = 0;
};
// Writes out_dir/index.html (self-contained: inline CSS, SVG charts, no scripts needed, no
// network), out_dir/<table>.csv and out_dir/thumbs/<id>.jpg (linked or copied from the
// collection's cache). Each file replaces its old version whole, index.html last (replace_file.h):
// a folder that fills up or is read-only ends in an IoError naming the file and the reason, with
// no part-written file, the old index.html kept and the collection untouched.
ReportSummary write_report(const Collection& coll, const ReportOptions& opts, const std::filesystem::path& out_dir);

// --- HTML/CSV helpers shared with the server ---
// (html_escape, csv_field: irbis/text.h)
std::string csv_text(const CsvTable& t);
std::string page_html(const std::string& title, const std::string& nav, const std::string& body,
                      const std::string& script = "");
// With a palette: a strip of its colours, each as wide as its weight, under the picture. `name` is
// the label under the picture (default: the file name).
std::string thumb_html(const ViewContext& ctx, const ImageRecord& r, const std::string& caption,
                       const std::string& css_class = "", const std::vector<PaletteColor>* palette = nullptr,
                       const std::string& name = "");
// For each path, its shortest trailing run of components that no other path of the list ends with
// ("a/2019/IMG_1.jpg", "b/2019/IMG_1.jpg" -> "a/2019/IMG_1.jpg"...; "x/1.png", "y/2.png" -> "1.png",
// "2.png"): cards of one duplicate group tell their files apart. Identical paths stay whole.
std::vector<std::string> shortest_unique_suffixes(const std::vector<std::string>& paths);
// "1751&times;65" that never wraps inside the numbers.
std::string dimensions_html(int64_t width, int64_t height);
// SVG boxplot (Tukey): box Q1..Q3 with the median, whiskers to the furthest data within 1.5 IQR,
// the mean as a dot and every outlier beyond the whiskers as a point.
struct BoxplotSeries {
  std::string name;
  BoxSummary box;                 // box_summary() / rank_unique's summary
  std::vector<double> outliers;   // the values beyond the whiskers (box.low_outliers + high_outliers)
};
std::string svg_boxplot(const std::vector<BoxplotSeries>& series, const std::string& axis_label);
// SVG bar chart (labels along x).
std::string svg_bars(const std::vector<std::pair<std::string, int64_t>>& bars, const std::string& axis_label);

}  // namespace irbis
