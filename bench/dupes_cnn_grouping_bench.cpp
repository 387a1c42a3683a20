// The grouping step of `dupes --cnn` at collection scale, without the vector search and without
// decoding: how much the CNN candidates (k-NN pairs, and the kept image of a neighbour that is
// already a duplicate) cost group_duplicates, and how many band pairs it hands to the verifier.
// Plain timing program (one timed run per setting).
//
//   dupes_cnn_grouping_bench [n=100000] [copies=10] [share=0.5] [k=10]
//
// n items with random (far apart) pHashes; `share` of them are in families of one photo plus
// `copies` edits: the edits of a family are at CNN distance 0.002 from each other and 0.005
// (sure, re-encodes) or 0.10 (band, crops: every third edit) from the photo; each item's k-NN list
// holds its nearest family members (the photo is listed last, so a crop's list may miss it) and
// random others at distance 0.5 (outside the band). The verifier is a stub that confirms (its
// real cost, ~17-24 ms CPU per pair, is docs/calibration.md's): the program prints the grouping
// seconds, the band pairs verified and the recall of edits grouped with their photo.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "irbis/dupes.h"

int main(int argc, char** argv) {
  using namespace irbis;
  const size_t n = argc > 1 ? std::stoul(argv[1]) : 100'000;
  const size_t copies = argc > 2 ? std::stoul(argv[2]) : 10;
  const double share = argc > 3 ? std::stod(argv[3]) : 0.5;
  const size_t k = argc > 4 ? std::stoul(argv[4]) : 10;
  std::mt19937_64 rng(14);
  std::vector<DupeItem> items(n);
  std::vector<int64_t> family(n, -1), photo_of(n, -1);
  std::vector<char> band_edit(n, 0);
  const size_t families = size_t(double(n) * share) / (copies + 1);
  for (size_t i = 0; i < n; ++i) {
    items[i].hash = rng();
    items[i].path = "img" + std::to_string(i);
    items[i].pixels = 1'000'000 + int64_t(rng() % 1000);
  }
  std::vector<std::vector<uint32_t>> members(families);
  for (size_t f = 0; f < families; ++f) {
    const size_t p = f * (copies + 1);
    items[p].pixels = 2'000'000;  // the photo has the most pixels: it is kept
    for (size_t c = 0; c <= copies; ++c) {
      family[p + c] = int64_t(f), photo_of[p + c] = int64_t(p);
      members[f].push_back(uint32_t(p + c));
      if (c > 0 && c % 3 == 0) band_edit[p + c] = 1, items[p + c].pixels = 500'000;  // a crop
    }
  }
  auto dist = [&](uint32_t a, uint32_t b) -> float {
    if (family[a] < 0 || family[a] != family[b]) return 0.5f;
    const bool pa = photo_of[a] == a, pb = photo_of[b] == b;
    if (pa || pb) return band_edit[pa ? b : a] ? 0.10f : 0.005f;
    return 0.002f;
  };
  ExtraLinkage extra;
  extra.max_distance = 0.01f;
  extra.distance = dist;
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint32_t> nb;
    if (family[i] >= 0) {
      for (uint32_t m : members[size_t(family[i])])
        if (m != i && m != uint32_t(photo_of[i])) nb.push_back(m);
      if (photo_of[i] != int64_t(i)) nb.push_back(uint32_t(photo_of[i]));  // the photo last
    }
    while (nb.size() < k) nb.push_back(uint32_t(rng() % n));
    nb.resize(k);
    for (uint32_t j : nb)
      if (j != i) extra.pairs.push_back({uint32_t(std::min<size_t>(i, j)), uint32_t(std::max<size_t>(i, j)), dist(uint32_t(i), j)});
  }
  size_t verified = 0;
  DupesParams p;
  p.band.max_hash_distance = 0;
  p.band.max_extra_distance = 0.2f;
  p.band.verify = [&](uint32_t, uint32_t) {
    ++verified;
    return PairCheck{true, 50};
  };
  const auto t0 = std::chrono::steady_clock::now();
  const auto groups = group_duplicates(items, p, extra);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t found = 0, edits = 0;
  for (const auto& g : groups)
    for (const auto& d : g.duplicates) found += photo_of[d.index] == int64_t(g.keep);
  for (size_t i = 0; i < n; ++i) edits += family[i] >= 0 && photo_of[i] != int64_t(i);
  std::printf("n %zu, families %zu x (1 + %zu), k %zu, CNN pairs %zu: grouping %.3f s, band pairs verified %zu, "
              "edits with their photo %zu / %zu\n",
              n, families, copies, k, extra.pairs.size(), s, verified, found, edits);
  return 0;
}
