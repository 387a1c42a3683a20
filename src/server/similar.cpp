// "More like this" (report.h). SWAP POINT for the search branch: this exact inner product over
// the whole embedding matrix (one sgemm, O(n d) per query, ~0.1 s at 100 k x 2696 on one core)
// is the stand-in for the real index; keep the signature and replace the body.
#include <algorithm>
#include <numeric>

#include "irbis/report.h"

namespace irbis {

std::vector<SimilarHit> more_like_this(ReportData& data, const cv::Mat& query, int k, int64_t exclude_id) {
  const EmbeddingMatrix* m = data.embeddings();
  if (!m || m->data.empty() || query.empty() || query.cols != m->data.cols) return {};
  cv::Mat q;
  query.convertTo(q, CV_32F);
  cv::Mat scores;  // n x 1
  cv::gemm(m->data, q.reshape(1, 1), 1.0, cv::noArray(), 0.0, scores, cv::GEMM_2_T);
  const int n = scores.rows;
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
