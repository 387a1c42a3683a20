// Reading a collection's embeddings as a matrix, and embedding files that are not in it.
// Every analysis (search, unique, clusters, classifiers) starts here.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "irbis/collection.h"
#include "irbis/image.h"
#include "irbis/model.h"

namespace irbis {

enum class EmbeddingView {
  full,      // the model's descriptor (default model: 2696-d multi-layer), for search/dupes/classifiers
  semantic,  // the model's last block alone, L2-normalised, for clustering by object/species
  blocks,    // every pooled block, as stored
};
EmbeddingView parse_embedding_view(const std::string& s);  // "full" | "semantic" | "blocks"

struct EmbeddingMatrix {
  ModelCard card;
  std::vector<ImageRecord> records;  // live (status ok) images that have embeddings, in id order
  cv::Mat data;                      // records.size() x dim, CV_32F, row i belongs to records[i]
};

// One collection's stored embedding rows decoded into a view on demand, straight from the
// memory-mapped feature file: what load_embeddings copies into its matrix, for readers that stream
// (the low-memory `irbis cluster`). Throws UsageError like load_embeddings.
class EmbeddingReader {
 public:
  EmbeddingReader(const Collection& coll, const std::string& model, EmbeddingView view);
  const ModelCard& card() const { return card_; }
  int dim() const { return dim_; }
  int64_t rows() const { return view_.rows(); }  // record ids below this have a row
  // The row of record `id` as dim() floats (the semantic view L2-normalised).
  void read(int64_t id, float* out) const;

 private:
  ModelCard card_;
  EmbeddingView kind_;
  FeatureView view_;
  int offset_ = 0, dim_ = 0;
};

// Throws UsageError naming the command to run when the collection has no embeddings for the model.
EmbeddingMatrix load_embeddings(const Collection& coll, const std::string& model,
                                EmbeddingView view = EmbeddingView::full);

// load_embeddings(coll, model, EmbeddingView::full) without the copy where the feature file's rows
// already are that matrix (the live images are ids 0..n-1 and all have a row: a collection nothing
// was removed from or failed in): `matrix.data` then points into the mapped file, read-only, and
// `mapping` keeps it mapped (a writer replaces, never cuts, a file a reader maps). At 100 000
// images of the default model the copy was a gigabyte of fresh pages, ~0.8 s on one core of every
// `irbis issues`. Otherwise load_embeddings' copy, and `mapping` is null. Throws like it.
struct MappedEmbeddings {
  EmbeddingMatrix matrix;
  std::shared_ptr<const FeatureView> mapping;
};
MappedEmbeddings map_embeddings(const Collection& coll, const std::string& model);

// Reads, decodes and embeds one image file (the query of a search, a file to classify).
// Returns a 1 x dim CV_32F L2-normalised descriptor. Throws IoError/DecodeError naming the file.
cv::Mat embed_file(Embedder& embedder, const std::string& path, const DecodeOptions& decode = {});

// Same for an already decoded RGB image.
cv::Mat embed_image(Embedder& embedder, const cv::Mat& rgb);

}  // namespace irbis
