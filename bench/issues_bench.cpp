// `irbis issues` at collection scale without embedding that many images: writes a collection of
// N synthetic images through the Collection API (the default model's embedding feature from a
// Gaussian mixture, quality and sharpness rows drawn around the values real photos give, random
// perceptual hashes with 1 % near-copies), then times find_collection_issues on it, side by side:
// the shipped path (the k-NN self-join, no vector index) and, unless --old 0, the path before it
// (an HNSW graph, one query per row) twice: with no index on disk (built and saved), then with the
// saved one. The parts (vector index, k-th neighbours, duplicates) are timed on their own too, in
// wall and CPU seconds. Prints the CPU it ran on, one JSON line per run and one comparing the
// paths' odd_one_out rows and neighbours. --exact 1 also compares every run with exact k-NN (one
// blocked sgemm of all rows against all: ~54 TFLOP at 100 000, minutes on two cores), whose
// odd_one_out rows and k-th distances are cached in DIR/bench_exact_k<K>.json for the next run.
// --strays R adds out-of-place images to the collection (once; issue 18's target: they rank first
// among the odd_one_out rows) and reports their ranks on every path, exact included: the exact
// answer with strays comes from the cached one without them (strays_exact_kth).
//   build/bench/issues_bench --n 100000 --dir /tmp/issues100k [--old 0] [--exact 1] [--strays 0.7]

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/collection_layout.h"
#include "irbis/issues.h"
#include "irbis/model.h"
#include "irbis/quality.h"
#include "irbis/search.h"
#include "bench_clock.h"
#include "synthetic_embeddings.h"

namespace fs = std::filesystem;

namespace {

using irbis::bench::Clock;
using irbis::bench::cpu_model;
using irbis::bench::peak_rss_mb;
using irbis::bench::since;
double cpu_seconds() { return irbis::bench::process_cpu_seconds(); }

// Plausible per-image measures of ordinary photos (docs/issues.md gives the ranges), so the
// thresholds flag a realistic handful rather than everything or nothing.
irbis::QualityRow quality_row(std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.f, 1.f);
  irbis::QualityRow q{};
  const float mean = std::clamp(0.45f + 0.12f * g(rng), 0.02f, 0.98f);
  const float sd = std::clamp(0.22f + 0.05f * g(rng), 0.01f, 0.45f);
  q[irbis::kLaplacianVar] = std::exp(6.f + 0.8f * g(rng));
  q[irbis::kEdgeRatio] = std::clamp(0.85f + 0.08f * g(rng), 0.3f, 1.2f);
  q[irbis::kLumP01] = std::max(0.f, mean - 2.3f * sd);
  q[irbis::kLumP05] = std::max(0.f, mean - 1.6f * sd);
  q[irbis::kLumP50] = mean;
  q[irbis::kLumP95] = std::min(1.f, mean + 1.6f * sd);
  q[irbis::kLumP99] = std::min(1.f, mean + 2.3f * sd);
  q[irbis::kLumMean] = mean;
  q[irbis::kLumStd] = sd;
  q[irbis::kEntropy] = std::clamp(7.3f + 0.4f * g(rng), 0.f, 8.f);
  q[irbis::kUniqueColors] = std::clamp(9000.f + 3000.f * g(rng), 1.f, 32768.f);
  q[irbis::kColorfulness] = std::max(0.f, 40.f + 15.f * g(rng));
  q[irbis::kColoredFraction] = std::clamp(0.8f + 0.1f * g(rng), 0.f, 1.f);
  return q;
}

irbis::SharpnessRow sharpness_row(std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.f, 1.f);
  return {std::clamp(0.65f + 0.05f * g(rng), 0.3f, 1.f), std::max(0.f, 2.f + 0.8f * g(rng))};
}

template <class Row>
std::span<const uint8_t> bytes_of(const Row& r) {
  return {reinterpret_cast<const uint8_t*>(r.data()), sizeof(r[0]) * r.size()};
}

constexpr float kSpread = 0.6f;  // of the mixture's kinds around their centres
constexpr uint64_t kCentreSeed = 2;
int centres_of(int64_t n) { return int(std::max<int64_t>(1, n / 50)); }

void write_collection(const fs::path& dir, int64_t n) {
  const irbis::ModelCard card = irbis::find_model(irbis::kDefaultModel);
  const std::string emb = irbis::embedding_feature(card.name);
  const int dim = card.embedding_dim;
  std::cerr << "writing " << n << " synthetic images (" << emb << ", " << dim << "-d) to " << dir << "\n";
  const cv::Mat x = irbis::bench::mixture(n, dim, centres_of(n), kSpread, 1, kCentreSeed);
  auto c = irbis::Collection::open_or_create(dir);
  c->ensure_feature({emb, "f32", dim});
  c->ensure_feature({irbis::kQualityFeature, "f32", irbis::kQualityDim});
  c->ensure_feature({irbis::kSharpnessFeature, "f32", irbis::kSharpnessDim});
  c->ensure_feature({irbis::kHashesFeature, "u64", 3});
  std::mt19937_64 rng(3);
  std::vector<std::array<uint64_t, 3>> hashes;
  for (int64_t i = 0; i < n; ++i) {
    const irbis::ImageRecord r = irbis::bench::synthetic_record(i, "/photos/" + std::to_string(i / 1000) + "/" + std::to_string(i) + ".jpg", rng);
    std::array<uint64_t, 3> h{rng(), rng(), rng()};
    if (i > 0 && i % 100 == 0) {  // 1 %: a near-copy of an earlier image, 2 bits flipped
      h = hashes[size_t(rng() % uint64_t(i))];
      h[0] ^= (1ull << (rng() % 64)) | (1ull << (rng() % 64));
    }
    hashes.push_back(h);
    const irbis::QualityRow q = quality_row(rng);
    const irbis::SharpnessRow s = sharpness_row(rng);
    const std::span<const uint8_t> e(x.ptr<uint8_t>(int(i)), size_t(dim) * sizeof(float));
    c->stage_image(r, {{emb, e}, {irbis::kQualityFeature, bytes_of(q)}, {irbis::kSharpnessFeature, bytes_of(s)},
                       {irbis::kHashesFeature, bytes_of(h)}});
    if ((i + 1) % 10000 == 0) c->commit();
  }
  c->commit();
}


// Out-of-place images (issue 18: "a few of one foreign kind together, and singles"): a group of
// three from one foreign kind, three singles of foreign kinds of their own, and a 28x28 grayscale
// thumbnail of ordinary content. A foreign kind's centre shares `relation` of an existing kind's
// (cosine of the centres): 0 is unrelated (orthogonal in this mixture, ~1 from everything), 0.7
// puts its images ~0.47 from the nearest kind's, about twice the usual 7th-neighbour distance
// (0.22), as far as the calibration set's real strays are relatively (0.61 against 0.22 there).
// Their measured properties are ordinary photos' (quality_row), the thumbnail's grey and tiny.
// Paths /strays/<what>_r<relation>.jpg; added once, after the n images.
std::vector<std::string> add_strays(const fs::path& dir, int64_t n, double relation) {
  const std::vector<std::string> names = {"group_1", "group_2", "group_3", "single_1", "single_2", "single_3", "grey_thumb"};
  std::vector<std::string> paths;
  char r[16];
  std::snprintf(r, sizeof r, "%.2f", relation);
  for (const auto& s : names) paths.push_back("/strays/" + s + "_r" + r + (s == "grey_thumb" ? ".png" : ".jpg"));
  auto c = irbis::Collection::open(dir);
  for (const auto& rec : c->records())
    if (rec.path.rfind("/strays/", 0) == 0) {
      if (std::find(paths.begin(), paths.end(), rec.path) == paths.end())
        throw std::runtime_error(dir.string() + " holds other strays (" + rec.path + "): use another --dir");
      return paths;
    }
  const irbis::ModelCard card = irbis::find_model(irbis::kDefaultModel);
  const std::string emb = irbis::embedding_feature(card.name);
  const int dim = card.embedding_dim;
  const cv::Mat centres = irbis::bench::mixture_centres(centres_of(n), dim, kCentreSeed);
  const std::vector<float> scale = irbis::bench::spectrum_scale(dim, 0.5f);
  std::mt19937_64 rng(18);
  std::normal_distribution<float> g(0.f, 1.f);
  const auto foreign_centre = [&](int near) {
    std::vector<float> f(static_cast<size_t>(dim));
    const float* c0 = centres.ptr<float>(near);
    for (int j = 0; j < dim; ++j) f[size_t(j)] = float(relation) * c0[j] + float(std::sqrt(1 - relation * relation)) * g(rng);
    return f;
  };
  std::vector<std::vector<float>> x(paths.size(), std::vector<float>(size_t(dim)));
  const std::vector<float> group = foreign_centre(0);
  for (size_t i = 0; i < 3; ++i) irbis::bench::point_around(group.data(), scale, kSpread, rng, g, x[i].data());
  for (size_t i = 3; i < 6; ++i) {
    const std::vector<float> single = foreign_centre(int(i) % centres.rows);
    irbis::bench::point_around(single.data(), scale, kSpread, rng, g, x[i].data());
  }
  irbis::bench::point_around(centres.ptr<float>(7 % centres.rows), scale, kSpread, rng, g, x[6].data());
  for (size_t i = 0; i < paths.size(); ++i) {
    irbis::ImageRecord rec = irbis::bench::synthetic_record(n + int64_t(i), paths[i], rng);
    irbis::QualityRow q = quality_row(rng);
    if (names[i] == "grey_thumb") {
      rec.width = rec.height = 28;
      rec.format = irbis::ImageFormat::png;
      q[irbis::kColorfulness] = 0;
      q[irbis::kColoredFraction] = 0;
      q[irbis::kUniqueColors] = 200;
    }
    const irbis::SharpnessRow sh = sharpness_row(rng);
    const std::array<uint64_t, 3> h{rng(), rng(), rng()};
    c->stage_image(rec, {{emb, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(x[i].data()), x[i].size() * sizeof(float))},
                         {irbis::kQualityFeature, bytes_of(q)}, {irbis::kSharpnessFeature, bytes_of(sh)},
                         {irbis::kHashesFeature, bytes_of(h)}});
  }
  c->commit();
  std::cerr << "added " << paths.size() << " strays (relation " << r << ") to " << dir << "\n";
  return paths;
}

// 1 - the k-th largest cosine of row `a` with every other record's embedding (brute force).
double kth_distance_exact(const irbis::FeatureView& v, const std::vector<irbis::ImageRecord>& records, int64_t a, int k) {
  const int dim = v.spec().dim;
  const float* x = v.row_f32(a);
  std::vector<float> sims;
  sims.reserve(records.size());
  for (const auto& r : records) {
    if (r.id == a) continue;
    const float* y = v.row_f32(r.id);
    float dot = 0;
    for (int j = 0; j < dim; ++j) dot += x[j] * y[j];
    sims.push_back(dot);
  }
  if (sims.size() < size_t(k)) return -1;
  std::nth_element(sims.begin(), sims.begin() + (k - 1), sims.end(), std::greater<float>());
  return 1.0 - double(sims[size_t(k - 1)]);
}

// Exact k-th distances of the collection with its strays from the cached exact answer without
// them (`base`: one per record before the strays, which come last in id order): the strays' own
// by brute force, and an earlier image's unchanged unless a stray is nearer than its k-th
// neighbour, when it is searched by brute force too. Returns the distances and how many earlier
// images had to be searched again.
std::pair<std::vector<double>, size_t> strays_exact_kth(const irbis::Collection& coll, const std::vector<irbis::ImageRecord>& records,
                                                        std::vector<double> base, size_t strays, int k) {
  if (base.size() + strays != records.size())
    throw std::runtime_error("the cached exact answer has " + std::to_string(base.size()) + " images, the collection " +
                             std::to_string(records.size()) + " with " + std::to_string(strays) + " strays");
  const irbis::FeatureView v = coll.view(irbis::embedding_feature(irbis::kDefaultModel));
  const int dim = v.spec().dim;
  std::vector<double> kth = std::move(base);
  std::vector<int64_t> again;
  for (size_t i = 0; i < kth.size(); ++i) {
    const float* x = v.row_f32(records[i].id);
    for (size_t s = kth.size(); s < records.size(); ++s) {
      const float* y = v.row_f32(records[s].id);
      float dot = 0;
      for (int j = 0; j < dim; ++j) dot += x[j] * y[j];
      if (1.0 - double(dot) < kth[i]) {
        again.push_back(int64_t(i));
        break;
      }
    }
  }
  for (int64_t i : again) kth[size_t(i)] = kth_distance_exact(v, records, records[size_t(i)].id, k);
  for (size_t s = kth.size(); s < records.size(); ++s) kth.push_back(kth_distance_exact(v, records, records[s].id, k));
  return {kth, again.size()};
}

// Where each stray lies among the odd_one_out rows (1 = first; 0 = not flagged), their scores and
// the best-scored image that is not a stray.
nlohmann::json stray_ranks(const irbis::CollectionIssues& out, const std::vector<std::string>& strays) {
  nlohmann::json j, ranks = nlohmann::json::object();
  for (const auto& s : strays) ranks[s.substr(s.rfind('/') + 1)] = 0;
  size_t rank = 0, last = 0, found = 0;
  bool other_seen = false;
  for (const auto& is : out.issues) {
    if (is.kind != irbis::IssueKind::odd_one_out) continue;
    ++rank;
    const std::string& path = out.records[is.image].path;
    if (std::find(strays.begin(), strays.end(), path) != strays.end()) {
      ranks[path.substr(path.rfind('/') + 1)] = {{"rank", rank}, {"score", is.score}, {"reason", is.reason}};
      last = rank;
      ++found;
    } else if (!other_seen) {
      other_seen = true;
      j["first_other"] = {{"rank", rank}, {"score", is.score}, {"path", path}, {"reason", is.reason}};
    }
  }
  j["strays"] = ranks;
  j["strays_found"] = found;
  j["last_stray_rank"] = found == strays.size() ? nlohmann::json(last) : nlohmann::json("not all flagged");
  j["strays_first"] = found == strays.size() && last == strays.size();
  return j;
}

}  // namespace

// The first `top` odd_one_out images (collection ids), worst first.
std::vector<int64_t> odd_ones(const irbis::CollectionIssues& out, size_t top) {
  std::vector<int64_t> ids;
  for (const auto& is : out.issues)
    if (is.kind == irbis::IssueKind::odd_one_out && ids.size() < top) ids.push_back(out.records[is.image].id);
  return ids;
}

// What a run is compared with the exact answer by: its odd_one_out images (worst first) and
// every record's k-th neighbour distance.
struct OddAnswer {
  std::vector<int64_t> odd;
  std::vector<double> kth;
};

OddAnswer odd_answer(const irbis::CollectionIssues& out) {
  return {odd_ones(out, out.issues.size()), out.kth_distance};
}

// How many of the first `top` of `a` are among the first `top` of `b`.
size_t common_top(const std::vector<int64_t>& a, const std::vector<int64_t>& b, size_t top) {
  const size_t ta = std::min(top, a.size()), tb = std::min(top, b.size());
  size_t c = 0;
  for (size_t i = 0; i < ta; ++i) c += std::count(b.begin(), b.begin() + long(tb), a[i]);
  return c;
}

nlohmann::json compare_with_exact(const OddAnswer& got, const OddAnswer& exact) {
  nlohmann::json j;
  j["odd_one_out_rows"] = got.odd.size();
  j["exact_odd_one_out_rows"] = exact.odd.size();
  for (size_t top : {5, 20, 100}) j["top" + std::to_string(top) + "_common_with_exact"] = common_top(got.odd, exact.odd, top);
  j["all_common_with_exact"] = common_top(got.odd, exact.odd, std::max(got.odd.size(), exact.odd.size()));
  double rel = 0, over = 0;
  int64_t c = 0, above = 0;
  for (size_t i = 0; i < std::min(got.kth.size(), exact.kth.size()); ++i) {
    if (got.kth[i] < 0 || exact.kth[i] <= 0) continue;
    const double e = (got.kth[i] - exact.kth[i]) / exact.kth[i];
    rel += e;
    over = std::max(over, e);
    above += got.kth[i] > exact.kth[i] + 1e-6;
    ++c;
  }
  j["kth_distance_mean_relative_error"] = c ? rel / double(c) : 0;
  const irbis::RobustStats gs = irbis::kth_distance_stats(got.kth), es = irbis::kth_distance_stats(exact.kth);
  j["kth_median_scale"] = {gs.median, gs.scale};
  j["exact_kth_median_scale"] = {es.median, es.scale};
  j["kth_distance_max_relative_error"] = over;
  j["kth_distance_over_exact_share"] = c ? double(above) / double(c) : 0;
  return j;
}

// The exact answer: read from `file` if an earlier run cached it, else computed (and cached).
OddAnswer exact_answer(const irbis::Collection& coll, irbis::IssueParams p, const fs::path& file) {
  if (fs::exists(file)) {
    std::ifstream in(file);
    const nlohmann::json j = nlohmann::json::parse(in);
    std::cout << "exact answer read from " << file << " (computed in " << j["issues_wall_s"] << " s wall, "
              << j["issues_cpu_s"] << " s CPU)" << std::endl;
    return {j["odd"].get<std::vector<int64_t>>(), j["kth"].get<std::vector<double>>()};
  }
  p.index.kind = irbis::IndexKind::exact;
  const auto t = Clock::now();
  const double c0 = cpu_seconds();
  const irbis::CollectionIssues out = irbis::find_collection_issues(coll, p);
  OddAnswer a = odd_answer(out);
  nlohmann::json j;
  j["issues_wall_s"] = since(t);
  j["issues_cpu_s"] = cpu_seconds() - c0;
  j["odd"] = a.odd;
  j["kth"] = a.kth;
  std::ofstream(file) << j.dump();
  std::cout << "{\"run\":\"exact k-NN\",\"issues_wall_s\":" << j["issues_wall_s"] << ",\"issues_cpu_s\":" << j["issues_cpu_s"]
            << ",\"odd_one_out_rows\":" << a.odd.size() << "}" << std::endl;
  return a;
}

int main(int argc, char** argv) {
  int64_t n = 100000;
  int old_path = 1, with_exact = 0;
  double refine_share = -1, refine_margin = -2;  // unset: the defaults
  double stray_relation = -1;                     // < 0: no strays
  int before_exact_rows = 0;                      // 1: also the path before the candidates' exact search
  int parts = 1;                                  // 0: do not time the parts (vector index, k-NN, dupes) apart
  fs::path dir = "/tmp/irbis-issues-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n") n = std::stoll(v);
    else if (a == "--dir") dir = v;
    else if (a == "--old") old_path = std::stoi(v);
    else if (a == "--exact") with_exact = std::stoi(v);
    else if (a == "--refine-share") refine_share = std::stod(v);
    else if (a == "--refine-margin") refine_margin = std::stod(v);
    else if (a == "--strays") stray_relation = std::stod(v);
    else if (a == "--before-exact-rows") before_exact_rows = std::stoi(v);
    else if (a == "--parts") parts = std::stoi(v);
    else {
      std::cerr << "usage: issues_bench [--n N] [--dir DIR] [--old 0|1] [--exact 0|1] [--refine-share S] "
                   "[--refine-margin M (< 0: no exhaustive refine)] [--strays RELATION (0..1; < 0: none)] "
                   "[--before-exact-rows 0|1 (also run without the exact search of the candidates)] [--parts 0|1]\n";
      return 2;
    }
  }
  std::cout << "cpu: " << cpu_model() << ", " << std::thread::hardware_concurrency() << " threads\n";
  if (!fs::exists(dir / irbis::kCatalogFile)) write_collection(dir, n);
  std::vector<std::string> strays;
  if (stray_relation >= 0) strays = add_strays(dir, n, stray_relation);
  fs::remove_all(dir / irbis::kVectorIndexDir);
  auto coll = irbis::Collection::open(dir);
  irbis::IssueParams params;  // the shipped path: exact below 10 000 images, the self-join above, no graph
  if (refine_share >= 0) params.index.join.refine_share = refine_share;
  if (refine_margin > -2) params.odd_one_out_refine_margin = refine_margin;
  std::vector<std::pair<std::string, irbis::IssueParams>> runs = {{"self-join (shipped)", params}};
  if (before_exact_rows) {
    irbis::IssueParams before = params;
    before.odd_one_out_exact_rows = 0;
    runs.push_back({"self-join, candidates not searched exactly (before)", before});
  }
  if (old_path) {
    irbis::IssueParams graph = params;  // the path before: HNSW graph (built, then saved), one query per row
    graph.index.open_graph = true;
    graph.index.self_join = false;
    runs.push_back({"hnsw per row, no index on disk", graph});
    runs.push_back({"hnsw per row, index saved by the previous run", graph});
  }
  std::vector<std::vector<int64_t>> odd;
  std::vector<std::vector<std::vector<irbis::Neighbor>>> knns;
  OddAnswer exact;
  if (with_exact) {
    exact = exact_answer(*coll, params, dir / ("bench_exact_k" + std::to_string(params.neighbours) + ".json"));
    std::vector<irbis::ImageRecord> records = coll->records(irbis::ImageStatus::ok);
    if (!strays.empty() && exact.kth.size() + strays.size() == records.size()) {
      // The cache holds the answer without the strays: the exact one with them, through the same rules.
      const double c0 = cpu_seconds();
      auto [kth, searched_again] = strays_exact_kth(*coll, records, exact.kth, strays.size(), params.neighbours);
      irbis::IssueParams given = params;
      given.kth_distance = std::move(kth);
      const irbis::CollectionIssues out = irbis::find_collection_issues(*coll, given);
      exact = odd_answer(out);
      nlohmann::json j;
      j["run"] = "exact k-NN with strays (cached answer + the strays' and their neighbours' rows by brute force)";
      j["images_searched_again"] = searched_again;
      j["cpu_s"] = cpu_seconds() - c0;
      j["odd_one_out_rows"] = exact.odd.size();
      j["strays"] = stray_ranks(out, strays);
      std::cout << j.dump() << std::endl;
    }
  }
  for (const auto& [run, p] : runs) {
    nlohmann::json j;
    j["run"] = run;
    j["refine_share"] = p.index.join.refine_share;
    j["refine_margin"] = p.odd_one_out_refine_margin;
    j["exact_rows"] = p.odd_one_out_exact_rows;
    j["images"] = coll->committed_rows();
    auto t = Clock::now();
    double c0 = cpu_seconds();
    const irbis::CollectionIssues out = irbis::find_collection_issues(*coll, p);
    j["issues_wall_s"] = since(t);
    j["issues_cpu_s"] = cpu_seconds() - c0;
    j["rows"] = out.issues.size();
    j["used_embeddings"] = out.used_embeddings;
    odd.push_back(odd_ones(out, 20));
    if (!strays.empty()) j["strays"] = stray_ranks(out, strays);
    if (with_exact) j["vs_exact"] = compare_with_exact(odd_answer(out), exact);
    if (!parts || (p.odd_one_out_exact_rows == 0 && !p.index.open_graph)) {  // the "before" run: its parts are the shipped run's
      knns.emplace_back();
      std::cout << j.dump() << std::endl;
      continue;
    }
    t = Clock::now();
    c0 = cpu_seconds();
    auto vs = irbis::VectorSearch::open(*coll, p.model, p.index);
    j["parts"]["vector_index_open_s"] = since(t);
    j["parts"]["vector_index_open_cpu_s"] = cpu_seconds() - c0;
    j["parts"]["index_kind"] = irbis::index_kind_name(vs->status().kind);
    t = Clock::now();
    c0 = cpu_seconds();
    knns.push_back(vs->self_knn(p.neighbours));
    j["parts"]["self_knn_s"] = since(t);
    j["parts"]["self_knn_cpu_s"] = cpu_seconds() - c0;
    t = Clock::now();
    c0 = cpu_seconds();
    const irbis::CollectionDupes d = irbis::find_collection_dupes(*coll, p.dupes);
    j["parts"]["dupes_s"] = since(t);
    j["parts"]["dupes_cpu_s"] = cpu_seconds() - c0;
    j["parts"]["dupe_groups"] = d.groups.size();
    j["peak_rss_mb"] = peak_rss_mb();
    std::cout << j.dump() << std::endl;
  }
  const size_t hnsw_at = before_exact_rows ? 2 : 1;  // the per-row graph's first run
  if (old_path && odd.size() > hnsw_at) {
    // Same odd ones out? The first 20 of each path, and how many of one path's k neighbours the
    // other path lists too (neither is exact at this size).
    nlohmann::json j;
    size_t common = 0, same_rank = 0;
    for (size_t i = 0; i < odd[0].size(); ++i) {
      common += std::count(odd[hnsw_at].begin(), odd[hnsw_at].end(), odd[0][i]);
      same_rank += i < odd[hnsw_at].size() && odd[hnsw_at][i] == odd[0][i];
    }
    int64_t agree = 0, total = 0;
    for (size_t r = 0; r < knns[0].size(); ++r) {
      for (const auto& a : knns[0][r])
        for (const auto& b : knns[hnsw_at][r]) agree += a.row == b.row;
      total += int64_t(knns[hnsw_at][r].size());
    }
    j["odd_one_out_top20_self_join"] = odd[0];
    j["odd_one_out_top20_hnsw"] = odd[hnsw_at];
    j["odd_one_out_top20_common"] = common;
    j["odd_one_out_top20_same_rank"] = same_rank;
    j["knn_agreement"] = double(agree) / double(std::max<int64_t>(1, total));
    std::cout << j.dump() << std::endl;
  }
  return 0;
}
