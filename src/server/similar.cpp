// "More like this" (report.h). SWAP POINT for the search branch: this exact inner product over
// the whole embedding matrix (one OpenBLAS sgemv, O(n d) per query and bound by memory bandwidth:
// the matrix is read once per query, 1.1 GB at 100 k x 2696) is the stand-in for the real index;
// keep the signature and replace the body. (cv::gemm is ~5x slower here: no BLAS behind it.)
#include <algorithm>
#include <numeric>

#include <cblas.h>

#include "irbis/report.h"

namespace irbis {

std::vector<SimilarHit> more_like_this(ReportData& data, const cv::Mat& query, int k, int64_t exclude_id) {
  const EmbeddingMatrix* m = data.embeddings();
  if (!m || m->data.empty() || query.empty() || query.cols != m->data.cols) return {};
  cv::Mat q;
  query.convertTo(q, CV_32F);
  q = q.reshape(1, 1).clone();
  const int n = m->data.rows, d = m->data.cols;
  CV_Assert(m->data.isContinuous());
  cv::Mat scores(n, 1, CV_32F);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0f, m->data.ptr<float>(), d, q.ptr<float>(), 1, 0.0f,
              scores.ptr<float>(), 1);
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
