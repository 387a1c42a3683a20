// Every name a collection directory holds on disk and every catalog meta key, defined once here:
// the store, the index pipeline, merge, the vector index, the server and the Python package all
// use these instead of spelling the strings themselves. docs/storage.md describes the layout.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "irbis/collection.h"
#include "irbis/scan.h"

namespace irbis {

// ---- files and folders inside <collection>/
constexpr const char* kCatalogFile = "catalog.sqlite";  // SQLite (WAL): images, feature row counts, meta
constexpr const char* kFeaturesDir = "features";        // features/<name>.f, fixed-width rows
constexpr const char* kLockFile = "lock";               // flock()ed by the one writer
constexpr const char* kVectorIndexDir = "index";        // index/<model>.{hnsw,pca,json}: the ANN index; <model>.self<k>.knn: the saved self-join
constexpr const char* kThumbsDir = "thumbs";            // thumbs/<id>.jpg: the server's thumbnail cache
// <collection>/features/<feature>.f. Throws StoreError for a name valid_feature_name() refuses, so
// a name read from a damaged catalog can never reach outside features/.
std::filesystem::path feature_file(const std::filesystem::path& collection_dir, const std::string& feature);
// A feature name is a plain file name: 1 to 128 of [A-Za-z0-9._-], not starting with '.'.
bool valid_feature_name(const std::string& feature);
// The largest dimension a feature may declare (a catalog claiming more is damaged).
constexpr int kMaxFeatureDim = 1 << 20;

// ---- feature names
constexpr const char* kHashesFeature = "hashes";  // u64[3]: phash, dhash, ahash
constexpr const char* kColorFeature = "color";    // f32[kColorStatsDim]
constexpr const char* kQualityFeature = "quality";  // f32[kQualityDim], columns in irbis/quality.h
constexpr const char* kSharpnessFeature = "sharpness";  // f32[kSharpnessDim], columns in irbis/quality.h
constexpr const char* kPaletteFeature = "palette";  // f32[kPaletteDim]: dominant colours, irbis/palette.h
// f32[1]: the IJG quality (1..100) of a JPEG's quantisation tables (irbis::jpeg_quality), NaN otherwise.
constexpr const char* kJpegQualityFeature = "jpeg_quality";
// u64[kHashVariants - 1]: the pHash of the image mirrored, flipped, rotated... (phash_variants()[1..],
// HashVariant order after identity), for dupes' mirror- and rotation-proof matching (docs/dupes.md).
constexpr const char* kPhashVariantsFeature = "phash_variants";
// Per model: the L2-normalised descriptor, and every pooled block (float16) it derives from.
std::string embedding_feature(const std::string& model);  // "emb.<model>", f32[descriptor dim]
std::string blocks_feature(const std::string& model);     // "blocks.<model>", f16[blocks dim]
// The model whose rows a feature holds: <model> for "emb.<model>" and "blocks.<model>", else "".
std::string feature_model(const std::string& feature);
// The models whose descriptors a collection holds: every "emb.<model>" feature, in spec order.
std::vector<std::string> embedding_models(const std::vector<FeatureSpec>& specs);

// ---- catalog meta keys
constexpr const char* kSchemaVersionKey = "schema_version";
constexpr const char* kScanProblemsKey = "last_scan_problems";  // JSON [{path, reason}] of the last index run
// Set by merge_collections while a merge is under way (JSON {base_rows, partials [{path, rows}]}),
// emptied by its last commit: a collection holding it is half-merged (irbis/merge.h).
constexpr const char* kMergeInProgressKey = "merge_in_progress";
// The same record of the last merge that finished, so running it again changes nothing.
constexpr const char* kLastMergeKey = "last_merge";
// The sha256 of the ONNX file that computed a model's rows.
std::string model_weights_key(const std::string& model);  // "model.<model>.onnx_sha256"
// Catalog meta key holding the engine/precision that computed a model's rows, e.g. "onednn/bf16"
// (Embedder::inference_tag; absent in collections indexed before it was recorded: opencv/fp32).
std::string model_inference_key(const std::string& model);  // "model.<model>.inference"
// The definition version of an image feature's rows (FeatureDef::version in the pipeline's
// registry), e.g. "2"; absent = 1. A run whose registry defines a feature differently empties
// and back-fills it (docs/storage.md, "Definition versions").
std::string feature_version_key(const std::string& feature);  // "feature.<name>.version"
// Whether rows made by two engine/precision tags ("engine/precision") may share a collection:
// fp32 from either engine, bf16 only with bf16 (docs/models.md, "Engines and precisions").
bool inference_interchangeable(const std::string& tag_a, const std::string& tag_b);
// Written and read by the Python package (python/irbis/): its defaults for a collection it made,
// and a Dask partial's file-list digest.
constexpr const char* kPythonDefaultModelKey = "python.default_model";
constexpr const char* kPythonDefaultFeaturesKey = "python.default_features";
constexpr const char* kDaskFilesKey = "dask.files_sha1";

// ---- scan problems (unreadable folders, missing roots) of the last index run, kept in the catalog
// Stages them as the kScanProblemsKey meta value (JSON); call commit() after.
void save_scan_problems(Collection& coll, const std::vector<ScanProblem>& problems);
// Paths as display_path() shows them (the value is JSON, so UTF-8).
std::vector<ScanProblem> load_scan_problems(const Collection& coll);

}  // namespace irbis
