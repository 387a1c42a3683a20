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
#pragma once
#include <cstdint>
#include <filesystem>
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
  KMeansResult kmeans;
  std::string map_method;      // "tsne", "pca" or "none"
  std::vector<float> map;      // n x 2 (zeros when map == "none")
  std::vector<ClusterSummary> clusters;
  std::optional<LabelScores> scores;  // when truth labels were given
};

// Runs k-means (fixed or automatic k), the map and the label scores. `truth` may be empty.
// Throws UsageError for bad parameters (k > n, empty input, bad range, unknown map).
ClusterReport analyze_clusters(MatrixView x, const ClusterParams& p, std::span<const int> truth = {});

// CSV `path,cluster,x,y,distance_to_centroid`, one row per item, streamed; fields quoted as RFC 4180.
void write_cluster_csv(std::ostream& out, const ClusterReport& r, const std::vector<std::string>& names);
// Paths that are not UTF-8 must be dumped with nlohmann::json::error_handler_t::replace.
// JSON: k, auto_k, clear_structure, threshold values, score table, elbow, clusters (size, medoid,
// central items by name), label scores.
nlohmann::json cluster_report_json(const ClusterReport& r, const std::vector<std::string>& names);
// Human-readable table of the k sweep with the chosen k and elbow marked, and the verdict.
std::string format_k_table(const ClusterReport& r);

// ---------------------------------------------------------------------------------------------
// Plots: SVG, or PNG (OpenCV) when the file name ends in .png. Throw IoError when unwritable.
// Scatter of the 2-D map coloured by cluster, with legend and axis labels.
void plot_map(const std::filesystem::path& file, std::span<const float> xy, std::span<const int> labels,
              int k, const std::string& title = "", const std::string& axis_name = "t-SNE");
// Silhouette (top panel) and inertia (bottom panel) against k, chosen k and elbow marked.
void plot_k_curves(const std::filesystem::path& file, const std::vector<KScore>& table, int chosen_k,
                   int elbow_k);

}  // namespace irbis
