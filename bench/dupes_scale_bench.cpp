// The hash path of `irbis dupes` and `irbis match` at collection scale, on synthetic hash rows
// (no images): n items with a pHash, its mirror variant and a dHash, of which 1 % are planted
// copies of another item (pHash 0..16 and dHash 0..12 bits flipped, some mirrored).
//
//   dupes_scale_bench [n=100000] [queries=1000] [threads=2] [phash-only]
//
// "phash-only": the rows have no dHash, so the pHash-only rule of before (band pHash <= 12) runs,
// for a side-by-side on the same rows.
// Times (1) group_duplicates at the defaults with a verifier that accepts every band pair and
// counts them (the pairs a real run would verify; the real cost per pair is in BENCHMARKS.md),
// (2) `match`'s hash stage for `queries` new rows against the n: the pHash search (with the
// mirror probe), the dHash search (with the mirrored dHash) and judge_hash_pair on every candidate.
// Random rows have no chance pairs in the band (a 64-bit random pair is within it with p ~ 1e-9);
// the chance pairs of real photos come from docs/calibration.md ("Two hashes agree").
#include <algorithm>
#include <bit>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "irbis/dupes.h"
#include "irbis/hashes.h"

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
// CPU seconds of the process (all threads): on a shared machine wall time is mostly waiting.
double cpu_now() { return double(std::clock()) / CLOCKS_PER_SEC; }
uint64_t flip(uint64_t h, int d, std::mt19937_64& rng) {
  uint64_t mask = 0;
  while (std::popcount(mask) < d) mask |= uint64_t(1) << (rng() % 64);
  return h ^ mask;
}
}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::stoul(argv[1]) : 100'000;
  const size_t nq = argc > 2 ? std::stoul(argv[2]) : 1'000;
  const int threads = argc > 3 ? std::stoi(argv[3]) : 2;
  const bool phash_only = argc > 4 && std::string(argv[4]) == "phash-only";
  std::mt19937_64 rng(1);
  auto random_item = [&](size_t i) {
    irbis::DupeItem it;
    it.hash = rng();
    it.variants = {rng()};
    it.dhash = rng();
    it.pixels = 1000 + int64_t(i % 7);
    it.file_size = int64_t(i);
    it.path = "img/" + std::to_string(i) + ".jpg";
    return it;
  };
  auto copy_of = [&](const irbis::DupeItem& base, size_t i) {
    irbis::DupeItem it = base;
    const bool mirror = rng() % 4 == 0;
    it.hash = flip(mirror ? base.variants[0] : base.hash, int(rng() % 17), rng);
    it.variants = {mirror ? base.hash : rng()};
    it.dhash = flip(mirror ? irbis::dhash_mirrored(*base.dhash) : *base.dhash, int(rng() % 13), rng);
    it.pixels = 500;
    it.path = "copy/" + std::to_string(i) + ".jpg";
    return it;
  };
  std::vector<irbis::DupeItem> items;
  const size_t planted = n / 100;
  for (size_t i = 0; i + planted < n; ++i) items.push_back(random_item(i));
  for (size_t k = 0; k < planted; ++k) items.push_back(copy_of(items[rng() % (n - planted)], k));
  if (phash_only)
    for (auto& it : items) it.dhash.reset();

  irbis::DupesParams p;
  p.threads = threads;
  size_t band_pairs = 0;
  p.band.verify = [&](uint32_t, uint32_t) {
    ++band_pairs;
    return irbis::PairCheck{true, 20};
  };
  auto t0 = Clock::now();
  double c0 = cpu_now();
  const auto groups = irbis::group_duplicates(items, p);
  const double s_group = since(t0), c_group = cpu_now() - c0;
  size_t dups = 0;
  for (const auto& g : groups) dups += g.duplicates.size();
  std::printf("%sgroup_duplicates n=%zu (%zu planted copies), defaults (pHash %d with dHash <= %d sure; band pHash <= %d "
              "and dHash <= %d), threads=%d: %.3f s wall, %.3f s CPU, %zu duplicates, %zu band pairs verified\n",
              phash_only ? "[no dHash: pHash-only band <= 12] " : "", n, planted, p.max_distance, p.agreement.max_sure_dhash, p.agreement.max_band_phash,
              p.agreement.max_band_dhash, threads, s_group, c_group, dups, band_pairs);

  if (phash_only) return 0;
  // match: nq new rows (half of them copies of collection rows) against the n.
  std::vector<uint64_t> ph(n), dh(n);
  for (size_t i = 0; i < n; ++i) ph[i] = items[i].hash, dh[i] = *items[i].dhash;
  std::vector<irbis::DupeItem> queries;
  for (size_t q = 0; q < nq; ++q) queries.push_back(q % 2 ? random_item(q) : copy_of(items[rng() % n], q));
  t0 = Clock::now();
  c0 = cpu_now();
  std::vector<uint64_t> pprobe, dprobe;
  for (const auto& q : queries) {
    pprobe.push_back(q.hash), pprobe.push_back(q.variants[0]);
    dprobe.push_back(*q.dhash), dprobe.push_back(irbis::dhash_mirrored(*q.dhash));
  }
  auto cand = irbis::find_near_query_pairs(ph, pprobe, p.max_distance);
  const auto dcand = irbis::find_near_query_pairs(dh, dprobe, p.agreement.max_band_dhash);
  cand.insert(cand.end(), dcand.begin(), dcand.end());
  size_t sure = 0, band = 0;
  irbis::DupeItem coll;
  for (const auto& c : cand) {
    coll.hash = ph[c.item];
    coll.dhash = dh[c.item];
    irbis::DupeMember m;
    double st = 0;
    const auto h = irbis::judge_hash_pair(queries[c.query / 2], coll, p, true, m, st);
    sure += h == irbis::HashMatch::sure;
    band += h == irbis::HashMatch::band;
  }
  const double s_match = since(t0), c_match = cpu_now() - c0;
  std::printf("match hash stage: %zu queries against %zu: %.3f s wall, %.3f s CPU, %zu candidates (%zu sure, %zu band; a pair found by "
              "both searches counts twice)\n",
              nq, n, s_match, c_match, cand.size(), sure, band);
  return 0;
}
