// Near-duplicate detection over 64-bit perceptual hashes and grouping of duplicates.
// Definitions, complexity and the chaining rule are in docs/dupes.md. Nothing here touches files.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace irbis {

// 16-byte content hash of a file's bytes (same type as ContentHash in collection.h).
using ContentHash = std::array<uint8_t, 16>;

struct DupesParams {
  // Largest hamming distance between two 64-bit hashes that still counts as a near duplicate.
  // Default 10 (of 64 bits): pHash of a JPEG re-encode or a resize moves a few bits (<= 4-5 in
  // our tests) while unrelated photos sit around 32 apart; 10 leaves room for light edits and
  // keeps random false matches rare (~1e-8 per pair). To be calibrated on real collections.
  int max_distance = 8;
  // Bounded chaining (complete linkage over distinct hash values): two groups are merged only if
  // every pair of hash values across them is within max_distance. false = plain single linkage
  // (connected components of the near-pair graph), where a~b~c can put a and c together.
  bool bound_chaining = true;
  // Cap on the popcounts spent checking one merge (|A| x |B| distinct values). Above it the
  // check falls back to a triangle-inequality test (see docs/dupes.md), which may refuse a
  // merge the full check would accept but never accepts one that breaks the bound.
  int64_t max_linkage_checks = 1 << 16;
  // Worker threads for the pair search; 0 = std::thread::hardware_concurrency().
  int threads = 0;
};

// One near pair: i < j, distance = hamming(hash[i], hash[j]) <= max_distance.
struct NearPair {
  uint32_t i = 0;
  uint32_t j = 0;
  int distance = 0;
  friend bool operator==(const NearPair&, const NearPair&) = default;
};

// All pairs (i < j) of `hashes` within max_distance (0..64), each once, sorted by (i, j).
// Identical hash values are collapsed before the search, so the search cost depends on the
// distinct values; the output itself has every pair of items, so k identical hashes yield
// k(k-1)/2 pairs. Throws irbis::Error for max_distance outside 0..64 or more than 2^32-1 items.
std::vector<NearPair> find_near_pairs(std::span<const uint64_t> hashes, int max_distance,
                                      int threads = 0);

// Same search over values that are already distinct (duplicates allowed, they are reported at
// distance 0): the multi-index hashing core. Pairs index into `values`, sorted by (i, j).
std::vector<NearPair> find_near_value_pairs(std::span<const uint64_t> values, int max_distance,
                                            int threads = 0);

struct DupeItem {
  uint64_t hash = 0;        // perceptual hash (e.g. phash)
  ContentHash content{};    // equal content => exact duplicates; all zero = unknown, never equal
  int64_t pixels = 0;       // width * height, to pick the item to keep
  int64_t file_size = 0;    // bytes
  std::string path;         // final tie-break (smallest wins) and group order
  // Nearly flat images (a sky, a black frame): their pHash is decided by noise, so they would
  // match each other at any threshold. They join groups only as exact (same content) duplicates.
  bool low_detail = false;
};

enum class DupeKind { exact, near, cnn };
const char* dupe_kind_name(DupeKind k);  // "exact" | "near" | "cnn"

struct DupeMember {
  size_t index = 0;          // into the items given to group_duplicates
  DupeKind kind = DupeKind::near;  // exact: same content hash as the kept item
  int distance = 0;          // hamming distance to the kept item's hash (0 for exact)
  double similarity = -2;    // extra-scale similarity (1 - extra distance) to the kept item; -2 = none
  bool has_similarity() const { return similarity >= -1.5; }  // false: linked by hashes alone
};

struct DupeGroup {
  size_t keep = 0;                     // largest pixels, then largest file, then smallest path
  std::vector<DupeMember> duplicates;  // the others, sorted by (kind, distance, path, index)
};

// Groups exact duplicates (equal content hash) and near duplicates (hash distance <=
// max_distance, bounded chaining). Only groups with at least two items are returned, sorted by
// the kept item's path (then index). Nothing is deleted or moved.
std::vector<DupeGroup> group_duplicates(std::span<const DupeItem> items,
                                        const DupesParams& params = {});

// Pairs found on a second distance scale (e.g. 1 - cosine of CNN embeddings) that join the
// grouping next to the hash pairs. See docs/search.md ("dupes --cnn").
struct ExtraLinkage {
  struct Pair {
    uint32_t i = 0, j = 0;
    float distance = 0;  // on this scale, <= max_distance
  };
  std::vector<Pair> pairs;
  float max_distance = 0;
  // Distance of any two items on this scale, for the complete-linkage check of a merge.
  std::function<float(uint32_t, uint32_t)> distance;
};

// group_duplicates with extra pairs. Two items are "linked" when they have the same content
// hash, or their hashes are within params.max_distance, or their extra distance is within
// extra.max_distance. Exact-content merges are unconditional; hash pairs and extra pairs are
// merged in ascending order of distance / threshold (each scale normalised by its own
// threshold), and with bound_chaining only when every pair across the two groups is linked
// (complete linkage over the union relation; a merge needing more than max_linkage_checks
// checks is refused). Members are `exact`, `near` (hash within threshold of the kept item) or
// `cnn` (the rest), each with `similarity` = 1 - extra distance to the kept item. Complete
// linkage is checked over items (not distinct hash values), so the cost cap applies per item.
std::vector<DupeGroup> group_duplicates(std::span<const DupeItem> items, const DupesParams& params,
                                        const ExtraLinkage& extra);

}  // namespace irbis
