// The oneDNN inference engine: runs the ONNX graphs irbis writes (src/models/ir.cpp) with oneDNN
// primitives in the layouts oneDNN prefers, weights reordered once at load, bias / clip / ReLU /
// residual add fused into the convolutions as post-ops. Internal to src/models; the Embedder is
// the public face (include/irbis/model.h). See docs/models.md for the covered operators.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <opencv2/core.hpp>

#include "irbis/model.h"

namespace irbis::onednn {

// The first ONNX operator (with its node name) of the file the engine cannot run, or "" when it
// runs the whole graph. Throws ModelError when the file is not a readable ONNX model.
std::string unsupported_op(const std::filesystem::path& onnx);

// The instruction set oneDNN dispatches to on this CPU, e.g. "avx512_core_bf16".
std::string effective_isa();
// Whether this CPU runs bf16 / int8 dot products natively (AVX-512 BF16 or AMX; VNNI or AMX).
bool cpu_has_native_bf16();
bool cpu_has_native_int8();
bool cpu_has_amx();

// One network for one card at one precision (fp32, bf16 or int8), batch 1. Not thread-safe: one per
// worker. Threads of one forward pass: `threads`, the calling thread's OpenMP team while it is
// built and run (oneDNN's Debian build uses OpenMP; oneDNN fixes a primitive's team when it is
// created). 1 (one network per worker) never starts an OpenMP pool; a larger team waits at every
// layer's barrier, and on a busy machine its threads spin there (docs/models.md, "Threads"). The
// caller's own OpenMP thread count is restored after each build and run.
class Network {
 public:
  // Throws ModelError naming the operator when the graph has one the engine does not cover, and
  // when oneDNN has no implementation for the precision on this CPU. int8 needs the card's
  // calibration (card.int8; ModelError without it). observe_ranges (fp32 only): every run also
  // records the min and max of each activation tensor (observed_ranges(), for calibrate_int8).
  Network(const ModelCard& card, Precision precision, bool observe_ranges = false, int threads = 1);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // One preprocessed input (CV_32FC3, input_size^2, continuous): writes the pooled blocks (the
  // card's blocks in order, blocks_dim floats) and, when outputs is not empty, each card output
  // (outputs[i] points at card.outputs[i].dim floats).
  void run(const cv::Mat& input, float* blocks_row, const std::vector<float*>& outputs);

  // Multiply-accumulates of one forward pass (convolutions and the classifier), for GFLOP/s.
  double macs() const;

  // Tensor -> (min, max) over every run so far (observe_ranges networks; empty otherwise).
  const std::map<std::string, std::pair<float, float>>& observed_ranges() const;

  // The calibration's second pass (observe_ranges networks): from now on every run also counts
  // each tensor's |x| into `bins` equal bins over [0, tops[tensor]] (values above go to the last
  // bin, exact zeros apart); tensors not in `tops` are not counted. Resets earlier counts.
  struct Histogram {
    float top = 0;
    double zeros = 0;
    std::vector<double> counts;
  };
  void set_histograms(const std::map<std::string, float>& tops, int bins);
  const std::map<std::string, Histogram>& histograms() const;

 private:
  struct Impl;
  void build(int threads);
  ModelCard card_;
  Precision precision_;
  bool observe_ = false;
  int threads_ = 1;
  std::unique_ptr<Impl> impl_;
};

}  // namespace irbis::onednn
