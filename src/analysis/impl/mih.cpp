#include "analysis/impl/mih.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <thread>

namespace irbis::impl {
namespace {

struct Chunk {
  int shift = 0;  // value of the chunk = (h >> shift) & mask
  int bits = 0;
  uint64_t mask = 0;
  uint32_t of(uint64_t h) const { return uint32_t((h >> shift) & mask); }
};

std::vector<Chunk> split_chunks(int m) {
  std::vector<Chunk> out(m);
  int used = 0;
  for (int c = 0; c < m; ++c) {
    const int bits = 64 / m + (c < 64 % m ? 1 : 0);
    used += bits;
    out[c].bits = bits;
    out[c].shift = 64 - used;
    out[c].mask = (uint64_t(1) << bits) - 1;
  }
  return out;
}

// Number of points within hamming radius r of a point in {0,1}^bits.
double ball(int bits, int r) {
  double total = 0, c = 1;
  for (int k = 0; k <= std::min(r, bits); ++k) {
    total += c;
    c = c * (bits - k) / (k + 1);
  }
  return total;
}

// Runs fn(begin, end, out) over [0, n) in blocks on `threads` threads; returns the outputs
// concatenated (order is not deterministic; callers sort).
template <class Fn>
std::vector<NearPair> parallel_blocks(size_t n, size_t block, int threads, Fn fn) {
  std::atomic<size_t> next{0};
  const int t = std::max(1, std::min<int>(threads, int((n + block - 1) / block)));
  std::vector<std::vector<NearPair>> outs(t);
  auto work = [&](int k) {
    for (;;) {
      const size_t b = next.fetch_add(block);
      if (b >= n) break;
      fn(b, std::min(n, b + block), outs[k]);
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < t; ++k) pool.emplace_back(work, k);
  work(0);
  for (auto& th : pool) th.join();
  size_t total = 0;
  for (auto& o : outs) total += o.size();
  std::vector<NearPair> all;
  all.reserve(total);
  for (auto& o : outs) all.insert(all.end(), o.begin(), o.end());
  return all;
}

std::vector<NearPair> brute_join(std::span<const uint64_t> v, int t, int threads) {
  const size_t n = v.size();
  // Rows near the start have more work; small blocks keep threads balanced.
  return parallel_blocks(n, 64, threads, [&](size_t b, size_t e, std::vector<NearPair>& out) {
    for (size_t i = b; i < e; ++i) {
      const uint64_t a = v[i];
      for (size_t j = i + 1; j < n; ++j) {
        const int d = std::popcount(a ^ v[j]);
        if (d <= t) out.push_back({uint32_t(i), uint32_t(j), d});
      }
    }
  });
}

}  // namespace

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc ? int(hc) : 1;
}

MihPlan choose_plan(size_t n, int t) {
  const double N = double(n);
  MihPlan best;
  best.brute_force = true;
  best.est_cost = N * (N - 1) / 2;
  if (t >= 64 || n < 2) return best;
  for (int m = 4; m <= 8; ++m) {
    const int r = t / m;
    double cost = 0;
    for (const Chunk& c : split_chunks(m)) {
      const double cells = std::ldexp(1.0, c.bits), vol = ball(c.bits, r);
      // Candidate checks: pairs whose chunk values are within r (each bucket pair once).
      cost += N * N / 2 * vol / cells;
      // Bucket probes: each non-empty bucket visits its radius-r neighbours (half of them).
      cost += std::min(N, cells) * vol / 2 * 2.0;
      cost += N * 3;  // building the table
    }
    if (cost < best.est_cost) best = MihPlan{false, m, r, cost};
  }
  return best;
}

std::vector<NearPair> self_join(std::span<const uint64_t> values, int t, const MihPlan& plan,
                                int threads) {
  threads = resolve_threads(threads);
  const size_t n = values.size();
  if (n < 2) return {};
  if (plan.brute_force) return brute_join(values, t, threads);

  const std::vector<Chunk> chunks = split_chunks(plan.chunks);
  const int r = plan.radius;
  std::vector<NearPair> result;
  std::vector<uint32_t> offsets;
  std::vector<uint64_t> sv(n);   // values ordered by chunk value (then index)
  std::vector<uint32_t> si(n);   // their indices
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const Chunk ch = chunks[ci];
    const size_t cells = size_t(1) << ch.bits;
    // Counting sort by chunk value: offsets[v] .. offsets[v + 1] is bucket v.
    offsets.assign(cells + 1, 0);
    for (uint64_t h : values) ++offsets[ch.of(h) + 1];
    for (size_t v = 0; v < cells; ++v) offsets[v + 1] += offsets[v];
    {
      std::vector<uint32_t> fill(offsets.begin(), offsets.end() - 1);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t pos = fill[ch.of(values[i])]++;
        sv[pos] = values[i];
        si[pos] = uint32_t(i);
      }
    }
    // Flip masks with 1..r bits inside the chunk.
    std::vector<uint32_t> masks;
    for (uint32_t mk = 1; mk < cells; ++mk)
      if (std::popcount(mk) <= r) masks.push_back(mk);

    // A pair qualifies in chunk c when its chunk distance is <= r; it is emitted only from the
    // first qualifying chunk, so every pair comes out once.
    auto first_here = [&](uint64_t x) {
      for (size_t cp = 0; cp < ci; ++cp)
        if (std::popcount(x & (chunks[cp].mask << chunks[cp].shift)) <= r) return false;
      return true;
    };
    auto emit = [&](uint32_t a, uint32_t b, int d, std::vector<NearPair>& out) {
      if (a < b) out.push_back({a, b, d});
      else out.push_back({b, a, d});
    };
    std::vector<NearPair> part = parallel_blocks(
        cells, 1024, threads, [&](size_t vb, size_t ve, std::vector<NearPair>& out) {
          for (size_t v = vb; v < ve; ++v) {
            const uint32_t b0 = offsets[v], b1 = offsets[v + 1];
            if (b0 == b1) continue;
            // Within the bucket (chunk distance 0).
            for (uint32_t p = b0; p < b1; ++p) {
              const uint64_t a = sv[p];
              for (uint32_t q = p + 1; q < b1; ++q) {
                const uint64_t x = a ^ sv[q];
                const int d = std::popcount(x);
                if (d <= t && first_here(x)) emit(si[p], si[q], d, out);
              }
            }
            // Against each neighbour bucket w > v within radius r.
            for (uint32_t mk : masks) {
              const size_t w = v ^ mk;
              if (w < v) continue;
              const uint32_t c0 = offsets[w], c1 = offsets[w + 1];
              if (c0 == c1) continue;
              for (uint32_t p = b0; p < b1; ++p) {
                const uint64_t a = sv[p];
                for (uint32_t q = c0; q < c1; ++q) {
                  const uint64_t x = a ^ sv[q];
                  const int d = std::popcount(x);
                  if (d <= t && first_here(x)) emit(si[p], si[q], d, out);
                }
              }
            }
          }
        });
    result.insert(result.end(), part.begin(), part.end());
  }
  return result;
}

}  // namespace irbis::impl
