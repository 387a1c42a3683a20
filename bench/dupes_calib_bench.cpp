// Runs find_collection_dupes (the library's keep-centred grouping) with every knob of the
// calibration exposed, and writes the groups as `irbis dupes --format csv` does plus the evidence
// columns, for bench/score_copydays.py. See docs/calibration.md ("Copydays-style set").
// usage: dupes_calib_bench COLL [--t N] [--variants K] [--band-hash N] [--cnn] [--sim X]
//                              [--band-sim X] [--no-verify] [--out groups.csv]
//   --variants K   compare K of the stored variant hashes (0 none, 1 mirror, 7 all dihedral)
//   --band-hash N  hash pairs with t < d <= N are geometrically verified (N <= t: no hash band)
//   --band-sim X   CNN pairs with X <= similarity < --sim are verified
// Prints one summary line to stderr: groups, duplicates, pairs verified, ms per verified pair.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/dupes.h"
#include "irbis/results.h"
#include "irbis/text.h"

using namespace irbis;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s COLL [--t N] [--variants K] [--band-hash N] [--cnn] [--sim X] [--band-sim X] [--no-verify] [--out F]\n", argv[0]);
    return 2;
  }
  DupesParams p;
  CnnDupesOptions cnn;
  std::string out_path = "/dev/stdout";
  bool verify = true;
  double band_sim = -1;
  for (int a = 2; a < argc; ++a) {
    const std::string k = argv[a];
    auto next = [&]() { return std::string(a + 1 < argc ? argv[++a] : ""); };
    if (k == "--t") p.max_distance = std::stoi(next());
    else if (k == "--variants") p.variants_used = std::stoi(next());
    else if (k == "--band-hash") p.band.max_hash_distance = std::stoi(next());
    else if (k == "--cnn") cnn.enabled = true;
    else if (k == "--sim") cnn.min_similarity = std::stod(next());
    else if (k == "--band-sim") band_sim = std::stod(next());
    else if (k == "--no-verify") verify = false;
    else if (k == "--out") out_path = next();
    else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
  }
  if (band_sim >= 0) p.band.max_extra_distance = float(1.0 - band_sim);
  if (!verify) p.band.max_hash_distance = 0, p.band.max_extra_distance = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto coll = Collection::open(argv[1]);
  const CollectionDupes found = find_collection_dupes(*coll, p, cnn);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ofstream out(out_path);
  const Table t = dupes_table(found, cnn.enabled);  // the CSV `irbis dupes --format csv` writes
  write_csv_row(out, t.header);
  for (const auto& r : t.rows) write_csv_row(out, r);
  const size_t dupes = found.duplicates();
  std::fprintf(stderr, "groups %zu duplicates %zu images %zu seconds %.2f verified_pairs %zu ms_per_verified_pair %.1f\n",
               found.groups.size(), dupes, found.records.size(), secs, found.pairs_verified,
               found.pairs_verified ? 1000.0 * found.verify_seconds / double(found.pairs_verified) : 0.0);
  return 0;
}
