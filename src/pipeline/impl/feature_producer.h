// The features `irbis index` computes, as a registry: each feature file is one FeatureDef (name,
// dtype, dim, how its row is computed), grouped into producers that share one decode of the image
// (and, for a model, one forward pass). Plan, produce and commit only ever loop over producers and
// their FeatureDefs, so adding a feature is one entry in src/pipeline/features.cpp.
#pragma once
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <opencv2/core.hpp>

#include "irbis/collection.h"
#include "irbis/hashes.h"
#include "irbis/model.h"
#include "irbis/quality.h"

namespace irbis::indexing {

// What one image's row of a feature is computed from.
struct FeatureInput {
  const cv::Mat& rgb;                  // CV_8UC3 RGB, EXIF-oriented, decoded at the producer's side
  const Embedder* embedder = nullptr;  // model features: the network that ran
  const cv::Mat* blocks = nullptr;     // model features: its raw pooled blocks, 1 x blocks_dim CV_32F
  const QualityInput* quality = nullptr;  // groups with shares_quality_input: the small images made once
  const ImageHashes* hashes = nullptr;    // groups with shares_hashes: every hash of the image, made once
  std::span<const uint8_t> file;          // the file's bytes (jpeg_quality reads its header)
};

// Fills `row` (exactly spec.row_bytes() bytes, zeroed) with one image's row. Runs on worker
// threads, concurrently; throws what decoding or inference throws.
using ComputeRow = std::function<void(const FeatureInput& in, std::span<uint8_t> row)>;

// One feature file and how its rows are computed. `version` numbers the definition of its values:
// raise it when a change moves stored values (another resize, a sampled statistic), and `index`
// empties and back-fills the feature in collections holding rows of another version
// (feature_version_key; docs/storage.md, "Definition versions").
struct FeatureDef {
  FeatureSpec spec;
  ComputeRow compute;
  int version = 1;
};

// Features computed from one decoded image; registered in image_feature_groups().
struct ImageFeatureGroup {
  std::string label;  // in IndexReport::also_computed, and what IndexParams asks for ("hashes")
  int min_side = 0;   // the decode each feature of the group sees (the DCT-scaled JPEG decode)
  std::vector<FeatureDef> features;
  // The group's features read FeatureInput::quality (quality_input of the decode, made once per
  // image for all of them) instead of each shrinking the decode again.
  bool shares_quality_input = false;
  // The group's features read FeatureInput::hashes (image_hashes of the decode: one grey image and
  // one DCT for the hashes and the pHash variants).
  bool shares_hashes = false;
};
const std::vector<ImageFeatureGroup>& image_feature_groups();

// What a group's features of one image are computed from: the decode, and what the group shares.
struct GroupInput {
  std::optional<QualityInput> quality;
  std::optional<ImageHashes> hashes;
  FeatureInput input(const cv::Mat& rgb, std::span<const uint8_t> file) const {
    return {rgb, nullptr, nullptr, quality ? &*quality : nullptr, hashes ? &*hashes : nullptr, file};
  }
};
GroupInput prepare_group_input(const ImageFeatureGroup& group, const cv::Mat& rgb);

// A feature every model gives, derived from its forward pass; registered in model_features().
struct ModelFeatureDef {
  std::function<std::string(const std::string& model)> name;  // file name, e.g. embedding_feature
  std::string dtype;
  std::function<int(const Embedder&)> dim;
  ComputeRow compute;
};
const std::vector<ModelFeatureDef>& model_features();

// The rows of one image for one producer: rows[f] belongs to features()[f].
using ProducerRows = std::vector<std::vector<uint8_t>>;

// A group of features computed from one decode of an image (and one forward pass for a model):
// the unit that a run plans, back-fills and reports.
class FeatureProducer {
 public:
  virtual ~FeatureProducer() = default;
  // "hashes", or "cnn:<model>" (IndexReport::also_computed).
  virtual const std::string& label() const = 0;
  // The model whose network runs, or empty.
  virtual const std::string& model() const = 0;
  virtual const std::vector<FeatureSpec>& specs() const = 0;
  // The definition version of specs()[f] (FeatureDef::version).
  virtual int version(size_t f) const { (void)f; return 1; }
  // Smallest decoded side its features need (decode.min_side is a floor under it).
  virtual int min_side() const = 0;
  // Readies `workers` concurrent computations (a model loads and warms one network per worker).
  virtual void prepare(int workers) { (void)workers; }
  // Records in the collection what the rows depend on (a model's weights); after they are declared.
  virtual void record_provenance(Collection& coll) const { (void)coll; }

  // What one image's computation holds (a leased network). Taken before the image is read:
  // failing to get it is the run's fault (ModelError), not the image's.
  class Computation {
   public:
    virtual ~Computation() = default;
    // Every feature's row of one image, from its decode and the file's bytes. Throws what decoding
    // and inference throw.
    virtual ProducerRows compute(const cv::Mat& rgb, std::span<const uint8_t> file) = 0;
  };
  virtual std::unique_ptr<Computation> begin() = 0;
};

// The producer of an image feature group.
std::unique_ptr<FeatureProducer> make_image_producer(const ImageFeatureGroup& group);
// The producer of a model's features; loads the network and runs it once on a blank input (so a
// card that does not match its network throws ModelError here, before anything is written).
// The producer of a model's features; every further network copy runs `first`'s engine and precision.
std::unique_ptr<FeatureProducer> make_model_producer(std::unique_ptr<Embedder> first);

// Writes a trivially copyable value's bytes into a row.
template <typename T>
void put_row(std::span<uint8_t> row, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  std::memcpy(row.data(), &value, std::min(row.size(), sizeof(T)));
}

}  // namespace irbis::indexing
