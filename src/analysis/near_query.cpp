// find_near_query_pairs (dupes.h): multi-index hashing of a fixed set, probed by new hashes.
#include <algorithm>
#include <bit>

#include "analysis/impl/mih.h"
#include "irbis/dupes.h"
#include "irbis/errors.h"

namespace irbis {

namespace {

constexpr int kChunks = 4;  // 16-bit chunks: flat offset tables of 2^16 + 1 entries
constexpr int kChunkBits = 16;

uint32_t chunk_of(uint64_t h, int c) { return uint32_t(h >> (kChunkBits * (kChunks - 1 - c))) & 0xFFFFu; }

// Every 16-bit mask with at most r bits set, 0 first.
std::vector<uint32_t> masks_up_to(int r) {
  std::vector<uint32_t> m;
  for (uint32_t v = 0; v < (1u << kChunkBits); ++v)
    if (std::popcount(v) <= r) m.push_back(v);
  std::stable_sort(m.begin(), m.end(), [](uint32_t a, uint32_t b) { return std::popcount(a) < std::popcount(b); });
  return m;
}

}  // namespace

std::vector<QueryNearPair> find_near_query_pairs(std::span<const uint64_t> items, std::span<const uint64_t> queries,
                                                 int max_distance) {
  if (max_distance < 0 || max_distance > 64)
    throw Error("hash distance threshold " + std::to_string(max_distance) + " is outside 0..64");
  std::vector<QueryNearPair> out;
  // Generalised pigeonhole: some chunk c differs by <= radii[c] bits (12: 3,2,2,2; -1: not probed).
  const std::vector<int> radii = impl::pigeonhole_radii(max_distance, kChunks);
  const bool scan = max_distance >= 20 || items.size() * queries.size() <= (size_t(1) << 20);
  if (scan) {
    for (size_t q = 0; q < queries.size(); ++q)
      for (size_t i = 0; i < items.size(); ++i) {
        const int d = std::popcount(queries[q] ^ items[i]);
        if (d <= max_distance) out.push_back({uint32_t(q), uint32_t(i), d});
      }
    return out;
  }
  // Per chunk: item indices ordered by chunk value (counting sort) and bucket offsets.
  std::vector<std::vector<uint32_t>> offsets(kChunks, std::vector<uint32_t>((1u << kChunkBits) + 1, 0));
  std::vector<std::vector<uint32_t>> order(kChunks, std::vector<uint32_t>(items.size()));
  for (int c = 0; c < kChunks; ++c) {
    auto& off = offsets[size_t(c)];
    for (uint64_t h : items) ++off[chunk_of(h, c) + 1];
    for (size_t v = 1; v < off.size(); ++v) off[v] += off[v - 1];
    std::vector<uint32_t> fill(off.begin(), off.end() - 1);
    for (size_t i = 0; i < items.size(); ++i) order[size_t(c)][fill[chunk_of(items[i], c)]++] = uint32_t(i);
  }
  std::vector<std::vector<uint32_t>> masks(kChunks);
  for (int c = 0; c < kChunks; ++c) masks[size_t(c)] = masks_up_to(radii[size_t(c)]);
  for (size_t q = 0; q < queries.size(); ++q) {
    const uint64_t h = queries[q];
    const size_t first = out.size();
    for (int c = 0; c < kChunks; ++c) {
      const uint32_t qc = chunk_of(h, c);
      for (uint32_t m : masks[size_t(c)]) {
        const uint32_t v = qc ^ m;
        const auto& off = offsets[size_t(c)];
        for (uint32_t k = off[v]; k < off[v + 1]; ++k) {
          const uint32_t i = order[size_t(c)][k];
          const int d = std::popcount(h ^ items[i]);
          if (d > max_distance) continue;
          // Report each pair from the first chunk within r only.
          bool earlier = false;
          for (int e = 0; e < c && !earlier; ++e)
            earlier = std::popcount(chunk_of(h, e) ^ chunk_of(items[i], e)) <= radii[size_t(e)];
          if (!earlier) out.push_back({uint32_t(q), i, d});
        }
      }
    }
    std::sort(out.begin() + std::ptrdiff_t(first), out.end(),
              [](const QueryNearPair& a, const QueryNearPair& b) { return a.item < b.item; });
  }
  return out;
}

}  // namespace irbis
