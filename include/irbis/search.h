// Nearest-neighbour search over a collection's CNN embeddings (cosine = inner product of the
// L2-normalised descriptors), the most unique images, and retrieval evaluation. See docs/search.md.
//
// Two index kinds:
//   exact — one dot-product kernel per stored vector (a query), blocked OpenBLAS sgemm (all rows
//           at once, self_knn); nothing is written to disk.
//   hnsw  — hnswlib graph over PCA-reduced (default 256-d), re-normalised vectors; every answer is
//           re-ranked exactly on the full stored vectors. Persisted as derived state under
//           <collection>/index/<model>.{hnsw,pca,json}; repaired against the catalog when opened
//           (new ids added, ids no longer ok tombstoned, rebuilt past 20 % tombstones or when a
//           file is damaged).
// `automatic` picks exact below IndexOptions::hnsw_min_images live images, hnsw from there on.
// The k neighbours of every row at once (self_knn: issues, unique, dupes --cnn) come from an exact
// sgemm below that size and from the all-rows self-join (self_join_knn) above it, not the graph;
// a persisted index keeps the self-join's plain answer (<model>.self<k>.knn) for the next call on
// the same rows (docs/search.md, "The saved self-join").
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "irbis/collection.h"
#include "irbis/embeddings.h"
#include "irbis/labels.h"

namespace irbis {

enum class IndexKind { automatic, exact, hnsw };

// The all-rows k-NN self-join (self_join_knn): rows reduced to their top principal directions
// (uncentred, so inner products are kept; a randomized range finder on a sample, seeded), k-means
// into ~sqrt(n) lists, each row compared by sgemm with the members of its nprobe nearest lists in
// the reduced space, its best `candidates` re-scored on the full rows. Compute-bound blocks
// instead of one latency-bound graph walk per row (BENCHMARKS.md, "issues on 100 000").
// A field added here that changes the answer also goes into the saved self-join's key
// (vector_search.cpp, self_join_key), or an answer saved with other options would be read.
struct SelfJoinOptions {
  int reduced_dim = 256;       // 0 or >= the rows' dimension = compare full rows
  int64_t fit_sample = 8000;   // rows the reduction is fitted on (evenly spaced)
  int lists = 0;               // 0 = round(sqrt(n))
  int64_t train_per_list = 64; // k-means runs on up to this many rows per list (a seeded sample)
  int nprobe = 8;              // lists per row (more when these hold fewer than `candidates` rows)
  int candidates = 0;          // per row, re-scored on the full rows; 0 = max(2k, k + 16)
  // Refine pass: this share of the rows, those furthest from their k-th neighbour after the join
  // (what odd-one-out and unique rankings put first), also probe their refine_nprobe nearest
  // lists (0 = every list) and are re-scored. 0 = no refine pass.
  double refine_share = 0.1;
  int refine_nprobe = 32;
  uint64_t seed = 1;
  int threads = 0;             // 0 = hardware_concurrency
};
IndexKind parse_index_kind(const std::string& s);  // "auto" | "exact" | "hnsw"; UsageError otherwise
const char* index_kind_name(IndexKind k);

struct IndexOptions {
  IndexKind kind = IndexKind::automatic;
  // automatic: exact below this many live images, hnsw at or above (exact query ~4 ms here).
  int64_t hnsw_min_images = 10000;
  // Dimension of the vectors in the HNSW graph (PCA, then L2-normalised). 0 or >= the
  // descriptor's dimension = no reduction. PCA is only trained with >= 4 x this many images.
  int reduced_dim = 256;
  int M = 16;                 // graph degree (layer 0 has 2M)
  int ef_construction = 200;  // build beam
  int ef_search = 128;        // query beam (raised to the candidate count when that is larger)
  // Candidates fetched from the graph = max(rerank_factor * k, k + 32); re-ranked exactly.
  int rerank_factor = 4;
  // false: return the graph's own candidates and (reduced-space) similarities, no re-rank
  // (benchmarks of the bare graph only).
  bool rerank = true;
  double rebuild_tombstones = 0.2;  // rebuild when tombstones exceed this share of the graph
  bool persist = true;              // read/write <collection>/index (false: build in memory only)
  // Exact queries score every row with the same dot-product kernel either way, so the answers
  // (similarities bit for bit, order of ties) do not depend on this. false = rows split over
  // `threads` threads when the scan is large (fastest for one query at a time); true = one
  // thread per query, for callers running many queries at once (irbis serve).
  bool single_thread_queries = false;
  int threads = 0;                  // 0 = hardware_concurrency
  // false: the HNSW graph is neither loaded nor built (callers that need self_knn and exact
  // searches only: `irbis issues`, `irbis unique`); search() is then exact.
  bool open_graph = true;
  // self_knn above the exact threshold: true = the self-join; false = one graph query per row (the
  // path before the self-join, kept for side-by-side benchmarks; needs open_graph).
  bool self_join = true;
  SelfJoinOptions join;
};

// What opening the index did (for --verbose output and tests).
struct IndexStatus {
  IndexKind kind = IndexKind::exact;
  bool loaded = false;          // read from disk
  bool built = false;           // built from scratch
  std::string rebuild_reason;   // why it was (re)built: "missing", "damaged", "tombstones", ...
  int64_t added = 0;            // ids added incrementally
  int64_t tombstoned = 0;       // ids newly tombstoned
  int64_t tombstones = 0;       // total tombstones in the graph
  int indexed_dim = 0;          // dimension of the graph vectors
  double seconds = 0;
};

struct Neighbor {
  int64_t row = -1;         // row of the VectorSearch (index into records()/data())
  float similarity = 0;     // cosine on the full descriptor
  friend bool operator==(const Neighbor&, const Neighbor&) = default;
};

// Given an approximate answer of self_knn (every row's k neighbours; an approximate k-th
// distance is a real distance, so never below the exact one), the rows whose neighbours must be
// searched exhaustively: a caller ranking rows by their k-th distance names the rows its answer
// could contain (`irbis issues`: every image whose approximate odd_one_out score passes).
using RowsToRefine = std::function<std::vector<int64_t>(const std::vector<std::vector<Neighbor>>& knn)>;

class VectorSearch {
 public:
  // Loads the collection's embeddings for `model` (UsageError naming the command to run if there
  // are none), then opens, repairs or builds the index as `opts` says.
  static std::unique_ptr<VectorSearch> open(const Collection& coll, const std::string& model,
                                            const IndexOptions& opts = {});
  // In-memory search over given rows (tests, benchmarks): data is n x dim CV_32F, L2-normalised
  // rows; ids label the rows (must be distinct, >= 0). Never persisted.
  static std::unique_ptr<VectorSearch> from_matrix(cv::Mat data, std::vector<int64_t> ids,
                                                   const IndexOptions& opts = {});
  ~VectorSearch();
  VectorSearch(const VectorSearch&) = delete;
  VectorSearch& operator=(const VectorSearch&) = delete;

  int64_t size() const;
  int dim() const;
  const cv::Mat& data() const;                  // size() x dim()
  const std::vector<int64_t>& ids() const;      // collection id of each row
  const std::vector<ImageRecord>& records() const;  // empty for from_matrix
  const ModelCard& card() const;
  const IndexStatus& status() const;
  // How many self_knn answers were read from the saved self-join instead of joined (docs/search.md,
  // "The saved self-join"); safe to ask while other threads search.
  int64_t saved_self_join_reads() const;
  int64_t row_of_id(int64_t id) const;          // -1 if not a live row
  // Row of an indexed image by path: as stored, else made absolute (lexically normal), else
  // weakly canonical (so relative paths and symlinked folders find it); -1 if none matches.
  int64_t row_of_path(const std::string& path) const;

  // The k most similar rows to q (dim() floats, L2-normalised), best first; `exclude` (a row)
  // is skipped. k larger than the candidates available returns fewer.
  std::vector<Neighbor> search(const float* q, int k, int64_t exclude = -1) const;
  std::vector<Neighbor> search_exact(const float* q, int k, int64_t exclude = -1) const;
  // search_exact(data().ptr(row), k, row) of each of `rows` (in that order), in one pass over the
  // rows for all of them: the same inner products (one kernel, the same vectors), so the same
  // answers, for one read of the rows instead of one per query. Out-of-range rows: empty lists.
  std::vector<std::vector<Neighbor>> search_exact_rows(const std::vector<int64_t>& rows, int k) const;
  // k neighbours of every row (itself excluded), best first: exact when the index kind is exact
  // (automatic below hnsw_min_images), else approximate (self_join_knn, or the graph when
  // IndexOptions::self_join is false); threads as in IndexOptions.
  // refine (approximate paths only): rows it names are searched exhaustively (the self-join: against
  // every row in the reduced space, re-scored on the full rows; the graph path: exact search).
  std::vector<std::vector<Neighbor>> self_knn(int k, const RowsToRefine& refine = {}) const;
  std::vector<std::vector<Neighbor>> self_knn_exact(int k) const;
  // The exact k nearest rows of each of `rows` (in that order; a row is not its own neighbour):
  // blocks of them against every row by one sgemm each, as self_knn_exact does for all rows.
  // Out-of-range rows get an empty list.
  std::vector<std::vector<Neighbor>> knn_exact_rows(const std::vector<int64_t>& rows, int k) const;
  bool self_knn_is_exact() const;
  // Writes the HNSW graph alone (hnswlib format, labels = ids) for other tools, e.g.
  // python3-hnswlib's Index(space='ip').load_index(). Throws UsageError for an exact index.
  void save_hnsw(const std::filesystem::path& file) const;

 private:
  VectorSearch();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What self_join_knn spent its CPU time on, in seconds of all its threads (benchmarks).
struct SelfJoinStats {
  int reduced_dim = 0, lists = 0;
  int64_t compared = 0;  // reduced-space similarities computed (join and refine)
  int64_t refined = 0;   // rows the refine pass re-probed
  int64_t exhaustive = 0;  // rows a RowsToRefine named, searched against every list
  double fit_s = 0, project_s = 0, cluster_s = 0, join_s = 0, rerank_s = 0, refine_s = 0;
};
// The k nearest rows of every row of `data` (n x dim CV_32F, L2-normalised rows), itself
// excluded, best first (ties: lower row first), similarities on the full rows. Approximate: a
// true neighbour is missed when it is not among the row's best candidates in the reduced space of
// its probed lists. Deterministic for a given seed (and `refine`), whatever the thread count.
// `refine`, when given, is asked once after the refine pass which rows to search against every list.
std::vector<std::vector<Neighbor>> self_join_knn(const cv::Mat& data, int k, const SelfJoinOptions& o = {},
                                                 SelfJoinStats* stats = nullptr, const RowsToRefine& refine = {});

// Where a persisted collection keeps the self-join's answer for k (docs/search.md, "The saved self-join").
std::filesystem::path saved_self_join_file(const std::filesystem::path& collection_dir, const std::string& model, int k);

// Called by `irbis index` after a commit: repairs an index that already exists on disk (does
// nothing if there is none). Never throws; problems go to warn() (warnings.h), the next search repairs.
void update_vector_index_if_present(const Collection& coll, const std::string& model) noexcept;

// --- unique ---
struct BoxSummary {
  int64_t n = 0;
  double min = 0, q1 = 0, median = 0, q3 = 0, max = 0, mean = 0;
  double lower_whisker = 0, upper_whisker = 0;  // furthest data within 1.5 IQR of the box
  int64_t low_outliers = 0, high_outliers = 0;  // beyond the whiskers
  // Values outside [lower_fence(), upper_fence()] (1.5 IQR beyond the box) are the outliers.
  double lower_fence() const { return q1 - 1.5 * (q3 - q1); }
  double upper_fence() const { return q3 + 1.5 * (q3 - q1); }
};
BoxSummary box_summary(std::vector<double> values);  // quartiles by linear interpolation
nlohmann::json box_summary_json(const BoxSummary& s);  // every field by name (irbis unique, /api/unique)

struct UniqueRow {
  int64_t row = -1;          // VectorSearch row
  int64_t neighbor = -1;     // nearest row that is not an exact duplicate (-1: none)
  double distance = -1;      // 1 - cosine to it (-1: none, e.g. every other image is a copy)
  double density = -1;       // mean distance to the `density_k` nearest non-duplicates
  bool exact = false;        // distance checked by exact search
};
struct UniqueResult {
  std::vector<UniqueRow> rows;  // every row, by distance descending (none last)
  BoxSummary summary;           // over rows with a neighbour
  int64_t rechecked = 0;        // rows re-checked exactly
  bool top_exact = false;       // the first `top` ranks are proven exact
};
// content: per row, the content hash (same hash = exact duplicate, skipped), may be empty.
// recheck_batch: how many rows the exact re-check of the top searches per pass over the rows
// (search_exact_rows); the ranking is the same for any batch (rows searched beyond where the
// re-check stops are not used).
UniqueResult rank_unique(const VectorSearch& vs, const std::vector<ContentHash>& content, int top,
                         int density_k = 5, int recheck_batch = 32);
// What `irbis unique` ranks: rank_unique with the content hashes of vs.records(); top 0 or more
// than the images = every image.
UniqueResult rank_unique_images(const VectorSearch& vs, int top, int density_k = 5);

// --- retrieval evaluation ---
struct RetrievalParams {
  int queries_per_class = 20;
  int negatives = 100;
  uint64_t seed = 1;
  std::vector<int> ks = {1, 2, 4, 5, 8, 10, 15, 20, 28, 32};
};
struct RetrievalReport {
  int64_t labelled = 0, classes = 0, queries = 0;
  std::vector<std::string> skipped_classes;  // single-image classes (no positive to find)
  int negatives_used = 0;                    // most any query got: min(negatives, images outside its class)
  std::vector<std::pair<int, double>> topk;  // (k, accuracy): positive ranked within k
  double knn1 = 0, knn5 = 0;                 // leave-one-out k-NN accuracy (majority, ties -> nearest)
  double map = 0;                            // mean average precision, every labelled image a query
  int64_t map_queries = 0;
};
// rows of vs with label[row] >= 0 take part; labels indexed like vs.records().
RetrievalReport evaluate_retrieval(const VectorSearch& vs, const LabelSet& labels, const RetrievalParams& p);

}  // namespace irbis
