// Runs work items on worker threads and hands the results to one sink, in order.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace irbis::indexing {

// Runs `work(i)` for i in [0, n) on worker threads and hands the results to `sink` in index
// order on the calling thread. At most `window` results wait at once, so memory stays flat.
// The first exception (from a worker or the sink) stops the run and is rethrown.
template <typename Result, typename Work, typename Sink>
void ordered_parallel(size_t n, int threads, size_t window, Work work, Sink sink) {
  std::mutex mu;
  std::condition_variable produced, consumed;
  std::unordered_map<size_t, Result> ready;
  size_t next_to_take = 0, next_to_sink = 0;
  std::atomic<bool> stop{false};
  std::exception_ptr error;

  auto worker = [&] {
    for (;;) {
      size_t i;
      {
        std::unique_lock lk(mu);
        consumed.wait(lk, [&] { return stop || next_to_take >= n || next_to_take < next_to_sink + window; });
        if (stop || next_to_take >= n) return;
        i = next_to_take++;
      }
      std::optional<Result> r;
      try {
        r.emplace(work(i));
      } catch (...) {
        std::lock_guard lk(mu);
        if (!error) error = std::current_exception();
        stop = true;
        produced.notify_all();
        consumed.notify_all();
        return;
      }
      std::lock_guard lk(mu);
      ready.emplace(i, std::move(*r));
      produced.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  try {
    while (next_to_sink < n) {
      Result r;
      {
        std::unique_lock lk(mu);
        produced.wait(lk, [&] { return stop || ready.count(next_to_sink); });
        if (stop) break;
        auto it = ready.find(next_to_sink);
        r = std::move(it->second);
        ready.erase(it);
      }
      sink(next_to_sink, r);
      {
        std::lock_guard lk(mu);
        ++next_to_sink;
      }
      consumed.notify_all();
    }
  } catch (...) {
    std::lock_guard lk(mu);
    if (!error) error = std::current_exception();
    stop = true;
  }
  {
    std::lock_guard lk(mu);
    stop = true;
  }
  consumed.notify_all();
  produced.notify_all();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace irbis::indexing
