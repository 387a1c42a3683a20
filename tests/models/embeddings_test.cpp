// map_embeddings: the stored rows read in place when they already are the matrix, the copy of
// load_embeddings otherwise, the same numbers either way.
#include <gtest/gtest.h>

#include <cstring>

#include "irbis/collection.h"
#include "irbis/collection_layout.h"
#include "irbis/embeddings.h"
#include "irbis/errors.h"
#include "irbis/model.h"
#include "search/search_data.h"
#include "test_util.h"

namespace irbis {
namespace {

void write_embeddings(const std::filesystem::path& dir, const cv::Mat& x) {
  const ModelCard card = find_model(kDefaultModel);
  auto c = Collection::open_or_create(dir);
  const std::string emb = embedding_feature(card.name);
  c->ensure_feature({emb, "f32", card.embedding_dim});
  for (int i = 0; i < x.rows; ++i) {
    ImageRecord r;
    r.path = "/photos/" + std::to_string(i) + ".jpg";
    r.size = 1000 + i;
    r.content_hash[0] = uint8_t(i);
    r.format = ImageFormat::jpeg;
    r.width = 64;
    r.height = 48;
    c->stage_image(r, {{emb, std::span<const uint8_t>(x.ptr<uint8_t>(i), size_t(x.cols) * sizeof(float))}});
  }
  c->commit();
}

void expect_same_matrix(const EmbeddingMatrix& a, const EmbeddingMatrix& b) {
  ASSERT_EQ(a.records.size(), b.records.size());
  for (size_t i = 0; i < a.records.size(); ++i) EXPECT_EQ(a.records[i].id, b.records[i].id);
  ASSERT_EQ(a.data.rows, b.data.rows);
  ASSERT_EQ(a.data.cols, b.data.cols);
  ASSERT_TRUE(a.data.isContinuous() && b.data.isContinuous());
  EXPECT_EQ(std::memcmp(a.data.ptr(), b.data.ptr(), a.data.total() * a.data.elemSize()), 0);
  EXPECT_EQ(a.card.name, b.card.name);
}

TEST(Embeddings, MappedRowsAreTheLoadedRowsInPlaceOrCopied) {
  test::TempDir dir("mapped-embeddings");
  const int dim = find_model(kDefaultModel).embedding_dim;
  write_embeddings(dir.path(), test::mixture(40, dim, 4, 0.5f, 7));
  {
    const auto coll = Collection::open(dir.path());
    const EmbeddingMatrix loaded = load_embeddings(*coll, kDefaultModel);
    const MappedEmbeddings mapped = map_embeddings(*coll, kDefaultModel);
    ASSERT_NE(mapped.mapping, nullptr) << "ids 0..n-1 all live: read in place";
    EXPECT_EQ(mapped.matrix.data.ptr<float>(), mapped.mapping->row_f32(0));
    expect_same_matrix(mapped.matrix, loaded);
  }
  {  // image 3 removed: the live rows are no longer the file's, so they are copied
    auto w = Collection::open(dir.path());
    w->stage_status(3, ImageStatus::removed);
    w->commit();
  }
  const auto coll = Collection::open(dir.path());
  const EmbeddingMatrix loaded = load_embeddings(*coll, kDefaultModel);
  const MappedEmbeddings mapped = map_embeddings(*coll, kDefaultModel);
  EXPECT_EQ(mapped.mapping, nullptr);
  ASSERT_EQ(loaded.records.size(), 39u);
  expect_same_matrix(mapped.matrix, loaded);
}

}  // namespace
}  // namespace irbis
