// Multi-index hashing (Norouzi, Punjani, Fleet: "Fast Search in Hamming Space with Multi-Index
// Hashing", CVPR 2012) specialised to a self-join: all pairs of 64-bit values within radius t.
// Internal to src/analysis; the public entry points are in include/irbis/dupes.h.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "irbis/dupes.h"

namespace irbis::impl {

struct MihPlan {
  bool brute_force = false;  // plain all-pairs scan (small N or large t)
  int chunks = 4;            // m: 64 bits split into m contiguous chunks, MSB first
  int radius = 0;            // floor(t / m): per-chunk search radius (pigeonhole)
  double est_cost = 0;       // estimated work units (popcounts + bucket probes)
};

// Chooses m in 4..8 (chunks of 8..16 bits, so every chunk table is a flat offset array) or brute
// force, by the expected number of candidate checks and bucket probes for n uniform hashes.
MihPlan choose_plan(size_t n, int max_distance);

// All pairs (i < j) of `values` within max_distance, each once, unsorted.
std::vector<NearPair> self_join(std::span<const uint64_t> values, int max_distance,
                                const MihPlan& plan, int threads);

int resolve_threads(int threads);

// Candidate checks use an AVX-512 VPOPCNTQ kernel when the CPU has it (runtime check), else a
// scalar popcount loop. use_simd_kernel(false) forces the scalar loop (tests compare both);
// returns whether the SIMD kernel is now in use.
bool use_simd_kernel(bool on);

}  // namespace irbis::impl
