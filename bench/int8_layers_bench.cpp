// Where a model's int8 error comes from: int8 against fp32 on the gate's inputs (every photo of
// Debian's sample folders and its mirrored central crop, as tests/models/onednn_engine_test.cpp
// makes them), first the descriptor cosine of every input (median, min, the worst inputs), then,
// on the worst inputs, every calibrated activation tensor's global-average-pooled vector: cosine
// and relative L2 error to fp32, in graph order. The pooled means are what the descriptor is made
// of, so the first tensor whose error jumps is where the descriptor loses it.
//   usage: int8_layers_bench MODEL [CALIBRATION=-] [WORST=3] [LIMIT=all inputs] [FLOAT_AFTER] [FLOAT_UNTIL]
// CALIBRATION: `-` the installed card's; `max` / `mse` calibrated here with that method on the
// photos scripts/import_models.sh uses (every 3rd); or a card JSON (e.g. written by `irbis model
// calibrate` into a copy of the registry) whose int8 calibration is compared. FLOAT_AFTER: run the
// operators after this tensor in bf16 / f32 (the card's int8.float_after, mixed precision).
// FLOAT_UNTIL: the operators up to this tensor in bf16 / f32 (int8.float_until).
// CALIBRATION `bf16`: bf16 against fp32 instead of int8.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/model.h"
#include "models/gate_photos.h"

namespace fs = std::filesystem;

namespace {

using irbis::test::gate_photos;

// Channels of every 4-D tensor of the graph, in node order (Conv: its weights' first dimension,
// Concat: the sum, everything else: its first input's).
std::vector<std::pair<std::string, int>> tensor_channels(const fs::path& onnx_path, const std::string& input) {
  onnx::ModelProto m;
  std::ifstream in(onnx_path, std::ios::binary);
  if (!m.ParseFromIstream(&in)) throw std::runtime_error(onnx_path.string() + ": not an ONNX model");
  std::map<std::string, int> init_rows;
  for (const auto& t : m.graph().initializer())
    if (t.dims_size() > 0) init_rows[t.name()] = int(t.dims(0));
  std::map<std::string, int> ch{{input, 3}};
  std::vector<std::pair<std::string, int>> order;
  for (const auto& n : m.graph().node()) {
    if (n.output_size() != 1 || n.input_size() == 0 || !ch.count(n.input(0))) continue;
    int c = ch[n.input(0)];
    if (n.op_type() == "Conv") c = init_rows.at(n.input(1));
    if (n.op_type() == "Concat") {
      c = 0;
      for (const auto& i : n.input()) c += ch.count(i) ? ch[i] : 0;
    }
    if (n.op_type() == "Gemm" || n.op_type() == "Flatten" || n.op_type() == "Softmax" ||
        n.op_type() == "GlobalAveragePool")
      continue;  // 2-D or already pooled
    ch[n.output(0)] = c;
    order.emplace_back(n.output(0), c);
  }
  return order;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [CALIBRATION] [WORST=3] [LIMIT] [FLOAT_AFTER] [FLOAT_UNTIL]\n", argv[0]);
    return 2;
  }
  irbis::ModelCard card = irbis::find_model(argv[1]);
  const std::string source = argc > 2 ? argv[2] : "-";
  if (source == "max" || source == "mse") {
    // Calibrated here as scripts/import_models.sh does: every 3rd usable photo, sorted.
    std::vector<cv::Mat> all = gate_photos(), cal;
    for (size_t k = 0; k < all.size(); k += 2)
      if ((k / 2) % 3 == 0) cal.push_back(all[k]);
    card = irbis::calibrate_int8(card, cal, "every 3rd",
                                 source == "max" ? irbis::Int8RangeMethod::max : irbis::Int8RangeMethod::mse);
  } else if (source != "-" && source != "bf16") {
    std::ifstream f(argv[2]);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    irbis::ModelCard other = irbis::ModelCard::from_json(text, card.card_path);
    card.int8 = other.int8;
  }
  if (argc > 5 && std::string(argv[5]) != "-") card.int8.float_after = argv[5];
  if (argc > 6) card.int8.float_until = argv[6];
  const int worst = argc > 3 ? std::atoi(argv[3]) : 3;
  std::vector<cv::Mat> photos = gate_photos();
  if (argc > 4) photos.resize(std::min(photos.size(), size_t(std::atoi(argv[4]))));
  std::printf("%s: %zu inputs, calibration: %d photos, %s; float after '%s', until '%s'\n", card.name.c_str(),
              photos.size(), card.int8.photos, card.int8.method.c_str(), card.int8.float_after.c_str(),
              card.int8.float_until.c_str());

  irbis::Embedder fp32(card, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
  // `bf16` as CALIBRATION: bf16 against fp32 instead, for comparison.
  const irbis::Precision low = source == "bf16" ? irbis::Precision::bf16 : irbis::Precision::int8;
  irbis::Embedder int8(card, {irbis::InferenceEngine::onednn, low});
  std::vector<cv::Mat> inputs;
  std::vector<double> cos;
  for (const auto& p : photos) {
    inputs.push_back(fp32.preprocess(p));
    cv::Mat a = fp32.descriptor_from_blocks(fp32.forward_blocks({inputs.back()}));
    cv::Mat b = int8.descriptor_from_blocks(int8.forward_blocks({inputs.back()}));
    cos.push_back(a.dot(b));
  }
  std::vector<size_t> idx(cos.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return cos[a] < cos[b]; });
  std::vector<double> sorted = cos;
  std::sort(sorted.begin(), sorted.end());
  std::printf("descriptor cosine int8 vs fp32: median %.5f, min %.5f, below 0.98: %zu, below 0.99: %zu\n",
              sorted[sorted.size() / 2], sorted.front(),
              size_t(std::count_if(cos.begin(), cos.end(), [](double c) { return c < 0.98; })),
              size_t(std::count_if(cos.begin(), cos.end(), [](double c) { return c < 0.99; })));
  std::printf("worst inputs:");
  for (int k = 0; k < worst && k < int(idx.size()); ++k) std::printf(" #%zu %.5f", idx[size_t(k)], cos[idx[size_t(k)]]);
  std::printf("\n");

  // Every calibrated 4-D tensor as an extra pooled block (they are the ends of fused chains, so
  // pooling them changes no fusion).
  irbis::ModelCard probe = card;
  for (const auto& [name, c] : tensor_channels(card.onnx_path(), card.input_tensor))
    if (card.int8.ranges.count(name)) probe.blocks.push_back({"probe:" + name, name, c});
  irbis::Embedder pf(probe, {irbis::InferenceEngine::onednn, irbis::Precision::fp32});
  irbis::Embedder pq(probe, {irbis::InferenceEngine::onednn, low});
  std::vector<cv::Mat> bf, bq;
  for (int k = 0; k < worst && k < int(idx.size()); ++k) {
    bf.push_back(pf.forward_blocks({inputs[idx[size_t(k)]]}));
    bq.push_back(pq.forward_blocks({inputs[idx[size_t(k)]]}));
  }
  std::printf("%-28s %6s %10s  per worst input: pooled cosine / relative L2 error\n", "tensor", "ch", "range max");
  for (const auto& b : probe.blocks) {
    if (b.name.rfind("probe:", 0) != 0) continue;
    const int off = probe.block_offset(b.name);
    std::printf("%-28s %6d %10.3f ", b.tensor.c_str(), b.dim, card.int8.ranges.at(b.tensor).second);
    for (size_t k = 0; k < bf.size(); ++k) {
      cv::Mat a = bf[k].colRange(off, off + b.dim), q = bq[k].colRange(off, off + b.dim);
      const double na = cv::norm(a), nq = cv::norm(q);
      const double c = na > 0 && nq > 0 ? a.dot(q) / (na * nq) : 0;
      std::printf(" %.5f/%.4f", c, na > 0 ? cv::norm(a, q) / na : 0.0);
    }
    std::printf("\n");
  }
  return 0;
}
