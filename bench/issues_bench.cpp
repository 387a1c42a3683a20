// `irbis issues` at collection scale without embedding that many images: writes a collection of
// N synthetic images through the Collection API (the default model's embedding feature from a
// Gaussian mixture, quality and sharpness rows drawn around the values real photos give, random
// perceptual hashes with 1 % near-copies), then times find_collection_issues on it, side by side:
// the shipped path (the k-NN self-join, no vector index) and, unless --old 0, the path before it
// (an HNSW graph, one query per row) twice: with no index on disk (built and saved), then with the
// saved one. The parts (vector index, k-th neighbours, duplicates) are timed on their own too, in
// wall and CPU seconds. Prints the CPU it ran on, one JSON line per run and one comparing the
// paths' odd_one_out rows and neighbours.
//   build/bench/issues_bench --n 100000 --dir /tmp/issues100k [--old 0]

#include <chrono>
#include <cstdio>
#include <filesystem>
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

void write_collection(const fs::path& dir, int64_t n) {
  const irbis::ModelCard card = irbis::find_model(irbis::kDefaultModel);
  const std::string emb = irbis::embedding_feature(card.name);
  const int dim = card.embedding_dim;
  std::cerr << "writing " << n << " synthetic images (" << emb << ", " << dim << "-d) to " << dir << "\n";
  const cv::Mat x = irbis::bench::mixture(n, dim, int(std::max<int64_t>(1, n / 50)), 0.6f, 1, 2);
  auto c = irbis::Collection::open_or_create(dir);
  c->ensure_feature({emb, "f32", dim});
  c->ensure_feature({irbis::kQualityFeature, "f32", irbis::kQualityDim});
  c->ensure_feature({irbis::kSharpnessFeature, "f32", irbis::kSharpnessDim});
  c->ensure_feature({irbis::kHashesFeature, "u64", 3});
  std::mt19937_64 rng(3);
  std::vector<std::array<uint64_t, 3>> hashes;
  for (int64_t i = 0; i < n; ++i) {
    irbis::ImageRecord r;
    r.path = "/photos/" + std::to_string(i / 1000) + "/" + std::to_string(i) + ".jpg";
    r.size = 200000 + int64_t(rng() % 100000);
    for (size_t b = 0; b < 8; ++b) r.content_hash[b] = uint8_t(uint64_t(i) >> (8 * b));
    r.content_hash[8] = 1;
    r.format = irbis::ImageFormat::jpeg;
    r.width = 1024 + int(rng() % 512);
    r.height = 768 + int(rng() % 256);
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

}  // namespace

// The first `top` odd_one_out images (collection ids), worst first.
std::vector<int64_t> odd_ones(const irbis::CollectionIssues& out, size_t top) {
  std::vector<int64_t> ids;
  for (const auto& is : out.issues)
    if (is.kind == irbis::IssueKind::odd_one_out && ids.size() < top) ids.push_back(out.records[is.image].id);
  return ids;
}

int main(int argc, char** argv) {
  int64_t n = 100000;
  int old_path = 1;
  fs::path dir = "/tmp/irbis-issues-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n") n = std::stoll(v);
    else if (a == "--dir") dir = v;
    else if (a == "--old") old_path = std::stoi(v);
    else {
      std::cerr << "usage: issues_bench [--n N] [--dir DIR] [--old 0|1]\n";
      return 2;
    }
  }
  std::cout << "cpu: " << cpu_model() << ", " << std::thread::hardware_concurrency() << " threads\n";
  if (!fs::exists(dir / irbis::kCatalogFile)) write_collection(dir, n);
  fs::remove_all(dir / irbis::kVectorIndexDir);
  auto coll = irbis::Collection::open(dir);
  irbis::IssueParams params;  // the shipped path: exact below 10 000 images, the self-join above, no graph
  std::vector<std::pair<std::string, irbis::IssueParams>> runs = {{"self-join (shipped)", params}};
  if (old_path) {
    irbis::IssueParams graph = params;  // the path before: HNSW graph (built, then saved), one query per row
    graph.index.open_graph = true;
    graph.index.self_join = false;
    runs.push_back({"hnsw per row, no index on disk", graph});
    runs.push_back({"hnsw per row, index saved by the previous run", graph});
  }
  std::vector<std::vector<int64_t>> odd;
  std::vector<std::vector<std::vector<irbis::Neighbor>>> knns;
  for (const auto& [run, p] : runs) {
    nlohmann::json j;
    j["run"] = run;
    j["images"] = coll->committed_rows();
    auto t = Clock::now();
    double c0 = cpu_seconds();
    const irbis::CollectionIssues out = irbis::find_collection_issues(*coll, p);
    j["issues_wall_s"] = since(t);
    j["issues_cpu_s"] = cpu_seconds() - c0;
    j["rows"] = out.issues.size();
    j["used_embeddings"] = out.used_embeddings;
    odd.push_back(odd_ones(out, 20));
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
  if (odd.size() > 1) {
    // Same odd ones out? The first 20 of each path, and how many of one path's k neighbours the
    // other path lists too (neither is exact at this size).
    nlohmann::json j;
    size_t common = 0, same_rank = 0;
    for (size_t i = 0; i < odd[0].size(); ++i) {
      common += std::count(odd[1].begin(), odd[1].end(), odd[0][i]);
      same_rank += i < odd[1].size() && odd[1][i] == odd[0][i];
    }
    int64_t agree = 0, total = 0;
    for (size_t r = 0; r < knns[0].size(); ++r) {
      for (const auto& a : knns[0][r])
        for (const auto& b : knns[1][r]) agree += a.row == b.row;
      total += int64_t(knns[1][r].size());
    }
    j["odd_one_out_top20_self_join"] = odd[0];
    j["odd_one_out_top20_hnsw"] = odd[1];
    j["odd_one_out_top20_common"] = common;
    j["odd_one_out_top20_same_rank"] = same_rank;
    j["knn_agreement"] = double(agree) / double(std::max<int64_t>(1, total));
    std::cout << j.dump() << std::endl;
  }
  return 0;
}
