// The per-image kernels of `irbis index` outside decode and inference, on the decode sizes the index
// gives them (1/8 of a 12 MP photo: 500x375; 1/4 and 1/8 of a 1 MP one: 300x225 and 150x113), one
// thread, side by side with the OpenCV calls they replace (BENCHMARKS.md, "The index's other stages"):
//   - the CNN's area resize to 224x224 (8-bit RGB): cv::resize(INTER_AREA) vs irbis::resize_area;
//   - the hashes' three area resizes of the float grey (32x32, 9x8, 8x8): three cv::resize calls vs
//     one resize_area of the three sizes (one pass);
//   - image_hashes, color_stats, quality_input as the index calls them.
// The replaced calls give the same bytes (tests/features/resize_area_test.cpp).
//   build/bench/area_resize_bench [--benchmark_filter=REGEX]
#include <benchmark/benchmark.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/quality.h"

namespace {

// A photo-like image (blurred noise) of the given size.
cv::Mat decode_like(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(1);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(m, m, cv::Size(5, 5), 2);
  return m;
}

cv::Mat grey_float(int w, int h) {
  cv::Mat grey, f;
  cv::cvtColor(decode_like(w, h), grey, cv::COLOR_RGB2GRAY);
  grey.convertTo(f, CV_32F);
  return f;
}

void Cnn224_OpenCV(benchmark::State& s) {
  const cv::Mat m = decode_like(int(s.range(0)), int(s.range(1)));
  cv::Mat d;
  for (auto _ : s) {
    cv::resize(m, d, cv::Size(224, 224), 0, 0, cv::INTER_AREA);
    benchmark::DoNotOptimize(d.data);
  }
}
void Cnn224_Irbis(benchmark::State& s) {
  const cv::Mat m = decode_like(int(s.range(0)), int(s.range(1)));
  for (auto _ : s) benchmark::DoNotOptimize(irbis::resize_area(m, 224, 224).data);
}

const std::vector<cv::Size> kHashSizes = {{32, 32}, {9, 8}, {8, 8}};

void HashSizes_OpenCV(benchmark::State& s) {
  const cv::Mat g = grey_float(int(s.range(0)), int(s.range(1)));
  cv::Mat d;
  for (auto _ : s)
    for (const auto& size : kHashSizes) {
      cv::resize(g, d, size, 0, 0, cv::INTER_AREA);
      benchmark::DoNotOptimize(d.data);
    }
}
void HashSizes_Irbis(benchmark::State& s) {
  const cv::Mat g = grey_float(int(s.range(0)), int(s.range(1)));
  for (auto _ : s) benchmark::DoNotOptimize(irbis::resize_area(g, kHashSizes).data());
}

void ImageHashes(benchmark::State& s) {
  const cv::Mat m = decode_like(int(s.range(0)), int(s.range(1)));
  for (auto _ : s) benchmark::DoNotOptimize(irbis::image_hashes(m));
}
void ColorStats(benchmark::State& s) {
  const cv::Mat m = decode_like(int(s.range(0)), int(s.range(1)));
  for (auto _ : s) benchmark::DoNotOptimize(irbis::color_stats(m));
}
void QualityInput(benchmark::State& s) {
  const cv::Mat m = decode_like(int(s.range(0)), int(s.range(1)));
  for (auto _ : s) benchmark::DoNotOptimize(irbis::quality_input(m));
}

}  // namespace

BENCHMARK(Cnn224_OpenCV)->Args({500, 375})->Args({300, 225});
BENCHMARK(Cnn224_Irbis)->Args({500, 375})->Args({300, 225});
BENCHMARK(HashSizes_OpenCV)->Args({500, 375})->Args({150, 113});
BENCHMARK(HashSizes_Irbis)->Args({500, 375})->Args({150, 113});
BENCHMARK(ImageHashes)->Args({500, 375})->Args({150, 113});
BENCHMARK(ColorStats)->Args({500, 375})->Args({150, 113});
BENCHMARK(QualityInput)->Args({500, 375})->Args({300, 225});

int main(int argc, char** argv) {
  cv::setNumThreads(1);  // as the index's workers
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
