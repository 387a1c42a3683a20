#include "analysis/impl/two_hash_join.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>

#include "analysis/impl/mih.h"
#include "irbis/hashes.h"

namespace irbis::impl {
namespace {

std::atomic<bool> g_two_hash_join{true};

// 16-bit chunks, most significant first: chunk k holds rows 2k and 2k + 1 of the dHash, so the
// mirrored dHash (each row reversed and inverted) has in chunk k a function of chunk k only.
constexpr int kChunks = 4;
constexpr int kChunkBits = 16;
constexpr size_t kCells = size_t(1) << kChunkBits;
int chunk_shift(int k) { return 64 - kChunkBits * (k + 1); }
uint32_t chunk_of(uint64_t h, int k) { return uint32_t(h >> chunk_shift(k)) & 0xFFFFu; }

// Points of {0,1}^16 within hamming radius r of one point.
double ball16(int r) {
  double total = 0, c = 1;
  for (int k = 0; k <= std::min(r, kChunkBits); ++k) {
    total += c;
    c = c * (kChunkBits - k) / (k + 1);
  }
  return r < 0 ? 0 : total;
}

void emit(uint32_t a, uint32_t b, std::vector<std::pair<uint32_t, uint32_t>>& out) {
  out.emplace_back(std::min(a, b), std::max(a, b));
}

std::vector<std::pair<uint32_t, uint32_t>> brute_pairs(std::span<const TwoHashKey> keys, const TwoHashReach& reach,
                                                       int threads) {
  const size_t n = keys.size();
  return parallel_blocks<std::pair<uint32_t, uint32_t>>(n, 64, threads, [&](size_t b, size_t e, auto& out) {
    for (size_t i = b; i < e; ++i)
      for (size_t j = i + 1; j < n; ++j)
        if (within_reach(keys[i], keys[j], reach)) out.emplace_back(uint32_t(i), uint32_t(j));
  });
}

}  // namespace

bool use_two_hash_join(bool on) { return g_two_hash_join.exchange(on); }
bool two_hash_join_enabled() { return g_two_hash_join.load(); }

bool within_reach(const TwoHashKey& a, const TwoHashKey& b, const TwoHashReach& reach) {
  if (std::popcount(a.phash ^ b.phash) <= reach.phash && std::popcount(a.dhash ^ b.dhash) <= reach.dhash) return true;
  if (!reach.mirror || !(a.has_mirror || b.has_mirror)) return false;
  int pd = 65;
  if (a.has_mirror) pd = std::popcount(a.mirror_phash ^ b.phash);
  if (b.has_mirror) pd = std::min(pd, std::popcount(b.mirror_phash ^ a.phash));
  return pd <= reach.phash && std::popcount(dhash_mirrored(a.dhash) ^ b.dhash) <= reach.dhash;
}

std::vector<int> two_hash_chunk_radii(int max_dhash) {
  // Generalised pigeonhole: if every chunk k differed by more than r_k bits, the dHashes would
  // differ by at least sum(r_k + 1) = max_dhash + 1 bits. Even shares make the fewest candidates.
  return pigeonhole_radii(max_dhash, kChunks);
}

std::vector<std::pair<uint32_t, uint32_t>> two_hash_pairs(std::span<const TwoHashKey> keys, const TwoHashReach& reach,
                                                          int threads) {
  using Pair = std::pair<uint32_t, uint32_t>;
  threads = resolve_threads(threads);
  const size_t n = keys.size();
  if (n < 2 || reach.phash < 0 || reach.dhash < 0) return {};
  const std::vector<int> radii = two_hash_chunk_radii(reach.dhash);
  double share = 0;  // fraction of all pairs the chunk tables compare
  for (int r : radii) share += ball16(r) / double(kCells);
  std::vector<Pair> out;
  if (n < 64 || share >= 0.5 || reach.dhash >= 64) {
    out = brute_pairs(keys, reach, threads);
  } else {
    std::vector<uint64_t> mirrored(n);
    for (size_t i = 0; i < n; ++i) mirrored[i] = dhash_mirrored(keys[i].dhash);
    std::vector<uint32_t> offsets(kCells + 1), fill(kCells), order(n), mirror_of_chunk(kCells);
    std::vector<uint64_t> sd(n), smd(n);  // dHashes and mirrored dHashes in bucket order
    for (int k = 0; k < kChunks; ++k) {
      const int r = radii[size_t(k)];
      if (r < 0) continue;
      std::fill(offsets.begin(), offsets.end(), 0u);
      for (const TwoHashKey& key : keys) ++offsets[chunk_of(key.dhash, k) + 1];
      for (size_t v = 0; v < kCells; ++v) offsets[v + 1] += offsets[v];
      std::copy(offsets.begin(), offsets.end() - 1, fill.begin());
      for (size_t i = 0; i < n; ++i) {
        const uint32_t pos = fill[chunk_of(keys[i].dhash, k)]++;
        order[pos] = uint32_t(i);
        sd[pos] = keys[i].dhash;
        smd[pos] = mirrored[i];
      }
      for (uint32_t c = 0; c < kCells; ++c) mirror_of_chunk[c] = chunk_of(dhash_mirrored(uint64_t(c) << chunk_shift(k)), k);
      std::vector<uint32_t> masks;  // every 16-bit flip of at most r bits, 0 first
      for (uint32_t m = 0; m < kCells; ++m)
        if (std::popcount(m) <= r) masks.push_back(m);
      std::stable_sort(masks.begin(), masks.end(), [](uint32_t a, uint32_t b) { return std::popcount(a) < std::popcount(b); });

      const int t = reach.dhash;
      std::vector<Pair> part = parallel_blocks<Pair>(kCells, 256, threads, [&](size_t ub, size_t ue, std::vector<Pair>& res) {
        // The neighbour buckets of u, copied into one block: runs of sd, and where each run
        // starts in the block and in sd (a match maps back through them; matches are rare).
        std::vector<uint64_t> nvals;
        std::vector<std::pair<uint32_t, uint32_t>> runs;
        std::vector<Match> matches;
        auto check_same = [&](uint32_t b0) {
          for (const Match& mt : matches) {
            const uint32_t i = order[b0 + mt.a], j = order[b0 + mt.b];
            if (within_reach(keys[i], keys[j], reach)) emit(i, j, res);
          }
        };
        auto check_runs = [&](uint32_t b0) {
          for (const Match& mt : matches) {
            const auto run = std::upper_bound(runs.begin(), runs.end(), std::pair{mt.b, UINT32_MAX}) - 1;
            const uint32_t i = order[b0 + mt.a], j = order[run->second + (mt.b - run->first)];
            if (within_reach(keys[i], keys[j], reach)) emit(i, j, res);
          }
        };
        // Bucket pairs {u, w} with w >= u: u's items against w's, each unordered pair of buckets
        // once (the mirror relation d(g(u), w) <= r is symmetric: g reverses and inverts bits).
        auto gather = [&](uint32_t w) {
          const uint32_t q0 = offsets[w], q1 = offsets[w + 1];
          if (q0 == q1) return;
          runs.emplace_back(uint32_t(nvals.size()), q0);
          nvals.insert(nvals.end(), sd.begin() + q0, sd.begin() + q1);
        };
        for (size_t u = ub; u < ue; ++u) {
          const uint32_t b0 = offsets[u], b1 = offsets[u + 1], nu = b1 - b0;
          if (nu == 0) continue;
          // Identity: the bucket itself, then the neighbour buckets within r.
          matches.clear();
          compare_block(&sd[b0], nu, &sd[b0], nu, true, t, matches);
          check_same(b0);
          nvals.clear(), runs.clear();
          for (uint32_t m : masks)
            if (const uint32_t w = uint32_t(u) ^ m; w > u) gather(w);
          if (!nvals.empty()) {
            matches.clear();
            compare_block(&sd[b0], nu, nvals.data(), uint32_t(nvals.size()), false, t, matches);
            check_runs(b0);
          }
          if (!reach.mirror) continue;
          // Mirror: u's mirrored dHashes against the buckets within r of the mirrored chunk.
          nvals.clear(), runs.clear();
          for (uint32_t m : masks) {
            const uint32_t w = mirror_of_chunk[u] ^ m;
            if (w > u) {
              gather(w);
            } else if (w == u) {
              matches.clear();
              compare_block(&smd[b0], nu, &sd[b0], nu, true, t, matches);
              check_same(b0);
            }
          }
          if (!nvals.empty()) {
            matches.clear();
            compare_block(&smd[b0], nu, nvals.data(), uint32_t(nvals.size()), false, t, matches);
            check_runs(b0);
          }
        }
      });
      out.insert(out.end(), part.begin(), part.end());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace irbis::impl
