// OpenCV's thread count for a run of per-core workers (index, match), restored after. One worker
// per core; each decodes its file and, with a model, runs the network on it with its own Embedder
// (match: and verifies its query's pairs). OpenCV's pool is off: the work parallelises across
// images, not within one forward pass. (Inference on the calling thread with OpenCV's TBB pool over
// all cores plus a decode worker ran 3 busy threads on 2 cores, and every layer of a forward pass
// ends in a barrier, so a preempted pool thread stalled the others; see BENCHMARKS.md.) With fewer
// workers than cores (--threads), each forward pass gets the spare cores.
#pragma once
#include <algorithm>

#include <opencv2/core.hpp>

namespace irbis::indexing {

class OpenCvThreads {
 public:
  // runs_models false: nothing inside the workers profits from OpenCV threads.
  OpenCvThreads(bool runs_models, int cores, int workers) : saved_(cv::getNumThreads()) {
    cv::setNumThreads(runs_models ? std::max(1, cores / std::max(1, workers)) : 1);
  }
  ~OpenCvThreads() { cv::setNumThreads(saved_); }
  OpenCvThreads(const OpenCvThreads&) = delete;
  OpenCvThreads& operator=(const OpenCvThreads&) = delete;

 private:
  int saved_;
};

}  // namespace irbis::indexing
