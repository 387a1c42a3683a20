// Inference-only rate of irbis's embedder on the preprocessed inputs of real photos, for
// bench/embed_vs_opencv_python.sh. First decodes and preprocesses every JPEG in FOLDER exactly as
// `irbis index` does (read, TurboJPEG DCT-scaled decode to >= input_size, area resize, scale; one
// thread, timed: that is the work the pipeline has to hide), then runs what the index pipeline
// runs per image on the inference side (Embedder::forward_blocks of one image, the descriptor, the
// float16 blocks) over all of them, PASSES times, and prints images/s and CPU ms per image.
// Engine and precision come from $IRBIS_ENGINE / $IRBIS_PRECISION (default: auto).
//   usage: embed_infer_bench FOLDER [PASSES=3] [CV_THREADS=cores] [STREAMS=1] [MODEL]
// STREAMS > 1: that many threads, each with its own Embedder, share the images (inference only).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>

#include "irbis/image.h"
#include "irbis/model.h"
#include "irbis/scan.h"

namespace {
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FOLDER [PASSES=3] [CV_THREADS=cores] [STREAMS=1] [MODEL]\n", argv[0]);
    return 2;
  }
  const std::string folder = argv[1];
  const int passes = argc > 2 ? std::atoi(argv[2]) : 3;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int cv_threads = argc > 3 ? std::atoi(argv[3]) : cores;
  const int streams = argc > 4 ? std::max(1, std::atoi(argv[4])) : 1;
  const std::string model = argc > 5 ? argv[5] : irbis::kDefaultModel;

  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(folder))
    if (e.path().extension() == ".jpg") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());

  std::vector<std::unique_ptr<irbis::Embedder>> emb;
  const irbis::ModelCard card = irbis::find_model(model);
  // Engine and precision: $IRBIS_ENGINE / $IRBIS_PRECISION (irbis::default_inference); the threads
  // of one forward pass: CV_THREADS (OpenCV's pool for OpenCV DNN, the OpenMP team for oneDNN).
  irbis::InferenceOptions inference = irbis::default_inference();
  inference.threads = std::max(1, cv_threads);
  for (int s = 0; s < streams; ++s) emb.push_back(std::make_unique<irbis::Embedder>(card, inference));
  std::printf("engine %s (oneDNN isa %s)\n", emb[0]->inference_tag().c_str(), irbis::inference_isa().c_str());

  // Decode + preprocess, one thread, OpenCV's pool off (as a pipeline worker would run it).
  cv::setNumThreads(1);
  irbis::DecodeOptions dec;
  dec.min_side = std::max(32, emb[0]->input_size());
  std::vector<cv::Mat> inputs;
  double c0 = cpu_seconds(), t0 = now();
  for (const auto& f : files) {
    const auto bytes = irbis::read_file_bytes(f, uint64_t(1) << 31);
    inputs.push_back(emb[0]->preprocess(irbis::decode_image(bytes, dec).rgb));
  }
  const double pre_cpu = cpu_seconds() - c0, pre_wall = now() - t0;
  const size_t n = inputs.size();
  std::printf("images %zu  decode+preprocess (1 thread): %.2f ms CPU/image, %.2f ms wall/image\n", n,
              1000 * pre_cpu / double(n), 1000 * pre_wall / double(n));

  cv::setNumThreads(cv_threads);
  for (auto& e : emb) e->forward_blocks({inputs[0]});  // warm-up (network set-up), one at a time
  for (int p = 0; p < passes; ++p) {
    std::atomic<size_t> next{0};
    auto run = [&](irbis::Embedder& e) {
      try {
      for (size_t i; (i = next++) < n;) {
        cv::Mat blocks = e.forward_blocks({inputs[i]});
        cv::Mat d = e.descriptor_from_blocks(blocks);
        cv::Mat b16;
        blocks.convertTo(b16, CV_16F);
      }
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "inference failed: %s\n", ex.what());
        std::exit(1);
      }
    };
    c0 = cpu_seconds();
    t0 = now();
    if (streams == 1) {
      run(*emb[0]);
    } else {
      std::vector<std::thread> th;
      for (int s = 0; s < streams; ++s) th.emplace_back(run, std::ref(*emb[size_t(s)]));
      for (auto& t : th) t.join();
    }
    const double wall = now() - t0, cpu = cpu_seconds() - c0;
    std::printf("pass %d  inference only (cv threads %d, streams %d): %.1f images/s  %.2f ms CPU/image  load %.2f\n", p + 1,
                cv_threads, streams, double(n) / wall, 1000 * cpu / double(n), [] {
                  double l[1] = {0};
                  getloadavg(l, 1);
                  return l[0];
                }());
    std::fflush(stdout);
  }
  return 0;
}
