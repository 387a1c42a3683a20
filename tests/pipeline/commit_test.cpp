// Commit: ordered staging, commit cadence, zero rows, and what an interrupted run leaves.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <thread>

#include "irbis/pipeline.h"
#include "pipeline/impl/commit.h"
#include "pipeline/impl/ordered_parallel.h"
#include "pipeline/impl/plan.h"
#include "pipeline_test_util.h"

using namespace irbis;
using namespace irbis::indexing;
namespace fs = std::filesystem;

namespace {

using Producers = std::vector<std::unique_ptr<FeatureProducer>>;

Producers mean_only() {
  Producers p;
  p.push_back(test::mean_colour_producer());
  return p;
}

// An ok image with mean_rgb row {k, k, k}.
ProducedImage produced(int k) {
  ProducedImage w;
  w.record.path = "/pics/" + std::to_string(k) + ".png";
  w.record.size = 100 + k;
  w.record.format = ImageFormat::png;
  w.record.width = w.record.height = 8;
  const std::array<float, 3> row{float(k), float(k), float(k)};
  w.rows.rows.push_back({std::vector<uint8_t>(12)});
  std::memcpy(w.rows.rows[0][0].data(), row.data(), 12);
  return w;
}

float first_value(const Collection& coll, int64_t id) { return coll.view("mean_rgb").row_f32(id)[0]; }

// A new collection with the mean_rgb feature declared, and an ingest sink into it.
struct IngestFixture {
  IngestFixture(const std::string& tag, int commit_every)
      : tmp(tag), coll(Collection::open_or_create(tmp / "c.irbis")), producers(mean_only()) {
    declare_features(*coll, producers);
    sink = std::make_unique<IngestSink>(*coll, producers, commit_every, rep);
  }
  test::TempDir tmp;
  std::unique_ptr<Collection> coll;
  Producers producers;
  IndexReport rep;
  std::unique_ptr<IngestSink> sink;
};

}  // namespace

TEST(CommitCadence, EveryNStagedItems) {
  CommitCadence every3(3);
  std::vector<bool> due;
  for (int i = 0; i < 7; ++i) due.push_back(every3.staged_one());
  EXPECT_EQ(due, (std::vector<bool>{false, false, true, false, false, true, false}));

  CommitCadence by_count(2, std::chrono::hours(1));
  EXPECT_FALSE(by_count.due(1));
  EXPECT_TRUE(by_count.due(2));
  CommitCadence by_time(1000, std::chrono::nanoseconds(0));
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_TRUE(by_time.due(1));
}

TEST(IngestSink, CommitsEveryNImagesAndCounts) {
  IngestFixture f("commit_ingest", 3);
  Collection* coll = f.coll.get();
  IngestSink& sink = *f.sink;
  const IndexReport& rep = f.rep;
  std::vector<int64_t> committed;
  for (int k = 0; k < 7; ++k) {
    ProducedImage w = produced(k);
    if (k == 4) {
      w.record.status = ImageStatus::failed;
      w.record.reason = "decoder error: test";
      w.rows = {};
    }
    sink.stage(w, -1);
    committed.push_back(coll->committed_rows());
  }
  EXPECT_EQ(committed, (std::vector<int64_t>{0, 0, 3, 3, 3, 6, 6}));
  sink.finish();
  EXPECT_EQ(coll->committed_rows(), 7);
  EXPECT_EQ(rep.added, 7);
  EXPECT_EQ(rep.ok, 6);
  EXPECT_EQ(rep.failed, 1);
  EXPECT_EQ(first_value(*coll, 3), 3.0f);
  EXPECT_EQ(first_value(*coll, 4), 0.0f);  // the failed image's zero row
  EXPECT_EQ(coll->record(4)->reason, "decoder error: test");
}

TEST(IngestSink, ChangedFileRetiresItsOldVersionAndANonImageRemovesIt) {
  IngestFixture f("commit_replace", 100);
  Collection* coll = f.coll.get();
  IngestSink& sink = *f.sink;
  const IndexReport& rep = f.rep;
  ProducedImage a = produced(0), b = produced(1);
  sink.stage(a, -1);
  sink.stage(b, -1);
  sink.finish();
  ProducedImage a2 = produced(2), not_image;
  not_image.is_image = false;
  sink.stage(a2, 0);
  sink.stage(not_image, 1);
  sink.finish();
  EXPECT_EQ(coll->record(0)->status, ImageStatus::retired);
  EXPECT_EQ(coll->record(1)->status, ImageStatus::removed);
  EXPECT_EQ(coll->record(2)->status, ImageStatus::ok);
  EXPECT_EQ(rep.changed, 1);
  EXPECT_EQ(rep.removed, 1);
  EXPECT_EQ(rep.not_images, 1);
}

TEST(IngestSink, AbortMidRunLeavesOnlyCommittedRows) {
  test::TempDir tmp("commit_abort");
  const Producers producers = mean_only();
  {
    auto coll = Collection::open_or_create(tmp / "c.irbis");
    declare_features(*coll, producers);
    IndexReport rep;
    IngestSink sink(*coll, producers, 2, rep);
    EXPECT_THROW(ordered_parallel<ProducedImage>(
                     8, 2, 4,
                     [](size_t i) { return produced(int(i)); },
                     [&](size_t i, ProducedImage& w) {
                       if (i == 5) throw std::runtime_error("disk full");  // staging image 5 fails
                       sink.stage(w, -1);
                     }),
                 std::runtime_error);
  }  // the writer goes away with image 4 staged but not committed
  auto coll = Collection::open(tmp / "c.irbis");
  EXPECT_EQ(coll->committed_rows(), 4);
  EXPECT_EQ(coll->feature_rows("mean_rgb"), 4);
  EXPECT_EQ(coll->records().size(), 4u);
  for (int64_t id = 0; id < 4; ++id) EXPECT_EQ(first_value(*coll, id), float(id));
}

TEST(BackfillSink, ZeroRowsWhereNothingWasComputedAndResumesAfterAnInterruption) {
  test::TempDir tmp("commit_backfill");
  {
    auto coll = Collection::open_or_create(tmp / "c.irbis");
    for (int k = 0; k < 4; ++k) coll->stage_image(produced(k).record, {});
    coll->commit();
  }
  const Producers producers = mean_only();
  {
    auto coll = Collection::open(tmp / "c.irbis");
    declare_features(*coll, producers);
    BackfillSink sink(*coll, producers, backfill_starts(*coll, producers), 2);
    EXPECT_EQ(sink.wanted(0), std::vector<bool>{true});
    EXPECT_TRUE(sink.stage(0, produced(10).rows));
    EXPECT_FALSE(sink.stage(1, ImageRows{}));  // could not be read again: a zero row
    EXPECT_TRUE(sink.stage(2, produced(12).rows));
    // interrupted: row 2 staged, never committed
  }
  auto coll = Collection::open(tmp / "c.irbis");
  EXPECT_EQ(coll->feature_rows("mean_rgb"), 2);
  const auto starts = backfill_starts(*coll, producers);
  EXPECT_EQ(starts, std::vector<int64_t>{2});
  BackfillSink sink(*coll, producers, starts, 2);
  EXPECT_EQ(sink.wanted(1), std::vector<bool>{false});
  for (int64_t id = 2; id < 4; ++id) sink.stage(id, produced(int(20 + id)).rows);
  sink.finish();
  EXPECT_EQ(coll->feature_rows("mean_rgb"), 4);
  EXPECT_EQ(first_value(*coll, 0), 10.0f);
  EXPECT_EQ(first_value(*coll, 1), 0.0f);
  EXPECT_EQ(first_value(*coll, 2), 22.0f);
  EXPECT_EQ(first_value(*coll, 3), 23.0f);
}

TEST(OrderedParallel, SinkSeesEveryResultInOrder) {
  std::vector<size_t> seen;
  ordered_parallel<size_t>(
      200, 3, 5, [](size_t i) { return i * i; },
      [&](size_t i, size_t& r) {
        EXPECT_EQ(r, i * i);
        seen.push_back(i);
      });
  ASSERT_EQ(seen.size(), 200u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i);
}

TEST(OrderedParallel, WorkerErrorStopsTheRunAndIsRethrown) {
  size_t sunk = 0;
  EXPECT_THROW(ordered_parallel<int>(
                   1000, 2, 4,
                   [](size_t i) {
                     if (i == 10) throw std::runtime_error("bad item");
                     return int(i);
                   },
                   [&](size_t, int&) { ++sunk; }),
               std::runtime_error);
  EXPECT_LE(sunk, 10u);  // never past the failed item
}
