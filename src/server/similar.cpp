// "More like this" (report.h): the collection's vector index (search.h), exact below 10 000
// images and HNSW from there on, re-ranked exactly on the full vectors. Queries are const on the
// index, so the server runs them concurrently without a lock.
#include "irbis/report.h"

namespace irbis {

std::vector<SimilarHit> more_like_this(ReportData& data, const cv::Mat& query, int k, int64_t exclude_id) {
  const VectorSearch* vs = data.search();
  if (!vs || vs->size() == 0 || query.empty() || int(query.total()) != vs->dim() || k <= 0) return {};
  cv::Mat q;
  query.convertTo(q, CV_32F);
  q = q.reshape(1, 1);
  if (!q.isContinuous()) q = q.clone();
  const int64_t exclude = exclude_id >= 0 ? vs->row_of_id(exclude_id) : -1;
  std::vector<SimilarHit> hits;
  for (const Neighbor& n : vs->search(q.ptr<float>(), k, exclude))
    hits.push_back({vs->ids()[size_t(n.row)], n.similarity});
  return hits;
}

}  // namespace irbis
