// Helpers shared by the index pipeline's unit tests.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/impl/feature_producer.h"
#include "test_util.h"

namespace irbis::test {

// A producer of one f32[3] feature `name`: the mean R, G, B of the decoded image; registered the
// way a new feature would be.
inline std::unique_ptr<indexing::FeatureProducer> mean_colour_producer(const std::string& name = "mean_rgb") {
  indexing::ImageFeatureGroup group{
      "mean", 8, {{{name, "f32", 3}, [](const indexing::FeatureInput& in, std::span<uint8_t> row) {
                     const cv::Scalar m = cv::mean(in.rgb);
                     indexing::put_row(row, std::array<float, 3>{float(m[0]), float(m[1]), float(m[2])});
                   }}}};
  return indexing::make_image_producer(group);
}

// Writes `n` distinct generated photos as dir/img<k>.png; returns their paths.
inline std::vector<std::filesystem::path> write_photos(const std::filesystem::path& dir, int n, int seed = 0) {
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> out;
  for (int k = 0; k < n; ++k) {
    out.push_back(dir / ("img" + std::to_string(k) + ".png"));
    write_file(out.back(), encode(synthetic_photo(64 + 8 * k, 48, seed + k), ".png"));
  }
  return out;
}

}  // namespace irbis::test
