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
// totals are (measured seconds) + (verified pairs) x (measured CPU per pair).
//   build/bench/match_scale_bench --n 100000 --queries 1000 --dir /tmp/match100k [--photos /tmp/h14set]
#include <algorithm>
#include <functional>
#include <bit>
#include <cstdio>
#include <filesystem>
#include <iostream>
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
  return cost;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 100000;
  int queries = 1000, verify_pairs = 40;
  fs::path dir = "/tmp/irbis-match-scale", photos;
  double band_similarity = 1.0 - irbis::DupesParams{}.band.max_extra_distance;  // CNN pairs verified from here up
  // VerifyPolicy::cnn_stand_out values, each run on the same collection and queries (-1 = off: every
  // band pair is verified, the rule before the neighbourhood test).
  std::vector<double> stand_outs{-1.0, irbis::VerifyPolicy{}.cnn_stand_out};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n") n = std::stoll(v);
    else if (a == "--queries") queries = std::stoi(v);
    else if (a == "--dir") dir = v;
    else if (a == "--photos") photos = v;
    else if (a == "--pairs") verify_pairs = std::stoi(v);
    else if (a == "--band-similarity") band_similarity = std::stod(v);
    else if (a == "--stand-out") {
      stand_outs.clear();
      for (size_t at = 0; at <= v.size();) {
        const size_t comma = std::min(v.find(',', at), v.size());
        stand_outs.push_back(std::stod(v.substr(at, comma - at)));
        at = comma + 1;
      }
    }
    else {
      std::cerr << "usage: match_scale_bench [--n N] [--queries Q] [--dir DIR] [--photos SET] [--pairs P] [--band-similarity S] "
                   "[--stand-out M1,M2,...]\n";
      return 2;
    }
  }
  std::printf("cpu: %s, %u threads\n", irbis::bench::cpu_model().c_str(), std::thread::hardware_concurrency());
  VerifyCost cost;
  if (!photos.empty()) {
    cv::setNumThreads(1);  // one pair at a time on one core: CPU per pair without pool overhead
    cost = measure_verification(photos, verify_pairs, irbis::VerifyParams{}.work_side);
    cv::setNumThreads(-1);
  }
  // A run's verification CPU: each distinct image once (kept in the cache), every pair (a quarter
  // of them copies, the rest refused look-alikes: the band of a large collection is mostly those).
  const auto verify_cpu = [&cost](size_t images, size_t pairs) {
    return double(images) * cost.per_image + double(pairs) * (0.25 * cost.per_pair_copy + 0.75 * cost.per_pair_other);
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
  for (const double stand_out : stand_outs) {
  mo.policy.cnn_stand_out = stand_out;
  irbis::CollectionMatcher matcher_so(*coll, mo);
  std::set<uint32_t> verified_images;
  size_t verified = 0, matched_edits = 0, edits = 0, false_pairs = 0, pairs = 0;
  std::vector<size_t> per_query_verified(6, 0);
  c0 = process_cpu_seconds();
  t0 = Clock::now();
  for (int k = 0; k < queries; ++k) {
    const int64_t fam = q_family[size_t(k)];
    const size_t before = verified;
    const irbis::MatchedQuery got = matcher_so.match(qs[size_t(k)], [&](const std::vector<uint32_t>& items) {
      verified += items.size();  // confirmed when of the query's family
      verified_images.insert(items.begin(), items.end());
      std::vector<irbis::PairCheck> out;
      for (uint32_t i : items) out.push_back({fam >= 0 && family[i] == fam, 50});
      return out;
    });
    per_query_verified[std::min<size_t>(5, verified - before)]++;
    edits += fam >= 0;
    bool found = false;
    for (const auto& m : got.matches) {
      ++pairs;
      const bool ok = fam >= 0 && family[m.index] == fam;
      found |= ok;
      false_pairs += !ok;
    }
    matched_edits += found;
  }
  const double match_wall = since(t0), match_cpu = process_cpu_seconds() - c0;
  std::printf("match, stand-out %.2f: %d queries against %zu images: %.2f s wall, %.2f s CPU without verification; %zu pairs verified "
              "(%zu distinct collection images; queries verifying 0/1/2/3/4/5: %zu/%zu/%zu/%zu/%zu/%zu); edits found %zu of %zu, pairs %zu (%zu false)\n",
              stand_out, queries, records.size(), match_wall, match_cpu, verified, verified_images.size(), per_query_verified[0], per_query_verified[1],
              per_query_verified[2], per_query_verified[3], per_query_verified[4], per_query_verified[5], matched_edits, edits,
              pairs, false_pairs);
  if (cost.per_image > 0)
    std::printf("match, stand-out %.2f: + verification %.1f s CPU (%zu queries decoded + %zu collection images + %zu pairs) = %.1f s CPU\n",
                stand_out, verify_cpu(verified ? size_t(queries) - per_query_verified[0] + verified_images.size() : 0, verified) ,
                size_t(queries) - per_query_verified[0], verified_images.size(), verified,
                match_cpu + verify_cpu(verified ? size_t(queries) - per_query_verified[0] + verified_images.size() : 0, verified));
  }

  // ---- dupes --cnn
  for (const double stand_out : stand_outs) {
  irbis::DupesParams dp;
  dp.policy.cnn_stand_out = stand_out;
  std::set<uint32_t> dupes_images;
  dp.band.max_extra_distance = float(1.0 - band_similarity);
  size_t dupes_verified = 0;
  std::vector<int64_t> item_family;
  for (const auto& r : coll->records(irbis::ImageStatus::ok)) item_family.push_back(family_of(r.path));
  dp.band.verify = [&](uint32_t keep, uint32_t cand) {
    ++dupes_verified;
    dupes_images.insert(keep), dupes_images.insert(cand);
    return irbis::PairCheck{item_family[keep] == item_family[cand], 50};
  };
  irbis::CnnDupesOptions cnn;
  cnn.enabled = true;
  c0 = process_cpu_seconds();
  t0 = Clock::now();
  const irbis::CollectionDupes d = irbis::find_collection_dupes(*coll, dp, cnn);
  const double dupes_wall = since(t0), dupes_cpu = process_cpu_seconds() - c0;
  size_t good = 0, bad = 0;
  for (const auto& g : d.groups)
    for (const auto& m : g.duplicates) (item_family[m.index] == item_family[g.keep] ? good : bad)++;
  size_t edits_in_collection = 0;
  for (size_t i = 0; i < item_family.size(); ++i) edits_in_collection += item_family[i] != family_of_self(d.records[i].path);
  std::printf("dupes --cnn, stand-out %.2f: %zu images: %.2f s wall, %.2f s CPU without verification; %zu pairs verified "
              "(%zu distinct images); %zu groups, %zu duplicates of their family (of %zu edits), %zu not\n",
              stand_out, d.records.size(), dupes_wall, dupes_cpu, dupes_verified, dupes_images.size(), d.groups.size(), good,
              edits_in_collection, bad);
  if (cost.per_image > 0)
    std::printf("dupes --cnn, stand-out %.2f: + verification %.1f s CPU (%zu images + %zu pairs) = %.1f s CPU\n", stand_out,
                verify_cpu(dupes_images.size(), dupes_verified), dupes_images.size(), dupes_verified,
                dupes_cpu + verify_cpu(dupes_images.size(), dupes_verified));
  }
  return 0;
}
