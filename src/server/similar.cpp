// "More like this" (report.h). SWAP POINT for the search branch: this exact inner product over
// the whole embedding matrix (O(n d) per query, bound by memory bandwidth:
// the matrix is read once per query, 1.1 GB at 100 k x 2696) is the stand-in for the real index;
// keep the signature and replace the body. One thread per query (AVX2/FMA dot products): the
// server runs queries concurrently, and a multi-threaded BLAS call per request (OpenBLAS sgemv)
// gave p99 516 ms under 16 connections (this loop: 35 ms); cv::gemm has no BLAS behind it and is ~5x slower.
#include <algorithm>
#include <numeric>

#include <immintrin.h>

#include "irbis/report.h"

namespace irbis {

namespace {
float dot(const float* a, const float* b, int d) {
  int i = 0;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (; i + 32 <= d; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  float sum = _mm_cvtss_f32(h);
#else
  float sum = 0;
#endif
  for (; i < d; ++i) sum += a[i] * b[i];
  return sum;
}
}  // namespace

std::vector<SimilarHit> more_like_this(ReportData& data, const cv::Mat& query, int k, int64_t exclude_id) {
  const EmbeddingMatrix* m = data.embeddings();
  if (!m || m->data.empty() || query.empty() || query.cols != m->data.cols) return {};
  cv::Mat q;
  query.convertTo(q, CV_32F);
  q = q.reshape(1, 1).clone();
  const int n = m->data.rows, d = m->data.cols;
  CV_Assert(m->data.isContinuous());
  cv::Mat scores(n, 1, CV_32F);
  const float* x = m->data.ptr<float>();
  float* out = scores.ptr<float>();
  for (int r = 0; r < n; ++r) out[r] = dot(x + int64_t(r) * d, q.ptr<float>(), d);
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const float* s = scores.ptr<float>();
  const int want = std::min(n, k + (exclude_id >= 0 ? 1 : 0));
  std::partial_sort(idx.begin(), idx.begin() + want, idx.end(),
                    [&](int a, int b) { return s[a] != s[b] ? s[a] > s[b] : a < b; });
  std::vector<SimilarHit> hits;
  for (int i = 0; i < want && int(hits.size()) < k; ++i) {
    const int64_t id = m->records[size_t(idx[size_t(i)])].id;
    if (id == exclude_id) continue;
    hits.push_back({id, s[idx[size_t(i)]]});
  }
  return hits;
}

}  // namespace irbis
