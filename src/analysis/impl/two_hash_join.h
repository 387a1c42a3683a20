// The band search of the two-hash rule (docs/dupes.md, "Two hashes agree", "Cost at scale"): all
// pairs of items whose pHash and dHash are both close, for the identity and for the mirror (the
// mirror pHash variant with the mirrored dHash). Internal to src/analysis; group_duplicates calls it.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace irbis::impl {

struct TwoHashKey {
  uint64_t phash = 0;
  uint64_t dhash = 0;
  uint64_t mirror_phash = 0;  // pHash of the mirrored image, when has_mirror
  bool has_mirror = false;
  friend auto operator<=>(const TwoHashKey&, const TwoHashKey&) = default;
};

struct TwoHashReach {
  int phash = 16;       // largest pHash distance of a pair (HashAgreement::max_band_phash)
  int dhash = 12;       // largest dHash distance of the same transform (HashAgreement::max_band_dhash)
  bool mirror = true;   // also the mirror transform (DupesParams::variants_used >= 1)
};

// Whether keys a and b are within reach for the identity, or for the mirror: the pHash distance
// min(d(mirror_a, phash_b), d(mirror_b, phash_a)) over the mirror pHashes the two have, with the
// dHash distance d(dhash_mirrored(dhash_a), dhash_b).
bool within_reach(const TwoHashKey& a, const TwoHashKey& b, const TwoHashReach& reach);

// Every pair (i < j) of `keys` within reach, sorted, each once. Multi-index hashing over the dHash
// (four 16-bit chunks, two rows of the 9x8 gradient each, with per-chunk radii r_k whose sum of
// r_k + 1 exceeds reach.dhash: the generalised pigeonhole), the mirror through the same tables (a
// chunk of the mirrored dHash is a fixed function of the same chunk), the pHash checked on the
// dHash hits. Deterministic for any thread count; 0 threads = hardware concurrency.
std::vector<std::pair<uint32_t, uint32_t>> two_hash_pairs(std::span<const TwoHashKey> keys, const TwoHashReach& reach,
                                                          int threads);

// Per-chunk radii of the dHash search for a given reach (-1: the chunk is not searched).
std::vector<int> two_hash_chunk_radii(int max_dhash);

// Bench and test hook: false = group_duplicates uses the search of before (a self-join of the
// dHashes and mirrored dHashes at radius max_band_dhash, the pHash checked by the grouping), to
// compare the two. Returns the previous setting.
bool use_two_hash_join(bool on);
bool two_hash_join_enabled();

}  // namespace irbis::impl
