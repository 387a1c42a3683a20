// The hash path of `irbis dupes` and `irbis match` at collection scale, on synthetic hash rows
// (no images): n items with a pHash, its mirror variant and a dHash, of which 1 % are planted
// copies of another item (pHash 0..16 and dHash 0..12 bits flipped, some mirrored).
//
//   dupes_scale_bench [n=100000] [queries=1000] [threads=2] [phash-only | both | before | nodry]
//
// "phash-only": the rows have no dHash, so the pHash-only rule of before (band pHash <= 12) runs,
// for a side-by-side on the same rows. "both": group_duplicates with the band search of before
// (a self-join of the dHashes and mirrored dHashes at radius 12, impl::use_two_hash_join(false))
// and then with today's (the (pHash, dHash) join), on the same rows in one run, and CHECKS that
// the groups, every duplicate's evidence and the verifier calls are identical (exit 1 if not).
// "before": only the search of before. "nodry": no verify_all (one pass, as main's bench of
// before ran it). Each run prints CPU, wall and its own peak RSS.
// Times (1) group_duplicates at the defaults with a verifier that accepts every band pair and
// counts them, and a verify_all that counts its lists (the dry passes of find_collection_dupes) (the pairs a real run would verify; the real cost per pair is in BENCHMARKS.md),
// (2) `match`'s hash stage for `queries` new rows against the n: the pHash search (with the
// mirror probe), the dHash search (with the mirrored dHash) and judge_hash_pair on every candidate.
// Random rows have no chance pairs in the band (a 64-bit random pair is within it with p ~ 1e-9);
// the chance pairs of real photos come from docs/calibration.md ("Two hashes agree").
#include <algorithm>
#include <bit>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "analysis/impl/two_hash_join.h"
#include "bench_clock.h"
#include "irbis/dupes.h"
#include "irbis/hashes.h"

namespace {
using irbis::bench::Clock;
using irbis::bench::since;
// CPU seconds of the process (all threads): on a shared machine wall time is mostly waiting.
double cpu_now() { return irbis::bench::process_cpu_seconds(); }
// Peak RSS since the last reset_peak_rss (Linux: clear_refs 5 resets VmHWM), in MB.
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }
double peak_rss_since_reset_mb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return irbis::bench::peak_rss_mb();
}
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
  const std::string mode = argc > 4 ? argv[4] : "";
  const bool phash_only = mode == "phash-only";
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
  std::set<std::pair<uint32_t, uint32_t>> band_pairs;  // distinct pairs asked (a real verifier caches)
  p.band.verify = [&](uint32_t keep, uint32_t cand) {
    band_pairs.emplace(keep, cand);
    return irbis::PairCheck{true, 20};
  };
  // As find_collection_dupes does: dry passes of the grouping list the band pairs to verify together.
  size_t dry_lists = 0;
  if (mode != "nodry") p.band.verify_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>&) { ++dry_lists; };
  std::printf("CPU: %s\n", irbis::bench::cpu_model().c_str());
  using Row = std::tuple<size_t, size_t, int, int, int, int, int>;
  auto run = [&](const char* label) {
    band_pairs.clear();
    dry_lists = 0;
    reset_peak_rss();
    const auto t0 = Clock::now();
    const double c0 = cpu_now();
    const auto groups = irbis::group_duplicates(items, p);
    const double s_group = since(t0), c_group = cpu_now() - c0;
    std::vector<Row> rows;
    for (const auto& g : groups)
      for (const auto& d : g.duplicates)
        rows.emplace_back(g.keep, d.index, int(d.kind), d.distance, d.variant_distance, d.dhash_distance, d.inliers);
    std::printf("%s%sgroup_duplicates n=%zu (%zu planted copies), defaults (pHash %d with dHash <= %d sure; band pHash <= %d "
                "and dHash <= %d), threads=%d: %.3f s wall, %.3f s CPU, peak RSS %.0f MB, %zu duplicates, %zu band pairs verified (%zu verify_all lists)\n",
                label, phash_only ? "[no dHash: pHash-only band <= 12] " : "", n, planted, p.max_distance, p.agreement.max_sure_dhash,
                p.agreement.max_band_phash, p.agreement.max_band_dhash, threads, s_group, c_group, peak_rss_since_reset_mb(),
                rows.size(), band_pairs.size(), dry_lists);
    return std::pair{rows, band_pairs};
  };
  if (mode == "both" || mode == "before") {
    irbis::impl::use_two_hash_join(false);
    const auto before = run("[band search before: dHash self-join at radius 12] ");
    irbis::impl::use_two_hash_join(true);
    if (mode == "both") {
      const auto now = run("[band search now: (pHash, dHash) join] ");
      const bool same = now == before;
      std::printf("groups, evidence and verifier calls identical: %s\n", same ? "yes" : "NO");
      if (!same) return 1;
    }
  } else {
    run("");
  }

  if (!mode.empty() && mode != "nodry") return 0;
  // match: nq new rows (half of them copies of collection rows) against the n.
  std::vector<uint64_t> ph(n), dh(n);
  for (size_t i = 0; i < n; ++i) ph[i] = items[i].hash, dh[i] = *items[i].dhash;
  std::vector<irbis::DupeItem> queries;
  for (size_t q = 0; q < nq; ++q) queries.push_back(q % 2 ? random_item(q) : copy_of(items[rng() % n], q));
  auto t0 = Clock::now();
  double c0 = cpu_now();
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
