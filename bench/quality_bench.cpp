// CPU time of the index-time quality features (quality, sharpness, palette) on a folder of images,
// decoded the way `irbis index` decodes them for the CNN (min side 224: the decode the features
// share), one thread. bench/quality_vs_python.py runs it beside `irbis index` and the numpy/OpenCV
// equivalent. Prints one JSON object: images, and CPU seconds (this thread's) for read, decode and
// each feature.
//   build/bench/quality_bench IMAGE_DIR
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "irbis/errors.h"
#include "irbis/image.h"
#include "irbis/palette.h"
#include "irbis/quality.h"
#include "irbis/scan.h"
#include "bench_clock.h"

namespace {
// This thread's CPU seconds: what the features cost, whatever else the machine is running.
double cpu_now() { return irbis::bench::thread_cpu_seconds(); }
double since(double t0) { return cpu_now() - t0; }
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: quality_bench IMAGE_DIR\n";
    return 2;
  }
  cv::setNumThreads(1);
  const std::vector<std::filesystem::path> files = irbis::bench::sorted_files(argv[1]);
  double t_read = 0, t_decode = 0, t_quality = 0, t_sharp = 0, t_palette = 0;
  size_t images = 0, failed = 0;
  float sink = 0;
  for (const auto& f : files) {
    double t0 = cpu_now();
    const auto bytes = irbis::read_file_bytes(f.string(), uint64_t(1) << 31);
    t_read += since(t0);
    irbis::DecodedImage d;
    try {
      t0 = cpu_now();
      irbis::DecodeOptions opts;
      opts.min_side = irbis::kQualityMinSide;
      d = irbis::decode_image(bytes, opts);
      t_decode += since(t0);
    } catch (const irbis::Error&) {
      ++failed;
      continue;
    }
    t0 = cpu_now();
    sink += irbis::quality_measures(d.rgb)[0];
    t_quality += since(t0);
    t0 = cpu_now();
    sink += irbis::sharpness_measures(d.rgb)[0];
    t_sharp += since(t0);
    t0 = cpu_now();
    sink += irbis::dominant_colors(d.rgb)[0];
    t_palette += since(t0);
    ++images;
  }
  nlohmann::json j = {{"images", images},          {"failed", failed},           {"read_s", t_read},
                      {"decode_s", t_decode},      {"quality_s", t_quality},     {"sharpness_s", t_sharp},
                      {"palette_s", t_palette},    {"checksum", double(sink)}};
  std::cout << j.dump() << '\n';
  return 0;
}
