// Internal helpers shared by the analysis sources (not part of the public API).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include <omp.h>

#include "irbis/cluster.h"

namespace irbis::analysis {

// splitmix64: tiny, portable, seedable generator (std distributions differ between libraries).
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x1234567ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  uint64_t below(uint64_t n) { return next() % n; }
  double normal() {  // Box-Muller
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// Runs the enclosing scope single-threaded when the work is small: OpenMP fork/join (and spinning
// workers on a busy machine) costs more than it saves below ~1e7 flops per parallel region.
class SmallWorkSerial {
 public:
  explicit SmallWorkSerial(double flops) : saved_(omp_get_max_threads()) {
    if (flops < 2e7) omp_set_num_threads(1);
  }
  ~SmallWorkSerial() { omp_set_num_threads(saved_); }
  SmallWorkSerial(const SmallWorkSerial&) = delete;
  SmallWorkSerial& operator=(const SmallWorkSerial&) = delete;

 private:
  int saved_;
};

// Sorted seeded sample of m distinct indices from [0, n) (all of them when m >= n).
std::vector<int64_t> sample_indices(int64_t n, int64_t m, uint64_t seed);

// Copies the selected rows (all when idx is empty) and subtracts their mean (returned in mean_out).
std::vector<float> centered_rows(MatrixView x, const std::vector<int64_t>& idx,
                                 std::vector<double>* mean_out = nullptr);

// Principal axes of a centered m x d matrix: eigenvalues (descending) and unit eigenvectors
// (rows of `axes`, components x d), signs fixed so the largest |entry| is positive.
void principal_axes(const float* centered, int64_t m, int d, int components, std::vector<double>& eigenvalues,
                    std::vector<float>& axes);

// `irbis cluster`'s model on x: fixed or automatic k, silhouettes and the structure verdict. Fills
// r.kmeans (labels and distances of x's rows), r.k, r.auto_k, r.table, r.elbow_k and the verdict.
// Throws UsageError for a bad k or range (k is checked against x.n).
void fit_clusters(MatrixView x, const ClusterParams& p, ClusterReport& r);

// Per-cluster summaries (size, mean distance, most central items, medoid) in two passes over the
// items in index order, keeping O(k x candidates) items and their rows: pass 1 (add) sees each
// item's label and distance; the candidate rows are then supplied; pass 2 (add_row) sees each
// item's row and sums its distances to its cluster's medoid candidates. The in-memory and the
// streamed analysis share it, so both give the same summaries.
class ClusterSummarizer {
 public:
  ClusterSummarizer(int k, int central_items, int d);
  void add(int64_t item, int label, float distance);
  // Ends pass 1: the items whose rows pass 2 needs, ascending.
  std::vector<int64_t> candidates();
  // rows: candidates().size() x d, in the order candidates() returned.
  void set_candidate_rows(std::vector<float> rows);
  void add_row(int64_t item, int label, const float* row);
  std::vector<ClusterSummary> finish() const;

 private:
  struct Near {
    float distance;
    int64_t item;
    bool operator<(const Near& o) const { return distance < o.distance || (distance == o.distance && item < o.item); }
  };
  struct Cluster {
    int64_t size = 0;
    double distance_sum = 0;
    std::vector<Near> nearest;       // max-heap during pass 1, then sorted ascending
    std::vector<double> total;       // pass 2: summed distance of each medoid candidate
    std::vector<const float*> rows;  // of each medoid candidate
  };
  int central_, keep_, medoid_candidates_, d_;
  std::vector<Cluster> clusters_;
  std::vector<int64_t> candidates_;
  std::vector<float> rows_;
};

}  // namespace irbis::analysis
