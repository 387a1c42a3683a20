// Merging collections built separately (one per partition of a file list, e.g. by Dask workers,
// python/irbis/dask.py) into one. See docs/dask.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "irbis/collection.h"
#include "irbis/scan.h"

namespace irbis {

struct MergeReport {
  int64_t partials = 0;
  int64_t records = 0;  // catalog rows appended (every status: ok, failed, retired, removed)
  int64_t ok = 0;       // of which live ok images
  int64_t failed = 0;   // of which failed files (with their reasons)
  std::vector<ScanProblem> scan_problems;  // every partial's, in partition order
};

// Appends every partial's catalog rows and feature rows to `dest`, partial by partial in the
// order given and each in id order: a row's new id is its partial id plus the rows before it, so
// the merged ids follow partition order. Records keep their path, size, mtime, content hash,
// format, size in pixels, status and reason; feature rows are copied byte for byte.
//
// Refused (before anything is written; StoreError naming the partial and what differs):
//   - partials whose feature files differ (names, dtypes, dims) from each other, or from dest's
//     when dest already has features;
//   - the same model name computed with different weights (sha256 of the ONNX file);
//   - a feature that is not complete (a model back-fill still pending) in a partial or dest;
//   - a path that is live (ok or failed) in two partials, or in dest and a partial;
//   - a partial that is not a collection, or is dest itself.
// Commits every `commit_every` rows, so memory stays bounded; an interrupted merge leaves dest
// holding a prefix of the result (merge into a new directory and rename it, as index_distributed
// does). The partials are only read.
MergeReport merge_collections(Collection& dest, const std::vector<std::filesystem::path>& partials,
                              int commit_every = 1024);

}  // namespace irbis
