// The band search of the two-hash rule (src/analysis/impl/two_hash_join.h) against brute force,
// and the grouping it feeds against the search of before and against a brute-force judgement.
#include "analysis/impl/two_hash_join.h"

#include <algorithm>
#include <bit>
#include <map>
#include <numeric>
#include <random>
#include <tuple>

#include <gtest/gtest.h>

#include "irbis/dupes.h"
#include "irbis/hashes.h"
#include "analysis/grouping_replay.h"

namespace irbis {
namespace {

using test::flip;

// Distances that sit on the limits: the pHash at 3..5, 7..9, 15..17, the dHash at 7..9, 11..13.
int near_limit(std::mt19937_64& rng) {
  static const int d[] = {0, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 20};
  return d[rng() % (sizeof d / sizeof d[0])];
}

// Keys in small families: copies of a base at boundary distances in both hashes, some mirrored
// (the mirror pHash swapped in, the dHash mirrored), some without a mirror pHash.
std::vector<impl::TwoHashKey> families(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<impl::TwoHashKey> keys;
  while (keys.size() < n) {
    impl::TwoHashKey base{.phash = rng(), .dhash = rng(), .mirror_phash = rng(), .has_mirror = rng() % 5 != 0};
    keys.push_back(base);
    const int copies = int(rng() % 4);
    for (int c = 0; c < copies && keys.size() < n; ++c) {
      impl::TwoHashKey k = base;
      if (rng() % 3 == 0) {  // a mirrored copy
        k.phash = flip(base.mirror_phash, near_limit(rng), rng);
        k.mirror_phash = flip(base.phash, int(rng() % 3), rng);
        k.dhash = flip(dhash_mirrored(base.dhash), near_limit(rng), rng);
      } else {
        k.phash = flip(base.phash, near_limit(rng), rng);
        k.mirror_phash = flip(base.mirror_phash, int(rng() % 3), rng);
        k.dhash = flip(base.dhash, near_limit(rng), rng);
      }
      k.has_mirror = rng() % 4 != 0;
      keys.push_back(k);
    }
  }
  std::shuffle(keys.begin(), keys.end(), rng);
  return keys;
}

std::vector<std::pair<uint32_t, uint32_t>> brute(const std::vector<impl::TwoHashKey>& keys, const impl::TwoHashReach& r) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (uint32_t i = 0; i < keys.size(); ++i)
    for (uint32_t j = i + 1; j < keys.size(); ++j)
      if (impl::within_reach(keys[i], keys[j], r)) out.emplace_back(i, j);
  return out;
}

TEST(TwoHashJoin, EqualsBruteForceAtTheLimits) {
  const std::vector<impl::TwoHashKey> keys = families(4000, 5);
  for (const impl::TwoHashReach reach : {impl::TwoHashReach{16, 12, true}, impl::TwoHashReach{16, 12, false},
                                         impl::TwoHashReach{4, 8, true}, impl::TwoHashReach{12, 4, true},
                                         impl::TwoHashReach{16, 0, true}, impl::TwoHashReach{64, 20, true}}) {
    const auto want = brute(keys, reach);
    const auto got = impl::two_hash_pairs(keys, reach, 2);
    EXPECT_GT(want.size(), 50u) << "the set has pairs at these limits: " << reach.phash << "/" << reach.dhash;
    EXPECT_TRUE(got == want) << "pHash " << reach.phash << " dHash " << reach.dhash << " mirror " << reach.mirror
                             << ": " << got.size() << " pairs, brute force " << want.size();
  }
}

TEST(TwoHashJoin, PairsExactlyAtTheBoundaryAreInOneBeyondAreOut) {
  std::mt19937_64 rng(9);
  std::vector<impl::TwoHashKey> keys;
  for (int k = 0; k < 200; ++k) keys.push_back({.phash = rng(), .dhash = rng(), .mirror_phash = rng(), .has_mirror = true});
  // (pHash distance, dHash distance, mirrored, expected within the default reach 16 / 12)
  const std::tuple<int, int, bool, bool> cases[] = {{16, 12, false, true}, {17, 12, false, false}, {16, 13, false, false},
                                                    {4, 12, false, true},  {16, 12, true, true},   {17, 0, true, false},
                                                    {0, 13, true, false},  {8, 8, true, true}};
  std::vector<std::pair<uint32_t, uint32_t>> planted;
  for (const auto& [pd, dd, mirrored, in] : cases) {
    const uint32_t base = uint32_t(rng() % 200);
    impl::TwoHashKey k{.phash = 0, .dhash = 0, .mirror_phash = rng(), .has_mirror = false};
    k.phash = flip(mirrored ? keys[base].mirror_phash : keys[base].phash, pd, rng);
    k.dhash = flip(mirrored ? dhash_mirrored(keys[base].dhash) : keys[base].dhash, dd, rng);
    keys.push_back(k);
    planted.emplace_back(base, uint32_t(keys.size() - 1));
  }
  const auto got = impl::two_hash_pairs(keys, impl::TwoHashReach{}, 1);
  for (size_t c = 0; c < planted.size(); ++c)
    EXPECT_EQ(std::binary_search(got.begin(), got.end(), planted[c]), std::get<3>(cases[c])) << "case " << c;
}

TEST(TwoHashJoin, DeterministicAcrossThreadCounts) {
  const std::vector<impl::TwoHashKey> keys = families(30000, 8);
  const auto one = impl::two_hash_pairs(keys, impl::TwoHashReach{}, 1);
  EXPECT_GT(one.size(), 1000u);
  EXPECT_TRUE(one == impl::two_hash_pairs(keys, impl::TwoHashReach{}, 2));
  EXPECT_TRUE(one == impl::two_hash_pairs(keys, impl::TwoHashReach{}, 5));
}

// The search relies on the shape of dhash_mirrored: each 16-bit chunk (two rows) of the mirrored
// dHash depends on the same chunk only, and d(m(a), b) = d(a, m(b)).
TEST(TwoHashJoin, MirroredDhashIsChunkLocalAndSymmetric) {
  std::mt19937_64 rng(3);
  for (int k = 0; k < 2000; ++k) {
    const uint64_t a = rng(), b = rng();
    EXPECT_EQ(dhash_mirrored(dhash_mirrored(a)), a);
    EXPECT_EQ(std::popcount(dhash_mirrored(a) ^ b), std::popcount(a ^ dhash_mirrored(b)));
    for (int c = 0; c < 4; ++c) {
      const uint64_t mask = uint64_t(0xFFFF) << (48 - 16 * c);
      EXPECT_EQ(dhash_mirrored(a) & mask, dhash_mirrored(a & mask) & mask);
    }
  }
}

TEST(TwoHashJoin, ChunkRadiiAreTheGeneralisedPigeonhole) {
  for (int d = 0; d <= 40; ++d) {
    const std::vector<int> r = impl::two_hash_chunk_radii(d);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(std::accumulate(r.begin(), r.end(), 0) + 4, d + 1) << d;
    EXPECT_LE(*std::max_element(r.begin(), r.end()) - *std::min_element(r.begin(), r.end()), 1) << d;
  }
  EXPECT_EQ(impl::two_hash_chunk_radii(12), (std::vector<int>{3, 2, 2, 2}));
}

// Items of `families` as DupeItems, sizes and paths giving a fixed visiting order.
std::vector<DupeItem> family_items(size_t n, uint64_t seed) {
  const std::vector<impl::TwoHashKey> keys = families(n, seed);
  std::mt19937_64 rng(seed + 1);
  std::vector<DupeItem> items(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    items[i].hash = keys[i].phash;
    items[i].dhash = keys[i].dhash;
    if (keys[i].has_mirror) items[i].variants = {keys[i].mirror_phash};
    items[i].pixels = 100 + int64_t(rng() % 50);
    items[i].file_size = int64_t(i);
    items[i].path = std::to_string(i);
  }
  return items;
}

std::vector<std::tuple<size_t, size_t, int, int, int, int>> flat(const std::vector<DupeGroup>& groups) {
  std::vector<std::tuple<size_t, size_t, int, int, int, int>> out;
  for (const auto& g : groups)
    for (const auto& d : g.duplicates) out.emplace_back(g.keep, d.index, int(d.kind), d.distance, d.variant_distance, d.dhash_distance);
  return out;
}

// The grouping with the new band search equals the grouping with the search of before, decision
// for decision, at the limits and with mirrored copies, for 1 and 3 threads.
TEST(TwoHashes, BandSearchGivesTheGroupsOfTheSearchBefore) {
  const std::vector<DupeItem> items = family_items(6000, 21);
  DupesParams p;
  size_t asked = 0;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    ++asked;
    return PairCheck{(keep + cand) % 3 != 0, 20};  // refuses some, so later candidates are asked too
  };
  p.threads = 1;
  const bool was = impl::use_two_hash_join(false);
  const auto before = group_duplicates(items, p);
  const size_t asked_before = asked;
  impl::use_two_hash_join(true);
  asked = 0;
  const auto after = group_duplicates(items, p);
  p.threads = 3;
  const auto after3 = group_duplicates(items, p);
  impl::use_two_hash_join(was);
  EXPECT_GT(flat(before).size(), 1000u);
  EXPECT_GT(asked_before, 500u);
  EXPECT_EQ(asked, 2 * asked_before);  // the same verifier calls in each run
  EXPECT_TRUE(flat(after) == flat(before)) << flat(after).size() << " vs " << flat(before).size();
  EXPECT_TRUE(flat(after3) == flat(before));
}

// With every band pair accepted, the grouping equals a brute-force judgement of every (item, kept
// item) pair by judge_hash_pair, in the grouping's visiting order, with pairs at the limits 4, 8, 12
// and 16 and mirrored copies (the exact version of the test in dupes_test.cpp on such pairs).
TEST(TwoHashes, GroupingEqualsTheBruteForceJudgementAtTheLimits) {
  const std::vector<DupeItem> items = family_items(1500, 33);
  DupesParams p;
  p.band.verify = [](uint32_t, uint32_t) { return PairCheck{true, 20}; };
  const auto groups = group_duplicates(items, p);
  std::vector<uint32_t> order(items.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return std::tie(items[b].pixels, items[b].file_size) < std::tie(items[a].pixels, items[a].file_size);
  });
  const std::map<size_t, std::pair<size_t, int>> want = test::brute_force_grouping(items, p, order);  // duplicate -> (kept, kind)
  std::map<size_t, std::pair<size_t, int>> got;
  for (const auto& g : groups)
    for (const auto& d : g.duplicates) got[d.index] = {g.keep, int(d.kind)};
  size_t band = 0;
  for (const auto& [x, kk] : want) band += kk.second == int(DupeKind::verified);
  EXPECT_GT(band, 100u) << "the set exercises the band";
  EXPECT_GT(want.size() - band, 100u) << "and the sure rule";
  EXPECT_TRUE(got == want) << got.size() << " duplicates, brute force " << want.size();
}

}  // namespace
}  // namespace irbis
