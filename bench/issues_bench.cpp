// `irbis issues` at collection scale without embedding that many images: writes a collection of
// N synthetic images through the Collection API (the default model's embedding feature from a
// Gaussian mixture, quality and sharpness rows drawn around the values real photos give, random
// perceptual hashes with 1 % near-copies), then times find_collection_issues on it twice: first
// with no vector index on disk (the first `issues` or `unique` of a collection builds it), then
// with the index the first run saved. The parts (vector index, k-th neighbours, duplicates) are
// timed on their own too. Prints the CPU it ran on and one JSON line per run.
//   build/bench/issues_bench --n 100000 --dir /tmp/issues100k
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
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
#include "synthetic_embeddings.h"

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

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

int main(int argc, char** argv) {
  int64_t n = 100000;
  fs::path dir = "/tmp/irbis-issues-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n") n = std::stoll(v);
    else if (a == "--dir") dir = v;
    else {
      std::cerr << "usage: issues_bench [--n N] [--dir DIR]\n";
      return 2;
    }
  }
  std::cout << "cpu: " << cpu_model() << ", " << std::thread::hardware_concurrency() << " threads\n";
  if (!fs::exists(dir / irbis::kCatalogFile)) write_collection(dir, n);
  fs::remove_all(dir / irbis::kVectorIndexDir);
  auto coll = irbis::Collection::open(dir);
  const irbis::IssueParams params;
  for (const char* run : {"no index on disk", "index saved by the first run"}) {
    nlohmann::json j;
    j["run"] = run;
    j["images"] = coll->committed_rows();
    auto t = Clock::now();
    double c0 = cpu_seconds();
    const irbis::CollectionIssues out = irbis::find_collection_issues(*coll, params);
    j["issues_wall_s"] = since(t);
    j["issues_cpu_s"] = cpu_seconds() - c0;
    j["rows"] = out.issues.size();
    j["used_embeddings"] = out.used_embeddings;
    t = Clock::now();
    auto vs = irbis::VectorSearch::open(*coll, params.model, {});
    j["parts"]["vector_index_open_s"] = since(t);
    j["parts"]["index_kind"] = irbis::index_kind_name(vs->status().kind);
    t = Clock::now();
    const auto knn = vs->self_knn(params.neighbours);
    j["parts"]["self_knn_s"] = since(t);
    t = Clock::now();
    const irbis::CollectionDupes d = irbis::find_collection_dupes(*coll, params.dupes);
    j["parts"]["dupes_s"] = since(t);
    j["parts"]["dupe_groups"] = d.groups.size();
    j["peak_rss_mb"] = peak_rss_mb();
    std::cout << j.dump() << std::endl;
  }
  return 0;
}
