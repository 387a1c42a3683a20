// `irbis match` and `irbis dupes --cnn` at collection scale, after the decode (issue 14: 1 000 new
// images against 100 000 in <= 10 s; dupes --cnn on 100 000 in <= 30 s on 2 cores, verification
// included). Writes a synthetic collection of N images through the Collection API (the default
// model's embeddings from a Gaussian mixture, random pHash/dHash rows; 1 % of the images are
// edits of an earlier one: pHash 0-16 / dHash 0-12 bits away, cosine 0.80-0.999), then:
//   1. opens a CollectionMatcher (the vector index is built once and saved, as `irbis index` leaves
//      it; timed apart) and matches Q query feature rows (half edits of collection images, half new
//      images from the same mixture) through CollectionMatcher::match(MatchQuery, verifier): the
//      whole decision path of `irbis match` after the decode and the forward pass;
//   2. runs find_collection_dupes with CNN pairs on the collection (the k-NN self-join, the hash
//      searches, the keep-centred grouping).
// The verifier of both is a counter that confirms pairs of one family (an image and its edits); the
// cost of a real verification is measured on real photos when --photos SET is given (a
// Copydays-style set: bench/make_copydays_set.py; pairs of an original and one of its edits, and
// of two different originals, each decoded at 512 px and verified like `dupes` does), so the
// totals are (measured seconds) + (verified pairs) x (measured CPU per pair); sure pairs' pixel
// checks are counted and costed the same way. With --real-verify 1 each rule whose modelled
// verification is at most --real-max-cpu seconds runs again with real work: every pair the counter
// is asked about is also verified for real on real photos (RealWork), on the threads the run uses
// (match: --threads query workers; dupes: verify_all), so wall and CPU are measured, not modelled.
// --rules M[:G[:all]],... : the neighbourhood rules (VerifyPolicy cnn_stand_out M, growth G,
// unvisited rivals with "all"); -1 = off.
//   build/bench/match_scale_bench --n 100000 --queries 1000 --dir /tmp/match100k [--photos /tmp/h14set]
//       [--rules -1,0.02,0.02:0.5:all] [--threads 2] [--real-verify 1] [--dry-passes 1]
// --dry-passes 1: dupes runs once more with verify_all/check_all as counters (no real work), so
// that the dry passes of the grouping are timed apart from the verifier.
// The first dupes run on a collection joins (self_knn) and saves the answer in <dir>/index
// (docs/search.md, "The saved self-join"); later runs on the same rows read it. Each dupes line
// says whether a saved answer was present before it (read when its key matches: the decisions
// then take ~2 s instead of ~8 at 100 000); --fresh-self-join 1 removes the saved answer before
// every dupes run (the first run's cost, every time).
#include <algorithm>
#include <functional>
#include <bit>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <opencv2/core.hpp>

#include "bench_clock.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/collection_layout.h"
#include "irbis/image.h"
#include "irbis/model.h"
#include "irbis/verify.h"
#include "synthetic_embeddings.h"

namespace fs = std::filesystem;
using irbis::bench::Clock;
using irbis::bench::process_cpu_seconds;
using irbis::bench::since;

namespace {

constexpr uint64_t kSeed = 14;

// A unit vector at cosine `c` from unit vector x (x plus an orthogonal Gaussian direction).
std::vector<float> at_cosine(const float* x, int d, double c, std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> e(static_cast<size_t>(d));
  double dot = 0, nn = 0;
  for (int j = 0; j < d; ++j) e[size_t(j)] = g(rng), dot += double(e[size_t(j)]) * x[j];
  for (int j = 0; j < d; ++j) e[size_t(j)] -= float(dot) * x[j], nn += double(e[size_t(j)]) * e[size_t(j)];
  const double r = std::sqrt(std::max(0.0, 1.0 / (c * c) - 1.0)) / std::sqrt(nn);
  std::vector<float> y(static_cast<size_t>(d));
  double s = 0;
  for (int j = 0; j < d; ++j) y[size_t(j)] = x[j] + float(r) * e[size_t(j)], s += double(y[size_t(j)]) * y[size_t(j)];
  for (float& v : y) v = float(v / std::sqrt(s));
  return y;
}

uint64_t flip(uint64_t h, int bits, std::mt19937_64& rng) {
  uint64_t mask = 0;
  while (std::popcount(mask) < bits) mask |= 1ull << (rng() % 64);
  return h ^ mask;
}

// An edit's hashes and cosine: a quarter sure (re-encodes: pHash <= 2, dHash <= 2, cos >= 0.99),
// the rest spread over the band (crops, rotations, overlays).
struct Edit {
  int phash_bits, dhash_bits;
  double cosine;
};
Edit draw_edit(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  if (u(rng) < 0.25) return {int(rng() % 3), int(rng() % 3), 0.99 + 0.009 * u(rng)};
  return {int(rng() % 17), int(rng() % 13), 0.80 + 0.19 * u(rng)};
}

std::string path_of(int64_t i, int64_t family) {
  return "/photos/f" + std::to_string(family) + "/" + std::to_string(i) + ".jpg";
}
int64_t family_of(const std::string& path) { return std::stoll(path.substr(9, path.find('/', 9) - 9)); }
// The image's own number (its file name): an edit's differs from its family's.
int64_t family_of_self(const std::string& path) {
  const size_t slash = path.rfind('/');
  return std::stoll(path.substr(slash + 1, path.rfind('.') - slash - 1));
}

void write_collection(const fs::path& dir, int64_t n, const cv::Mat& x, int dim, const std::string& emb) {
  std::cerr << "writing " << n << " synthetic images to " << dir << "\n";
  auto c = irbis::Collection::open_or_create(dir);
  c->ensure_feature({emb, "f32", dim});
  c->ensure_feature({irbis::kHashesFeature, "u64", 3});
  std::mt19937_64 rng(kSeed);
  std::vector<std::array<uint64_t, 3>> hashes;
  std::vector<int64_t> family;
  for (int64_t i = 0; i < n; ++i) {
    std::array<uint64_t, 3> h{rng(), rng(), rng()};
    std::vector<float> e(x.ptr<float>(int(i)), x.ptr<float>(int(i)) + dim);
    int64_t fam = i;
    if (i > 0 && i % 100 == 0) {  // 1 %: an edit of an earlier image
      int64_t j = int64_t(rng() % uint64_t(i));
      if (j > 0 && j % 100 == 0) --j;  // an original: its row of x is its embedding
      const Edit ed = draw_edit(rng);
      fam = family[size_t(j)];
      h = {flip(hashes[size_t(j)][0], ed.phash_bits, rng), flip(hashes[size_t(j)][1], ed.dhash_bits, rng), rng()};
      e = at_cosine(x.ptr<float>(int(j)), dim, ed.cosine, rng);
    }
    hashes.push_back(h);
    family.push_back(fam);
    const irbis::ImageRecord r = irbis::bench::synthetic_record(i, path_of(i, fam), rng);
    c->stage_image(r, {{emb, {reinterpret_cast<const uint8_t*>(e.data()), e.size() * sizeof(float)}},
                       {irbis::kHashesFeature, {reinterpret_cast<const uint8_t*>(h.data()), sizeof(h)}}});
    if ((i + 1) % 10000 == 0) c->commit();
  }
  c->commit();
}

// CPU seconds per verified pair on real photos: `pairs` (original, edit) pairs and as many
// (original, other original) pairs of a Copydays-style set. First each pair with a fresh verifier
// (no cache: both images decoded and their keypoints computed for the pair alone), then all pairs of
// a kind through one verifier, whose Stats split the CPU into per image (512 px decode + keypoints,
// once while cached) and per pair (matching, fit, dense check): the cost of a run is then
// images x per image + pairs x per pair.
struct VerifyCost {
  double per_image = 0, per_pair_copy = 0, per_pair_other = 0;  // CPU seconds
  double per_check_image = 0, per_check = 0;  // pixel check of a sure pair: grey decode per image, compare per pair
};
VerifyCost measure_verification(const fs::path& set, int pairs, int work_side) {
  VerifyCost cost;
  std::vector<fs::path> originals = irbis::bench::sorted_files(set / "orig");
  std::vector<fs::path> edits = irbis::bench::sorted_files(set / "edit");
  if (originals.size() < 2 || edits.empty()) {
    std::cout << "no photos under " << set << "/orig and /edit\n";
    return cost;
  }
  irbis::VerifyParams vp;
  vp.work_side = work_side;
  const auto loader = [&vp](const std::vector<fs::path>& files) {
    return [&vp, &files](uint32_t i) {
      irbis::DecodeOptions o;
      o.min_side = vp.work_side;
      return irbis::decode_image(irbis::read_file_bytes(files[i].string(), uint64_t(1) << 31), o).rgb;
    };
  };
  double images_cpu = 0;
  size_t images = 0;
  for (int kind = 0; kind < 2; ++kind) {
    double cpu = 0, wall = 0;
    int same = 0, done = 0;
    std::vector<fs::path> all;  // every pair's two files, for the shared verifier below
    for (int k = 0; k < pairs; ++k) {
      const fs::path a = originals[size_t(k) % originals.size()];
      fs::path b = originals[(size_t(k) + 1) % originals.size()];
      if (kind == 0) {  // an edit of a: the k-th edit file whose name starts with a's stem
        const std::string stem = a.stem().string() + ".";
        std::vector<fs::path> mine;
        for (const auto& e : edits)
          if (e.filename().string().rfind(stem, 0) == 0) mine.push_back(e);
        if (mine.empty()) continue;
        b = mine[size_t(k) % mine.size()];
      }
      const std::vector<fs::path> files{a, b};
      all.push_back(a), all.push_back(b);
      irbis::PairVerifier v(loader(files), vp);
      const double c0 = process_cpu_seconds();
      const auto t0 = Clock::now();
      same += v.verify(0, 1).same;
      cpu += process_cpu_seconds() - c0;
      wall += since(t0);
      ++done;
    }
    irbis::PairVerifier shared(loader(all), vp, all.size() + 2);
    for (size_t k = 0; k + 1 < all.size(); k += 2) shared.verify(uint32_t(k), uint32_t(k + 1));
    const irbis::PairVerifier::Stats st = shared.stats();
    const double per_pair = st.pair_cpu_seconds / double(std::max<size_t>(1, st.pairs));
    images_cpu += st.image_cpu_seconds, images += st.images;
    (kind == 0 ? cost.per_pair_copy : cost.per_pair_other) = per_pair;
    std::printf("real verification at %d px, %s: %d pairs, %d confirmed, fresh verifier per pair %.1f ms CPU / pair "
                "(%.1f ms wall); split: %.1f ms CPU per image (decode + keypoints), %.1f ms CPU per pair (match, fit, dense check)\n",
                work_side, kind == 0 ? "original vs its edit" : "two different originals", done, same,
                1e3 * cpu / std::max(1, done), 1e3 * wall / std::max(1, done),
                1e3 * st.image_cpu_seconds / double(std::max<size_t>(1, st.images)), 1e3 * per_pair);
  }
  cost.per_image = images_cpu / double(std::max<size_t>(1, images));
  // The pixel check of sure pairs (VerifyPolicy::check_sure_pixels) on the copy pairs: a grey decode
  // per image (no keypoints), then the tile comparison per pair.
  std::vector<fs::path> all;
  for (int k = 0; k < pairs; ++k) {
    const fs::path a = originals[size_t(k) % originals.size()];
    const std::string stem = a.stem().string() + ".";
    std::vector<fs::path> mine;
    for (const auto& e : edits)
      if (e.filename().string().rfind(stem, 0) == 0) mine.push_back(e);
    if (!mine.empty()) all.push_back(a), all.push_back(mine[size_t(k) % mine.size()]);
  }
  irbis::PairVerifier checker(loader(all), vp, all.size() + 2);
  const double c0 = process_cpu_seconds();
  for (size_t k = 0; k + 1 < all.size(); k += 2) checker.check(uint32_t(k), uint32_t(k + 1));
  const double cpu = process_cpu_seconds() - c0;
  const irbis::PairVerifier::Stats st = checker.stats();
  cost.per_check_image = st.image_cpu_seconds / double(std::max<size_t>(1, st.images));
  cost.per_check = std::max(0.0, cpu - st.image_cpu_seconds) / double(std::max<size_t>(1, all.size() / 2));
  std::printf("real pixel check at %d px grey: %zu copy pairs, %.1f ms CPU per image (decode), %.2f ms CPU per pair (compare)\n",
              vp.work_side, all.size() / 2, 1e3 * cost.per_check_image, 1e3 * cost.per_check);
  return cost;
}

// A verifier that does the work of a real one while the counter decides: collection item i is
// real photo i % photos (decoded at the work size, keypoints cached by item as PairVerifier does),
// a query is a real photo decoded once per query. Its answers are thrown away: the synthetic
// families decide (so the decisions, and the pairs verified, are the counter's), and the CPU and
// wall are those of real verifications of that many pairs and images on real photos.
struct RealWork {
  std::vector<fs::path> photos;
  irbis::VerifyParams vp;
  std::unique_ptr<irbis::PairVerifier> verifier;
  RealWork(const fs::path& set, int first_test_side) {
    vp.first_test_side = first_test_side;
    for (const char* sub : {"orig", "edit", "neg"})
      for (auto& f : irbis::bench::sorted_files(set / sub)) photos.push_back(f);
    reset();
  }
  void reset() {
    verifier = std::make_unique<irbis::PairVerifier>([this](uint32_t i) { return decode(i); }, vp);
    verifier->set_first_test_loader([this](uint32_t i) { return decode(i, vp.first_test_side, true); });
  }
  cv::Mat decode(size_t i, int side = 0, bool gray = false) const {  // as `dupes` loads (the first test grey)
    irbis::DecodeOptions o;
    o.min_side = side > 0 ? side : vp.work_side;
    const auto bytes = irbis::read_file_bytes(photos[i % photos.size()].string(), uint64_t(1) << 31);
    return gray ? irbis::decode_gray(bytes, o) : irbis::decode_image(bytes, o).rgb;
  }
  // The query's image, decoded once per query on its thread (match decodes a query once too).
  const cv::Mat& query_image(size_t k) const {
    thread_local size_t last = SIZE_MAX;
    thread_local cv::Mat img;
    if (last != k) img = decode(k * 7919 + 13), last = k;
    return img;
  }
};

// One neighbourhood rule to run (VerifyPolicy): stand-out margin, its growth, which rivals count.
struct Rule {
  double stand_out = 0.02, growth = 0;
  bool all_rivals = false;
  std::string name() const {
    char b[96];
    std::snprintf(b, sizeof b, "stand-out %.2f growth %.2f rivals %s", stand_out, growth, all_rivals ? "all" : "visited");
    return stand_out < 0 ? std::string("stand-out off") : std::string(b);
  }
  void apply(irbis::VerifyPolicy& p) const {
    p.cnn_stand_out = stand_out, p.cnn_stand_out_growth = growth, p.cnn_unvisited_rivals = all_rivals;
  }
};
// "M[:G[:all|visited]]" per rule, comma-separated.
std::vector<Rule> parse_rules(const std::string& v) {
  std::vector<Rule> out;
  for (size_t at = 0; at <= v.size();) {
    const size_t comma = std::min(v.find(',', at), v.size());
    const std::string one = v.substr(at, comma - at);
    Rule r;
    const size_t c1 = one.find(':');
    r.stand_out = std::stod(one.substr(0, c1));
    if (c1 != std::string::npos) {
      const size_t c2 = one.find(':', c1 + 1);
      r.growth = std::stod(one.substr(c1 + 1, c2 - c1 - 1));
      if (c2 != std::string::npos) r.all_rivals = one.substr(c2 + 1) == "all";
    }
    out.push_back(r);
    at = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 100000;
  int queries = 1000, verify_pairs = 40, threads = 2;
  double real_max_cpu = 150;
  bool real = false, dry_passes = false, fresh_self_join = false;
  std::string only;
  int first_test_side = irbis::VerifyParams{}.first_test_side;
  fs::path dir = "/tmp/irbis-match-scale", photos;
  double band_similarity = 1.0 - irbis::DupesParams{}.band.max_extra_distance;  // CNN pairs verified from here up
  // Rules, each run on the same collection and queries (stand-out -1 = off: every band pair is
  // verified, the rule before the neighbourhood test).
  std::vector<Rule> rules{Rule{-1.0, 0, false}, Rule{}};
  {
    const irbis::VerifyPolicy d;
    rules[1] = Rule{d.cnn_stand_out, d.cnn_stand_out_growth, d.cnn_unvisited_rivals};
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n") n = std::stoll(v);
    else if (a == "--queries") queries = std::stoi(v);
    else if (a == "--dir") dir = v;
    else if (a == "--photos") photos = v;
    else if (a == "--pairs") verify_pairs = std::stoi(v);
    else if (a == "--band-similarity") band_similarity = std::stod(v);
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--real-verify") real = v == "1" || v == "yes";
    else if (a == "--real-max-cpu") real_max_cpu = std::stod(v);
    else if (a == "--dry-passes") dry_passes = v == "1" || v == "yes";  // dupes: also with the dry passes, no work
    else if (a == "--first-test-side") first_test_side = std::stoi(v);  // VerifyParams::first_test_side, 0 = off
    else if (a == "--only") only = v;  // "match" or "dupes": run that part alone
    else if (a == "--fresh-self-join") fresh_self_join = v == "1" || v == "yes";
    else if (a == "--stand-out" || a == "--rules") rules = parse_rules(v);
    else {
      std::cerr << "usage: match_scale_bench [--n N] [--queries Q] [--dir DIR] [--photos SET] [--pairs P] [--band-similarity S] "
                   "[--rules M[:G[:all]],...] [--threads T] [--real-verify 1 [--real-max-cpu S] [--first-test-side PX]] [--dry-passes 1] [--only match|dupes] [--fresh-self-join 1]\n";
      return 2;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines as they come, also into a file
  std::printf("cpu: %s, %u threads; match on %d threads\n", irbis::bench::cpu_model().c_str(), std::thread::hardware_concurrency(), threads);
  VerifyCost cost;
  std::unique_ptr<RealWork> work;
  if (!photos.empty()) {
    cv::setNumThreads(1);  // one pair at a time on one core: CPU per pair without pool overhead
    cost = measure_verification(photos, verify_pairs, irbis::VerifyParams{}.work_side);
    cv::setNumThreads(-1);
    if (real) work = std::make_unique<RealWork>(photos, first_test_side);
  }
  // A run's verification CPU: each distinct image once (kept in the cache), every pair (a quarter
  // of them copies, the rest refused look-alikes: the band of a large collection is mostly those),
  // and the pixel checks of sure pairs (a grey decode of each image, one comparison per pair).
  const auto verify_cpu = [&cost](size_t images, size_t pairs, size_t check_images, size_t checks) {
    return double(images) * cost.per_image + double(pairs) * (0.25 * cost.per_pair_copy + 0.75 * cost.per_pair_other) +
           double(check_images) * cost.per_check_image + double(checks) * cost.per_check;
  };

  const irbis::ModelCard card = irbis::find_model(irbis::kDefaultModel);
  const std::string emb = irbis::embedding_feature(card.name);
  const int dim = card.embedding_dim;
  const int centres = int(std::max<int64_t>(1, n / 50));
  const cv::Mat x = irbis::bench::mixture(n, dim, centres, 0.6f, 1, 2);
  if (!fs::exists(dir / irbis::kCatalogFile)) write_collection(dir, n, x, dim, emb);
  auto coll = irbis::Collection::open(dir);

  // ---- match
  irbis::MatchOptions mo;
  mo.band.max_extra_distance = float(1.0 - band_similarity);
  mo.threads = threads;
  const bool index_on_disk = fs::exists(dir / irbis::kVectorIndexDir);
  double c0 = process_cpu_seconds();
  auto t0 = Clock::now();
  irbis::CollectionMatcher matcher(*coll, mo);
  std::printf("match: open (hashes, vector index %s, network): %.1f s wall, %.1f s CPU\n", index_on_disk ? "on disk" : "built",
              since(t0), process_cpu_seconds() - c0);
  const std::vector<irbis::ImageRecord> records = matcher.result({}).records;
  std::vector<int64_t> family(records.size());
  for (size_t i = 0; i < records.size(); ++i) family[i] = family_of(records[i].path);
  const irbis::FeatureView hv = irbis::perceptual_hashes(*coll);

  std::mt19937_64 rng(kSeed + 1);
  const cv::Mat fresh = irbis::bench::mixture(queries, dim, centres, 0.6f, 7, 2);  // new images, same kinds
  std::vector<irbis::MatchQuery> qs(static_cast<size_t>(queries));
  std::vector<int64_t> q_family(size_t(queries), -1);
  for (int k = 0; k < queries; ++k) {
    irbis::MatchQuery& q = qs[size_t(k)];
    q.path = "query" + std::to_string(k);
    for (auto& v : q.phash_variants) v = rng();
    q.dhash = rng();
    if (k % 2 == 0) {  // an edit of a collection image
      size_t j = size_t(rng() % records.size());
      if (j > 0 && j % 100 == 0) --j;  // an original (ids = rows here): its row of x is its embedding
      const Edit ed = draw_edit(rng);
      const int64_t id = records[j].id;
      q.phash_variants[0] = flip(hv.row_u64(id)[0], ed.phash_bits, rng);
      q.dhash = flip(hv.row_u64(id)[1], ed.dhash_bits, rng);
      q.embedding = at_cosine(x.ptr<float>(int(id)), dim, ed.cosine, rng);
      q_family[size_t(k)] = family[j];
    } else {
      q.embedding.assign(fresh.ptr<float>(k), fresh.ptr<float>(k) + dim);
    }
  }
  // How many collection images a new image (not an edit) has at cosine >= 0.80 / 0.90 among its 10
  // nearest: what the CNN band hands to the verifier (real photos: docs/calibration.md).
  {
    const int probe = std::min(queries / 2, 100);
    cv::Mat qm(probe, dim, CV_32F), sims;
    for (int k = 0; k < probe; ++k) std::copy(qs[size_t(2 * k + 1)].embedding.begin(), qs[size_t(2 * k + 1)].embedding.end(), qm.ptr<float>(k));
    cv::gemm(qm, x, 1.0, cv::Mat(), 0.0, sims, cv::GEMM_2_T);
    double at80 = 0, at90 = 0, top = 0;
    for (int k = 0; k < probe; ++k) {
      std::vector<float> r(sims.ptr<float>(k), sims.ptr<float>(k) + sims.cols);
      std::partial_sort(r.begin(), r.begin() + 10, r.end(), std::greater<float>());
      top += r[0];
      for (int t = 0; t < 10; ++t) at80 += r[size_t(t)] >= 0.80f, at90 += r[size_t(t)] >= 0.90f;
    }
    std::printf("mixture: a new image's nearest collection image at cosine %.3f on average; of its 10 nearest, %.1f >= 0.80 and %.1f >= 0.90\n",
                top / probe, at80 / probe, at90 / probe);
  }
  // The queries on `threads` threads (CollectionMatcher's batch match, as match_images runs them),
  // the verifier a counter; with_work: the counter's pairs are also verified for real (RealWork).
  const auto run_match = [&](const Rule& rule, bool with_work) {
    mo.policy = irbis::VerifyPolicy{};
    rule.apply(mo.policy);
    irbis::CollectionMatcher matcher_so(*coll, mo);
    std::mutex mu;
    std::set<uint32_t> verified_images, checked_images;
    size_t verified = 0, checked = 0, matched_edits = 0, edits = 0, false_pairs = 0, pairs = 0;
    std::vector<size_t> per_query_verified(6, 0);
    if (with_work) work->reset();
    c0 = process_cpu_seconds();
    t0 = Clock::now();
    const std::vector<irbis::MatchedQuery> got = matcher_so.match(
        qs,
        [&](size_t k, const std::vector<uint32_t>& items) {
          const int64_t fam = q_family[k];
          if (with_work) work->verifier->verify_image(work->query_image(k), items);
          std::lock_guard lk(mu);
          verified += items.size();  // confirmed when of the query's family
          verified_images.insert(items.begin(), items.end());
          std::vector<irbis::PairCheck> out;
          for (uint32_t i : items) out.push_back({fam >= 0 && family[i] == fam, 50});
          return out;
        },
        [&](size_t k, const std::vector<uint32_t>& items) {
          const int64_t fam = q_family[k];
          if (with_work) work->verifier->check_image(work->query_image(k), items);
          std::lock_guard lk(mu);
          checked += items.size();
          checked_images.insert(items.begin(), items.end());
          std::vector<irbis::PixelCheck> out(items.size());
          for (size_t e = 0; e < items.size(); ++e) out[e].agree = fam >= 0 && family[items[e]] == fam;
          return out;
        });
    const double match_wall = since(t0), match_cpu = process_cpu_seconds() - c0;
    size_t queries_verifying = 0, queries_looking = 0;
    for (int k = 0; k < queries; ++k) {
      const irbis::MatchedQuery& q = got[size_t(k)];
      const int64_t fam = q_family[size_t(k)];
      per_query_verified[std::min<size_t>(5, size_t(q.verified_pairs))]++;
      queries_verifying += q.verified_pairs > 0;
      queries_looking += q.verified_pairs > 0 || q.checked_pairs > 0;
      edits += fam >= 0;
      bool found = false;
      for (const auto& m : q.matches) {
        ++pairs;
        const bool ok = fam >= 0 && family[m.index] == fam;
        found |= ok;
        false_pairs += !ok;
      }
      matched_edits += found;
    }
    std::printf("match, %s%s: %d queries against %zu images on %d threads: %.2f s wall, %.2f s CPU%s; %zu pairs verified "
                "(%zu distinct collection images; queries verifying 0/1/2/3/4/5: %zu/%zu/%zu/%zu/%zu/%zu), %zu sure pairs pixel-checked; "
                "edits found %zu of %zu, pairs %zu (%zu false)\n",
                rule.name().c_str(), with_work ? ", REAL verification work" : "", queries, records.size(), threads, match_wall, match_cpu,
                with_work ? " (decisions + real verification)" : " without verification", verified, verified_images.size(),
                per_query_verified[0], per_query_verified[1], per_query_verified[2], per_query_verified[3], per_query_verified[4],
                per_query_verified[5], checked, matched_edits, edits, pairs, false_pairs);
    const double model = verify_cpu(verified ? queries_verifying + verified_images.size() : 0, verified,
                                    checked ? queries_looking + checked_images.size() : 0, checked);
    if (!with_work && cost.per_image > 0)
      std::printf("match, %s: + modelled verification %.1f s CPU (%zu queries decoded + %zu collection images + %zu pairs + %zu checks) = %.1f s CPU\n",
                  rule.name().c_str(), model, queries_verifying, verified_images.size(), verified, checked, match_cpu + model);
    return model;
  };
  for (const Rule& rule : only == "dupes" ? std::vector<Rule>{} : rules) {
    const double model = run_match(rule, false);
    if (work && model <= real_max_cpu) run_match(rule, true);
  }

  // ---- dupes --cnn
  std::vector<int64_t> item_family;
  for (const auto& r : coll->records(irbis::ImageStatus::ok)) item_family.push_back(family_of(r.path));
  // dry_lists: the counter run again with verify_all and check_all set to counters too (no real
  // work), so the dry passes of the grouping run as in a real `dupes` (--dry-passes 1): their cost
  // apart from the verifier's.
  const auto run_dupes = [&](const Rule& rule, bool with_work, bool dry_lists = false) {
    irbis::DupesParams dp;
    rule.apply(dp.policy);
    dp.band.max_extra_distance = float(1.0 - band_similarity);
    std::mutex mu;
    std::set<uint32_t> dupes_images, check_images;
    std::set<std::pair<uint32_t, uint32_t>> verified_pairs, checked_pairs;
    if (with_work) work->reset();
    dp.band.verify = [&](uint32_t keep, uint32_t cand) {
      if (with_work) work->verifier->verify(keep, cand);  // from its cache after verify_all
      std::lock_guard lk(mu);
      verified_pairs.insert({keep, cand});
      dupes_images.insert(keep), dupes_images.insert(cand);
      return irbis::PairCheck{item_family[keep] == item_family[cand], 50};
    };
    dp.band.check = [&](uint32_t keep, uint32_t cand) {
      if (with_work) work->verifier->check(keep, cand);
      std::lock_guard lk(mu);
      checked_pairs.insert({keep, cand});
      check_images.insert(keep), check_images.insert(cand);
      irbis::PixelCheck c;
      c.agree = item_family[keep] == item_family[cand];
      return c;
    };
    size_t lists = 0, listed = 0;
    if (with_work) {  // the real pairs verified in parallel, as find_collection_dupes' own verifier does
      dp.band.verify_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& ps) { work->verifier->verify_all(ps); };
      dp.band.check_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& ps) { work->verifier->check_all(ps); };
    } else if (dry_lists) {
      dp.band.verify_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& ps) { ++lists, listed += ps.size(); };
      dp.band.check_all = [&](const std::vector<std::pair<uint32_t, uint32_t>>& ps) { ++lists, listed += ps.size(); };
    }
    irbis::CnnDupesOptions cnn;
    cnn.enabled = true;
    const fs::path saved = irbis::saved_self_join_file(dir, cnn.model, cnn.neighbours);
    if (fresh_self_join) fs::remove(saved);
    // Present is not read: a file saved from other rows or options is stale and joined again.
    const char* join = fs::exists(saved) ? "a saved self-join present" : "no saved self-join";
    c0 = process_cpu_seconds();
    t0 = Clock::now();
    const irbis::CollectionDupes d = irbis::find_collection_dupes(*coll, dp, cnn);
    const double dupes_wall = since(t0), dupes_cpu = process_cpu_seconds() - c0;
    size_t good = 0, bad = 0;
    for (const auto& g : d.groups)
      for (const auto& m : g.duplicates) (item_family[m.index] == item_family[g.keep] ? good : bad)++;
    size_t edits_in_collection = 0;
    for (size_t i = 0; i < item_family.size(); ++i) edits_in_collection += item_family[i] != family_of_self(d.records[i].path);
    std::printf("dupes --cnn, %s%s: %zu images: %.2f s wall, %.2f s CPU%s, %s; %zu pairs verified (%zu distinct images), "
                "%zu sure pairs pixel-checked; %zu groups, %zu duplicates of their family (of %zu edits), %zu not\n",
                rule.name().c_str(), with_work ? ", REAL verification work" : dry_lists ? ", dry passes (verify_all counts)" : "",
                d.records.size(), dupes_wall, dupes_cpu,
                with_work ? " (decisions + real verification)" : " without verification", join, verified_pairs.size(), dupes_images.size(),
                checked_pairs.size(), d.groups.size(), good, edits_in_collection, bad);
    if (dry_lists) std::printf("dupes --cnn, %s: dry passes listed %zu pairs in %zu lists\n", rule.name().c_str(), listed, lists);
    if (with_work) {
      const irbis::PairVerifier::Stats st = work->verifier->stats();
      std::printf("dupes --cnn, %s: the real verifier ran %zu verifications and %zu pixel checks (the dry passes' lists); "
                  "CPU: %zu image loads %.1f s (%.1f ms each: decode + keypoints, a re-load after eviction counts again), "
                  "%zu pairs %.1f s (%.1f ms each: matching, fit, dense check, mirrored keypoints); "
                  "%zu images met again in the keypoint tier, %zu of them decoded again for their pixels, %zu described on their kept "
                  "grays (loaded for pixel checks only); first test: %zu images %.1f s (%.2f ms each, their mirrored orientation "
                  "described for %zu, of which %zu decoded again), %zu pairs %.2f s, %zu refused\n",
                  rule.name().c_str(), work->verifier->pairs_verified(), work->verifier->pairs_checked(), st.images,
                  st.image_cpu_seconds, 1e3 * st.image_cpu_seconds / double(std::max<size_t>(1, st.images)), st.pairs,
                  st.pair_cpu_seconds, 1e3 * st.pair_cpu_seconds / double(std::max<size_t>(1, st.pairs)),
                  st.keypoint_hits, st.gray_reloads, st.gray_hits, st.first_test_images, st.first_test_image_cpu_seconds,
                  1e3 * st.first_test_image_cpu_seconds / double(std::max<size_t>(1, st.first_test_images)),
                  st.first_test_mirrors, st.first_test_mirror_reloads, st.first_test_pairs, st.first_test_pair_cpu_seconds, st.first_test_refused);
    }
    const double model = verify_cpu(dupes_images.size(), verified_pairs.size(), check_images.size(), checked_pairs.size());
    if (!with_work && cost.per_image > 0)
      std::printf("dupes --cnn, %s: + modelled verification %.1f s CPU (%zu images + %zu pairs + %zu checks) = %.1f s CPU\n",
                  rule.name().c_str(), model, dupes_images.size(), verified_pairs.size(), checked_pairs.size(), dupes_cpu + model);
    return model;
  };
  for (const Rule& rule : only == "match" ? std::vector<Rule>{} : rules) {
    const double model = run_dupes(rule, false);
    if (dry_passes) run_dupes(rule, false, true);
    if (work && model <= real_max_cpu) run_dupes(rule, true);
  }
  return 0;
}
