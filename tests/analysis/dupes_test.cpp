#include "irbis/dupes.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "analysis/impl/mih.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

// Flips exactly d distinct random bits of h.
uint64_t flip(uint64_t h, int d, std::mt19937_64& rng) {
  uint64_t mask = 0;
  while (std::popcount(mask) < d) mask |= uint64_t(1) << (rng() % 64);
  return h ^ mask;
}

std::vector<NearPair> brute(const std::vector<uint64_t>& h, int t) {
  std::vector<NearPair> out;
  for (size_t i = 0; i < h.size(); ++i)
    for (size_t j = i + 1; j < h.size(); ++j) {
      const int d = std::popcount(h[i] ^ h[j]);
      if (d <= t) out.push_back({uint32_t(i), uint32_t(j), d});
    }
  return out;
}

// Random hashes with planted clusters: 1500 clusters of 2..6 members at 0..14 flipped bits from
// a centre, plus some items repeating an earlier value exactly.
std::vector<uint64_t> clustered(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> h;
  while (h.size() < n) {
    const uint64_t base = rng();
    h.push_back(base);
    if (h.size() % 13 == 0) {
      const int k = 1 + int(rng() % 5);
      for (int q = 0; q < k && h.size() < n; ++q) h.push_back(flip(base, int(rng() % 15), rng));
    }
    if (h.size() % 101 == 0 && h.size() < n) h.push_back(h[rng() % h.size()]);
  }
  std::shuffle(h.begin(), h.end(), rng);
  return h;
}

TEST(NearPairs, PlantedPairsFoundUpToThresholdNotBeyond) {
  for (int t : {0, 4, 10, 12}) {
    std::mt19937_64 rng(42 + t);
    std::vector<uint64_t> h;
    for (int k = 0; k < 5000; ++k) h.push_back(rng());
    std::vector<std::pair<uint32_t, int>> planted;  // (index of base, distance)
    for (int d = 0; d <= t + 1; ++d)
      for (int rep = 0; rep < 5; ++rep) {
        const uint32_t base = uint32_t(rng() % 5000);
        h.push_back(flip(h[base], d, rng));
        planted.push_back({base, d});
      }
    const std::vector<NearPair> pairs = find_near_pairs(h, t);
    const std::set<std::pair<uint32_t, uint32_t>> found = [&] {
      std::set<std::pair<uint32_t, uint32_t>> s;
      for (const NearPair& p : pairs) s.insert({p.i, p.j});
      return s;
    }();
    for (size_t k = 0; k < planted.size(); ++k) {
      const uint32_t j = uint32_t(5000 + k);
      const bool has = found.count({planted[k].first, j}) > 0;
      EXPECT_EQ(has, planted[k].second <= t) << "t=" << t << " d=" << planted[k].second;
    }
  }
}

TEST(NearPairs, EqualsBruteForceOnClusteredHashes) {
  const std::vector<uint64_t> h = clustered(20000, 7);
  const std::vector<NearPair> all = brute(h, 12);
  for (int t : {0, 4, 10, 12}) {
    std::vector<NearPair> want;
    for (const NearPair& p : all)
      if (p.distance <= t) want.push_back(p);
    const std::vector<NearPair> got = find_near_pairs(h, t, 2);
    EXPECT_EQ(got.size(), want.size()) << "t=" << t;
    EXPECT_TRUE(got == want) << "t=" << t;
  }
}

TEST(NearPairs, EveryPlanGivesTheSameAnswer) {
  std::vector<uint64_t> h = clustered(6000, 11);
  std::sort(h.begin(), h.end());
  h.erase(std::unique(h.begin(), h.end()), h.end());
  for (int t : {0, 3, 7, 10, 12, 20}) {
    std::vector<NearPair> want = brute(h, t);
    for (int m = 4; m <= 8; ++m) {
      impl::MihPlan plan{false, m, t / m, 0};
      std::vector<NearPair> got = impl::self_join(h, t, plan, 2);
      std::sort(got.begin(), got.end(), [](auto& a, auto& b) { return std::tie(a.i, a.j) < std::tie(b.i, b.j); });
      EXPECT_TRUE(got == want) << "t=" << t << " m=" << m;
    }
    impl::MihPlan bf;
    bf.brute_force = true;
    std::vector<NearPair> got = impl::self_join(h, t, bf, 3);
    std::sort(got.begin(), got.end(), [](auto& a, auto& b) { return std::tie(a.i, a.j) < std::tie(b.i, b.j); });
    EXPECT_TRUE(got == want) << "brute t=" << t;
  }
}

TEST(NearPairs, ScalarAndSimdKernelsAgree) {
  const std::vector<uint64_t> h = clustered(20000, 21);
  const bool simd = impl::use_simd_kernel(true);
  const auto a = find_near_pairs(h, 10, 2);
  const auto a0 = find_near_pairs(std::span(h).first(3000), 64, 2);  // brute-force plan
  impl::use_simd_kernel(false);
  const auto b = find_near_pairs(h, 10, 2);
  const auto b0 = find_near_pairs(std::span(h).first(3000), 64, 2);
  impl::use_simd_kernel(true);
  EXPECT_TRUE(a == b) << "simd kernel in use: " << simd;
  EXPECT_TRUE(a0 == b0);
  EXPECT_EQ(a0.size(), 3000u * 2999u / 2);
}

TEST(NearPairs, DeterministicAcrossThreadCounts) {
  const std::vector<uint64_t> h = clustered(30000, 3);
  const auto one = find_near_pairs(h, 10, 1);
  EXPECT_TRUE(one == find_near_pairs(h, 10, 2));
  EXPECT_TRUE(one == find_near_pairs(h, 10, 5));
}

TEST(NearPairs, PlanChoice) {
  const impl::MihPlan big = impl::choose_plan(1'000'000, 10);
  EXPECT_FALSE(big.brute_force);
  EXPECT_EQ(big.chunks, 4);
  EXPECT_EQ(big.radius, 2);
  EXPECT_TRUE(impl::choose_plan(100, 10).brute_force);
  EXPECT_TRUE(impl::choose_plan(1'000'000, 64).brute_force);
}

TEST(NearPairs, EdgeCasesAndBadArguments) {
  EXPECT_TRUE(find_near_pairs({}, 10).empty());
  const std::vector<uint64_t> one{5};
  EXPECT_TRUE(find_near_pairs(one, 10).empty());
  const std::vector<uint64_t> same(4, 0x1234);
  EXPECT_EQ(find_near_pairs(same, 0).size(), 6u);
  const std::vector<uint64_t> opposite{0, ~0ull};
  EXPECT_EQ(find_near_pairs(opposite, 64).size(), 1u);
  EXPECT_THROW(find_near_pairs(one, -1), Error);
  EXPECT_THROW(find_near_pairs(one, 65), Error);
}

TEST(NearPairs, HugeIdenticalGroupIsNotQuadraticInTheSearch) {
  std::vector<uint64_t> h(100000, 0xABCDEF);
  std::mt19937_64 rng(1);
  for (int k = 0; k < 1000; ++k) h.push_back(rng());
  std::vector<uint64_t> values(h);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  EXPECT_LE(values.size(), 1001u);
  // The grouping path only ever sees distinct values.
  std::vector<DupeItem> items(h.size());
  for (size_t i = 0; i < h.size(); ++i) {
    items[i].hash = h[i];
    items[i].path = std::to_string(i);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto groups = group_duplicates(items);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_GE(groups.size(), 1u);
  size_t biggest = 0;
  for (const auto& g : groups) biggest = std::max(biggest, g.duplicates.size() + 1);
  EXPECT_EQ(biggest, 100000u);
  EXPECT_LT(s, 5.0);
}

DupeItem item(uint64_t hash, std::string path, int64_t pixels = 100, int64_t size = 1000,
              uint8_t content = 0) {
  DupeItem it;
  it.hash = hash;
  it.path = std::move(path);
  it.pixels = pixels;
  it.file_size = size;
  if (content) it.content.fill(content);
  return it;
}

TEST(GroupDuplicates, ChainingIsBounded) {
  // a ~ b (6 bits), b ~ c (6 bits), a to c = 12 > 10.
  const uint64_t a = 0, b = 0x3Full, c = 0xFFFull;
  std::vector<DupeItem> items{item(a, "a"), item(b, "b"), item(c, "c")};
  const auto groups = group_duplicates(items);  // t = 10
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].duplicates.size(), 1u);
  std::set<size_t> in{groups[0].keep, groups[0].duplicates[0].index};
  EXPECT_FALSE(in.count(0) && in.count(2)) << "a and c must not share a group";

  DupesParams single;
  single.bound_chaining = false;
  const auto chained = group_duplicates(items, single);
  ASSERT_EQ(chained.size(), 1u);
  EXPECT_EQ(chained[0].duplicates.size(), 2u);
}

TEST(GroupDuplicates, LongLineGroupsHaveBoundedDiameter) {
  // 10 hashes in a line, each 6 bits from the next (disjoint blocks of 6 bits flipped
  // cumulatively), so hashes k apart are 6k bits apart.
  std::vector<DupeItem> items;
  uint64_t h = 0;
  for (int k = 0; k < 10; ++k) {
    std::string path = "p";
    path += std::to_string(k);
    items.push_back(item(h, path));
    h ^= uint64_t(0x3F) << (6 * k);
  }
  for (int t : {6, 10, 12, 18}) {
    DupesParams p;
    p.max_distance = t;
    for (const auto& g : group_duplicates(items, p)) {
      std::vector<size_t> m{g.keep};
      for (const auto& d : g.duplicates) m.push_back(d.index);
      for (size_t x : m)
        for (size_t y : m) EXPECT_LE(std::popcount(items[x].hash ^ items[y].hash), t);
    }
  }
}

TEST(GroupDuplicates, BoundedGroupsOnRandomClustersHaveDiameterAtMostT) {
  const std::vector<uint64_t> h = clustered(20000, 5);
  std::vector<DupeItem> items(h.size());
  for (size_t i = 0; i < h.size(); ++i) items[i] = item(h[i], std::to_string(i));
  DupesParams p;
  size_t grouped = 0;
  for (const auto& g : group_duplicates(items, p)) {
    std::vector<size_t> m{g.keep};
    for (const auto& d : g.duplicates) {
      m.push_back(d.index);
      EXPECT_EQ(d.kind, DupeKind::near);
      EXPECT_EQ(d.distance, std::popcount(items[d.index].hash ^ items[g.keep].hash));
    }
    for (size_t x : m)
      for (size_t y : m) ASSERT_LE(std::popcount(items[x].hash ^ items[y].hash), 10);
    grouped += m.size();
  }
  EXPECT_GT(grouped, 2000u);
}

TEST(GroupDuplicates, SingleLinkageEqualsConnectedComponents) {
  const std::vector<uint64_t> h = clustered(5000, 9);
  std::vector<DupeItem> items(h.size());
  for (size_t i = 0; i < h.size(); ++i) items[i] = item(h[i], std::to_string(i));
  DupesParams p;
  p.bound_chaining = false;
  // Reference components by repeated relaxation over the brute-force pairs.
  std::vector<uint32_t> comp(h.size());
  std::iota(comp.begin(), comp.end(), 0u);
  const auto pairs = brute(h, p.max_distance);
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& e : pairs) {
      const uint32_t m = std::min(comp[e.i], comp[e.j]);
      if (comp[e.i] != m || comp[e.j] != m) { comp[e.i] = comp[e.j] = m; changed = true; }
    }
  }
  std::vector<uint32_t> got(h.size());
  std::iota(got.begin(), got.end(), 0u);
  for (const auto& g : group_duplicates(items, p))
    for (const auto& d : g.duplicates) got[d.index] = uint32_t(g.keep);
  for (size_t i = 0; i < h.size(); ++i)
    for (size_t j : {i + 1, i + 7})
      if (j < h.size()) {
        EXPECT_EQ(comp[i] == comp[j], got[i] == got[j]) << i << " " << j;
      }
}

TEST(GroupDuplicates, KeepRules) {
  // Pixels first.
  {
    std::vector<DupeItem> v{item(1, "a", 100, 9000), item(1, "b", 200, 10)};
    EXPECT_EQ(group_duplicates(v)[0].keep, 1u);
  }
  // Then file size.
  {
    std::vector<DupeItem> v{item(1, "a", 100, 10), item(1, "b", 100, 20)};
    EXPECT_EQ(group_duplicates(v)[0].keep, 1u);
  }
  // Then smallest path.
  {
    std::vector<DupeItem> v{item(1, "z/b.jpg", 100, 20), item(1, "a/c.jpg", 100, 20)};
    EXPECT_EQ(group_duplicates(v)[0].keep, 1u);
  }
}

TEST(GroupDuplicates, ExactGroupsByContentEvenWithDifferentHashes) {
  std::vector<DupeItem> v{item(0, "x.png", 10, 10, 7), item(~0ull, "y.png", 10, 10, 7),
                          item(0x5555, "z.png", 10, 10, 0)};
  const auto g = group_duplicates(v);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].keep, 0u);
  ASSERT_EQ(g[0].duplicates.size(), 1u);
  EXPECT_EQ(g[0].duplicates[0].index, 1u);
  EXPECT_EQ(g[0].duplicates[0].kind, DupeKind::exact);
  EXPECT_EQ(g[0].duplicates[0].distance, 0);
  EXPECT_STREQ(dupe_kind_name(DupeKind::exact), "exact");
}

TEST(GroupDuplicates, ZeroContentHashIsUnknownNotExact) {
  std::vector<DupeItem> v{item(0, "a"), item(~0ull, "b")};
  EXPECT_TRUE(group_duplicates(v).empty());
}

TEST(GroupDuplicates, MixedKindsAndOrdering) {
  std::vector<DupeItem> v{
      item(0x0, "m/keep.jpg", 500, 10, 1),   // kept (most pixels)
      item(0x0, "m/copy.jpg", 400, 10, 1),   // same content -> exact
      item(0x7, "m/near.jpg", 100, 10, 2),   // 3 bits -> near
      item(~0ull, "a/other1.jpg", 10, 5, 3), item(~0ull, "a/other2.jpg", 10, 6, 4),
      item(0x00FF00FF00FF00FFull, "solo.jpg")};
  const auto g = group_duplicates(v);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(v[g[0].keep].path, "a/other2.jpg");  // groups sorted by kept path
  EXPECT_EQ(g[0].duplicates[0].kind, DupeKind::near);
  EXPECT_EQ(g[0].duplicates[0].distance, 0);
  EXPECT_EQ(g[1].keep, 0u);
  ASSERT_EQ(g[1].duplicates.size(), 2u);
  EXPECT_EQ(g[1].duplicates[0].index, 1u);
  EXPECT_EQ(g[1].duplicates[0].kind, DupeKind::exact);
  EXPECT_EQ(g[1].duplicates[1].index, 2u);
  EXPECT_EQ(g[1].duplicates[1].kind, DupeKind::near);
  EXPECT_EQ(g[1].duplicates[1].distance, 3);
}

TEST(GroupDuplicates, CappedCheckFallsBackSafely) {
  // A tight cluster of 40 distinct values within 4 bits of a centre: all pairs <= 8 <= 10.
  std::mt19937_64 rng(3);
  std::vector<DupeItem> v;
  for (int k = 0; k < 40; ++k) v.push_back(item(flip(0, int(rng() % 5), rng), std::to_string(k)));
  DupesParams p;
  p.max_linkage_checks = 4;  // forces the triangle-inequality test almost everywhere
  for (const auto& g : group_duplicates(v, p)) {
    std::vector<size_t> m{g.keep};
    for (const auto& d : g.duplicates) m.push_back(d.index);
    for (size_t x : m)
      for (size_t y : m) EXPECT_LE(std::popcount(v[x].hash ^ v[y].hash), 10);
  }
}

}  // namespace
}  // namespace irbis

TEST(GroupDuplicates, LowDetailItemsGroupOnlyByContent) {
  // Two flat images with the same pHash but different bytes, and an exact copy of one.
  std::vector<irbis::DupeItem> items(3);
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].hash = 0x8000000000000000ull;
    items[i].low_detail = true;
    items[i].path = "/flat" + std::to_string(i);
    items[i].pixels = 100;
    items[i].content[0] = uint8_t(i == 2 ? 1 : i + 1);  // item 2 has item 0's bytes
  }
  const auto groups = irbis::group_duplicates(items);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].duplicates.size(), 1u);
  EXPECT_EQ(groups[0].duplicates[0].kind, irbis::DupeKind::exact);
  items[1].low_detail = items[0].low_detail = items[2].low_detail = false;
  EXPECT_EQ(irbis::group_duplicates(items).at(0).duplicates.size(), 2u) << "detailed items do match by hash";
}
