// The feature registry of `irbis index` and the two kinds of producer that compute it.
// To add a feature: one entry in image_feature_groups() (computed from the decoded image) or in
// model_features() (computed from a model's forward pass). Plan, produce and commit pick it up:
// it is declared, computed for new images, back-filled into collections that lack it, and merged.
#include "pipeline/impl/feature_producer.h"

#include <mutex>

#include "irbis/errors.h"
#include "irbis/collection_layout.h"
#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/pipeline.h"
#include "irbis/palette.h"
#include "irbis/quality.h"

namespace irbis::indexing {

namespace {

// Copies a 1-row matrix into a row of the same size.
void put_mat(std::span<uint8_t> row, const cv::Mat& m) {
  const size_t n = m.total() * m.elemSize();
  if (n != row.size() || !m.isContinuous())
    throw ModelError("feature row of " + std::to_string(n) + " bytes where " + std::to_string(row.size()) +
                     " are declared");
  std::memcpy(row.data(), m.ptr<uint8_t>(0), n);
}

}  // namespace

const std::vector<ImageFeatureGroup>& image_feature_groups() {
  static const std::vector<ImageFeatureGroup> groups = {
      {"hashes",
       kHashMinSide,
       {
           {{kHashesFeature, "u64", 3},
            [](const FeatureInput& in, std::span<uint8_t> row) {
              const ImageHashes& h = *in.hashes;
              put_row(row, std::array<uint64_t, 3>{h.phash, h.dhash, h.ahash});
            }},
           {{kColorFeature, "f32", kColorStatsDim},
            [](const FeatureInput& in, std::span<uint8_t> row) { put_row(row, color_stats(in.rgb)); }},
           // The pHash of the mirrored and rotated image: sign flips and a transpose of the one
           // 32x32 DCT's 8x8 block (no decode, no resize beyond the hash's), 56 bytes per image.
           {{kPhashVariantsFeature, "u64", kHashVariants - 1},
            [](const FeatureInput& in, std::span<uint8_t> row) {
              const auto& v = in.hashes->variants;
              std::array<uint64_t, kHashVariants - 1> rest;
              std::copy(v.begin() + 1, v.end(), rest.begin());
              put_row(row, rest);
            }},
       },
       /*shares_quality_input=*/false,
       /*shares_hashes=*/true},
      // Quality measures, sharpness (irbis issues) and dominant colours at the CNN's input side: with embeddings the JPEG decode
      // is the model's own, so nothing is decoded twice. Asked for together with the hashes.
      // Version 2 (128 px grey, sampled histogram and colour sample, own k-means): docs/issues.md.
      {"quality",
       kQualityMinSide,
       {
           {{kQualityFeature, "f32", kQualityDim},
            [](const FeatureInput& in, std::span<uint8_t> row) { put_row(row, quality_measures(*in.quality)); },
            2},
           {{kSharpnessFeature, "f32", kSharpnessDim},
            [](const FeatureInput& in, std::span<uint8_t> row) { put_row(row, sharpness_measures(*in.quality)); },
            2},
           {{kPaletteFeature, "f32", kPaletteDim},
            [](const FeatureInput& in, std::span<uint8_t> row) { put_row(row, dominant_colors(*in.quality)); },
            2},
           // The IJG quality of a JPEG's quantisation tables, from the file's header; NaN otherwise.
           {{kJpegQualityFeature, "f32", 1},
            [](const FeatureInput& in, std::span<uint8_t> row) { put_row(row, jpeg_quality(in.file)); }},
       },
       /*shares_quality_input=*/true,
       /*shares_hashes=*/false},
  };
  return groups;
}

const std::vector<ModelFeatureDef>& model_features() {
  static const std::vector<ModelFeatureDef> features = {
      {embedding_feature, "f32", [](const Embedder& e) { return e.dim(); },
       [](const FeatureInput& in, std::span<uint8_t> row) {
         put_mat(row, in.embedder->descriptor_from_blocks(*in.blocks));
       }},
      {blocks_feature, "f16", [](const Embedder& e) { return e.blocks_dim(); },
       [](const FeatureInput& in, std::span<uint8_t> row) {
         cv::Mat half;
         in.blocks->convertTo(half, CV_16F);
         put_mat(row, half);
       }},
  };
  return features;
}

namespace {

ProducerRows zeroed_rows(const std::vector<FeatureSpec>& specs) {
  ProducerRows rows(specs.size());
  for (size_t f = 0; f < specs.size(); ++f) rows[f].assign(specs[f].row_bytes(), 0);
  return rows;
}

}  // namespace

GroupInput prepare_group_input(const ImageFeatureGroup& group, const cv::Mat& rgb) {
  GroupInput g;
  if (group.shares_quality_input) g.quality = quality_input(rgb);
  if (group.shares_hashes) g.hashes = image_hashes(rgb);
  return g;
}

namespace {

class ImageProducer final : public FeatureProducer {
 public:
  explicit ImageProducer(const ImageFeatureGroup& group) : group_(group) {
    for (const auto& f : group_.features) specs_.push_back(f.spec);
  }
  const std::string& label() const override { return group_.label; }
  const std::string& model() const override { return no_model_; }
  const std::vector<FeatureSpec>& specs() const override { return specs_; }
  int version(size_t f) const override { return group_.features[f].version; }
  int min_side() const override { return group_.min_side; }

  std::unique_ptr<Computation> begin() override { return std::make_unique<Run>(*this); }

 private:
  struct Run final : Computation {
    explicit Run(const ImageProducer& p) : p(p) {}
    ProducerRows compute(const cv::Mat& rgb, std::span<const uint8_t> file) override {
      ProducerRows rows = zeroed_rows(p.specs_);
      const GroupInput prepared = prepare_group_input(p.group_, rgb);
      const FeatureInput in = prepared.input(rgb, file);
      for (size_t f = 0; f < rows.size(); ++f) p.group_.features[f].compute(in, rows[f]);
      return rows;
    }
    const ImageProducer& p;
  };
  ImageFeatureGroup group_;  // a copy: a test may register a group of its own
  std::vector<FeatureSpec> specs_;
  std::string no_model_;
};

// One Embedder per concurrent computation (a cv::dnn::Net is not thread-safe); created from the
// card of the one built up front, and handed back after each image.
class EmbedderPool {
 public:
  explicit EmbedderPool(std::unique_ptr<Embedder> first)
      : card_(first->card()), inference_{first->engine(), first->precision(), first->threads()} {
    free_.push_back(std::move(first));
  }
  const Embedder& any() const { return *free_.front(); }
  // Loads n networks in all and runs each once on a blank input, one after the other, so no
  // network is built or set up (layer allocation, fusion) concurrently with another's inference.
  // The first call also checks the card against the network: forward_blocks throws ModelError
  // when a block's width is not the card's.
  void prepare(int n) {
    while (int(free_.size()) < n) free_.push_back(std::make_unique<Embedder>(card_, inference_));
    const cv::Mat blank = cv::Mat::zeros(card_.input_size, card_.input_size, CV_32FC3);
    for (; prepared_ < free_.size(); ++prepared_) free_[prepared_]->forward_blocks({blank});
  }
  // Throws ModelError if a further copy of the network cannot be loaded.
  std::unique_ptr<Embedder> acquire() {
    {
      std::lock_guard lk(mu_);
      if (!free_.empty()) {
        auto e = std::move(free_.back());
        free_.pop_back();
        return e;
      }
    }
    return std::make_unique<Embedder>(card_, inference_);
  }
  void give_back(std::unique_ptr<Embedder> e) {
    std::lock_guard lk(mu_);
    free_.push_back(std::move(e));
  }

 private:
  ModelCard card_;
  InferenceOptions inference_;  // every copy runs the engine, precision and team size of the first
  std::mutex mu_;
  std::vector<std::unique_ptr<Embedder>> free_;
  size_t prepared_ = 0;  // free_[0, prepared_) have run once (prepare runs before any lease)
};

class ModelProducer final : public FeatureProducer {
 public:
  explicit ModelProducer(std::unique_ptr<Embedder> first)
      : card_(first->card()), label_("cnn:" + card_.name), pool_(std::move(first)) {
    pool_.prepare(1);
    for (const auto& f : model_features()) specs_.push_back({f.name(card_.name), f.dtype, f.dim(pool_.any())});
  }
  const std::string& label() const override { return label_; }
  const std::string& model() const override { return card_.name; }
  const std::vector<FeatureSpec>& specs() const override { return specs_; }
  int min_side() const override { return card_.input_size; }
  void prepare(int workers) override { pool_.prepare(workers); }
  void record_provenance(Collection& coll) const override {
    // Which weights made these rows: index and merge_collections refuse to mix models that share a name.
    coll.set_meta(model_weights_key(card_.name), card_.onnx_sha256);
    // The first engine/precision stays: later runs were checked to be interchangeable with it.
    if (coll.meta(model_inference_key(card_.name)).empty())
      coll.set_meta(model_inference_key(card_.name), pool_.any().inference_tag());
  }
  std::unique_ptr<Computation> begin() override { return std::make_unique<Run>(*this, pool_.acquire()); }

 private:
  struct Run final : Computation {
    Run(ModelProducer& p, std::unique_ptr<Embedder> e) : p(p), embedder(std::move(e)) {}
    ~Run() override { p.pool_.give_back(std::move(embedder)); }
    ProducerRows compute(const cv::Mat& rgb, std::span<const uint8_t> file) override {
      const cv::Mat blocks = embedder->forward_blocks({embedder->preprocess(rgb)});
      ProducerRows rows = zeroed_rows(p.specs_);
      const FeatureInput in{rgb, embedder.get(), &blocks, nullptr, nullptr, file};
      const auto& defs = model_features();
      for (size_t f = 0; f < rows.size(); ++f) defs[f].compute(in, rows[f]);
      return rows;
    }
    ModelProducer& p;
    std::unique_ptr<Embedder> embedder;
  };
  ModelCard card_;
  std::string label_;
  EmbedderPool pool_;
  std::vector<FeatureSpec> specs_;
};

}  // namespace

std::unique_ptr<FeatureProducer> make_image_producer(const ImageFeatureGroup& group) {
  return std::make_unique<ImageProducer>(group);
}

std::unique_ptr<FeatureProducer> make_model_producer(std::unique_ptr<Embedder> first) {
  return std::make_unique<ModelProducer>(std::move(first));
}

}  // namespace irbis::indexing
