// A loop over [0, n) shared out between worker threads that each keep their own state (a network,
// buffers): the one pattern of predict_files, LIME's scoring and match's queries.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace irbis {

// Runs work(worker, i) for every i in [0, n) on `workers` threads (the calling thread is worker 0),
// each taking the next index. The first exception stops the others after their current item and
// is rethrown once every thread has finished.
template <class Work>
void parallel_indices(size_t n, int workers, const Work& work) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr error;
  const auto loop = [&](int worker) {
    try {
      for (size_t i; (i = next++) < n;) work(worker, i);
    } catch (...) {
      next = n;
      std::lock_guard lk(mu);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < std::max(1, workers); ++w) pool.emplace_back(loop, w);
  loop(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace irbis
