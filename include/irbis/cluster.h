// Cluster analysis of embedding matrices: k-means (FAISS) with an automatic k chosen by silhouette,
// a 2-D map (PCA or t-SNE), scores against known labels, and the report writers (CSV, JSON,
// SVG/PNG plots) behind `irbis cluster`. Everything works on an in-memory, row-major float matrix
// (n items x d dimensions) and is deterministic for a given seed.
//
// Documented constants:
//   kSilhouetteSample  silhouettes are exact up to this many items; above it they are computed on a
//                      seeded uniform sample of this size (ClusterParams::silhouette_sample).
//   kNoStructureSilhouette / kNoStructureMargin  "clear cluster structure" needs BOTH
//       best silhouette >= kNoStructureSilhouette  AND
//       best silhouette - null silhouette >= kNoStructureMargin,
//     where the null silhouette is k-means (same k) on a Gaussian reference sample that has the
//     data's mean and principal variances (the "no clusters" hypothesis). Calibration on synthetic
//     data is recorded in docs/cluster.md.
//   kTsneExactMax      t-SNE is exact (O(n^2)) up to this many items, Barnes-Hut above.
//   kLowMemoryItems / kLowMemoryBytes  `irbis cluster` switches to the low-memory (streamed) mode
//                      above this many items, or when the n x d float matrix would need more than
//                      this many bytes (low_memory_needed()).
//   kLowMemorySample   rows the low-memory mode fits k-means, the k sweep and the PCA map on
//                      (ClusterParams::low_memory_sample); kStreamChunk rows are assigned at a time.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

namespace irbis {

inline constexpr int kSilhouetteSample = 5000;
inline constexpr double kNoStructureSilhouette = 0.20;
inline constexpr double kNoStructureMargin = 0.15;
inline constexpr int64_t kTsneExactMax = 2000;
inline constexpr int64_t kLowMemoryItems = 200000;
inline constexpr int64_t kLowMemoryBytes = int64_t(1) << 30;  // 1 GiB
inline constexpr int kLowMemorySample = 20000;
inline constexpr int kStreamChunk = 4096;

// Non-owning view of a row-major n x d float matrix.
struct MatrixView {
  const float* data = nullptr;
  int64_t n = 0;
  int d = 0;
  MatrixView() = default;
  MatrixView(const float* data_, int64_t n_, int d_) : data(data_), n(n_), d(d_) {}
  MatrixView(std::span<const float> values, int64_t n_, int d_);  // checks values.size() == n*d
  explicit MatrixView(const cv::Mat& m);                          // CV_32FC1, continuous
  const float* row(int64_t i) const { return data + i * static_cast<int64_t>(d); }
};

// ---------------------------------------------------------------------------------------------
// k-means
enum class KMeansInit {
  // Greedy k-means++ seeding per restart (on a seeded sample of max(20000, 100 k) items when n is
  // larger), then FAISS Lloyd iterations on all items (default).
  kmeanspp,
  random,    // FAISS's own random init with nredo restarts
};

struct KMeansParams {
  int k = 8;
  int restarts = 5;      // independent seeded runs, the lowest inertia is kept
  int iterations = 25;   // Lloyd iterations per run
  uint64_t seed = 1;
  // 0 = train on every point; otherwise FAISS subsamples to k * this many points (faster, approx.)
  int max_points_per_centroid = 0;
  KMeansInit init = KMeansInit::kmeanspp;
  // Stop a run early once one iteration lowers the objective by less than this fraction
  // (k-means++ init only); 0 = always run `iterations`.
  double tolerance = 1e-4;
};

struct KMeansResult {
  int k = 0;
  int d = 0;
  std::vector<float> centroids;   // k x d, row-major
  std::vector<int> labels;        // n, in [0, k)
  std::vector<float> distances;   // n, Euclidean distance of each item to its centroid
  double inertia = 0;             // sum of squared distances to the assigned centroids
};

// Throws UsageError if k < 1, k > n or the matrix is empty.
KMeansResult kmeans(MatrixView x, const KMeansParams& p);

// Exact nearest centroid (k x d, row-major) of every row: labels and Euclidean distances (x.n each);
// returns the sum of squared distances. kmeans() ends with it; the low-memory mode runs it per chunk.
double assign_to_centroids(MatrixView x, std::span<const float> centroids, int k, std::span<int> labels,
                           std::span<float> distances);

// ---------------------------------------------------------------------------------------------
// Silhouette (Euclidean). Pairwise distances come from blocked sgemm with the squared-norm trick,
// so memory is O(block * m + m * sum(k)) for m (sampled) items.
// Mean silhouette of one labelling. When n > sample_size (> 0), a seeded uniform sample of
// sample_size items is scored (as sklearn's silhouette_score(sample_size=...)). Items alone in
// their cluster score 0. Needs 2 <= #distinct labels <= n - 1 (else UsageError).
double silhouette_score(MatrixView x, std::span<const int> labels, int sample_size = kSilhouetteSample,
                        uint64_t seed = 1);
// Several labellings of the same items in one pass over the distances (the k sweep).
std::vector<double> silhouette_scores(MatrixView x, const std::vector<std::span<const int>>& labelings,
                                      int sample_size = kSilhouetteSample, uint64_t seed = 1);
// Per-item silhouettes, exact (no sampling).
std::vector<float> silhouette_samples(MatrixView x, std::span<const int> labels);

// ---------------------------------------------------------------------------------------------
// Automatic k
struct KScore {
  int k = 0;
  double silhouette = 0;
  double inertia = 0;
};

struct AutoKResult {
  std::vector<KScore> table;   // one row per k in [k_min, k_max] (clipped to n - 1)
  int best_k = 0;              // highest silhouette
  int elbow_k = 0;             // knee of the inertia curve (max distance to the chord), shown alongside
  double best_silhouette = 0;
  double null_silhouette = 0;  // k-means(best_k) on the structure-less Gaussian reference
  bool clear_structure = false;
  std::vector<KMeansResult> runs;  // the k-means result of each row of the table (same order)
};

// Throws UsageError for k_min < 2, k_min >= k_max (fewer than two values) or n < 3.
AutoKResult choose_k(MatrixView x, int k_min, int k_max, const KMeansParams& base,
                     int silhouette_sample = kSilhouetteSample);
// Knee of a decreasing curve: the x maximising the distance to the chord between the end points
// (both axes scaled to [0, 1]). Returns ks.front() for fewer than 3 points.
int elbow_of(std::span<const int> ks, std::span<const double> values);

// ---------------------------------------------------------------------------------------------
// 2-D maps. Both return n x 2 row-major coordinates, finite for every input (n = 1, duplicates).
// PCA: the two leading principal components (signs fixed: largest |loading| positive).
std::vector<float> pca_project(MatrixView x, int components = 2);
// The same projection split in two, so it can be fitted on a sample and applied to streamed rows:
// pca_project(x) == pca_apply(pca_fit(x), x).
struct PcaBasis {
  int d = 0;
  int components = 0;          // output coordinates per row
  std::vector<double> mean;    // d
  std::vector<float> axes;     // min(components, d) x d, unit rows (all zero when fitted on <= 1 row)
};
PcaBasis pca_fit(MatrixView x, int components = 2);
// Writes x.n x b.components coordinates to out (non-finite values become 0).
void pca_apply(const PcaBasis& b, MatrixView x, float* out);

struct TsneParams {
  double perplexity = 30;       // clipped to (n - 1) / 3 for small n
  int iterations = 1000;
  int exaggeration_iterations = 250;
  double exaggeration = 12;
  double learning_rate = 0;     // 0 = auto: max(n / exaggeration / 4, 50)
  double theta = 0.5;           // Barnes-Hut accuracy (0 = exact forces)
  int64_t exact_max = kTsneExactMax;  // exact gradient up to this n
  int pca_dims = 50;            // inputs with more dimensions are first reduced by PCA
  uint64_t seed = 1;            // seeds the tiny jitter added to the PCA init
};
// van der Maaten & Hinton 2008 (exact) / van der Maaten 2014 (Barnes-Hut), PCA initialisation.
std::vector<float> tsne(MatrixView x, const TsneParams& p = {});

// ---------------------------------------------------------------------------------------------
// Scores against known labels (any integer ids; need not be contiguous).
struct LabelScores {
  double purity = 0;
  double nmi = 0;   // normalised mutual information, arithmetic-mean normalisation (sklearn default)
  double ari = 0;   // adjusted Rand index
};
double purity_score(std::span<const int> truth, std::span<const int> pred);
double nmi_score(std::span<const int> truth, std::span<const int> pred);
double adjusted_rand_score(std::span<const int> truth, std::span<const int> pred);
LabelScores label_scores(std::span<const int> truth, std::span<const int> pred);
// Maps strings (e.g. folder names) to dense ids in order of first appearance.
std::vector<int> encode_labels(const std::vector<std::string>& names);

// ---------------------------------------------------------------------------------------------
// The whole `irbis cluster` analysis.
struct ClusterParams {
  int k = 0;                 // fixed k (used when auto_k is false)
  int k_min = 2, k_max = 30; // auto range
  bool auto_k = false;
  int restarts = 5;
  int iterations = 25;
  double tolerance = 1e-4;   // see KMeansParams::tolerance
  uint64_t seed = 1;
  int silhouette_sample = kSilhouetteSample;
  std::string map = "tsne";  // "tsne", "pca" or "none"
  TsneParams tsne;           // tsne.seed is overridden by seed
  int central_items = 5;     // items listed per cluster in the JSON report
  // Low-memory mode (analyze_clusters_streamed) only:
  int low_memory_sample = kLowMemorySample;  // training rows (at least 50 x the largest k)
  int chunk_rows = kStreamChunk;             // rows read and assigned at a time
};

struct ClusterSummary {
  int cluster = 0;
  int64_t size = 0;
  int64_t medoid = -1;                // item closest to the centroid
  std::vector<int64_t> most_central;  // up to central_items, closest first
  double mean_distance = 0;           // to the centroid
};

struct ClusterReport {
  int k = 0;
  bool auto_k = false;
  std::vector<KScore> table;   // one row per k tried (fixed k: one row; silhouette 0 if undefined)
  int elbow_k = 0;
  double best_silhouette = 0, null_silhouette = 0;
  bool clear_structure = false;
  KMeansResult kmeans;         // low memory: labels of every item, distances empty (they were streamed)
  std::string map_method;      // "tsne", "pca" or "none"
  std::vector<float> map;      // n x 2 (zeros when map == "none"); empty in low-memory mode
  std::vector<ClusterSummary> clusters;
  std::optional<LabelScores> scores;  // when truth labels were given
  // Low-memory mode: the score table (silhouettes and inertias) and the PCA basis come from a seeded
  // training sample of `trained_on` items; its map and labels are kept for the plot.
  bool low_memory = false;
  int64_t items = 0, trained_on = 0;
  std::vector<float> sample_map;  // trained_on x 2
  std::vector<int> sample_labels;
};

// Runs k-means (fixed or automatic k), the map and the label scores. `truth` may be empty.
// Throws UsageError for bad parameters (k > n, empty input, bad range, unknown map).
ClusterReport analyze_clusters(MatrixView x, const ClusterParams& p, std::span<const int> truth = {});

// ---------------------------------------------------------------------------------------------
// Low-memory mode: rows are read on demand (e.g. from a memory-mapped feature file), never all
// at once. Fits k-means / the k sweep / silhouettes / the PCA map on a seeded sample of
// max(low_memory_sample, 50 x largest k) rows, then assigns every row in chunks of chunk_rows and
// hands each chunk to the sink in item order; summaries (size, medoid, most central) take a second
// streamed pass and O(k x 20 x d) memory. Peak memory: O(sample x d + chunk x d), plus one int label
// per item. t-SNE is not streamable (map "tsne" throws UsageError).
bool low_memory_needed(int64_t n, int d);  // n > kLowMemoryItems or n x d x 4 > kLowMemoryBytes

struct RowSource {
  int64_t n = 0;
  int d = 0;
  std::function<void(int64_t first, int64_t count, float* out)> read;  // rows [first, first + count)
};

struct ClusterChunk {
  int64_t first = 0;                 // item index of the chunk's first row
  std::span<const int> labels;       // per row of the chunk
  std::span<const float> xy;         // 2 per row (zeros for map "none")
  std::span<const float> distances;  // to the assigned centroid
};
using ClusterSink = std::function<void(const ClusterChunk&)>;

ClusterReport analyze_clusters_streamed(const RowSource& rows, const ClusterParams& p, std::span<const int> truth,
                                        const ClusterSink& sink);

// CSV `path,cluster,x,y,distance_to_centroid`, one row per item, streamed; fields quoted as RFC 4180.
// Throws UsageError for a low-memory report (its rows went to the sink: write them with the two below).
void write_cluster_csv(std::ostream& out, const ClusterReport& r, const std::vector<std::string>& names);
void write_cluster_csv_header(std::ostream& out);
void write_cluster_csv_rows(std::ostream& out, const ClusterChunk& c, const std::vector<std::string>& names);
// Paths that are not UTF-8 must be dumped with nlohmann::json::error_handler_t::replace.
// JSON: k, auto_k, clear_structure, threshold values, score table, elbow, clusters (size, medoid,
// central items by name), label scores.
nlohmann::json cluster_report_json(const ClusterReport& r, const std::vector<std::string>& names);
// Human-readable table of the k sweep with the chosen k and elbow marked, and the verdict.
std::string format_k_table(const ClusterReport& r);

// ---------------------------------------------------------------------------------------------
// Plots: PNG or JPEG (OpenCV) or SVG, by the file extension (UsageError for another). IoError when unwritable.
// Scatter of the 2-D map coloured by cluster, with legend and axis labels.
void plot_map(const std::filesystem::path& file, std::span<const float> xy, std::span<const int> labels,
              int k, const std::string& title = "", const std::string& axis_name = "t-SNE");
// Silhouette (top panel) and inertia (bottom panel) against k, chosen k and elbow marked.
void plot_k_curves(const std::filesystem::path& file, const std::vector<KScore>& table, int chosen_k,
                   int elbow_k);

}  // namespace irbis
