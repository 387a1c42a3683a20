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
  int64_t resumed = 0;  // of `records`, those an interrupted run of the same merge had committed
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
//   - dest holding an unfinished merge of other partials (or of a partial changed since).
// Commits every `commit_every` rows, so memory stays bounded. Resumable: the first commit records
// the merge in dest's catalog (kMergeInProgressKey: dest's rows before it, each partial's path and
// row count) and the last one clears it, in the same transactions as the rows. A merge that failed
// or was killed leaves dest as it was or a prefix of the result marked unfinished; running the
// same merge again checks that the rows merged so far are the partials' and appends the rest, so
// the result equals an uninterrupted merge's; run again after it finished (kLastMergeKey), it
// changes nothing and reports every row as resumed. `index` refuses a half-merged collection. The
// partials are only read.
MergeReport merge_collections(Collection& dest, const std::vector<std::filesystem::path>& partials,
                              int commit_every = 1024);

// Empty, or what an unfinished merge into `coll` was and how to finish it, e.g.
// "<dest>: a merge of 2 collections (/p/0.irbis, /p/1.irbis) stopped after 5 of 9 rows; run the same
// merge again to finish it".
std::string unfinished_merge(const Collection& coll);

}  // namespace irbis
