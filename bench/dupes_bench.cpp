// Near-duplicate search benchmark (plain timing program, no Google Benchmark loop: one timed run
// per stage keeps the shared machine quiet).
//
//   dupes_bench [n=1000000] [planted=10000] [faiss_n=100000] [threads=2] [t=10] [scalar]
//
// "scalar" forces the portable popcount loop instead of the AVX-512 VPOPCNTQ kernel.
// 1. n random 64-bit hashes, of which `planted` are copies of a random other item with 1..10
//    random bits flipped; times find_near_pairs and group_duplicates at distance t and CHECKS
//    that every planted pair within t is found (prints recall; exit code 1 if below 100%).
// 2. The same kind of data with faiss_n items: our find_near_pairs vs FAISS
//    IndexBinaryMultiHash (4 tables x 16 bits, nflip = t / 4, which by pigeonhole is exact for
//    radius t; range_search with radius t + 1 because FAISS keeps distances < radius), both as
//    a self-join, with pair counts compared.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <faiss/IndexBinaryHash.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <omp.h>

#include "analysis/impl/mih.h"
#include "irbis/dupes.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Data {
  std::vector<uint64_t> h;
  std::vector<std::pair<uint32_t, uint32_t>> planted;  // (base, copy), base < copy
};

Data make_data(size_t n, size_t planted, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Data d;
  d.h.resize(n);
  for (auto& x : d.h) x = rng();
  const size_t first = n - planted;
  for (size_t k = first; k < n; ++k) {
    const uint32_t base = uint32_t(rng() % first);
    const int flips = 1 + int(rng() % 10);
    uint64_t mask = 0;
    while (std::popcount(mask) < flips) mask |= uint64_t(1) << (rng() % 64);
    d.h[k] = d.h[base] ^ mask;
    d.planted.push_back({base, uint32_t(k)});
  }
  return d;
}

double recall(const std::vector<irbis::NearPair>& pairs, const Data& d, int t) {
  size_t want = 0, got = 0;
  for (auto [a, b] : d.planted) {
    if (std::popcount(d.h[a] ^ d.h[b]) > t) continue;
    ++want;
    const irbis::NearPair key{a, b, 0};
    auto it = std::lower_bound(pairs.begin(), pairs.end(), key, [](auto& x, auto& y) {
      return x.i != y.i ? x.i < y.i : x.j < y.j;
    });
    if (it != pairs.end() && it->i == a && it->j == b) ++got;
  }
  return want ? double(got) / double(want) : 1.0;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  const size_t planted = argc > 2 ? std::stoul(argv[2]) : 10'000;
  const size_t faiss_n = argc > 3 ? std::stoul(argv[3]) : 100'000;
  const int threads = argc > 4 ? std::stoi(argv[4]) : 2;
  const int t = argc > 5 ? std::stoi(argv[5]) : 10;
  const bool scalar = argc > 6 && std::string(argv[6]) == "scalar";
  const bool simd = irbis::impl::use_simd_kernel(!scalar);
  std::printf("candidate kernel: %s\n", simd ? "AVX-512 VPOPCNTQ" : "scalar popcount");
  bool ok = true;

  // --- 1. irbis at full size -------------------------------------------------------------
  {
    const Data d = make_data(n, planted, 1);
    auto t0 = Clock::now();
    const auto pairs = irbis::find_near_pairs(d.h, t, threads);
    const double s_pairs = since(t0);
    const double rec = recall(pairs, d, t);

    std::vector<irbis::DupeItem> items(n);
    for (size_t i = 0; i < n; ++i) {
      items[i].hash = d.h[i];
      items[i].pixels = 1000 + int64_t(i % 7);
      items[i].file_size = int64_t(i);
      items[i].path = "img/" + std::to_string(i) + ".jpg";
    }
    irbis::DupesParams p;
    p.max_distance = t;
    p.threads = threads;
    t0 = Clock::now();
    const auto groups = irbis::group_duplicates(items, p);
    const double s_group = since(t0);
    // Planted pairs that ended in the same group.
    std::vector<size_t> gid(n, SIZE_MAX);
    size_t dups = 0;
    for (size_t g = 0; g < groups.size(); ++g) {
      gid[groups[g].keep] = g;
      for (auto& m : groups[g].duplicates) gid[m.index] = g;
      dups += groups[g].duplicates.size();
    }
    size_t together = 0, split = 0, explained = 0;
    for (auto [a, b] : d.planted) {
      if (gid[a] != SIZE_MAX && gid[a] == gid[b]) { ++together; continue; }
      ++split;
      // Expected split (complete linkage): a member of a's group is > t away from b, or a
      // member of b's group is > t away from a.
      auto far_member = [&](uint32_t x, uint32_t y) {
        if (gid[x] == SIZE_MAX) return false;
        const auto& g = groups[gid[x]];
        if (std::popcount(d.h[g.keep] ^ d.h[y]) > t) return true;
        for (auto& m : g.duplicates)
          if (std::popcount(d.h[m.index] ^ d.h[y]) > t) return true;
        return false;
      };
      explained += far_member(a, b) || far_member(b, a);
    }

    std::printf("irbis n=%zu planted=%zu t=%d threads=%d\n", n, planted, t, threads);
    std::printf("  find_near_pairs : %.3f s (%.0f hashes/s), %zu pairs, planted recall %.4f%%\n",
                s_pairs, double(n) / s_pairs, pairs.size(), 100 * rec);
    std::printf("  group_duplicates: %.3f s (%.0f images/s, includes its own pair search), "
                "%zu groups, %zu duplicates, planted pairs grouped together %.4f%%\n",
                s_group, double(n) / s_group, groups.size(), dups,
                100.0 * double(together) / double(planted));
    std::printf("  planted pairs not grouped together: %zu, of which %zu because a member of "
                "one's group is > t from the other (bounded chaining)\n", split, explained);
    if (rec < 1.0) { std::printf("  FAIL: recall below 100%%\n"); ok = false; }
  }

  // --- 2. irbis vs FAISS IndexBinaryMultiHash at faiss_n ------------------------------------
  if (faiss_n > 0) {
    const Data d = make_data(faiss_n, std::max<size_t>(1, faiss_n / 100), 2);
    auto t0 = Clock::now();
    const auto pairs = irbis::find_near_pairs(d.h, t, threads);
    const double s_irbis = since(t0);
    t0 = Clock::now();
    const auto pairs1 = irbis::find_near_pairs(d.h, t, 1);
    const double s_irbis1 = since(t0);

    omp_set_num_threads(threads);
    t0 = Clock::now();
    faiss::IndexBinaryMultiHash index(64, 4, 16);
    index.nflip = t / 4;
    // FAISS codes are bytes; little-endian uint64 storage gives the same bit set per item.
    index.add(faiss::Index::idx_t(faiss_n), reinterpret_cast<const uint8_t*>(d.h.data()));
    const double s_faiss_build = since(t0);
    t0 = Clock::now();
    faiss::RangeSearchResult res{faiss::Index::idx_t(faiss_n)};
    index.range_search(faiss::Index::idx_t(faiss_n), reinterpret_cast<const uint8_t*>(d.h.data()), t + 1,
                       &res);
    const double s_faiss_search = since(t0);
    size_t faiss_pairs = 0;
    for (size_t q = 0; q < faiss_n; ++q)
      for (size_t k = res.lims[q]; k < res.lims[q + 1]; ++k) faiss_pairs += size_t(res.labels[k]) > q;
    const double s_faiss = s_faiss_build + s_faiss_search;
    std::printf("self-join n=%zu t=%d threads=%d\n", faiss_n, t, threads);
    std::printf("  irbis find_near_pairs        : %.3f s, %zu pairs, recall %.4f%%\n", s_irbis,
                pairs.size(), 100 * recall(pairs, d, t));
    std::printf("  irbis find_near_pairs 1 thread: %.3f s, %zu pairs\n", s_irbis1, pairs1.size());
    std::printf("  FAISS IndexBinaryMultiHash   : %.3f s (build %.3f + range_search %.3f), %zu pairs\n",
                s_faiss, s_faiss_build, s_faiss_search, faiss_pairs);
    std::printf("  ratio FAISS / irbis          : %.1fx (%d threads), %.1fx (irbis 1 thread)\n",
                s_faiss / s_irbis, threads, s_faiss / s_irbis1);
    if (faiss_pairs != pairs.size()) {
      std::printf("  NOTE: pair counts differ\n");
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
