// Plan: what an index run computes, for which rows. Nothing here reads an image.
//   plan_files    which scanned files are new or changed, which catalogued ones are gone
//   plan_features which feature producers run (those asked for plus those the collection has)
//   declare_features / backfill_starts  the feature files, and where each producer's back-fill starts
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "irbis/collection.h"
#include "irbis/pipeline.h"
#include "irbis/scan.h"
#include "pipeline/impl/feature_producer.h"

namespace irbis::indexing {

// The files to read, and what the catalog already knows about them.
struct FilePlan {
  std::vector<ScanEntry> todo;   // new or changed files, in scan order
  std::vector<int64_t> replaces; // per todo entry: id of the live version it replaces, or -1
  std::vector<int64_t> removed;  // ids of live records under the roots whose file is gone
  int64_t unchanged = 0;         // same path, size and mtime as the catalog
};

// Compares a scan of `roots` (absolute) with the collection's live records under them. A record
// under a directory the scan could not read (scanned.problems) is not counted as removed.
FilePlan plan_files(const Collection& coll, const std::vector<std::string>& roots, const ScanResult& scanned);

// The producers a run computes: those asked for, then every one the collection has features of,
// so no image gets a zero row standing in for a feature of its collection (docs/storage.md).
// The ones not asked for are named in also_computed. Loads and checks each model (its card
// against its network, its weights against those that made the collection's rows) before
// anything is written; throws ModelError.
struct FeaturePlan {
  std::vector<std::unique_ptr<FeatureProducer>> producers;
  std::vector<std::string> also_computed;
};
FeaturePlan plan_features(const Collection& coll, const IndexParams& params);

// Decode/feature workers of a run (--threads, else one per core), and the threads of each
// worker's forward pass: 1 (one single-threaded network per worker), or the spare cores when
// there are fewer workers than cores (docs/models.md, "Threads").
int index_workers(const IndexParams& params);
int network_threads(const IndexParams& params);

// Models the collection holds rows of (any feature file named by a registered model feature).
std::vector<std::string> collection_models(const Collection& coll);

// Declares every producer's feature files and records their provenance; refuses before declaring
// any when one exists with another shape.
// Returns the features emptied because the collection's rows are of another definition version
// (they are back-filled like new ones).
std::vector<std::string> declare_features(Collection& coll, const std::vector<std::unique_ptr<FeatureProducer>>& producers);

// Per producer, the first id some of its feature files lack a committed row for (declared this
// run, or an interrupted back-fill); committed_rows() when they are complete. After declaring.
std::vector<int64_t> backfill_starts(const Collection& coll,
                                     const std::vector<std::unique_ptr<FeatureProducer>>& producers);

// "/a/b/" or "b" -> an absolute, normalised path without a trailing slash.
std::string absolute_root(const std::string& root);
// True when `path` is `root` or inside it.
bool under_root(const std::string& path, const std::string& root);

}  // namespace irbis::indexing
