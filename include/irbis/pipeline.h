// `irbis index`: scan folders, decide what is new/changed/removed, decode and featurize in a
// bounded ordered pipeline, and commit in batches so an interrupted run resumes where it stopped.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "irbis/collection.h"
#include "irbis/image.h"
#include "irbis/scan.h"

namespace irbis {

// Feature names in a collection.
constexpr const char* kHashesFeature = "hashes";  // u64[3]: phash, dhash, ahash
constexpr const char* kColorFeature = "color";    // f32[kColorStatsDim]
// Per model: the L2-normalised descriptor, and every pooled block (float16) it derives from.
std::string embedding_feature(const std::string& model);  // "emb.<model>", f32[descriptor dim]
std::string blocks_feature(const std::string& model);     // "blocks.<model>", f16[blocks dim]
// Catalog meta key holding the sha256 of the ONNX file that computed a model's rows.
std::string model_weights_key(const std::string& model);  // "model.<model>.onnx_sha256"
// Catalog meta key holding the engine/precision that computed a model's rows, e.g. "onednn/bf16"
// (Embedder::inference_tag; absent in collections indexed before it was recorded: opencv/fp32).
std::string model_inference_key(const std::string& model);  // "model.<model>.inference"

// What is computed: the features asked for here plus every feature the collection already has
// (its hashes, each model it has embeddings of), so every image of a collection has every one of
// its features; the report lists the extra ones in also_computed. A feature whose file is behind
// the catalog (newly asked for, or an interrupted back-fill) is back-filled first.
struct IndexParams {
  std::vector<std::string> roots;
  bool hashes = true;             // perceptual hashes + colour statistics
  std::string model;              // CNN embeddings with this registered model; empty = none
  DecodeOptions decode;           // pixel limit; min_side, if set, is a floor under each feature's own
  uint64_t max_file_bytes = 1ull << 30;
  int threads = 0;                // decode/feature workers; 0 = one per core
  int commit_every = 256;         // images (or back-filled rows) per catalog transaction, >= 1
  // Called from the writer thread after each image; total is known after the scan.
  std::function<void(int64_t done, int64_t total)> progress;
};

struct IndexReport {
  int64_t scanned = 0;      // files found by the scan
  int64_t unchanged = 0;    // skipped: same path, size and mtime as the catalog
  int64_t added = 0;        // new paths indexed (ok or failed)
  int64_t changed = 0;      // paths whose file changed: old version retired, new one indexed
  int64_t removed = 0;      // catalogued paths under the roots that are gone
  int64_t not_images = 0;   // files that are neither sniffed as images nor named like one
  int64_t ok = 0;           // indexed successfully in this run
  int64_t failed = 0;       // recorded as failed in this run
  int64_t backfilled = 0;   // existing images given their missing rows (a newly requested feature)
  // Features computed although not asked for, because the collection has them: "hashes",
  // "cnn:<model>".
  std::vector<std::string> also_computed;
  std::vector<ScanProblem> problems;  // unreadable directories, missing roots, ...
  double seconds = 0;
};

// Indexes params.roots into the collection. Throws only for fatal problems (store errors, a
// model that cannot run: those are found before the collection is changed); per-file problems
// are recorded as failed images and counted in the report.
IndexReport index_collection(Collection& collection, const IndexParams& params);

// True for names ending in a common image extension (case-insensitive).
bool has_image_extension(const std::string& path);

}  // namespace irbis
