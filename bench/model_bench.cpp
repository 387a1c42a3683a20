// Inference speed of the imported models (OpenCV DNN, CPU backend): images per second for one
// forward pass of a batch, preprocessing excluded. Needs ./setup.sh's models.
//   build/bench/model_bench --benchmark_filter=mobilenet_v2_mid
// Threads: cv::setNumThreads(state.range(1)).
#include <benchmark/benchmark.h>
#include <opencv2/core.hpp>

#include "irbis/model.h"

namespace {

// final_only: a card reduced to the semantic block, to measure what the extra outputs cost.
void run(benchmark::State& state, const char* model, bool final_only = false) {
  int batch = int(state.range(0));
  cv::setNumThreads(int(state.range(1)));
  irbis::ModelCard card = irbis::find_model(model);
  if (final_only) {
    irbis::ModelBlock b = card.block(card.semantic_block);
    card.blocks = {b};
    card.descriptor = {b.name};
    card.embedding_dim = b.dim;
  }
  irbis::Embedder e(card);
  cv::RNG rng(1);
  std::vector<cv::Mat> inputs;
  for (int i = 0; i < batch; ++i) {
    cv::Mat img(e.input_size(), e.input_size(), CV_8UC3);
    rng.fill(img, cv::RNG::UNIFORM, 0, 255);
    inputs.push_back(e.preprocess(img));
  }
  e.forward_blocks(inputs);  // warm-up (allocations, layer fusion)
  for (auto _ : state) {
    cv::Mat b = e.forward_blocks(inputs);
    benchmark::DoNotOptimize(b.data);
  }
  state.counters["img/s"] = benchmark::Counter(double(state.iterations()) * batch, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(run, mobilenet_v2_mid, "mobilenet_v2_mid")->ArgsProduct({{1, 8}, {1, 2}})->MeasureProcessCPUTime()->UseRealTime()->MinTime(2);
BENCHMARK_CAPTURE(run, mobilenet_v2_mid_final_only, "mobilenet_v2_mid", true)->ArgsProduct({{1, 8}, {2}})->MeasureProcessCPUTime()->UseRealTime()->MinTime(2);
BENCHMARK_CAPTURE(run, mobilenet_v2, "mobilenet_v2")->ArgsProduct({{1, 8}, {1, 2}})->MeasureProcessCPUTime()->UseRealTime()->MinTime(2);
BENCHMARK_CAPTURE(run, inception_v3, "inception_v3")->ArgsProduct({{1, 8}, {2}})->MeasureProcessCPUTime()->UseRealTime()->MinTime(3);

BENCHMARK_MAIN();
