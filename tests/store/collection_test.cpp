#include <gtest/gtest.h>

#include <fstream>

#include "irbis/collection.h"
#include "irbis/errors.h"
#include "test_util.h"

using namespace irbis;

namespace {
ImageRecord make_record(const std::string& path, int64_t size) {
  ImageRecord r;
  r.path = path;
  r.size = size;
  r.mtime_ns = 1000 + size;
  r.content_hash[0] = uint8_t(size);
  r.format = ImageFormat::jpeg;
  r.width = 10;
  r.height = 20;
  return r;
}
std::span<const uint8_t> bytes_of(const std::vector<uint64_t>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * 8};
}
}  // namespace

TEST(Collection, OpenRefusesNonCollection) {
  test::TempDir tmp("coll");
  EXPECT_THROW(Collection::open(tmp / "nothing.irbis"), StoreError);
}

TEST(Collection, StagedRowsInvisibleUntilCommit) {
  test::TempDir tmp("coll");
  auto c = Collection::open_or_create(tmp / "a.irbis");
  c->ensure_feature({"hashes", "u64", 2});
  std::vector<uint64_t> row{1, 2};
  EXPECT_EQ(c->stage_image(make_record("/x/a.jpg", 1), {{"hashes", bytes_of(row)}}), 0);
  EXPECT_EQ(c->committed_rows(), 0);
  EXPECT_EQ(c->view("hashes").rows(), 0);
  c->commit();
  EXPECT_EQ(c->committed_rows(), 1);
  auto v = c->view("hashes");
  ASSERT_EQ(v.rows(), 1);
  EXPECT_EQ(v.row_u64(0)[1], 2u);
}

TEST(Collection, RoundTripsRecordsWithNonUtf8Paths) {
  test::TempDir tmp("coll");
  const std::string odd = std::string("/p/caf\xe9 \"q\".jpg");
  {
    auto c = Collection::open_or_create(tmp / "a.irbis");
    c->ensure_feature({"hashes", "u64", 1});
    std::vector<uint64_t> row{7};
    c->stage_image(make_record(odd, 5), {{"hashes", bytes_of(row)}});
    ImageRecord failed = make_record("/p/bad.jpg", 6);
    failed.status = ImageStatus::failed;
    failed.reason = "truncated JPEG data";
    c->stage_image(failed, {});
    c->commit();
  }
  auto c = Collection::open(tmp / "a.irbis");
  auto recs = c->records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].path, odd);
  EXPECT_EQ(recs[0].width, 10);
  EXPECT_EQ(recs[1].status, ImageStatus::failed);
  EXPECT_EQ(recs[1].reason, "truncated JPEG data");
  EXPECT_EQ(c->view("hashes").row_u64(1)[0], 0u) << "a failed image gets a zero row";
  ASSERT_TRUE(c->find_live(odd).has_value());
  EXPECT_EQ(c->find_live(odd)->id, 0);
}

TEST(Collection, UncommittedBytesAreCutOnNextWrite) {
  test::TempDir tmp("coll");
  {
    auto c = Collection::open_or_create(tmp / "a.irbis");
    c->ensure_feature({"hashes", "u64", 1});
    std::vector<uint64_t> row{42};
    c->stage_image(make_record("/a", 1), {{"hashes", bytes_of(row)}});
    c->commit();
  }
  // Simulate a crash that wrote a row and a half without committing them.
  {
    std::ofstream f(tmp / "a.irbis" / "features" / "hashes.f", std::ios::app | std::ios::binary);
    f.write("garbage-bytes", 12);
  }
  auto c = Collection::open(tmp / "a.irbis");
  EXPECT_EQ(c->view("hashes").rows(), 1);
  std::vector<uint64_t> row{43};
  EXPECT_EQ(c->stage_image(make_record("/b", 2), {{"hashes", bytes_of(row)}}), 1);
  c->commit();
  auto v = c->view("hashes");
  ASSERT_EQ(v.rows(), 2);
  EXPECT_EQ(v.row_u64(0)[0], 42u);
  EXPECT_EQ(v.row_u64(1)[0], 43u);
  EXPECT_EQ(std::filesystem::file_size(tmp / "a.irbis" / "features" / "hashes.f"), 16u);
}

// A zero row would pass for an ok image's data (a zero embedding, a flat image's hashes) and
// never be filled in: an ok image must bring a row of every complete feature.
TEST(Collection, OkImageNeedsEveryCompleteFeature) {
  test::TempDir tmp("coll");
  auto c = Collection::open_or_create(tmp / "a.irbis");
  c->ensure_feature({"hashes", "u64", 2});
  c->ensure_feature({"emb.m", "f32", 2});
  std::vector<uint64_t> h{1, 2};
  std::vector<float> e{0.6f, 0.8f};
  EXPECT_THROW(c->stage_image(make_record("/a", 1), {{"hashes", bytes_of(h)}}), StoreError);
  EXPECT_EQ(c->staged_images(), 0u);
  c->stage_image(make_record("/a", 1),
                 {{"hashes", bytes_of(h)}, {"emb.m", {reinterpret_cast<const uint8_t*>(e.data()), 8}}});
  ImageRecord failed = make_record("/b", 2);
  failed.status = ImageStatus::failed;
  c->stage_image(failed, {});  // a failed image gets zero rows
  c->commit();
  EXPECT_EQ(c->feature_rows("emb.m"), 2);
  EXPECT_EQ(c->view("emb.m").row_f32(0)[1], 0.8f);
  EXPECT_EQ(c->view("emb.m").row_f32(1)[1], 0.0f);
}

TEST(Collection, ChangedFileRetiresOldVersion) {
  test::TempDir tmp("coll");
  auto c = Collection::open_or_create(tmp / "a.irbis");
  c->stage_image(make_record("/a", 1), {});
  c->commit();
  c->stage_status(0, ImageStatus::retired);
  c->stage_image(make_record("/a", 2), {});
  c->commit();
  EXPECT_EQ(c->find_live("/a")->id, 1);
  EXPECT_EQ(c->record(0)->status, ImageStatus::retired);
  EXPECT_EQ(c->records(ImageStatus::ok).size(), 1u);
}

TEST(Collection, SecondWriterIsRefused) {
  test::TempDir tmp("coll");
  auto a = Collection::open_or_create(tmp / "a.irbis");
  auto b = Collection::open(tmp / "a.irbis");
  a->set_meta("k", "v");
  EXPECT_THROW(b->set_meta("k", "w"), StoreError);
}

TEST(Collection, BackfilledFeatureStaysAligned) {
  test::TempDir tmp("coll");
  auto c = Collection::open_or_create(tmp / "a.irbis");
  c->stage_image(make_record("/a", 1), {});
  c->stage_image(make_record("/b", 2), {});
  c->commit();
  c->ensure_feature({"emb.m", "f32", 2});
  EXPECT_EQ(c->feature_rows("emb.m"), 0);
  // A new image while the feature is incomplete does not give it a misaligned row.
  c->stage_image(make_record("/c", 3), {});
  c->commit();
  EXPECT_EQ(c->feature_rows("emb.m"), 0);
  std::vector<float> rows{1, 2, 3, 4, 5, 6};
  EXPECT_THROW(c->stage_feature_rows("emb.m", 1, {reinterpret_cast<const uint8_t*>(rows.data()), 8}), StoreError);
  c->stage_feature_rows("emb.m", 0, {reinterpret_cast<const uint8_t*>(rows.data()), rows.size() * 4});
  c->commit();
  auto v = c->view("emb.m");
  ASSERT_EQ(v.rows(), 3);
  EXPECT_FLOAT_EQ(v.row_f32(2)[1], 6.f);
}
