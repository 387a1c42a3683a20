#include "irbis/dupes.h"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <random>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "analysis/impl/mih.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "analysis/grouping_replay.h"

namespace irbis {
namespace {

using test::flip;

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
      // The plain pigeonhole (floor(t / m) in every chunk) and the generalised one.
      for (const impl::MihPlan& plan : {impl::MihPlan{false, m, t / m, 0}, impl::MihPlan{false, m, t / m, 0, impl::pigeonhole_radii(t, m)}}) {
        std::vector<NearPair> got = impl::self_join(h, t, plan, 2);
        std::sort(got.begin(), got.end(), [](auto& a, auto& b) { return std::tie(a.i, a.j) < std::tie(b.i, b.j); });
        EXPECT_TRUE(got == want) << "t=" << t << " m=" << m << " generalised " << !plan.radii.empty();
      }
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
  EXPECT_EQ(big.radii, (std::vector<int>{2, 2, 2, 1}));  // sum(r + 1) = 11: one chunk at 1 suffices
  EXPECT_EQ(impl::pigeonhole_radii(4, 5), (std::vector<int>{0, 0, 0, 0, 0}));
  EXPECT_EQ(impl::pigeonhole_radii(2, 4), (std::vector<int>{0, 0, 0, -1}));  // a chunk left out
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

// Every duplicate is within the threshold of the kept item itself, and its evidence is the
// direct distance to it.
void expect_keep_centred(const std::vector<DupeItem>& items, const std::vector<DupeGroup>& groups, int t) {
  std::set<size_t> seen;
  for (const auto& g : groups) {
    EXPECT_TRUE(seen.insert(g.keep).second);
    for (const auto& d : g.duplicates) {
      EXPECT_TRUE(seen.insert(d.index).second) << "item " << d.index << " in two groups";
      EXPECT_EQ(d.distance, std::popcount(items[d.index].hash ^ items[g.keep].hash));
      if (d.kind == DupeKind::near) {
        EXPECT_LE(d.best_distance(), t);
      }
    }
  }
}

TEST(GroupDuplicates, NeverThroughADuplicate) {
  // a ~ b (6 bits), b ~ c (6 bits), a to c = 12 > 8: c is not a's duplicate through b.
  const uint64_t a = 0, b = 0x3Full, c = 0xFFFull;
  std::vector<DupeItem> items{item(a, "a"), item(b, "b"), item(c, "c")};
  DupesParams p;
  p.max_distance = 8;  // the rule, not the default threshold, is under test
  const auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].keep, 0u);
  ASSERT_EQ(groups[0].duplicates.size(), 1u);
  EXPECT_EQ(groups[0].duplicates[0].index, 1u);
  expect_keep_centred(items, groups, 8);
}

TEST(GroupDuplicates, TwoEditsOfOnePhotoBothJoinItEvenWhenFarFromEachOther) {
  // A crop and a mirror of one original: each close to the original (6 bits, disjoint), 12 bits
  // from each other. Complete linkage put the second into a group of its own.
  std::vector<DupeItem> items{item(0, "orig.jpg", 1000), item(0x3Full, "crop.jpg", 500),
                              item(0xFC0ull, "edit.jpg", 500)};
  DupesParams p;
  p.max_distance = 8;  // the rule, not the default threshold, is under test
  const auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].keep, 0u);
  EXPECT_EQ(groups[0].duplicates.size(), 2u);
  expect_keep_centred(items, groups, 8);
}

TEST(GroupDuplicates, MirroredCopyMatchesThroughItsVariantHash) {
  // The mirror's own hash is far from the original's, its mirrored hash is 2 bits from it.
  DupeItem orig = item(0x0123456789ABCDEFull, "orig.jpg", 1000);
  orig.variants = {0xF0F0F0F00F0F0F0Full};
  DupeItem mirror = item(0xF0F0F0F00F0F0F0Full ^ 0x11, "mirror.jpg", 1000 - 1);
  mirror.variants = {0x0123456789ABCDEFull ^ 0x3};
  DupeItem crop = item(0x0123456789ABCDEFull ^ 0xF000, "crop.jpg", 500);  // 4 bits
  std::vector<DupeItem> items{orig, mirror, crop};
  DupesParams p;
  p.variants_used = 0;
  auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].duplicates.size(), 1u) << "without variants the mirror is not found";
  p.variants_used = 1;
  groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 2u);
  const DupeMember& m = groups[0].duplicates[0].index == 1 ? groups[0].duplicates[0] : groups[0].duplicates[1];
  EXPECT_EQ(m.index, 1u);
  EXPECT_EQ(m.kind, DupeKind::near);
  EXPECT_EQ(m.variant, 1);
  EXPECT_EQ(m.variant_distance, 2);  // 2 bits in either direction (variant of one vs hash of the other)
  EXPECT_GT(m.distance, 8);
  EXPECT_EQ(m.best_distance(), 2);
}

TEST(GroupDuplicates, CropAndMirrorOfOneOriginalBothGroupedWithItOnTheCnnScale) {
  // CNN similarities: original~crop 0.95, original~mirror 0.94, crop~mirror 0.85 (< 0.92);
  // hashes unrelated. Complete linkage refused the third member; keep-centred takes both.
  std::vector<DupeItem> items{item(0x0F0F0F0F0F0F0F0Full, "orig.jpg", 1000), item(0x1234567812345678ull, "crop.jpg", 400),
                              item(0xFEDCBA9876543210ull, "mirror.jpg", 1000 - 1)};
  const float sim[3][3] = {{1, 0.95f, 0.94f}, {0.95f, 1, 0.85f}, {0.94f, 0.85f, 1}};
  ExtraLinkage extra;
  extra.max_distance = 0.08f;
  extra.pairs = {{0, 1, 0.05f}, {0, 2, 0.06f}, {1, 2, 0.15f}};
  extra.distance = [&](uint32_t a, uint32_t b) { return 1.f - sim[a][b]; };
  DupesParams p;
  p.band.max_extra_distance = 0;  // no uncertain band here
  const auto groups = group_duplicates(items, p, extra);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].keep, 0u);
  ASSERT_EQ(groups[0].duplicates.size(), 2u);
  for (const auto& d : groups[0].duplicates) {
    EXPECT_EQ(d.kind, DupeKind::cnn);
    EXPECT_NEAR(d.similarity, sim[0][d.index], 1e-6);
  }
}

TEST(GroupDuplicates, ACropWhoseNeighboursAreCopiesStillMeetsTheKeptOriginal) {
  // The CNN pairs are each image's k nearest neighbours. A photo with many near-identical copies
  // (re-encodes) fills a crop's neighbour list with them, so the pair (photo, crop) is in nobody's
  // list. The crop meets the photo through the kept item of a neighbour that is its duplicate,
  // and is judged on its own similarity to the photo (0.95 here), never on the neighbour's.
  std::vector<DupeItem> items{item(0x0F0F0F0F0F0F0F0Full, "orig.jpg", 1000), item(0x1111222233334444ull, "q75.jpg", 900),
                              item(0x5555666677778888ull, "q50.jpg", 900), item(0x1234567812345678ull, "crop.jpg", 400)};
  float sim[4][4] = {{1, 0.999f, 0.998f, 0.95f}, {0.999f, 1, 0.999f, 0.96f}, {0.998f, 0.999f, 1, 0.96f},
                     {0.95f, 0.96f, 0.96f, 1}};
  ExtraLinkage extra;
  extra.max_distance = 0.08f;
  extra.pairs = {{0, 1, 0.001f}, {0, 2, 0.002f}, {1, 2, 0.001f}, {1, 3, 0.04f}, {2, 3, 0.04f}};  // no (0, 3)
  extra.distance = [&](uint32_t a, uint32_t b) { return 1.f - sim[a][b]; };
  DupesParams p;
  p.band.max_extra_distance = 0;  // no uncertain band here
  auto groups = group_duplicates(items, p, extra);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].keep, 0u);
  ASSERT_EQ(groups[0].duplicates.size(), 3u);
  const DupeMember& crop = groups[0].duplicates.back();
  EXPECT_EQ(crop.index, 3u);
  EXPECT_EQ(crop.kind, DupeKind::cnn);
  EXPECT_NEAR(crop.similarity, 0.95, 1e-6) << "the evidence is the crop's similarity to the kept photo";

  // No chain: when the crop is far from the photo itself (0.85, beyond 0.92) it is not its
  // duplicate, however close it is to the photo's copies; it is kept on its own.
  sim[0][3] = sim[3][0] = 0.85f;
  groups = group_duplicates(items, p, extra);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].keep, 0u);
  EXPECT_EQ(groups[0].duplicates.size(), 2u);
  for (const auto& d : groups[0].duplicates) EXPECT_NE(d.index, 3u);

  // In the uncertain band the crop is verified against the photo itself, never against a copy.
  p.band.max_extra_distance = 0.2f;
  std::vector<std::pair<uint32_t, uint32_t>> calls;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    calls.push_back({keep, cand});
    return PairCheck{true, 40};
  };
  groups = group_duplicates(items, p, extra);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 3u);
  EXPECT_EQ(groups[0].duplicates.back().index, 3u);
  EXPECT_EQ(groups[0].duplicates.back().kind, DupeKind::verified);
  EXPECT_EQ(groups[0].duplicates.back().inliers, 40);
  EXPECT_NEAR(groups[0].duplicates.back().similarity, 0.85, 1e-6);
  const std::vector<std::pair<uint32_t, uint32_t>> want{{0, 3}};
  EXPECT_EQ(calls, want);
}

TEST(GroupDuplicates, ACandidateGoesToTheKeptImageItMatchesBest) {
  // Two kept images 16 bits apart (t = 14); candidates matching both go to the closer one.
  const uint64_t k1 = 0, k2 = 0xFF00FFull;
  const uint64_t x1 = 0x3Full;  // 6 from k1
  const uint64_t y = k2 ^ 0x300ull ^ 0x1;  // 3 from k2; 17 from k1
  ASSERT_EQ(std::popcount(x1 ^ k2), 10);  // x1 matches both kept images; k1 better
  const uint64_t z = 0x0F0000ull;  // 4 bits from k1, 12 from k2: both, k1 better
  std::vector<DupeItem> items{item(k1, "k1", 1000), item(k2, "k2", 1000), item(x1, "x1", 10), item(y, "y", 10),
                              item(z, "z", 10)};
  DupesParams p;
  p.max_distance = 14;
  p.band.max_hash_distance = 0;
  items.push_back(item(0xFF00F0ull, "w", 10));  // 12 from k1, 4 from k2 -> both within 14: goes to k2
  const auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 2u) << "k1 and k2 are 16 bits apart, both kept";
  std::map<size_t, size_t> keep_of;
  for (const auto& g : groups)
    for (const auto& d : g.duplicates) keep_of[d.index] = g.keep;
  EXPECT_EQ(keep_of.at(5), 1u) << "w matches k1 at 12 and k2 at 4";
  EXPECT_EQ(keep_of.at(2), 0u);
  EXPECT_EQ(keep_of.at(3), 1u);
  EXPECT_EQ(keep_of.at(4), 0u);
  expect_keep_centred(items, groups, 14);
}

TEST(GroupDuplicates, SameGroupsWhateverTheInputOrder) {
  const std::vector<uint64_t> h = clustered(3000, 17);
  std::vector<DupeItem> items(h.size());
  for (size_t i = 0; i < h.size(); ++i) {
    std::string path = "p";  // (not "p" + ...: GCC 12 -Wrestrict false positive)
    path += std::to_string(i);
    items[i] = item(h[i], path, 100 + int64_t(i % 7));
  }
  auto signature = [](const std::vector<DupeItem>& v) {
    std::set<std::pair<std::string, std::string>> s;
    for (const auto& g : group_duplicates(v))
      for (const auto& d : g.duplicates) s.insert({v[g.keep].path, v[d.index].path});
    return s;
  };
  const auto want = signature(items);
  EXPECT_GT(want.size(), 100u);
  std::mt19937_64 rng(5);
  std::shuffle(items.begin(), items.end(), rng);
  EXPECT_EQ(signature(items), want);
}

TEST(GroupDuplicates, EveryDuplicateIsWithinTOfItsKeptItem) {
  const std::vector<uint64_t> h = clustered(20000, 5);
  std::vector<DupeItem> items(h.size());
  for (size_t i = 0; i < h.size(); ++i) items[i] = item(h[i], std::to_string(i));
  size_t grouped = 0;
  const auto groups = group_duplicates(items);
  for (const auto& g : groups) {
    for (const auto& d : g.duplicates) {
      EXPECT_EQ(d.kind, DupeKind::near);
      ASSERT_LE(d.distance, 8);
      // the kept item is the best to keep of its group (equal pixels and sizes: smallest path)
      EXPECT_LT(items[g.keep].path, items[d.index].path);
    }
    grouped += g.duplicates.size() + 1;
  }
  expect_keep_centred(items, groups, 8);
  EXPECT_GT(grouped, 2000u);
}

TEST(GroupDuplicates, UncertainBandIsDecidedByTheVerifier) {
  // d = 12: beyond the sure threshold, inside the band (<= 14). The verifier accepts "yes.jpg", refuses "no.jpg".
  std::vector<DupeItem> items{item(0, "orig.jpg", 1000), item(0xFFFull, "yes.jpg", 10), item(0xFFF000ull, "no.jpg", 10),
                              item(0xFFFFFFFFull, "far.jpg", 10)};
  DupesParams p;
  p.band.max_hash_distance = 14;
  std::vector<std::pair<uint32_t, uint32_t>> calls;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    calls.push_back({keep, cand});
    return PairCheck{cand == 1, cand == 1 ? 57 : 3};
  };
  const auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 1u);
  const DupeMember& d = groups[0].duplicates[0];
  EXPECT_EQ(d.index, 1u);
  EXPECT_EQ(d.kind, DupeKind::verified);
  EXPECT_EQ(d.inliers, 57);
  EXPECT_EQ(d.distance, 12);
  EXPECT_STREQ(dupe_kind_name(d.kind), "verified");
  // Items are visited best-to-keep first (equal pixels: by path): far.jpg (32 bits from the
  // original: kept alone), no.jpg (band pair with the original, refused: kept), yes.jpg (band pair
  // with the original, accepted). Only band pairs with a kept item are verified.
  const std::vector<std::pair<uint32_t, uint32_t>> want{{0, 2}, {0, 1}};
  EXPECT_EQ(calls, want);
  // Without a verifier the band is off.
  p.band.verify = {};
  EXPECT_TRUE(group_duplicates(items, p).empty());
}

TEST(GroupDuplicates, VerifyAllSeesTheBandPairsFirstAndChangesNoDecision) {
  // 40 photos with 8 edits each, 2..10 bits from their photo: sure pairs and band pairs. A fake
  // verifier accepts a fixed, arbitrary half of the pairs. With verify_all (dry passes, then the
  // pairs verified together) the groups must be exactly those of the sequential run, every pair
  // the decisions ask about must have been handed to verify_all, and not many more.
  std::mt19937_64 rng(7);
  std::vector<DupeItem> items;
  for (int o = 0; o < 40; ++o) {
    const uint64_t h = rng();
    const std::string photo = std::to_string(o);  // (no "literal" + string: a GCC -Wrestrict false alarm)
    items.push_back(item(h, photo, 1000));
    for (int e = 0; e < 8; ++e) {
      uint64_t x = h;
      for (int b = 0; b < 2 + int(rng() % 9); ++b) x ^= 1ull << (rng() % 64);
      items.push_back(item(x, photo + std::string(1, char('a' + e)), 500 - e));
    }
  }
  auto verdict = [](uint32_t keep, uint32_t cand) { return PairCheck{(keep * 7 + cand) % 2 == 0, int(keep + cand)}; };
  DupesParams p;
  std::vector<std::pair<uint32_t, uint32_t>> seq_calls;
  p.band.verify = [&](uint32_t k, uint32_t c) { seq_calls.emplace_back(k, c); return verdict(k, c); };
  const auto sequential = group_duplicates(items, p);
  ASSERT_GT(seq_calls.size(), 20u);

  std::map<std::pair<uint32_t, uint32_t>, PairCheck> cache;  // what verify_all verified
  int verify_all_calls = 0, misses = 0;
  p.band.verify_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
    ++verify_all_calls;
    for (const auto& [k, c] : pairs) EXPECT_TRUE(cache.emplace(std::make_pair(k, c), verdict(k, c)).second) << "handed twice";
  };
  p.band.verify = [&](uint32_t k, uint32_t c) {
    const auto it = cache.find({k, c});
    if (it != cache.end()) return it->second;
    ++misses;
    return verdict(k, c);
  };
  const auto parallel = group_duplicates(items, p);

  EXPECT_GE(verify_all_calls, 1);
  EXPECT_LE(verify_all_calls, 8);
  EXPECT_EQ(misses, 0);  // the last dry pass made the real decisions
  EXPECT_LE(double(cache.size()), 1.5 * double(seq_calls.size())) << cache.size() << " vs " << seq_calls.size();
  for (const auto& [kc, check] : cache) {  // only band pairs are handed over
    const int d = std::popcount(items[kc.first].hash ^ items[kc.second].hash);
    EXPECT_GT(d, p.max_distance);
    EXPECT_LE(d, p.band.max_hash_distance);
  }
  ASSERT_EQ(parallel.size(), sequential.size());
  bool some_verified = false;
  for (size_t g = 0; g < parallel.size(); ++g) {
    EXPECT_EQ(parallel[g].keep, sequential[g].keep);
    ASSERT_EQ(parallel[g].duplicates.size(), sequential[g].duplicates.size());
    for (size_t m = 0; m < parallel[g].duplicates.size(); ++m) {
      const DupeMember &a = parallel[g].duplicates[m], &b = sequential[g].duplicates[m];
      EXPECT_EQ(std::tie(a.index, a.kind, a.inliers, a.distance), std::tie(b.index, b.kind, b.inliers, b.distance));
      some_verified |= a.kind == DupeKind::verified;
    }
  }
  EXPECT_TRUE(some_verified);
}

TEST(GroupDuplicates, SureMatchIsNotVerified) {
  std::vector<DupeItem> items{item(0, "a", 1000), item(0x3ull, "b", 10)};
  DupesParams p;
  p.band.max_hash_distance = 14;
  int calls = 0;
  p.band.verify = [&](uint32_t, uint32_t) { ++calls; return PairCheck{false, 0}; };
  ASSERT_EQ(group_duplicates(items, p).size(), 1u);
  EXPECT_EQ(calls, 0);
}

DupeItem two_hash_item(uint64_t phash, uint64_t dhash, std::string path, int64_t pixels) {
  DupeItem it = item(phash, std::move(path), pixels);
  it.dhash = dhash;
  return it;
}

// With a dHash on both items, a pHash pair within the sure threshold is sure only when the dHashes
// agree; otherwise it goes to the verifier (a static-camera frame agrees in pHash only).
TEST(TwoHashes, SurePhashPairNeedsAnAgreeingDhash) {
  const uint64_t d0 = 0x0F0F0F0F0F0F0F0Full;
  std::vector<DupeItem> items{two_hash_item(0, d0, "orig.jpg", 1000), two_hash_item(0x3ull, d0 ^ 0x3Full, "copy.jpg", 10),
                              two_hash_item(0xC0ull, d0 ^ 0xFFFFF00000ull, "frame.jpg", 10)};
  DupesParams p;  // defaults: sure pHash 4 with dHash <= 8
  std::vector<uint32_t> asked;
  p.band.verify = [&](uint32_t, uint32_t cand) {
    asked.push_back(cand);
    return PairCheck{false, 3};
  };
  const auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 1u);
  const DupeMember& d = groups[0].duplicates[0];
  EXPECT_EQ(d.index, 1u);
  EXPECT_EQ(d.kind, DupeKind::near);
  EXPECT_EQ(d.distance, 2);
  EXPECT_EQ(d.dhash_distance, 6);
  EXPECT_EQ(asked, std::vector<uint32_t>{2}) << "the frame (pHash 2, dHash 20) is verified, not taken";
  // Without the band the disagreeing pair is simply not a duplicate.
  p.band.verify = {};
  ASSERT_EQ(group_duplicates(items, p).size(), 1u);
  EXPECT_EQ(group_duplicates(items, p)[0].duplicates.size(), 1u);
  // Items without a dHash keep the pHash-only rule: the frame is a sure duplicate then.
  for (DupeItem& it : items) it.dhash.reset();
  ASSERT_EQ(group_duplicates(items, p).size(), 1u);
  EXPECT_EQ(group_duplicates(items, p)[0].duplicates.size(), 2u);
  EXPECT_EQ(group_duplicates(items, p)[0].duplicates[1].dhash_distance, -1);
}

// The band of two agreeing hashes reaches pHash 16 (beyond the pHash-only band of 12) when the
// dHash agrees (<= 12), and never verifies a pair whose dHash disagrees.
TEST(TwoHashes, BandReachesFurtherInPhashOnlyWhenTheDhashAgrees) {
  const uint64_t d0 = 0x00FF00FF00FF00FFull;
  std::vector<DupeItem> items{two_hash_item(0, d0, "orig.jpg", 1000),
                              two_hash_item(0x3FFFull, d0 ^ 0x1Full, "caption.jpg", 10),         // pHash 14, dHash 5
                              two_hash_item(0x3FFF0000ull, d0 ^ 0xFFFFFF0000ull, "other.jpg", 10),  // pHash 14, dHash 24
                              two_hash_item(0xFFFF00000000ull, d0 ^ 0x7ull, "far.jpg", 10)};     // pHash 16, dHash 3
  DupesParams p;
  std::vector<uint32_t> asked;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    EXPECT_EQ(keep, 0u);
    asked.push_back(cand);
    return PairCheck{true, 40};
  };
  const auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  std::set<size_t> got;
  for (const DupeMember& d : groups[0].duplicates) {
    got.insert(d.index);
    EXPECT_EQ(d.kind, DupeKind::verified);
    EXPECT_EQ(d.inliers, 40);
    EXPECT_EQ(d.dhash_distance, std::popcount(*items[d.index].dhash ^ d0));
  }
  EXPECT_EQ(got, (std::set<size_t>{1, 3}));
  std::sort(asked.begin(), asked.end());
  EXPECT_EQ(asked, (std::vector<uint32_t>{1, 3}));
  // A pHash one step further (18) is outside the band whatever the dHash.
  items[3].hash = 0x3FFFF00000000ull;
  asked.clear();
  ASSERT_EQ(group_duplicates(items, p).size(), 1u);
  EXPECT_EQ(asked, std::vector<uint32_t>{1});
}

// A mirrored copy: its pHash is the original's mirror variant and its dHash the mirrored dHash.
TEST(TwoHashes, MirroredCopyAgreesThroughTheMirroredDhash) {
  const uint64_t ph = 0x0123456789ABCDEFull, dh = 0x13579BDF02468ACEull;
  DupeItem orig = two_hash_item(ph, dh, "orig.jpg", 1000);
  orig.variants = {0xF0F0F0F00F0F0F0Full};
  DupeItem mirror = two_hash_item(0xF0F0F0F00F0F0F0Full ^ 0x1, dhash_mirrored(dh) ^ 0x3, "mirror.jpg", 999);
  mirror.variants = {ph ^ 0x1};
  const std::vector<DupeItem> items{orig, mirror};
  DupesParams p;
  p.policy.verify_variant_only = false;  // the hash rule alone (VerifyPolicy.AMirrorOnlyHashPairIsVerified: with it)
  p.band.verify = [](uint32_t, uint32_t) { return PairCheck{false, 0}; };
  const auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 1u);
  const DupeMember& d = groups[0].duplicates[0];
  EXPECT_EQ(d.kind, DupeKind::near);
  EXPECT_EQ(d.variant, int(HashVariant::mirror));
  EXPECT_EQ(d.variant_distance, 1);
  EXPECT_EQ(d.dhash_distance, 2);
}

// Calibration invariant of the candidate search: with every band pair accepted, the grouping equals
// a brute-force judgement of all pairs by judge_hash_pair (no band pair is missed by the pHash and
// dHash searches), on clustered hashes where many pairs sit near both limits.
TEST(TwoHashes, GroupingEqualsTheBruteForceJudgementOfEveryPair) {
  std::mt19937_64 rng(7);
  std::vector<DupeItem> items;
  for (int c = 0; c < 150; ++c) {
    const uint64_t ph = rng(), dh = rng();
    for (int k = 0; k < 4; ++k) {
      const std::string path = std::to_string(c * 4 + k);  // (a "c" + to_string(...) here trips GCC 12's -Wrestrict)
      DupeItem it = two_hash_item(flip(ph, int(rng() % 20), rng), flip(dh, int(rng() % 16), rng), path, 1000 - k);
      it.variants = {rng()};
      if (k == 3) it.variants = {flip(items[items.size() - 3].hash, int(rng() % 6), rng)};  // a mirror of member 0
      if (k == 3) it.dhash = dhash_mirrored(*items[items.size() - 3].dhash) ^ (rng() & 0x3);
      items.push_back(std::move(it));
    }
  }
  DupesParams p;
  p.policy.verify_variant_only = false;  // sure means sure here, as in the replay below
  p.band.verify = [](uint32_t, uint32_t) { return PairCheck{true, 20}; };
  const auto groups = group_duplicates(items, p);
  // Replay the visiting order (pixels, then path) with a brute-force search over the kept items.
  std::vector<uint32_t> order(items.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return items[a].pixels != items[b].pixels ? items[a].pixels > items[b].pixels : items[a].path < items[b].path;
  });
  std::map<size_t, size_t> want_keep_of;  // duplicate -> kept
  for (const auto& [x, kept_kind] : test::brute_force_grouping(items, p, order)) want_keep_of[x] = kept_kind.first;
  std::map<size_t, size_t> got_keep_of;
  for (const auto& g : groups)
    for (const auto& d : g.duplicates) got_keep_of[d.index] = g.keep;
  EXPECT_GT(want_keep_of.size(), 200u) << "the set exercises the band";
  EXPECT_EQ(got_keep_of.size(), want_keep_of.size());
  size_t same_keep = 0;
  for (const auto& [x, k] : want_keep_of) same_keep += got_keep_of.count(x) && got_keep_of[x] == k;
  // Ties of strength between two kept items may be broken differently (by rank); the membership
  // must be the same and the kept item almost always.
  EXPECT_GE(double(same_keep), 0.98 * double(want_keep_of.size()));
}

TEST(GroupDuplicates, KeepRules) {
  // Pixels first.
  {
    std::vector<DupeItem> v{item(1, "a", 100, 9000), item(1, "b", 200, 10)};
    EXPECT_EQ(group_duplicates(v)[0].keep, 1u);
    EXPECT_EQ(group_duplicates(v)[0].keep_reason, KeepReason::most_pixels);
  }
  // Then the earliest modified: a lossless PNG copy of a JPEG (same pixels, larger file, newer)
  // is not kept over the original.
  {
    std::vector<DupeItem> v{item(1, "edits/apple-png.png", 100, 90), item(1, "photos/apple.jpg", 100, 20)};
    v[0].mtime_ns = 2'000'000'000;
    v[1].mtime_ns = 1'000'000'000;
    EXPECT_EQ(group_duplicates(v)[0].keep, 1u);
    EXPECT_EQ(group_duplicates(v)[0].keep_reason, KeepReason::earliest_modified);
    // Equal (or unknown) times: the JPEG, of which the PNG is a lossless re-encode.
    v[1].jpeg = true;
    v[1].mtime_ns = 2'000'000'000;
    EXPECT_EQ(group_duplicates(v)[0].keep, 1u);
    EXPECT_EQ(group_duplicates(v)[0].keep_reason, KeepReason::jpeg_original);
    v[1].mtime_ns = 0;
    EXPECT_EQ(group_duplicates(v)[0].keep, 1u);
    v[1].jpeg = false;  // a time unknown and no JPEG: file size decides
    EXPECT_EQ(group_duplicates(v)[0].keep, 0u);
    EXPECT_EQ(group_duplicates(v)[0].keep_reason, KeepReason::largest_file);
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
    EXPECT_EQ(group_duplicates(v)[0].keep_reason, KeepReason::first_path);
  }
  // The reason is the rule that beat the closest contender: b wins over a by pixels, over c by time.
  {
    std::vector<DupeItem> v{item(1, "a", 50), item(1, "b", 100), item(1, "c", 100)};
    v[1].mtime_ns = 1;
    v[2].mtime_ns = 2;
    const auto g = group_duplicates(v);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].keep, 1u);
    EXPECT_EQ(g[0].keep_reason, KeepReason::earliest_modified);
    EXPECT_STREQ(keep_reason_text(g[0].keep_reason), "earliest modified of equal pixels");
  }
}

TEST(GroupDuplicates, ExactGroupsByContentEvenWithDifferentHashes) {
  std::vector<DupeItem> v{item(0, "x.png", 10, 10, 7), item(~0ull, "y.png", 10, 10, 7),
                          item(0x5555555ull, "z.png", 10, 10, 0)};
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

namespace irbis {
namespace {

// ---- Which pairs are verified (VerifyPolicy, judge_pair, verification_order): one rule for
// dupes and match (docs/dupes.md, "Which pairs are verified").

// A CNN pair above the sure similarity but below verify_similarity_below (a look-alike's range:
// another frame, a stereo partner) is verified before it counts; one above it is taken.
TEST(VerifyPolicy, ASureButLowCnnPairIsVerified) {
  std::vector<DupeItem> items{item(0x0F0F0F0F0F0F0F0Full, "orig.jpg", 1000), item(0x1234567812345678ull, "frame.jpg", 900),
                              item(0x5555666677778888ull, "q90.jpg", 800)};
  const float sim[3] = {1, 0.94f, 0.985f};  // to the original
  ExtraLinkage extra;
  extra.max_distance = 0.08f;  // sure similarity 0.92 (a lowered --cnn-threshold)
  extra.pairs = {{0, 1, 1 - sim[1]}, {0, 2, 1 - sim[2]}};
  extra.distance = [&](uint32_t a, uint32_t b) { return a == b ? 0.f : 1.f - (a == 0 ? sim[b] : b == 0 ? sim[a] : 0.5f); };
  DupesParams p;
  std::vector<std::pair<uint32_t, uint32_t>> asked;
  bool confirm = false;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    asked.push_back({keep, cand});
    return PairCheck{confirm, confirm ? 30 : 2};
  };
  auto groups = group_duplicates(items, p, extra);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 1u) << "the refused frame is not a duplicate";
  EXPECT_EQ(groups[0].duplicates[0].index, 2u);
  EXPECT_EQ(groups[0].duplicates[0].kind, DupeKind::cnn);
  EXPECT_FALSE(groups[0].duplicates[0].verified());
  EXPECT_EQ(asked, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}})) << "only the 0.94 pair is verified";
  confirm = true;
  asked.clear();
  groups = group_duplicates(items, p, extra);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 2u);
  const DupeMember& frame = groups[0].duplicates[1];
  EXPECT_EQ(frame.index, 1u);
  EXPECT_EQ(frame.kind, DupeKind::verified);
  EXPECT_EQ(frame.inliers, 30);
  EXPECT_NEAR(frame.similarity, 0.94, 1e-6);
  // The policy off: the sure threshold alone decides, nothing is verified.
  p.policy.verify_similarity_below = 0;
  asked.clear();
  groups = group_duplicates(items, p, extra);
  EXPECT_TRUE(asked.empty());
  ASSERT_EQ(groups.at(0).duplicates.size(), 2u);
  EXPECT_EQ(groups[0].duplicates[1].kind, DupeKind::cnn);
}

// A pair whose hashes agree only through the mirror variant (the plain pHashes 30+ bits apart) is
// verified; a plain sure pair of the same item is not.
TEST(VerifyPolicy, AMirrorOnlyHashPairIsVerified) {
  const uint64_t ph = 0x0123456789ABCDEFull, dh = 0x13579BDF02468ACEull;
  DupeItem orig = two_hash_item(ph, dh, "orig.jpg", 1000);
  orig.variants = {0xF0F0F0F00F0F0F0Full};
  DupeItem mirror = two_hash_item(0xF0F0F0F00F0F0F0Full ^ 0x1, dhash_mirrored(dh) ^ 0x3, "mirror.jpg", 999);
  mirror.variants = {ph ^ 0x1};
  DupeItem copy = two_hash_item(ph ^ 0x3, dh ^ 0x1, "copy.jpg", 998);
  copy.variants = {0xF0F0F0F00F0F0F0Full ^ 0x6};
  const std::vector<DupeItem> items{orig, mirror, copy};
  DupeMember m;
  double strength = 0;
  HashMatch identity = HashMatch::sure;
  DupesParams p;
  EXPECT_EQ(judge_hash_pair(items[1], items[0], p, true, m, strength, &identity), HashMatch::sure);
  EXPECT_EQ(identity, HashMatch::none) << "sure through the mirror only";
  EXPECT_EQ(judge_hash_pair(items[2], items[0], p, true, m, strength, &identity), HashMatch::sure);
  EXPECT_EQ(identity, HashMatch::sure);

  std::vector<uint32_t> asked;
  bool confirm = false;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    EXPECT_EQ(keep, 0u);
    asked.push_back(cand);
    return PairCheck{confirm, confirm ? 200 : 0};
  };
  auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 1u);
  EXPECT_EQ(groups[0].duplicates[0].index, 2u);
  EXPECT_EQ(groups[0].duplicates[0].kind, DupeKind::near);
  EXPECT_EQ(asked, std::vector<uint32_t>{1}) << "the mirror-only pair is verified (refused here), the plain one is not";
  confirm = true;
  asked.clear();
  groups = group_duplicates(items, p);
  ASSERT_EQ(groups.at(0).duplicates.size(), 2u);
  const DupeMember& d = groups[0].duplicates[1];
  EXPECT_EQ(d.index, 1u);
  EXPECT_EQ(d.kind, DupeKind::verified);
  EXPECT_EQ(d.inliers, 200);
  EXPECT_EQ(d.variant, int(HashVariant::mirror));  // the evidence still says how it matched
  EXPECT_EQ(d.variant_distance, 1);
  EXPECT_EQ(asked, std::vector<uint32_t>{1});
  // Without a verifier the hash rule alone decides (the mirror is a sure duplicate).
  p.band.verify = {};
  groups = group_duplicates(items, p);
  ASSERT_EQ(groups.at(0).duplicates.size(), 2u);
  EXPECT_EQ(groups[0].duplicates[1].kind, DupeKind::near);
}

// An item with a sure match to one kept item verifies none of its band pairs with others (and
// verification_order says so for any judged list that holds an accepted pair).
TEST(VerifyPolicy, ACandidateWithASureMatchVerifiesNoBandPair) {
  // Kept: k0 and k1, 13 bits apart (beyond the band of 12). cand is 2 bits from k1 (sure) and 11
  // from k0 (band); band-only is 6 bits from k0 and far from the rest.
  std::vector<DupeItem> items{item(0, "k0", 1000), item(0x1FFFull, "k1", 1000), item(0x1FFCull, "cand", 10),
                              item(0xFC0000000ull, "band-only", 10)};
  DupesParams p;
  p.band.max_hash_distance = 12;
  std::vector<std::pair<uint32_t, uint32_t>> asked;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    asked.push_back({keep, cand});
    return PairCheck{false, 0};
  };
  const auto groups = group_duplicates(items, p);
  // cand joins k1 on its sure match; its band pair with k0 is not verified. band-only's is.
  EXPECT_EQ(asked, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 3}}));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].keep, 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 1u);
  EXPECT_EQ(groups[0].duplicates[0].index, 2u);
  EXPECT_EQ(groups[0].duplicates[0].kind, DupeKind::near);

  const std::vector<PairJudgement> with_sure{{PairAction::verify, DupeKind::verified, 1.5},
                                             {PairAction::accept, DupeKind::near, 0.5},
                                             {PairAction::verify, DupeKind::verified, 0.7}};
  EXPECT_TRUE(verification_order(with_sure, VerifyPolicy{}).empty());
}

// At most max_verified_per_item verifications per candidate, strongest pair first; sure-but-weak
// pairs (strength <= 1) come before the band.
TEST(VerifyPolicy, VerificationsPerCandidateAreCappedStrongestFirst) {
  std::vector<PairJudgement> js;
  const double strengths[] = {2.5, 1.25, 3.0, 0.75, 2.0, 1.5, 2.75, 1.75};
  for (double s : strengths) js.push_back({PairAction::verify, DupeKind::verified, s});
  js.push_back({PairAction::none, DupeKind::near, 1e30});
  VerifyPolicy pol;
  EXPECT_EQ(pol.max_verified_per_item, 5);
  EXPECT_EQ(verification_order(js, pol), (std::vector<size_t>{3, 1, 5, 7, 4}));
  pol.max_verified_per_item = 0;
  EXPECT_TRUE(verification_order(js, pol).empty());

  // In the grouping: a candidate with 8 band pairs to kept items (16 or 24 bits away, a pHash-only
  // band of 30; the kept items 16-32 bits apart, their own band pairs refused), all refused: 5
  // verifications, nearest kept item first; with the cap at 2, two.
  std::vector<DupeItem> items;
  for (int k = 0; k < 8; ++k)
    items.push_back(item((0xFFFFull << (16 * (k % 4))) ^ (k >= 4 ? 0xF000F000F000F000ull : 0), std::string(1, char('a' + k)), 1000));
  items.push_back(item(0, "cand", 10));
  const uint32_t c = uint32_t(items.size() - 1);
  DupesParams p;
  p.band.max_hash_distance = 30;
  std::vector<uint32_t> asked;
  p.band.verify = [&](uint32_t keep, uint32_t who) {
    if (who == c) asked.push_back(keep);
    return PairCheck{false, 0};
  };
  group_duplicates(items, p);
  ASSERT_EQ(asked.size(), 5u);
  for (size_t i = 1; i < asked.size(); ++i)
    EXPECT_LE(std::popcount(items[asked[i - 1]].hash), std::popcount(items[asked[i]].hash)) << "strongest first";
  p.policy.max_verified_per_item = 2;
  asked.clear();
  group_duplicates(items, p);
  EXPECT_EQ(asked.size(), 2u);
}

// A sure pair counts only when its pixels agree (VerifyPolicy::check_sure_pixels): otherwise it is
// verified like a band pair. Two frames of a static camera have hashes as close as a re-encode's.
TEST(VerifyPolicy, ASurePairWhosePixelsDifferIsVerified) {
  const uint64_t ph = 0x0123456789ABCDEFull, dh = 0x13579BDF02468ACEull;
  const std::vector<DupeItem> items{two_hash_item(ph, dh, "frame1.jpg", 1000), two_hash_item(ph ^ 0x1, dh ^ 0x3, "frame2.jpg", 999),
                                    two_hash_item(ph ^ 0x2, dh ^ 0x1, "frame1.q75.jpg", 998)};
  DupesParams p;
  std::vector<std::pair<uint32_t, uint32_t>> checked, verified;
  bool confirm = false;
  p.band.check = [&](uint32_t keep, uint32_t cand) {
    checked.push_back({keep, cand});
    PixelCheck c;
    c.difference = cand == 1 ? 14.0 : 0.8;  // frame2 differs where the object moved, the re-encode nowhere
    c.agree = c.difference <= 3.0;
    return c;
  };
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    verified.push_back({keep, cand});
    return PairCheck{confirm, confirm ? 40 : 3};
  };
  auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 1u) << "the frame is refused";
  EXPECT_EQ(groups[0].duplicates[0].index, 2u);
  EXPECT_EQ(groups[0].duplicates[0].kind, DupeKind::near);
  EXPECT_FALSE(groups[0].duplicates[0].verified());
  EXPECT_EQ(checked, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}, {0, 2}}));
  EXPECT_EQ(verified, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}})) << "only the pair whose pixels differ";

  confirm = true;  // e.g. a caption: the pixels differ, the verifier confirms
  checked.clear(), verified.clear();
  groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 2u);
  const auto frame = std::find_if(groups[0].duplicates.begin(), groups[0].duplicates.end(), [](const DupeMember& m) { return m.index == 1; });
  ASSERT_NE(frame, groups[0].duplicates.end());
  EXPECT_EQ(frame->kind, DupeKind::verified);
  EXPECT_EQ(frame->inliers, 40);
  EXPECT_EQ(frame->distance, 1) << "the hash evidence stays on the row";

  // Off, or without a check function: the hashes decide alone, as before.
  for (int off = 0; off < 2; ++off) {
    DupesParams q = p;
    if (off == 0) q.policy.check_sure_pixels = false;
    else q.band.check = {};
    checked.clear(), verified.clear(), confirm = false;
    groups = group_duplicates(items, q);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].duplicates.size(), 2u);
    EXPECT_TRUE(checked.empty() && verified.empty());
  }
}

// A pair that cannot be compared (a file gone since indexing) stays sure; a byte-identical copy is
// never checked; the dry passes hand the checks over in batches (check_all) before deciding.
TEST(VerifyPolicy, PixelChecksBatchedAndUncomparablePairsStaySure) {
  const uint64_t ph = 0x0123456789ABCDEFull, dh = 0x13579BDF02468ACEull;
  std::vector<DupeItem> items{two_hash_item(ph, dh, "a.jpg", 1000), two_hash_item(ph ^ 0x1, dh, "gone.jpg", 999),
                              two_hash_item(ph, dh, "a-copy.jpg", 998)};
  items[0].content.fill(7);
  items[2].content.fill(7);
  DupesParams p;
  std::vector<std::pair<uint32_t, uint32_t>> checked, batched;
  p.band.verify = [](uint32_t, uint32_t) { return PairCheck{false, 0}; };
  p.band.verify_all = [](const std::vector<std::pair<uint32_t, uint32_t>>&) {};
  p.band.check = [&](uint32_t keep, uint32_t cand) {
    checked.push_back({keep, cand});
    PixelCheck c;
    c.reason = "cannot decode";
    return c;
  };
  p.band.check_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
    batched.insert(batched.end(), pairs.begin(), pairs.end());
  };
  const auto groups = group_duplicates(items, p);
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].duplicates.size(), 2u);
  EXPECT_EQ(groups[0].duplicates[0].kind, DupeKind::exact);
  EXPECT_EQ(groups[0].duplicates[1].kind, DupeKind::near);
  EXPECT_EQ(batched, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}})) << "the exact copy is not checked";
  EXPECT_FALSE(checked.empty());
  for (const auto& c : checked) EXPECT_EQ(c, (std::pair<uint32_t, uint32_t>{0, 1}));
}

}  // namespace
}  // namespace irbis

namespace irbis {
namespace {

// The neighbourhood rule (VerifyPolicy::cnn_stand_out): a crop x of the kept photo c (cosine 0.88)
// is verified only when no rival neighbour (a visited image outside c's group) is about as close.
TEST(VerifyPolicy, ACnnBandPairIsVerifiedOnlyWhenItStandsOutFromTheNeighbourhood) {
  std::vector<DupeItem> items{item(0x0F0F0F0F0F0F0F0Full, "orig.jpg", 1000), item(0x1234567812345678ull, "other.jpg", 900),
                              item(0x5555666677778888ull, "crop.jpg", 500)};
  constexpr uint32_t c = 0, y = 1, x = 2;
  float s_xc = 0.88f, s_xy = 0.90f, s_cy = 0.5f;
  const auto sim = [&](uint32_t a, uint32_t b) {
    if (a == b) return 1.f;
    const auto k = std::minmax(a, b);
    return k == std::minmax(c, x) ? s_xc : k == std::minmax(x, y) ? s_xy : s_cy;
  };
  DupesParams p;  // sure CNN 0.99 below, band from 0.80
  std::vector<std::pair<uint32_t, uint32_t>> asked;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    asked.push_back({keep, cand});
    return PairCheck{false, 3};
  };
  const auto run = [&] {
    ExtraLinkage extra;
    extra.max_distance = 0.01f;
    for (uint32_t a = 0; a < 3; ++a)
      for (uint32_t b = a + 1; b < 3; ++b)
        if (sim(a, b) >= 0.78f) extra.pairs.push_back({a, b, 1.f - sim(a, b)});  // the k-NN lists
    extra.distance = [&](uint32_t a, uint32_t b) { return 1.f - sim(a, b); };
    asked.clear();
    return group_duplicates(items, p, extra);
  };
  EXPECT_EQ(p.policy.cnn_stand_out, 0.02);
  p.policy.cnn_stand_out_growth = 0;  // the flat margin here (its growth: TheStandOutMarginGrowsDeeperInTheBand)
  p.policy.cnn_unvisited_rivals = false;
  // A kept look-alike is closer to the crop than its photo: the photo's pair does not stand out,
  // the look-alike's does without a margin (the photo is further), so only it is verified.
  p.policy.cnn_stand_out = 0.0;
  run();
  EXPECT_EQ(asked, (std::vector<std::pair<uint32_t, uint32_t>>{{y, x}}));
  // With a margin the look-alike at 0.90 no longer stands out from the photo at 0.88 either.
  p.policy.cnn_stand_out = 0.03;
  run();
  EXPECT_TRUE(asked.empty());
  // No rival near the crop: the photo stands out and is verified.
  p.policy.cnn_stand_out = 0.02;
  s_xy = 0.70f;
  run();
  EXPECT_EQ(asked, (std::vector<std::pair<uint32_t, uint32_t>>{{c, x}}));
  // A rival just below the band (0.79) but within the margin of the photo's pair at 0.80: no
  // verification. Outside the margin (0.77): verified.
  s_xc = 0.80f, s_xy = 0.79f;
  run();
  EXPECT_TRUE(asked.empty());
  s_xy = 0.77f;
  run();
  EXPECT_EQ(asked, (std::vector<std::pair<uint32_t, uint32_t>>{{c, x}}));
  s_xc = 0.88f;
  // The close neighbour is a copy of the photo (a sure pair, in its group): no rival, verified.
  s_xy = 0.90f, s_cy = 0.995f;
  run();
  EXPECT_EQ(asked, (std::vector<std::pair<uint32_t, uint32_t>>{{c, x}}));
  // The rule off: every band pair, strongest first.
  s_cy = 0.5f;
  p.policy.cnn_stand_out = -1;
  run();
  EXPECT_EQ(asked, (std::vector<std::pair<uint32_t, uint32_t>>{{y, x}, {c, x}}));
  // A confirmed pair still groups: confirm everything, the rule on, the rival present.
  p.policy.cnn_stand_out = 0.0;
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    asked.push_back({keep, cand});
    return PairCheck{true, 40};
  };
  const auto groups = run();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].keep, y);
  EXPECT_EQ(groups[0].duplicates.at(0).inliers, 40);
}

// Three items for the neighbourhood rule: c (kept first: most pixels), x (a candidate), y (a
// neighbour: kept before x when y_first, else visited after x), CNN similarities set by the test;
// run() lists the pairs verified for x.
struct StandOutCase {
  float s_xc = 0.88f, s_xy = 0.5f, s_cy = 0.5f;
  bool y_first = true;
  std::vector<std::pair<uint32_t, uint32_t>> asked;
  static constexpr uint32_t c = 0, y = 1, x = 2;
  std::vector<std::pair<uint32_t, uint32_t>> run(DupesParams p) {
    std::vector<DupeItem> items{item(0x0F0F0F0F0F0F0F0Full, "c.jpg", 1000), item(0x1234567812345678ull, "y.jpg", y_first ? 900 : 100),
                                item(0x5555666677778888ull, "x.jpg", 500)};
    const auto sim = [&](uint32_t a, uint32_t b) {
      const auto k = std::minmax(a, b);
      return a == b ? 1.f : k == std::minmax(c, x) ? s_xc : k == std::minmax(x, y) ? s_xy : s_cy;
    };
    asked.clear();
    p.band.verify = [&](uint32_t keep, uint32_t cand) {
      if (cand == x) asked.push_back({keep, cand});  // x's verifications (y visited last has its own)
      return PairCheck{false, 3};
    };
    ExtraLinkage extra;
    extra.max_distance = 0.01f;
    for (uint32_t a = 0; a < 3; ++a)
      for (uint32_t b = a + 1; b < 3; ++b)
        if (sim(a, b) >= 0.70f) extra.pairs.push_back({a, b, 1.f - sim(a, b)});  // the k-NN lists
    extra.distance = [&](uint32_t a, uint32_t b) { return 1.f - sim(a, b); };
    group_duplicates(items, p, extra);
    return asked;
  }
};

// The margin grows as the pair's similarity falls deeper into the band (cnn_stand_out_growth): a
// kept look-alike 0.04 below the photo's pair does not hide a pair at 0.88 (margin 0.03) but does
// hide one at 0.82 (margin 0.06), and with no growth neither.
TEST(VerifyPolicy, TheStandOutMarginGrowsDeeperInTheBand) {
  VerifyPolicy pol;
  pol.cnn_stand_out = 0.02, pol.cnn_stand_out_growth = 0.5, pol.cnn_stand_out_from = 0.90;
  EXPECT_DOUBLE_EQ(stand_out_margin(0.95, pol), 0.02);
  EXPECT_NEAR(stand_out_margin(0.88, pol), 0.03, 1e-12);
  EXPECT_NEAR(stand_out_margin(0.80, pol), 0.07, 1e-12);
  pol.cnn_stand_out = -1;
  EXPECT_LT(stand_out_margin(0.80, pol), 0) << "off stays off";

  DupesParams p;
  p.policy.cnn_stand_out = 0.02, p.policy.cnn_stand_out_growth = 0.5, p.policy.cnn_stand_out_from = 0.90;
  p.policy.cnn_unvisited_rivals = false;
  StandOutCase t;
  const std::vector<std::pair<uint32_t, uint32_t>> photo{{StandOutCase::c, StandOutCase::x}}, none;
  t.s_xc = 0.88f, t.s_xy = 0.84f;  // 0.04 below: outside the margin 0.03
  EXPECT_EQ(t.run(p), photo);
  t.s_xc = 0.82f, t.s_xy = 0.78f;  // 0.04 below, deep in the band: inside the margin 0.06
  EXPECT_EQ(t.run(p), none);
  t.s_xy = 0.75f;  // 0.07 below: outside it
  EXPECT_EQ(t.run(p), photo);
  p.policy.cnn_stand_out_growth = 0;
  t.s_xy = 0.78f;
  EXPECT_EQ(t.run(p), photo) << "no growth: the flat margin 0.02";
}

// Neighbours not visited yet are rivals with cnn_unvisited_rivals (match's rule), but only when they
// are closer to the candidate than to the kept image and below the band with it: a copy of the kept
// photo visited later (a sibling crop) hides nothing.
TEST(VerifyPolicy, UnvisitedNeighboursCountAsRivalsWhenAsked) {
  DupesParams p;
  p.policy.cnn_stand_out = 0.02, p.policy.cnn_stand_out_growth = 0;
  StandOutCase t;
  t.y_first = false;  // y is visited after x
  t.s_xc = 0.88f, t.s_xy = 0.89f, t.s_cy = 0.5f;
  const std::vector<std::pair<uint32_t, uint32_t>> photo{{StandOutCase::c, StandOutCase::x}}, none;
  p.policy.cnn_unvisited_rivals = false;
  EXPECT_EQ(t.run(p), photo) << "visited rivals only: the later neighbour does not count";
  p.policy.cnn_unvisited_rivals = true;
  EXPECT_EQ(t.run(p), none) << "the later neighbour is a rival";
  t.s_cy = 0.95f;  // y is nearer the photo than x is: a sibling copy, no rival
  EXPECT_EQ(t.run(p), photo);
  t.s_cy = 0.85f;  // y is in the band with the photo: it may still join it (a sibling crop), no rival
  EXPECT_EQ(t.run(p), photo);
  t.s_cy = 0.5f, t.s_xy = 0.85f;  // further than the margin below the photo's pair
  EXPECT_EQ(t.run(p), photo);
}

// judge_pair: the rule removes only the CNN band as a reason to verify; hash evidence and sure CNN
// pairs are unaffected.
TEST(VerifyPolicy, ANeighbourhoodRefusalLeavesHashEvidenceAndSurePairsAlone) {
  DupesParams p;
  const double sure = 0.01, band = 0.20;
  PairEvidence e;
  e.cnn_distance = 0.12;
  e.cnn_stands_out = false;
  EXPECT_EQ(judge_pair(e, p, sure, band, true).action, PairAction::none);
  e.cnn_stands_out = true;
  EXPECT_EQ(judge_pair(e, p, sure, band, true).action, PairAction::verify);
  e.cnn_stands_out = false;
  e.hash = HashMatch::band;
  e.hash_strength = 2.0;
  const PairJudgement j = judge_pair(e, p, sure, band, true);
  EXPECT_EQ(j.action, PairAction::verify);
  EXPECT_DOUBLE_EQ(j.strength, 2.0) << "the hash band decides the order, not the CNN";
  e.hash = HashMatch::none;
  e.cnn_distance = 0.005;
  EXPECT_EQ(judge_pair(e, p, sure, band, true).action, PairAction::accept);
}


// The dry passes (verify_all, check_all) go on from the first item whose taken answer was wrong
// instead of starting over, and the CNN distances are asked once per pair over all passes: the
// groups and every field of their evidence must be those of the sequential run (one pass, each
// pair verified when asked), on families of CNN copies and look-alikes whose verifier refuses
// an arbitrary third of the pairs and whose pixel check fails a quarter.
TEST(GroupDuplicates, ResumedDryPassesAndMemoizedDistancesGiveTheSequentialGroups) {
  std::mt19937_64 rng(14);
  std::normal_distribution<float> g(0.f, 1.f);
  constexpr int kDim = 12;
  std::vector<DupeItem> items;
  std::vector<std::array<float, kDim>> emb;
  const auto unit = [](std::array<float, kDim> v) {
    float s = 0;
    for (float x : v) s += x * x;
    for (float& x : v) x /= std::sqrt(s);
    return v;
  };
  for (int f = 0; f < 60; ++f) {
    std::array<float, kDim> photo{};
    for (float& x : photo) x = g(rng);
    photo = unit(photo);
    const uint64_t h = rng();
    for (int e = 0; e < 8; ++e) {
      std::array<float, kDim> v = photo;
      constexpr float kNoise[8] = {0.f, 0.01f, 0.02f, 0.06f, 0.09f, 0.12f, 0.15f, 0.2f};  // re-encodes to look-alikes
      const float noise = kNoise[e];
      for (float& x : v) x += noise * g(rng);
      items.push_back(item(e == 0 ? h : test::flip(h, int(rng() % 15), rng), "f" + std::to_string(f) + "-" + std::to_string(e),
                           2000 - 10 * e - int64_t(rng() % 5), 1000, e == 7 && f % 5 == 0 ? uint8_t(1 + f % 200) : uint8_t(0)));
      if (e == 0 && f % 5 == 0) items.back().content.fill(uint8_t(1 + f % 200));  // a byte copy: e == 7
      emb.push_back(unit(v));
    }
  }
  const size_t n = items.size();
  const auto cosine = [&](uint32_t a, uint32_t b) {
    float s = 0;
    for (int d = 0; d < kDim; ++d) s += emb[a][size_t(d)] * emb[b][size_t(d)];
    return s;
  };
  ExtraLinkage extra;
  extra.max_distance = 0.01f;
  for (uint32_t a = 0; a < n; ++a) {  // each item's 8 nearest, as the k-NN lists give them
    std::vector<std::pair<float, uint32_t>> near;
    for (uint32_t b = 0; b < n; ++b)
      if (b != a) near.push_back({-cosine(a, b), b});
    std::partial_sort(near.begin(), near.begin() + 8, near.end());
    for (int k = 0; k < 8; ++k)
      if (-near[size_t(k)].first >= 0.70f)
        extra.pairs.push_back({std::min(a, near[size_t(k)].second), std::max(a, near[size_t(k)].second), 1.f + near[size_t(k)].first});
  }
  std::map<std::pair<uint32_t, uint32_t>, int> distance_calls;
  std::mutex calls_mutex;
  extra.distance = [&](uint32_t a, uint32_t b) {
    std::lock_guard lock(calls_mutex);
    ++distance_calls[{a, b}];
    return 1.f - cosine(a, b);
  };
  const auto verdict = [](uint32_t keep, uint32_t cand) { return PairCheck{(keep * 31 + cand * 17) % 3 != 0, int(keep + cand)}; };
  const auto pixels = [](uint32_t keep, uint32_t cand) {
    PixelCheck c;
    c.agree = (keep + 3 * cand) % 4 != 0;
    return c;
  };
  DupesParams p;
  p.band.verify = [&](uint32_t k, uint32_t c) { return verdict(k, c); };
  p.band.check = [&](uint32_t k, uint32_t c) { return pixels(k, c); };
  const auto sequential = group_duplicates(items, p, extra);

  std::set<std::pair<uint32_t, uint32_t>> verified, checked;  // what verify_all and check_all were handed
  int lists = 0, misses = 0;
  p.band.verify_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
    ++lists;
    for (const auto& kc : pairs) EXPECT_TRUE(verified.insert(kc).second) << "handed twice";
  };
  p.band.check_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
    ++lists;
    for (const auto& kc : pairs) EXPECT_TRUE(checked.insert(kc).second) << "handed twice";
  };
  p.band.verify = [&](uint32_t k, uint32_t c) {
    misses += !verified.count({k, c});
    return verdict(k, c);
  };
  p.band.check = [&](uint32_t k, uint32_t c) {
    misses += !checked.count({k, c});
    return pixels(k, c);
  };
  for (const bool ahead : {false, true}) {  // distances asked one at a time, or the listed ones on threads first
    SCOPED_TRACE(ahead ? "distances ahead" : "distances when asked");
    extra.distance_thread_safe = ahead;
    p.threads = 2;
    distance_calls.clear(), verified.clear(), checked.clear(), lists = 0, misses = 0;
    const auto batched = group_duplicates(items, p, extra);

    EXPECT_GE(lists, 3) << "several dry passes: some taken answers were wrong";
    EXPECT_EQ(misses, 0);
    for (const auto& [pair, calls] : distance_calls) EXPECT_EQ(calls, 1) << pair.first << "," << pair.second;
    ASSERT_EQ(batched.size(), sequential.size());
    std::set<DupeKind> kinds;
    for (size_t gi = 0; gi < batched.size(); ++gi) {
      EXPECT_EQ(batched[gi].keep, sequential[gi].keep);
      EXPECT_EQ(batched[gi].keep_reason, sequential[gi].keep_reason);
      ASSERT_EQ(batched[gi].duplicates.size(), sequential[gi].duplicates.size());
      for (size_t m = 0; m < batched[gi].duplicates.size(); ++m) {
        const DupeMember &a = batched[gi].duplicates[m], &b = sequential[gi].duplicates[m];
        EXPECT_EQ(std::tie(a.index, a.kind, a.distance, a.variant_distance, a.variant, a.dhash_distance, a.inliers),
                  std::tie(b.index, b.kind, b.distance, b.variant_distance, b.variant, b.dhash_distance, b.inliers));
        EXPECT_EQ(std::bit_cast<uint64_t>(a.similarity), std::bit_cast<uint64_t>(b.similarity));
        kinds.insert(a.kind);
      }
    }
    EXPECT_EQ(kinds, (std::set<DupeKind>{DupeKind::exact, DupeKind::near, DupeKind::cnn, DupeKind::verified}));
  }
}


// A later dry pass takes again the decisions of the items whose inputs did not change; one whose
// reads changed decides again. Here the photo's band edit B is taken as confirmed by the first dry
// pass (a duplicate of A), so B's byte copy D, its near copy E (hash 3 bits from B, 14 from A) and
// its CNN copy F (each far from the others by hash) find nothing kept and are kept themselves, without asking anything. The verifier
// refuses (A, B): B is kept in the next pass, and D (same content class), E (a neighbour hash
// value) and F (a CNN neighbour) must join it, as in the sequential run.
TEST(GroupDuplicates, ALaterDryPassRedecidesWhoReadsAChangedDecision) {
  std::vector<DupeItem> items{item(0, "A.jpg", 1000), item(0x7FFull, "B.jpg", 900, 1000, 9),
                              item(0x7FFull ^ (0x1FFFull << 20), "D.jpg", 800, 1000, 9), item(0x3FFFull, "E.jpg", 700),
                              item(0xFFFFFFull << 40, "F.jpg", 600)};
  constexpr uint32_t A = 0, B = 1, D = 2, E = 3, F = 4;
  ExtraLinkage extra;
  extra.max_distance = 0.01f;
  extra.pairs.push_back({B, F, 0.005f});
  extra.distance = [](uint32_t a, uint32_t b) { return (a == B && b == F) || (a == F && b == B) ? 0.005f : 0.7f; };
  DupesParams p;
  std::vector<std::pair<uint32_t, uint32_t>> handed;
  p.band.verify = [](uint32_t keep, uint32_t cand) { return PairCheck{!(keep == A && cand == B), 60}; };
  const auto sequential = group_duplicates(items, p, extra);
  ASSERT_EQ(sequential.size(), 1u);
  EXPECT_EQ(sequential[0].keep, B);
  std::set<size_t> members;
  for (const DupeMember& m : sequential[0].duplicates) members.insert(m.index);
  EXPECT_EQ(members, (std::set<size_t>{D, E, F}));

  p.band.verify_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& pairs) { handed.insert(handed.end(), pairs.begin(), pairs.end()); };
  const auto batched = group_duplicates(items, p, extra);
  EXPECT_EQ(handed, (std::vector<std::pair<uint32_t, uint32_t>>{{A, B}})) << "only B asked, in the first dry pass";
  ASSERT_EQ(batched.size(), 1u);
  EXPECT_EQ(batched[0].keep, B);
  ASSERT_EQ(batched[0].duplicates.size(), sequential[0].duplicates.size());
  for (size_t m = 0; m < batched[0].duplicates.size(); ++m) {
    const DupeMember &a = batched[0].duplicates[m], &b = sequential[0].duplicates[m];
    EXPECT_EQ(std::tie(a.index, a.kind, a.distance, a.inliers, a.similarity), std::tie(b.index, b.kind, b.distance, b.inliers, b.similarity));
  }
}

}  // namespace
}  // namespace irbis
