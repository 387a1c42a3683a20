// Stand-alone check of "more like this" at 100 k images (BENCHMARKS.md, "Report and web UI"):
// the exact top-20 by inner product over 100 000 x 2696 floats with the AVX2/FMA loop of
// src/server/similar.cpp, one thread.  g++ -O3 -march=x86-64-v3 bench/search_dot_100k.cpp && ./a.out
#include <chrono>
#include <cstdio>
#include <vector>
#include <random>
#include <algorithm>
#include <numeric>
#include <immintrin.h>
float dot(const float* a, const float* b, int d) {
  int i = 0; __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (; i + 32 <= d; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  float t[8]; _mm256_storeu_ps(t, s); float r = 0; for (float x : t) r += x;
  for (; i < d; ++i) r += a[i] * b[i]; return r;
}
int main() {
  const int n = 100000, d = 2696; std::vector<float> m(size_t(n) * d), q(d), s(n);
  std::mt19937 g(1); std::uniform_real_distribution<float> u(-1, 1);
  for (auto& x : m) x = u(g); for (auto& x : q) x = u(g);
  std::vector<double> ms;
  for (int it = 0; it < 20; ++it) {
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < n; ++r) s[r] = dot(&m[size_t(r) * d], q.data(), d);
    std::vector<int> idx(n); std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + 20, idx.end(), [&](int a, int b) { return s[a] > s[b]; });
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    q[it] += 0.1f;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("100k x 2696 exact top-20, one thread: p50 %.1f ms, max %.1f ms\n", ms[10], ms.back());
}
