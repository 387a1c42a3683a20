// What the commands compute from a collection, as library functions shared by the CLI
// (src/cli/*_command.cpp) and the Python module (python/src/): the summary behind `irbis info`, the
// duplicate groups behind `irbis dupes`, the matrix `irbis cluster` clusters, the scan problems
// `irbis index` records, and the rows `irbis train` / `irbis predict --collection` read. Front ends only format what these return.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "irbis/classifier.h"
#include "irbis/collection.h"
#include "irbis/collection_layout.h"  // save_scan_problems, load_scan_problems
#include "irbis/dupes.h"
#include "irbis/embeddings.h"
#include "irbis/hashes.h"
#include "irbis/model.h"
#include "irbis/palette.h"
#include "irbis/scan.h"
#include "irbis/search.h"

namespace irbis {

// ---- `irbis info`
struct FeatureSummary {
  FeatureSpec spec;
  int64_t rows = 0;  // committed rows
};
struct CollectionSummary {
  int64_t ok = 0, failed = 0, removed = 0, retired = 0;
  std::map<std::string, int64_t> formats;  // format name -> live ok images
  int64_t bytes = 0;                       // sum of file sizes of ok images
  int64_t pixels = 0;                      // sum of width x height of ok images
  std::vector<FeatureSummary> features;
  std::vector<ImageRecord> failures;       // status failed, id order
  std::vector<ScanProblem> scan_problems;  // from the last index run
};
CollectionSummary summarize_collection(const Collection& coll);

// ---- `irbis dupes`
// Per-channel standard deviation of the colour statistics (in [0, 1]) below which an image counts
// as nearly flat (docs/dupes.md): about 5 grey levels.
inline constexpr float kLowDetailStd = 0.02f;

struct CollectionDupes {
  std::vector<ImageRecord> records;  // the live ok images that have hashes, id order
  std::vector<DupeGroup> groups;     // DupeGroup::keep and DupeMember::index index into records
  size_t duplicates() const;         // images that are not the kept one of their group
  // How many of the stored variant hashes (HashVariant order after identity: 1 = the mirror) were
  // compared; 0 for a collection indexed before they existed, until `irbis index` back-fills them.
  int variants = 0;
  // Geometric verification of the uncertain band: pairs verified and the seconds it took
  // (decoding both files at VerifyParams::work_side included).
  size_t pairs_verified = 0;
  double verify_seconds = 0;
  // Pixel checks of sure pairs (VerifyPolicy::check_sure_pixels) and their seconds (decodes included).
  size_t pairs_checked = 0;
  double check_seconds = 0;
  // The uncertain band that was verified (absent: no band): hash pairs with
  // threshold < distance <= verify_max_distance, and with --cnn CNN pairs with
  // verify_min_similarity <= cosine < the CNN threshold.
  std::optional<int> verify_max_distance;
  std::optional<int> verify_max_dhash_distance;  // ... and dHash distance <= this (docs/dupes.md, "Two hashes agree")
  std::optional<double> verify_min_similarity;
};
// `dupes --cnn`: also link images whose CNN embeddings are close (crops, rotations, flips,
// overlays), under the same bounded chaining as the hash pairs.
struct CnnDupesOptions {
  bool enabled = false;
  // Smallest cosine similarity of a CNN pair accepted without verification (pairs down to
  // 1 - DupesParams::band.max_extra_distance are verified); docs/calibration.md, "Calibrated defaults".
  double min_similarity = 0.99;
  std::string model = kDefaultModel;
  IndexOptions index;
  int neighbours = 10;  // nearest neighbours examined per image
};
// The collection's perceptual hashes (u64 x 3 per id); UsageError naming the index command when
// the collection has none.
FeatureView perceptual_hashes(const Collection& coll);
// Throws UsageError (naming the index command to run) when the collection has no hashes, or,
// with cnn.enabled, no embeddings of cnn.model. DupeMember::similarity is set for CNN pairs.
CollectionDupes find_collection_dupes(const Collection& coll, const DupesParams& params = {},
                                      const CnnDupesOptions& cnn = {});

// ---- `irbis match`: new images against a collection (nothing is added to it)
struct MatchOptions {
  // Same evidence and thresholds as `irbis dupes` (docs/dupes.md): a hash match within
  // max_distance over the query's hash and its first `variants_used` variants (1 = mirror).
  int max_distance = DupesParams{}.max_distance;
  int variants_used = DupesParams{}.variants_used;
  HashAgreement agreement = DupesParams{}.agreement;  // the dHash that must agree, as in dupes
  // CNN similarity through the collection's vector index when it has embeddings of `model`
  // (false: hashes only). Without embeddings the answer is the hash one and MatchResult::note
  // names the index command that adds them.
  bool cnn = true;
  double min_similarity = CnnDupesOptions{}.min_similarity;
  std::string model = kDefaultModel;
  IndexOptions index;
  int neighbours = 10;  // nearest collection images examined per query
  // Uncertain band, confirmed or refused by geometric verification (verify.h): hash distance in
  // (max_distance, band.max_hash_distance], CNN similarity in [1 - band.max_extra_distance, min_similarity).
  VerifyBand band = DupesParams{}.band;  // band.verify is ignored: match verifies with verify_geometry
  bool verify = true;
  VerifyParams verify_params;
  // Which pairs are verified (the rule of dupes, judge_pair): the band and sure-but-weak pairs,
  // only while the query has no accepted match, strongest first, at most
  // policy.max_verified_per_item per query.
  // Its margin stays flat (cnn_stand_out_growth 0): a query's rivals are all its neighbours
  // already, and a growing margin lost 2 of 920 copies on the Copydays-style set for 13 % fewer
  // verifications at 100 000 (BENCHMARKS.md, "Both cores and a graded margin").
  VerifyPolicy policy = [] {
    VerifyPolicy p = DupesParams{}.policy;
    p.cnn_stand_out_growth = 0;
    return p;
  }();
  // Pairs handed to the verifier at once (verified in parallel; a batch also takes in every pair
  // as strong as its last). After the first batch with a confirmed pair, the confirmed pair with
  // the most inliers is the match and no further pair is verified. 2 = this machine's cores.
  int verify_batch = 2;
  DecodeOptions decode;             // pixel limit of the queries (min_side is set per use)
  // Queries matched at once by match_images and the batch match(): each worker takes whole queries
  // (decode, forward pass on its own network, decision, verification), so the verification of
  // all queries spreads over the cores instead of one query's few pairs at a time. The answer does
  // not depend on it (a pair's evidence is the same on any thread). 0 = the machine's cores.
  int threads = 0;
};

// A query's features as `irbis index` computes them: what match compares once the image is decoded.
struct MatchQuery {
  std::string path;
  ContentHash content{};                                // all zero = unknown
  std::array<uint64_t, kHashVariants> phash_variants{};  // [0] = the pHash, [1] = the mirror's, ...
  uint64_t dhash = 0;
  bool low_detail = false;
  std::vector<float> embedding;  // the model's descriptor; empty = hashes only
};
// Verifies a query against collection images (MatchResult::records indices): one PairCheck each,
// same order. match() decodes the query at VerifyParams::work_side and runs verify_geometry.
using QueryVerifier = std::function<std::vector<PairCheck>(const std::vector<uint32_t>& records)>;
// Pixel-checks a query against collection images (compare_pixels, VerifyPolicy::check_sure_pixels):
// one PixelCheck each, same order. match() decodes the query once for this and for verification.
using QueryPixelCheck = std::function<std::vector<PixelCheck>(const std::vector<uint32_t>& records)>;
// The same for a batch of queries: `query` is the query's position in the batch. Called from
// MatchOptions::threads threads at once (one query at a time per thread).
using BatchQueryVerifier = std::function<std::vector<PairCheck>(size_t query, const std::vector<uint32_t>& records)>;
using BatchQueryPixelCheck = std::function<std::vector<PixelCheck>(size_t query, const std::vector<uint32_t>& records)>;

struct MatchedQuery {
  std::string path;             // as given, or found under a given folder
  std::string reason;           // why it could not be matched ("" = it was read and decoded)
  ImageFormat format = ImageFormat::unknown;
  int width = 0, height = 0;    // as displayed (EXIF orientation applied)
  // Collection images this one duplicates (DupeMember::index into MatchResult::records), with
  // the evidence; best first: by kind (exact, near, cnn, verified), then strength, then path.
  std::vector<DupeMember> matches;
  int verified_pairs = 0;       // band pairs geometrically verified for this query
  double verify_seconds = 0;
  int checked_pairs = 0;        // sure pairs pixel-checked (VerifyPolicy::check_sure_pixels)
  double check_seconds = 0;
  bool failed() const { return !reason.empty(); }
};

struct MatchResult {
  std::vector<ImageRecord> records;   // the live ok images of the collection that have hashes, id order
  std::vector<MatchedQuery> queries;  // in input order (a folder's images in path order)
  bool cnn = false;                   // CNN similarity was used
  std::string note;                   // e.g. how to add embeddings; "" when none
  size_t verified_pairs = 0;          // geometric verifications run
  double verify_seconds = 0;
  size_t checked_pairs = 0;           // pixel checks of sure pairs run
  double check_seconds = 0;
  size_t matched() const;             // queries with at least one match
  size_t failed() const;              // queries that could not be read or decoded
};

// The collection side of `match`, opened once (hashes, colour statistics, the vector index and the
// network) and asked per image: match_images for files, the server for uploads. One call at a
// time (the batch match() and match_images run their own threads).
class CollectionMatcher {
 public:
  // Throws UsageError (naming the index command) when the collection has no hashes.
  CollectionMatcher(const Collection& coll, const MatchOptions& options = {});
  ~CollectionMatcher();
  CollectionMatcher(const CollectionMatcher&) = delete;
  CollectionMatcher& operator=(const CollectionMatcher&) = delete;
  // One image given by its bytes (`name` is what the answer calls it). Never throws for the
  // image's content: an undecodable one comes back with MatchedQuery::reason set.
  MatchedQuery match(const std::string& name, std::span<const uint8_t> bytes);
  // The part of match() after the decode: candidates, the decision and the verification of what
  // judge_pair sends to it, through `verify` (benchmarks count it; match() passes the geometric one),
  // and the pixel check of sure pairs through `check` (none when empty).
  MatchedQuery match(const MatchQuery& query, const QueryVerifier& verify, const QueryPixelCheck& check = {});
  // The same for many queries on MatchOptions::threads threads (whole queries per thread): the
  // answers, in the queries' order, are those of match() called on each query one after another.
  std::vector<MatchedQuery> match(std::span<const MatchQuery> queries, const BatchQueryVerifier& verify,
                                  const BatchQueryPixelCheck& check = {});
  // The answer for these queries (the collection's records and the queries' statistics).
  MatchResult result(std::vector<MatchedQuery> queries) const;

 private:
  friend MatchResult match_images(const Collection&, const std::vector<std::string>&, const MatchOptions&);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// For each path (a file, or a folder: its image files, recursively), the collection images it
// duplicates. A query that cannot be read or decoded is listed with the reason and the rest go on.
// Candidates come from multi-index hashing over the collection's hashes and from its vector index,
// never from a loop over all pairs. Throws UsageError (naming the index command) when the
// collection has no hashes.
MatchResult match_images(const Collection& coll, const std::vector<std::string>& paths,
                         const MatchOptions& options = {});

// ---- `irbis cluster`: the rows to cluster
struct FeatureMatrix {
  std::vector<ImageRecord> records;  // live ok images that have the feature, id order
  cv::Mat data;                      // records.size() x d, CV_32F
};
// features: "cnn-semantic" (the model's last block), "cnn-full" (its descriptor), "color" (colour
// statistics) or "hash" (pHash bits as 0/1 coordinates: squared Euclidean distance = Hamming
// distance). Throws UsageError for an unknown name or a feature the collection lacks.
FeatureMatrix load_feature_matrix(const Collection& coll, const std::string& features, const std::string& model);

// ---- `irbis search --colors`, `irbis export --view colors`, the report's palettes
struct ImagePalette {
  ImageRecord record;
  std::vector<PaletteColor> colors;  // heaviest first
  std::vector<float> histogram;      // the `color` feature's 4x4x4 RGB histogram (empty without it)
  double match = 0;                  // palette_match with the query (search only)
};
// Every live ok image that has the palette feature, id order. Throws UsageError naming the index
// command when the collection has no palette (it is back-filled by the next `irbis index`).
std::vector<ImagePalette> load_palettes(const Collection& coll);
// The k images whose palettes best hold every query colour, best first (ties by id).
std::vector<ImagePalette> search_collection_colors(const Collection& coll, const std::vector<LabColor>& query, int k);
// The same ranking over palettes already loaded (load_palettes' list; serve keeps it with its other
// analyses instead of reading every palette per query).
std::vector<ImagePalette> rank_palettes(const std::vector<ImagePalette>& palettes, const std::vector<LabColor>& query, int k);
// A colour search from its text, as `irbis search --colors`, Python's search_colors and serve's
// /api/search?colors= take it: the colours as given back (#rrggbb) and the hits, for
// color_search_json / color_search_table (results.h). Throws UsageError naming a malformed colour.
struct ColorSearch {
  std::vector<std::string> query;
  std::vector<ImagePalette> hits;
};
ColorSearch search_collection_colors(const Collection& coll, const std::string& colors, int k);
// The same answer over palettes already loaded, the colours already read (parse_hex_colors).
ColorSearch color_search(const std::vector<LabColor>& query, const std::vector<ImagePalette>& palettes, int k);

// ---- `irbis train`, `irbis predict --collection`
// The rows a classifier of this input kind reads, for the live images with embeddings of `model`
// (records in id order): the stored descriptors, or the pooled blocks through normalise_blocks.
// Throws UsageError naming the index command when the collection has none. blocks-sqrt-rff needs
// its classifier's map: load blocks-sqrt and apply Classifier::rff (predict_collection does).
EmbeddingMatrix load_classifier_input(const Collection& coll, const std::string& model, ClassifierInput input);

// The input candidates `irbis train` compares (rows aligned with `records`): `inputs`, or when
// empty default_classifier_inputs() (only `full` when the collection lacks the pooled blocks).
struct ClassifierInputs {
  ModelCard card;
  std::vector<ImageRecord> records;  // live images with every needed row, id order
  std::vector<ClassifierCandidate> candidates;
};
ClassifierInputs load_classifier_inputs(const Collection& coll, const std::string& model,
                                        std::vector<ClassifierInput> inputs = {});

// The embedding models `irbis train` gives a head each when --model is not given: every model the
// collection has embeddings of, the default model first (one model: today's single-head
// classifier); just the default model when it has none (its error then names the index command).
std::vector<std::string> classifier_models(const Collection& coll);
// "a,b" -> {"a", "b"}; UsageError for an empty or repeated name.
std::vector<std::string> parse_model_list(const std::string& models);
// load_classifier_inputs for every model (one head each), rows aligned: `records` are the live
// images that have every model's rows (id order), heads[h] the candidates of models[h] on them.
struct ClassifierHeadInputs {
  std::vector<ModelCard> cards;
  std::vector<ImageRecord> records;
  std::vector<std::vector<ClassifierCandidate>> heads;
};
ClassifierHeadInputs load_classifier_head_inputs(const Collection& coll, const std::vector<std::string>& models,
                                                 const std::vector<ClassifierInput>& inputs = {});

struct CollectionPredictions {
  std::vector<ImageRecord> records;  // live images with every head's embeddings, id order
  cv::Mat proba;                     // records.size() x classes, CV_32F
};
// Class probabilities of every live image of the collection from its stored embeddings (the mean
// of the heads'). cards: Classifier::cards(), one per head. Throws ModelError when a card (the
// registry's model) is not its head's, UsageError naming the index command when the collection
// lacks a head model's embeddings.
CollectionPredictions predict_collection(const Classifier& clf, const std::vector<ModelCard>& cards,
                                         const Collection& coll);

// The same rows read on demand from the memory-mapped feature file instead of copied into one
// matrix: the low-memory `irbis cluster` gathers its training sample and streams chunks from it.
class FeatureRows {
 public:
  // Same features and errors as load_feature_matrix.
  FeatureRows(const Collection& coll, const std::string& features, const std::string& model);
  const std::vector<ImageRecord>& records() const { return records_; }
  int64_t size() const { return static_cast<int64_t>(records_.size()); }
  int dim() const { return dim_; }
  // Rows of records()[first, first + count) into out (count x dim() floats).
  void read(int64_t first, int64_t count, float* out) const;
  // Moves the records out (the object is then empty).
  std::vector<ImageRecord> take_records() { return std::move(records_); }

 private:
  std::optional<EmbeddingReader> cnn_;
  FeatureView view_;  // colour or hash feature when cnn_ is empty
  bool color_ = false;
  int dim_ = 0;
  std::vector<ImageRecord> records_;
};

}  // namespace irbis
