// Helpers of the duplicate tests (dupes_test.cpp, two_hash_join_test.cpp): hashes at an exact
// distance, and the keep-centred grouping replayed by brute force, to check that
// group_duplicates' candidate searches miss nothing.
#pragma once
#include <bit>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "irbis/dupes.h"

namespace irbis::test {

// Flips exactly d distinct random bits of h.
inline uint64_t flip(uint64_t h, int d, std::mt19937_64& rng) {
  uint64_t mask = 0;
  while (std::popcount(mask) < d) mask |= uint64_t(1) << (rng() % 64);
  return h ^ mask;
}

// The items visited in `order`, each judged by judge_hash_pair against every item kept so far
// (every band pair accepted; sure before band, then the smallest strength, ties to the earlier
// kept item: docs/dupes.md, "Grouping"). Returns duplicate -> (kept item, DupeKind as int).
inline std::map<size_t, std::pair<size_t, int>> brute_force_grouping(std::span<const DupeItem> items,
                                                                     const DupesParams& p,
                                                                     std::span<const uint32_t> order) {
  std::vector<uint32_t> kept;
  std::map<size_t, std::pair<size_t, int>> out;
  for (uint32_t x : order) {
    int best = -1;
    double best_strength = 1e30;
    bool best_sure = false;
    for (uint32_t k : kept) {
      DupeMember m;
      double st = 0;
      const HashMatch h = judge_hash_pair(items[x], items[k], p, true, m, st);
      if (h == HashMatch::none) continue;
      const bool sure = h == HashMatch::sure;
      if (best < 0 || (sure && !best_sure) || (sure == best_sure && st < best_strength))
        best = int(k), best_strength = st, best_sure = sure;
    }
    if (best >= 0) out[x] = {size_t(best), int(best_sure ? DupeKind::near : DupeKind::verified)};
    else kept.push_back(x);
  }
  return out;
}

}  // namespace irbis::test
