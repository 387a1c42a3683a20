#include "analysis/impl/mih.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <thread>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

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

// Scalar kernel. With `same`, A and B are one array and only b > a is compared.
void compare_block_scalar(const uint64_t* A, uint32_t na, const uint64_t* B, uint32_t nb,
                          bool same, int t, std::vector<Match>& out) {
  for (uint32_t p = 0; p < na; ++p) {
    const uint64_t a = A[p];
    for (uint32_t q = same ? p + 1 : 0; q < nb; ++q)
      if (std::popcount(a ^ B[q]) <= t) out.push_back({p, q});
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
// Rows p..p+3 of A (broadcast in a0..a3) against 8 values of B from q (lanes lm).
__attribute__((target("avx512f,avx512vpopcntdq"), always_inline)) inline void compare_four(
    __m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512i bv, __mmask8 lm, __m512i tv, uint32_t p, uint32_t q,
    std::vector<Match>& out) {
  const __mmask8 m0 = _mm512_mask_cmple_epu64_mask(lm, _mm512_popcnt_epi64(_mm512_xor_si512(a0, bv)), tv);
  const __mmask8 m1 = _mm512_mask_cmple_epu64_mask(lm, _mm512_popcnt_epi64(_mm512_xor_si512(a1, bv)), tv);
  const __mmask8 m2 = _mm512_mask_cmple_epu64_mask(lm, _mm512_popcnt_epi64(_mm512_xor_si512(a2, bv)), tv);
  const __mmask8 m3 = _mm512_mask_cmple_epu64_mask(lm, _mm512_popcnt_epi64(_mm512_xor_si512(a3, bv)), tv);
  if ((m0 | m1 | m2 | m3) == 0) return;
  const unsigned ms[4] = {m0, m1, m2, m3};
  for (uint32_t k = 0; k < 4; ++k)
    for (unsigned m = ms[k]; m; m &= m - 1) out.push_back({p + k, q + uint32_t(std::countr_zero(m))});
}

// AVX-512 VPOPCNTQ kernel: 8 candidates per step. Only called when the CPU has the extension
// (runtime check); the rest of the build stays at the x86-64-v3 baseline.
__attribute__((target("avx512f,avx512vpopcntdq"))) void compare_block_avx512(
    const uint64_t* A, uint32_t na, const uint64_t* B, uint32_t nb, bool same, int t,
    std::vector<Match>& out) {
  const __m512i tv = _mm512_set1_epi64(t);
  uint32_t p = 0;
  if (!same) {
    // Four rows of A per load of B: a candidate block is mostly misses, so the loop is loads,
    // popcounts and one test of the four masks together.
    const uint32_t full = nb & ~7u;
    for (; p + 4 <= na; p += 4) {
      const __m512i a0 = _mm512_set1_epi64(int64_t(A[p])), a1 = _mm512_set1_epi64(int64_t(A[p + 1]));
      const __m512i a2 = _mm512_set1_epi64(int64_t(A[p + 2])), a3 = _mm512_set1_epi64(int64_t(A[p + 3]));
      uint32_t q = 0;
      for (; q < full; q += 8) compare_four(a0, a1, a2, a3, _mm512_loadu_si512(B + q), 0xFF, tv, p, q, out);
      if (q < nb) {
        const __mmask8 lm = __mmask8((1u << (nb - q)) - 1);
        compare_four(a0, a1, a2, a3, _mm512_maskz_loadu_epi64(lm, B + q), lm, tv, p, q, out);
      }
    }
  }
  for (; p < na; ++p) {
    const __m512i av = _mm512_set1_epi64(int64_t(A[p]));
    for (uint32_t q = same ? p + 1 : 0; q < nb; q += 8) {
      const uint32_t left = nb - q;
      const __mmask8 lm = left >= 8 ? __mmask8(0xFF) : __mmask8((1u << left) - 1);
      const __m512i bv = _mm512_maskz_loadu_epi64(lm, B + q);
      const __m512i cnt = _mm512_popcnt_epi64(_mm512_xor_si512(av, bv));
      unsigned m = _mm512_mask_cmple_epu64_mask(lm, cnt, tv);
      while (m) {
        out.push_back({p, q + uint32_t(std::countr_zero(m))});
        m &= m - 1;
      }
    }
  }
}

bool have_avx512_popcnt() {
  static const bool yes = __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512vpopcntdq");
  return yes;
}
#endif

std::atomic<bool> g_force_scalar{false};

}  // namespace

void compare_block(const uint64_t* A, uint32_t na, const uint64_t* B, uint32_t nb, bool same,
                   int t, std::vector<Match>& out) {
#if defined(__GNUC__) && defined(__x86_64__)
  if (!g_force_scalar.load(std::memory_order_relaxed) && have_avx512_popcnt()) return compare_block_avx512(A, na, B, nb, same, t, out);
#endif
  compare_block_scalar(A, na, B, nb, same, t, out);
}

namespace {

std::vector<NearPair> brute_join(std::span<const uint64_t> v, int t, int threads) {
  const size_t n = v.size();
  // Rows near the start have more work; small blocks keep threads balanced.
  return parallel_blocks<NearPair>(n, 64, threads, [&](size_t b, size_t e, std::vector<NearPair>& out) {
    std::vector<Match> matches;
    for (size_t i = b; i < e; ++i) {
      matches.clear();
      compare_block(&v[i], 1, &v[i], uint32_t(n - i), true, t, matches);
      for (const Match& m : matches)
        out.push_back({uint32_t(i), uint32_t(i + m.b), std::popcount(v[i] ^ v[i + m.b])});
    }
  });
}

}  // namespace

bool use_simd_kernel(bool on) {
  g_force_scalar.store(!on);
#if defined(__GNUC__) && defined(__x86_64__)
  return on && have_avx512_popcnt();
#else
  return false;
#endif
}

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc ? int(hc) : 1;
}

std::vector<int> pigeonhole_radii(int t, int m) {
  std::vector<int> r(size_t(std::max(m, 0)));
  const int total = std::max(t, 0) + 1;
  for (int k = 0; k < m; ++k) r[size_t(k)] = total / m + (k < total % m ? 1 : 0) - 1;
  return r;
}

MihPlan choose_plan(size_t n, int t) {
  const double N = double(n);
  MihPlan best;
  best.brute_force = true;
  best.est_cost = N * (N - 1) / 2;
  if (t >= 64 || n < 2) return best;
  for (int m = 4; m <= 8; ++m) {
    const std::vector<int> radii = pigeonhole_radii(t, m);
    const std::vector<Chunk> chunks = split_chunks(m);
    double cost = 0;
    for (size_t k = 0; k < chunks.size(); ++k) {
      if (radii[k] < 0) continue;
      const double cells = std::ldexp(1.0, chunks[k].bits), vol = ball(chunks[k].bits, radii[k]);
      // Candidate checks: pairs whose chunk values are within r (each bucket pair once).
      cost += N * N / 2 * vol / cells;
      // Bucket probes: each non-empty bucket visits half of its radius-r neighbours; a probe
      // (offset lookup + gather) is weighted as 2 popcounts.
      cost += std::min(N, cells) * vol / 2 * 2.0;
      cost += N * 3;  // building the table
    }
    if (cost < best.est_cost) best = MihPlan{false, m, t / m, cost, radii};
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
  auto radius_of = [&](size_t c) { return plan.radii.empty() ? plan.radius : plan.radii[c]; };
  std::vector<NearPair> result;
  std::vector<uint32_t> offsets;
  std::vector<uint64_t> sv(n);   // values ordered by chunk value (then index)
  std::vector<uint32_t> si(n);   // their indices
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const int r = radius_of(ci);
    if (r < 0) continue;  // not needed by the pigeonhole
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
        if (std::popcount(x & (chunks[cp].mask << chunks[cp].shift)) <= radius_of(cp)) return false;
      return true;
    };
    auto emit = [&](uint32_t a, uint32_t b, int d, std::vector<NearPair>& out) {
      if (a < b) out.push_back({a, b, d});
      else out.push_back({b, a, d});
    };
    std::vector<NearPair> part = parallel_blocks<NearPair>(
        cells, 1024, threads, [&](size_t vb, size_t ve, std::vector<NearPair>& out) {
          std::vector<uint64_t> nvals;  // values of all neighbour buckets w > v, contiguous
          std::vector<uint32_t> npos;   // their positions in sv
          std::vector<Match> matches;
          for (size_t v = vb; v < ve; ++v) {
            const uint32_t b0 = offsets[v], b1 = offsets[v + 1];
            if (b0 == b1) continue;
            matches.clear();
            // Within the bucket (chunk distance 0).
            compare_block(&sv[b0], b1 - b0, &sv[b0], b1 - b0, true, t, matches);
            for (const Match& mt : matches) {
              const uint64_t x = sv[b0 + mt.a] ^ sv[b0 + mt.b];
              if (first_here(x)) emit(si[b0 + mt.a], si[b0 + mt.b], std::popcount(x), out);
            }
            // Against the neighbour buckets w > v within radius r, gathered into one block.
            nvals.clear();
            npos.clear();
            for (uint32_t mk : masks) {
              const size_t w = v ^ mk;
              if (w < v) continue;
              for (uint32_t q = offsets[w]; q < offsets[w + 1]; ++q) {
                nvals.push_back(sv[q]);
                npos.push_back(q);
              }
            }
            if (nvals.empty()) continue;
            matches.clear();
            compare_block(&sv[b0], b1 - b0, nvals.data(), uint32_t(nvals.size()), false, t, matches);
            for (const Match& mt : matches) {
              const uint32_t q = npos[mt.b];
              const uint64_t x = sv[b0 + mt.a] ^ sv[q];
              if (first_here(x)) emit(si[b0 + mt.a], si[q], std::popcount(x), out);
            }
          }
        });
    result.insert(result.end(), part.begin(), part.end());
  }
  return result;
}

}  // namespace irbis::impl
