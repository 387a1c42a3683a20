// Row-parallel loops shared by the exact/HNSW index (vector_search.cpp) and the self-join
// (self_join.cpp).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace irbis::search_detail {

inline int thread_count(int t) { return t > 0 ? t : int(std::max(1u, std::thread::hardware_concurrency())); }

// Runs f(i) for i in [0, n) on `threads` threads, `chunk` consecutive i at a time (dynamic).
template <class F>
void parallel_for(int64_t n, int threads, F&& f, int64_t chunk = 64) {
  threads = int(std::min<int64_t>(thread_count(threads), std::max<int64_t>(1, n / chunk)));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t b; (b = next.fetch_add(chunk)) < n;)
      for (int64_t i = b; i < std::min(n, b + chunk); ++i) f(i);
  };
  if (threads <= 1) return work();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
}

}  // namespace irbis::search_detail
