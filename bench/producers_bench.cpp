// CPU cost per image of each image-feature producer of `irbis index` (the registry in
// src/pipeline/features.cpp), and of decoding, on a folder of images, one thread:
//   - decode: the 224 px decode the quality group and the default CNN share, and the hashes' own
//     32 px decode (decode_32_hashes);
//   - each registered feature's compute on the decode `index` gives it, and the quality group's
//     shared small image (quality_input);
//   - how many hash bits would move if the hashes were computed from the shared 224 px decode
//     instead of their own 32 px one (why they are not) (pHash, dHash, aHash and the stored pHash variants), per image.
// Prints one JSON object (ms CPU per image; bit counts). bench/producers.sh runs it.
// With --repeat R, decodes every image once at 224 px and then runs only the quality group on the
// kept decodes R times (ms CPU per image and pass of quality_input and each feature): a loop for
// `perf record` with no decode in it.
//   build/bench/producers_bench IMAGE_DIR [--repeat R]
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/quality.h"
#include "irbis/scan.h"
#include "pipeline/impl/feature_producer.h"
#include "bench_clock.h"

namespace {
// This thread's CPU seconds: what the work costs, whatever else the machine is running.
double cpu_now() { return irbis::bench::thread_cpu_seconds(); }

int bits_moved(uint64_t a, uint64_t b) { return irbis::hamming(a, b); }

// The quality group alone, `repeat` times over decodes kept in memory.
int repeat_quality_group(const std::vector<std::filesystem::path>& files, int repeat) {
  using irbis::indexing::image_feature_groups;
  const auto group = std::find_if(image_feature_groups().begin(), image_feature_groups().end(),
                                  [](const auto& g) { return g.shares_quality_input; });
  if (group == image_feature_groups().end()) {
    std::cerr << "producers_bench: no group shares the quality input\n";
    return 1;
  }
  std::vector<std::pair<std::vector<uint8_t>, cv::Mat>> decoded;  // file bytes (jpeg_quality reads them), 224 px decode
  for (const auto& f : files) {
    auto bytes = irbis::read_file_bytes(f.string(), uint64_t(1) << 31);
    irbis::DecodeOptions opts;
    opts.min_side = irbis::kQualityMinSide;
    try {
      cv::Mat rgb = irbis::decode_image(bytes, opts).rgb;
      decoded.emplace_back(std::move(bytes), std::move(rgb));
    } catch (const irbis::Error&) {
    }
  }
  std::map<std::string, double> cpu;
  for (int r = 0; r < repeat; ++r)
    for (const auto& [bytes, rgb] : decoded) {
      double t0 = cpu_now();
      const irbis::indexing::GroupInput prepared = irbis::indexing::prepare_group_input(*group, rgb);
      cpu["quality.prepare"] += cpu_now() - t0;
      const irbis::indexing::FeatureInput in = prepared.input(rgb, bytes);
      for (const auto& feature : group->features) {
        std::vector<uint8_t> row(feature.spec.row_bytes(), 0);
        t0 = cpu_now();
        feature.compute(in, row);
        cpu[feature.spec.name] += cpu_now() - t0;
      }
    }
  const double passes = double(decoded.size()) * repeat;
  nlohmann::json ms;
  double total = 0;
  for (const auto& [name, s] : cpu) ms[name] = passes > 0 ? 1000 * s / passes : 0.0, total += s;
  ms["quality group, total"] = passes > 0 ? 1000 * total / passes : 0.0;
  std::cout << nlohmann::json{{"images", decoded.size()}, {"repeat", repeat}, {"ms_cpu_per_image", ms}}.dump(1) << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool repeat = argc == 4 && std::string(argv[2]) == "--repeat";
  if (argc != 2 && !repeat) {
    std::cerr << "usage: producers_bench IMAGE_DIR [--repeat R]\n";
    return 2;
  }
  cv::setNumThreads(1);
  const std::vector<std::filesystem::path> files = irbis::bench::sorted_files(argv[1]);
  if (repeat) return repeat_quality_group(files, std::max(1, std::atoi(argv[3])));
  using irbis::indexing::image_feature_groups;
  std::map<std::string, double> cpu;  // seconds per step
  size_t images = 0, failed = 0;
  std::map<std::string, std::vector<int>> moved;  // hash -> bits moved per image
  for (const auto& f : files) {
    const auto bytes = irbis::read_file_bytes(f.string(), uint64_t(1) << 31);
    std::vector<irbis::DecodedImage> d;
    irbis::DecodeOptions opts;
    double t0 = cpu_now();
    try {
      opts.min_side = irbis::kQualityMinSide;
      d.push_back(irbis::decode_image(bytes, opts));
      cpu["decode_224"] += cpu_now() - t0;
      t0 = cpu_now();
      opts.min_side = irbis::kHashMinSide;
      d.push_back(irbis::decode_image(bytes, opts));
      cpu["decode_32_hashes"] += cpu_now() - t0;
    } catch (const irbis::Error&) {
      ++failed;
      continue;
    }
    const cv::Mat& shared = d[0].rgb;
    for (const auto& group : image_feature_groups()) {
      const cv::Mat& rgb = group.min_side == irbis::kHashMinSide ? d[1].rgb : shared;
      t0 = cpu_now();
      const irbis::indexing::GroupInput prepared = irbis::indexing::prepare_group_input(group, rgb);
      cpu[group.label + ".prepare"] += cpu_now() - t0;
      const irbis::indexing::FeatureInput in = prepared.input(rgb, bytes);
      for (const auto& feature : group.features) {
        std::vector<uint8_t> row(feature.spec.row_bytes(), 0);
        t0 = cpu_now();
        feature.compute(in, row);
        cpu[feature.spec.name] += cpu_now() - t0;
      }
    }
    // What hashing the shared 224 px decode instead of the hashes' own 32 px one would move.
    const irbis::ImageHashes own = irbis::image_hashes(d[1].rgb), from_shared = irbis::image_hashes(shared);
    moved["phash"].push_back(bits_moved(own.phash, from_shared.phash));
    moved["dhash"].push_back(bits_moved(own.dhash, from_shared.dhash));
    moved["ahash"].push_back(bits_moved(own.ahash, from_shared.ahash));
    const auto v_own = irbis::phash_variants(d[1].rgb), v_shared = irbis::phash_variants(shared);
    int v = 0;
    for (size_t i = 1; i < v_own.size(); ++i) v = std::max(v, bits_moved(v_own[i], v_shared[i]));
    moved["phash_variants_max"].push_back(v);
    ++images;
  }
  nlohmann::json ms, bits;
  for (const auto& [name, s] : cpu) ms[name] = images ? 1000 * s / double(images) : 0.0;
  for (auto& [name, v] : moved) {
    std::sort(v.begin(), v.end());
    const auto count_over = [&](int k) { return std::count_if(v.begin(), v.end(), [&](int b) { return b > k; }); };
    bits[name] = {{"images_changed", count_over(0)},
                  {"images_over_2_bits", count_over(2)},
                  {"max", v.empty() ? 0 : v.back()},
                  {"median", v.empty() ? 0 : v[v.size() / 2]},
                  {"mean", v.empty() ? 0.0 : double(std::accumulate(v.begin(), v.end(), 0)) / double(v.size())}};
  }
  std::cout << nlohmann::json{{"images", images}, {"failed", failed}, {"ms_cpu_per_image", ms}, {"hash_bits_moved", bits}}.dump(1)
            << '\n';
  return 0;
}
