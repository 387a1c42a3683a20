// OpenCV's thread count for a run of per-core workers (index, match), restored after. One worker
// per core; each decodes its file and, with a model, runs the network on it with its own Embedder
// (match: and verifies its query's pairs). OpenCV's pool is off: the work parallelises across
// images, not within one forward pass. (Inference on the calling thread with OpenCV's TBB pool over
// all cores plus a decode worker ran 3 busy threads on 2 cores, and every layer of a forward pass
// ends in a barrier, so a preempted pool thread stalled the others; see BENCHMARKS.md.) With fewer
// workers than cores (--threads), each forward pass gets the spare cores (OpenCV DNN through this
// count; a oneDNN network through InferenceOptions::threads, fixed when it is built: index's
// network_threads, 1 per worker). Set before the first network is built and warmed.
#pragma once
#include <algorithm>

#include <opencv2/core.hpp>

namespace irbis::indexing {

class OpenCvThreads {
 public:
  OpenCvThreads(int cores, int workers) : saved_(cv::getNumThreads()) {
    cv::setNumThreads(std::max(1, cores / std::max(1, workers)));
  }
  ~OpenCvThreads() { restore(); }
  OpenCvThreads(const OpenCvThreads&) = delete;
  OpenCvThreads& operator=(const OpenCvThreads&) = delete;
  void no_models() { cv::setNumThreads(1); }  // decode workers only: OpenCV's pool stays off
  void restore() {
    if (active_) cv::setNumThreads(saved_);
    active_ = false;
  }

 private:
  int saved_;
  bool active_ = true;
};

}  // namespace irbis::indexing
