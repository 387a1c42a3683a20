#include "irbis/embeddings.h"

#include "irbis/errors.h"
#include "irbis/collection_layout.h"
#include "irbis/scan.h"
#include "irbis/text.h"

namespace irbis {

EmbeddingView parse_embedding_view(const std::string& s) {
  if (s == "full") return EmbeddingView::full;
  if (s == "semantic") return EmbeddingView::semantic;
  if (s == "blocks") return EmbeddingView::blocks;
  throw UsageError("unknown embedding view '" + s + "' (expected full, semantic or blocks)");
}

EmbeddingReader::EmbeddingReader(const Collection& coll, const std::string& model, EmbeddingView view)
    : card_(find_model(model)), kind_(view) {
  const std::string feat = view == EmbeddingView::full ? embedding_feature(card_.name) : blocks_feature(card_.name);
  if (!coll.has_feature(feat) || coll.feature_rows(feat) == 0)
    throw UsageError(coll.dir().string() + ": no embeddings for model '" + card_.name +
                     "'; run `irbis index FOLDER --into " + coll.dir().string() + " --model " + card_.name + "`");
  view_ = view == EmbeddingView::full ? coll.view(feat, "f32", card_.descriptor_dim())
                                      : coll.view(feat, "f16", card_.blocks_dim());
  dim_ = view_.spec().dim;
  if (view == EmbeddingView::semantic) {
    offset_ = card_.block_offset(card_.semantic_block);
    dim_ = card_.block(card_.semantic_block).dim;
  }
}

void EmbeddingReader::read(int64_t id, float* out) const {
  if (kind_ == EmbeddingView::full) {
    std::copy_n(view_.row_f32(id), dim_, out);
    return;
  }
  // Blocks are float16 on disk.
  const cv::Mat half(1, view_.spec().dim, CV_16F, const_cast<uint8_t*>(view_.row_bytes(id)));
  cv::Mat part(1, dim_, CV_32F, out);  // converts straight into `out`
  half.colRange(offset_, offset_ + dim_).convertTo(part, CV_32F);
  if (kind_ == EmbeddingView::semantic) {
    const double n = cv::norm(part);
    if (n > 0) part /= n;
  }
}

namespace {

// The card and the live records that have a row.
EmbeddingMatrix embedding_records(const Collection& coll, const EmbeddingReader& rows) {
  EmbeddingMatrix m;
  m.card = rows.card();
  for (auto& r : coll.records(ImageStatus::ok))
    if (r.id < rows.rows()) m.records.push_back(std::move(r));
  return m;
}

void copy_rows(const EmbeddingReader& rows, EmbeddingMatrix& m) {
  m.data.create(int(m.records.size()), rows.dim(), CV_32F);
  for (size_t i = 0; i < m.records.size(); ++i) rows.read(m.records[i].id, m.data.ptr<float>(int(i)));
}

}  // namespace

EmbeddingMatrix load_embeddings(const Collection& coll, const std::string& model, EmbeddingView view) {
  const EmbeddingReader rows(coll, model, view);
  EmbeddingMatrix m = embedding_records(coll, rows);
  copy_rows(rows, m);
  return m;
}

MappedEmbeddings map_embeddings(const Collection& coll, const std::string& model) {
  const EmbeddingReader rows(coll, model, EmbeddingView::full);
  MappedEmbeddings out;
  EmbeddingMatrix& m = out.matrix;
  m = embedding_records(coll, rows);
  bool in_place = !m.records.empty();
  for (size_t i = 0; in_place && i < m.records.size(); ++i) in_place = m.records[i].id == int64_t(i);
  if (!in_place) {
    copy_rows(rows, m);
    return out;
  }
  auto view = std::make_shared<const FeatureView>(coll.view(embedding_feature(m.card.name), "f32", rows.dim()));
  m.data = cv::Mat(int(m.records.size()), rows.dim(), CV_32F, const_cast<float*>(view->row_f32(0)));
  out.mapping = std::move(view);
  return out;
}

cv::Mat embed_image(Embedder& embedder, const cv::Mat& rgb) {
  cv::Mat blocks = embedder.forward_blocks({embedder.preprocess(rgb)});
  return embedder.descriptor_from_blocks(blocks);
}

cv::Mat embed_file(Embedder& embedder, const std::string& path, const DecodeOptions& decode) {
  DecodeOptions opts = decode;
  opts.min_side = std::max(opts.min_side, embedder.input_size());
  const auto bytes = read_file_bytes(path, 1ull << 30);
  try {
    return embed_image(embedder, decode_image(bytes, opts).rgb);
  } catch (const DecodeError& e) {
    throw DecodeError(display_path(path) + ": " + e.what());
  }
}

}  // namespace irbis
