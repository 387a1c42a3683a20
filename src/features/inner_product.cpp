#include "features/inner_product.h"

#include <immintrin.h>

namespace irbis::kernels {
namespace {

__attribute__((target("avx512f"))) float dot_avx512(const float* a, const float* b, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, _mm512_add_ps(s0, s1));
  float s = 0;
  for (float v : lanes) s += v;
  return s;
}

float dot_avx2(const float* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  s0 = _mm256_add_ps(s0, s1);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s0);
  float s = 0;
  for (float v : lanes) s += v;
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

using DotFn = float (*)(const float*, const float*, size_t);
DotFn pick() { return __builtin_cpu_supports("avx512f") ? dot_avx512 : dot_avx2; }
const DotFn g_dot = pick();

}  // namespace

float ip_distance(const void* a, const void* b, const void* dim) {
  return 1.0f - g_dot(static_cast<const float*>(a), static_cast<const float*>(b), *static_cast<const size_t*>(dim));
}

float dot(const float* a, const float* b, size_t n) { return g_dot(a, b, n); }
bool dot_uses_avx512() { return g_dot == dot_avx512; }

}  // namespace irbis::kernels
