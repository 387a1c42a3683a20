// `irbis index`: scan folders, decide what is new/changed/removed, decode and featurize in a
// bounded ordered pipeline, and commit in batches so an interrupted run resumes where it stopped.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "irbis/collection.h"
#include "irbis/collection_layout.h"  // feature names: kHashesFeature, embedding_feature, ...
#include "irbis/image.h"
#include "irbis/scan.h"

namespace irbis {

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
  // Polled by the writer thread after each image: true ends the run there, committing what was
  // done (IndexReport::interrupted), so a later run resumes after it. The CLI sets it on Ctrl-C.
  std::function<bool()> should_stop;
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
  // Features whose stored rows were of an older definition (docs/storage.md, "Definition
  // versions"): emptied and computed again for every image ("quality", "sharpness", ...).
  std::vector<std::string> redefined;
  std::vector<ScanProblem> problems;  // unreadable directories, missing roots, ...
  double seconds = 0;
  // should_stop ended the run early: everything counted above is committed; `left` files (and
  // back-fill rows) were not done, and a run with the same roots does them.
  bool interrupted = false;
  int64_t left = 0;
};

// Indexes params.roots into the collection. Throws only for fatal problems (store errors, a
// model that cannot run: those are found before the collection is changed); per-file problems
// are recorded as failed images and counted in the report.
IndexReport index_collection(Collection& collection, const IndexParams& params);

// True for names ending in a common image extension (case-insensitive).
bool has_image_extension(const std::string& path);

}  // namespace irbis
