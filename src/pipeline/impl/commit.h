// Commit: the ordered sink of an index run, on the calling thread. Stages each produced image
// (or back-filled row) in scan/id order, commits in batches (so an interrupted run keeps every
// batch it committed and the next run resumes after it), counts, and reports progress.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "irbis/collection.h"
#include "irbis/pipeline.h"
#include "pipeline/impl/feature_producer.h"
#include "pipeline/impl/produce.h"

namespace irbis::indexing {

// When to commit: every `every` staged items, and (when max_wait is set) when the last commit is
// older than max_wait, so a slow run still makes progress durable.
class CommitCadence {
 public:
  explicit CommitCadence(int every, std::optional<std::chrono::steady_clock::duration> max_wait = std::nullopt)
      : every_(every), max_wait_(max_wait), last_(std::chrono::steady_clock::now()) {}
  // Counts one staged item; true when a commit is due (and restarts the count).
  bool staged_one();
  // True when `staged` items are waiting or the last commit is older than max_wait (restarts the clock).
  bool due(int64_t staged);

 private:
  int every_;
  std::optional<std::chrono::steady_clock::duration> max_wait_;
  std::chrono::steady_clock::time_point last_;
  int64_t since_commit_ = 0;
};

// Stages back-filled rows of images already in the catalog, in id order. Each feature file
// resumes from its own committed row count: a row it already has (committed before an
// interruption) is not staged again.
class BackfillSink {
 public:
  // starts[p]: the first id producer p back-fills (plan's backfill_starts).
  BackfillSink(Collection& coll, const std::vector<std::unique_ptr<FeatureProducer>>& producers,
               std::vector<int64_t> starts, int commit_every);
  // Which producers compute rows for this id.
  std::vector<bool> wanted(int64_t id) const;
  // Stages the image's rows; a zero row where a wanted producer has none (not an ok image, or
  // it could not be read again). Returns true when at least one row was computed.
  bool stage(int64_t id, const ImageRows& rows);
  void finish() { coll_.commit(); }

 private:
  Collection& coll_;
  const std::vector<std::unique_ptr<FeatureProducer>>& producers_;
  std::vector<int64_t> starts_;
  CommitCadence cadence_;
};

// Stages new and changed files as catalog records with their rows, in scan order.
class IngestSink {
 public:
  IngestSink(Collection& coll, const std::vector<std::unique_ptr<FeatureProducer>>& producers, int commit_every,
             IndexReport& rep);
  // `replaces`: id of the live version this file replaces, or -1.
  void stage(ProducedImage& produced, int64_t replaces);
  void finish() { coll_.commit(); }

 private:
  Collection& coll_;
  const std::vector<std::unique_ptr<FeatureProducer>>& producers_;
  IndexReport& rep_;
  CommitCadence cadence_;
};

}  // namespace irbis::indexing
