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

// Copies the selected rows (all when idx is empty) and subtracts their mean.
std::vector<float> centered_rows(MatrixView x, const std::vector<int64_t>& idx);

// Principal axes of a centered m x d matrix: eigenvalues (descending) and unit eigenvectors
// (rows of `axes`, components x d), signs fixed so the largest |entry| is positive.
void principal_axes(const float* centered, int64_t m, int d, int components, std::vector<double>& eigenvalues,
                    std::vector<float>& axes);

}  // namespace irbis::analysis
