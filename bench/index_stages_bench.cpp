// CPU cost per image of each stage of `irbis index` (hashes + the default CNN, the default
// command), one thread, on a folder of images, with the index's own producers (plan_features)
// and its own catalog writer (IngestSink):
//   - read (file bytes), xxh3 (the content hash) + sniff;
//   - decode: the sizes the index asks for in one call (decode_image_sizes: at 1 MP the hashes'
//     1/8 and the CNN's 1/4 DCT-scaled decodes are two Huffman passes, at 12 MP both are 1/8 and
//     share one), and each size alone;
//   - each producer's compute on its decode (hashes group, quality group, cnn), and the cnn split
//     into preprocess (area resize to 224 px, scale) and inference (forward pass);
//   - produce_image: the whole worker side of one image as the index runs it (the sum above);
//   - catalog write: staging the rows in the catalog and feature files (the calling thread's
//     side, IngestSink, commits included);
//   - model load: building and warming the network (once per run and worker).
// The CNN runs the process-wide inference choice ($IRBIS_ENGINE / $IRBIS_PRECISION; auto otherwise).
// Prints one JSON object (ms CPU per image). bench/index_stages.sh runs it and does the arithmetic.
//   build/bench/index_stages_bench IMAGE_DIR
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "irbis/collection.h"
#include "irbis/errors.h"
#include "irbis/image.h"
#include "irbis/model.h"
#include "irbis/pipeline.h"
#include "irbis/scan.h"
#include "pipeline/impl/commit.h"
#include "pipeline/impl/plan.h"
#include "pipeline/impl/produce.h"
#include "bench_clock.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: index_stages_bench IMAGE_DIR\n";
    return 2;
  }
  using namespace irbis;
  using namespace irbis::indexing;
  const auto cpu = [] { return bench::thread_cpu_seconds(); };
  cv::setNumThreads(1);  // the index's workers: OpenCV's pool off, single-threaded networks
  char tmpl[] = "/tmp/index_stages_XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  const fs::path tmp = tmpl;
  std::map<std::string, double> s;  // CPU seconds per stage
  size_t images = 0;
  std::string inference;
  {
    auto coll = Collection::open_or_create(tmp / "c.irbis");
    IndexParams params;
    params.roots = {absolute_root(argv[1])};
    params.model = kDefaultModel;
    double t = cpu();
    FeaturePlan plan = plan_features(*coll, params);
    declare_features(*coll, plan.producers);
    for (auto& p : plan.producers) p->prepare(1);
    s["model_load (once per run and worker)"] = cpu() - t;
    const ProduceContext ctx{plan.producers, params.decode, params.max_file_bytes};
    std::vector<int> sides;
    for (const auto& p : plan.producers) sides.push_back(std::max(params.decode.min_side, p->min_side()));
    Embedder embedder(find_model(kDefaultModel));  // the cnn producer's parts, timed one by one
    inference = embedder.inference_tag();
    IndexReport rep;
    IngestSink sink(*coll, plan.producers, params.commit_every, rep);
    for (const ScanEntry& entry : scan(params.roots).files) {
      t = cpu();
      const std::vector<uint8_t> bytes = read_file_bytes(entry.path, params.max_file_bytes);
      s["read"] += cpu() - t;
      t = cpu();
      (void)content_hash(bytes);
      (void)sniff_format(bytes);
      s["xxh3+sniff"] += cpu() - t;
      std::vector<DecodedImage> img;
      try {
        t = cpu();
        img = decode_image_sizes(bytes, params.decode, sides);
        s["decode (the index's sizes, one call)"] += cpu() - t;
      } catch (const Error&) {
        continue;
      }
      for (size_t p = 0; p < plan.producers.size(); ++p) {
        if (std::find(sides.begin(), sides.begin() + long(p), sides[p]) == sides.begin() + long(p)) {
          DecodeOptions one = params.decode;
          one.min_side = sides[p];
          t = cpu();
          (void)decode_image(bytes, one);
          s["decode alone, min side " + std::to_string(sides[p])] += cpu() - t;
        }
        auto run = plan.producers[p]->begin();
        t = cpu();
        (void)run->compute(img[p].rgb, bytes);
        s["compute " + plan.producers[p]->label()] += cpu() - t;
        if (!plan.producers[p]->model().empty()) {
          t = cpu();
          const cv::Mat in = embedder.preprocess(img[p].rgb);
          s["cnn preprocess"] += cpu() - t;
          t = cpu();
          (void)embedder.forward_blocks({in});
          s["cnn inference"] += cpu() - t;
        }
      }
      t = cpu();
      ProducedImage w = produce_image(entry, ctx);
      s["produce_image (whole worker side)"] += cpu() - t;
      t = cpu();
      sink.stage(w, -1);
      s["catalog write"] += cpu() - t;
      ++images;
    }
    t = cpu();
    sink.finish();
    s["catalog write"] += cpu() - t;
  }
  fs::remove_all(tmp);
  nlohmann::json ms;
  for (const auto& [name, sec] : s)
    ms[name] = name.starts_with("model_load") ? 1000 * sec : images ? 1000 * sec / double(images) : 0.0;
  std::cout << nlohmann::json{{"images", images}, {"inference", inference}, {"ms_cpu_per_image", ms}}.dump(1) << '\n';
  return 0;
}
