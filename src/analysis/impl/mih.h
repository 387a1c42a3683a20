// Multi-index hashing (Norouzi, Punjani, Fleet: "Fast Search in Hamming Space with Multi-Index
// Hashing", CVPR 2012) specialised to a self-join: all pairs of 64-bit values within radius t.
// Internal to src/analysis; the public entry points are in include/irbis/dupes.h.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include "irbis/dupes.h"

namespace irbis::impl {

struct MihPlan {
  bool brute_force = false;  // plain all-pairs scan (small N or large t)
  int chunks = 4;            // m: 64 bits split into m contiguous chunks, MSB first
  int radius = 0;            // floor(t / m): per-chunk search radius (pigeonhole)
  double est_cost = 0;       // estimated work units (popcounts + bucket probes)
  // Per-chunk radii (generalised pigeonhole, pigeonhole_radii); empty = `radius` for every chunk.
  std::vector<int> radii = {};
};

// Generalised pigeonhole: radii r_k of m chunks with sum(r_k + 1) = t + 1, the larger ones first
// (on the wider chunks). Two values within t differ by at most r_k bits in some chunk k, or else
// by at least t + 1 bits; r_k = -1 means chunk k need not be searched. With t + 1 a multiple of m
// these are the plain floor(t / m); otherwise fewer candidates (t = 12, m = 4: 3,2,2,2, not 3,3,3,3).
std::vector<int> pigeonhole_radii(int t, int m);

// Chooses m in 4..8 (chunks of 8..16 bits, so every chunk table is a flat offset array) with
// pigeonhole_radii, or brute force, by the expected number of candidate checks and bucket probes
// for n uniform hashes.
MihPlan choose_plan(size_t n, int max_distance);

// All pairs (i < j) of `values` within max_distance, each once, unsorted.
std::vector<NearPair> self_join(std::span<const uint64_t> values, int max_distance,
                                const MihPlan& plan, int threads);

int resolve_threads(int threads);

// Runs fn(begin, end, out) over [0, n) in blocks on `threads` threads; returns the outputs
// concatenated (order is not deterministic; callers sort).
template <class Out, class Fn>
std::vector<Out> parallel_blocks(size_t n, size_t block, int threads, Fn fn) {
  std::atomic<size_t> next{0};
  const int t = std::max(1, std::min<int>(threads, int((n + block - 1) / block)));
  std::vector<std::vector<Out>> outs(static_cast<size_t>(t));
  auto work = [&](int k) {
    for (;;) {
      const size_t b = next.fetch_add(block);
      if (b >= n) break;
      fn(b, std::min(n, b + block), outs[size_t(k)]);
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < t; ++k) pool.emplace_back(work, k);
  work(0);
  for (auto& th : pool) th.join();
  size_t total = 0;
  for (auto& o : outs) total += o.size();
  std::vector<Out> all;
  all.reserve(total);
  for (auto& o : outs) all.insert(all.end(), o.begin(), o.end());
  return all;
}

// Candidate checks use an AVX-512 VPOPCNTQ kernel when the CPU has it (runtime check), else a
// scalar popcount loop. use_simd_kernel(false) forces the scalar loop (tests compare both);
// returns whether the SIMD kernel is now in use.
bool use_simd_kernel(bool on);

// Positions (a in A, b in B) of a candidate block whose full distance is <= t.
struct Match {
  uint32_t a, b;
};
// The candidate check shared by the searches: every (p, q) with popcount(A[p] ^ B[q]) <= t, appended
// to `out` (in no particular order); with `same`, A and B are one array and only q > p is compared.
void compare_block(const uint64_t* A, uint32_t na, const uint64_t* B, uint32_t nb, bool same, int t,
                   std::vector<Match>& out);

}  // namespace irbis::impl
