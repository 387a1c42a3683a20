#include <gtest/gtest.h>

#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/errors.h"
#include "irbis/merge.h"
#include "irbis/pipeline.h"
#include "test_util.h"

using namespace irbis;

namespace {
ImageRecord rec(const std::string& path, ImageStatus status = ImageStatus::ok) {
  ImageRecord r;
  r.path = path;
  r.size = int64_t(path.size());
  r.mtime_ns = 7;
  r.content_hash[0] = uint8_t(path.back());
  r.format = ImageFormat::png;
  r.width = 3;
  r.height = 4;
  r.status = status;
  if (status == ImageStatus::failed) r.reason = "truncated";
  return r;
}
std::span<const uint8_t> bytes_of(const std::vector<uint64_t>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * 8};
}
// A partial with one u64[2] feature; row of image k = {base + k, 100 + base + k}.
void make_partial(const std::filesystem::path& dir, const std::vector<std::string>& paths, uint64_t base,
                  const std::string& feature = "hashes") {
  auto c = Collection::open_or_create(dir);
  c->ensure_feature({feature, "u64", 2});
  for (size_t k = 0; k < paths.size(); ++k) {
    std::vector<uint64_t> row{base + k, 100 + base + k};
    const bool failed = paths[k].ends_with("bad");
    c->stage_image(rec(paths[k], failed ? ImageStatus::failed : ImageStatus::ok), {{feature, bytes_of(row)}});
  }
  save_scan_problems(*c, {{"/unreadable/" + std::to_string(base), "permission denied"}});
  c->commit();
}
}  // namespace

TEST(Merge, AppendsRecordsAndRowsInPartitionOrder) {
  test::TempDir tmp("merge");
  make_partial(tmp / "p0.irbis", {"/a/1", "/a/2", "/a/bad"}, 10);
  make_partial(tmp / "p1.irbis", {"/b/1", "/b/2"}, 20);
  auto dest = Collection::open_or_create(tmp / "dest.irbis");
  const MergeReport rep = merge_collections(*dest, {tmp / "p0.irbis", tmp / "p1.irbis"}, 2);
  EXPECT_EQ(rep.partials, 2);
  EXPECT_EQ(rep.records, 5);
  EXPECT_EQ(rep.ok, 4);
  EXPECT_EQ(rep.failed, 1);
  ASSERT_EQ(rep.scan_problems.size(), 2u);
  EXPECT_EQ(rep.scan_problems[1].path, "/unreadable/20");

  auto m = Collection::open(tmp / "dest.irbis");
  const auto recs = m->records();
  ASSERT_EQ(recs.size(), 5u);
  const std::vector<std::string> want{"/a/1", "/a/2", "/a/bad", "/b/1", "/b/2"};
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].id, int64_t(i));
    EXPECT_EQ(recs[i].path, want[i]);
    EXPECT_EQ(recs[i].content_hash, rec(want[i]).content_hash);
  }
  EXPECT_EQ(recs[2].status, ImageStatus::failed);
  EXPECT_EQ(recs[2].reason, "truncated");
  const auto v = m->view("hashes");
  ASSERT_EQ(v.rows(), 5);
  EXPECT_EQ(v.row_u64(1)[0], 11u);
  EXPECT_EQ(v.row_u64(3)[0], 20u);
  EXPECT_EQ(v.row_u64(4)[1], 121u);
  EXPECT_EQ(load_scan_problems(*m).size(), 2u);
}

TEST(Merge, RefusesDifferentFeaturesDuplicatesAndWeights) {
  test::TempDir tmp("merge");
  make_partial(tmp / "p0.irbis", {"/a/1"}, 0);
  make_partial(tmp / "other.irbis", {"/c/1"}, 0, "emb.other_model");
  make_partial(tmp / "dup.irbis", {"/a/1"}, 0);
  {
    auto dest = Collection::open_or_create(tmp / "d1.irbis");
    try {
      merge_collections(*dest, {tmp / "p0.irbis", tmp / "other.irbis"});
      FAIL() << "merged different features";
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find("different features or models"), std::string::npos) << e.what();
    }
    EXPECT_EQ(dest->committed_rows(), 0);  // nothing written
    EXPECT_THROW(merge_collections(*dest, {tmp / "p0.irbis", tmp / "dup.irbis"}), StoreError);
    EXPECT_EQ(dest->committed_rows(), 0);
    EXPECT_THROW(merge_collections(*dest, {tmp / "missing.irbis"}), StoreError);
  }
  {
    // Same model name, different weights.
    make_partial(tmp / "w1.irbis", {"/w/1"}, 0, embedding_feature("m"));
    make_partial(tmp / "w2.irbis", {"/w/2"}, 0, embedding_feature("m"));
    for (auto [dir, sha] : {std::pair{"w1.irbis", "aaaa"}, std::pair{"w2.irbis", "bbbb"}}) {
      auto c = Collection::open(tmp / dir);
      c->set_meta(model_weights_key("m"), sha);
      c->commit();
    }
    auto dest = Collection::open_or_create(tmp / "d2.irbis");
    try {
      merge_collections(*dest, {tmp / "w1.irbis", tmp / "w2.irbis"});
      FAIL() << "merged different weights";
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find("different weights"), std::string::npos) << e.what();
    }
  }
}
