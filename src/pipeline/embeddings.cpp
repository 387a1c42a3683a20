#include "irbis/embeddings.h"

#include "irbis/errors.h"
#include "irbis/pipeline.h"
#include "irbis/scan.h"
#include "irbis/text.h"

namespace irbis {

EmbeddingView parse_embedding_view(const std::string& s) {
  if (s == "full") return EmbeddingView::full;
  if (s == "semantic") return EmbeddingView::semantic;
  if (s == "blocks") return EmbeddingView::blocks;
  throw UsageError("unknown embedding view '" + s + "' (expected full, semantic or blocks)");
}

EmbeddingMatrix load_embeddings(const Collection& coll, const std::string& model, EmbeddingView view) {
  EmbeddingMatrix m;
  m.card = find_model(model);
  const std::string feat = view == EmbeddingView::full ? embedding_feature(m.card.name) : blocks_feature(m.card.name);
  if (!coll.has_feature(feat) || coll.feature_rows(feat) == 0)
    throw UsageError(coll.dir().string() + ": no embeddings for model '" + m.card.name +
                     "'; run `irbis index FOLDER --into " + coll.dir().string() + " --model " + m.card.name + "`");
  const FeatureView fv = coll.view(feat);
  for (auto& r : coll.records(ImageStatus::ok))
    if (r.id < fv.rows()) m.records.push_back(std::move(r));
  const int stored = fv.spec().dim;
  int offset = 0, dim = stored;
  if (view == EmbeddingView::semantic) {
    offset = m.card.block_offset(m.card.semantic_block);
    dim = m.card.block(m.card.semantic_block).dim;
  }
  m.data.create(int(m.records.size()), dim, CV_32F);
  for (size_t i = 0; i < m.records.size(); ++i) {
    float* dst = m.data.ptr<float>(int(i));
    const int64_t id = m.records[i].id;
    if (view == EmbeddingView::full) {
      std::copy_n(fv.row_f32(id), dim, dst);
      continue;
    }
    // Blocks are float16 on disk.
    const cv::Mat half(1, stored, CV_16F, const_cast<uint8_t*>(fv.row_bytes(id)));
    cv::Mat part;
    half.colRange(offset, offset + dim).convertTo(part, CV_32F);
    if (view == EmbeddingView::semantic) {
      const double n = cv::norm(part);
      if (n > 0) part /= n;
    }
    std::copy_n(part.ptr<float>(0), dim, dst);
  }
  return m;
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
