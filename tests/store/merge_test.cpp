#include <gtest/gtest.h>

#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/fault_hooks.h"
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

namespace {
struct HooksGuard {
  explicit HooksGuard(FaultHooks h) { install_fault_hooks(std::move(h)); }
  ~HooksGuard() { install_fault_hooks({}); }
};
struct Killed {};

// Records and every committed feature byte: what two merges must agree on.
std::pair<std::vector<std::string>, std::vector<uint8_t>> contents(const std::filesystem::path& dir) {
  auto c = Collection::open(dir);
  std::vector<std::string> recs;
  for (const auto& r : c->records())
    recs.push_back(std::to_string(r.id) + " " + r.path + " " + status_name(r.status) + " " + r.reason);
  const auto v = c->view("hashes");
  std::vector<uint8_t> bytes(v.row_bytes(0), v.row_bytes(0) + v.rows() * 16);
  return {recs, bytes};
}

void copy_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::remove_all(to);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}
}  // namespace

// A merge stopped at each of its commits in turn (the process dies after the feature bytes are
// durable, before the catalog transaction) leaves dest as it was or a marked prefix; running the
// same merge again finishes it, and the result equals an uninterrupted merge's.
TEST(MergeResume, StoppedAtEveryCommitTheSameMergeFinishesIt) {
  test::TempDir tmp("merge_resume");
  make_partial(tmp / "p0.irbis", {"/a/1", "/a/2", "/a/bad"}, 10);
  make_partial(tmp / "p1.irbis", {"/b/1", "/b/2"}, 20);
  make_partial(tmp / "base.irbis", {"/d/1"}, 0);
  const std::vector<std::filesystem::path> parts{tmp / "p0.irbis", tmp / "p1.irbis"};
  copy_dir(tmp / "base.irbis", tmp / "clean.irbis");
  {
    auto dest = Collection::open(tmp / "clean.irbis");
    merge_collections(*dest, parts, 2);
  }
  const auto clean = contents(tmp / "clean.irbis");
  const auto base = contents(tmp / "base.irbis");
  ASSERT_EQ(clean.first.size(), 6u);

  for (int stop_at = 1; stop_at <= 3; ++stop_at) {  // 5 rows at 2 per commit: 3 commits
    SCOPED_TRACE("stopped in commit " + std::to_string(stop_at));
    const auto work = tmp / "work.irbis";
    copy_dir(tmp / "base.irbis", work);
    {
      FaultHooks h;
      h.before_catalog_commit = [&](int64_t commit, int64_t) {
        if (commit == stop_at) throw Killed{};
      };
      HooksGuard guard(std::move(h));
      auto dest = Collection::open(work);
      EXPECT_THROW(merge_collections(*dest, parts, 2), Killed);
    }
    const auto half = contents(work);
    const int64_t merged = int64_t(half.first.size()) - 1;
    EXPECT_EQ(merged, 2 * (stop_at - 1));
    // A prefix of the result, marked unfinished from its first commit on.
    ASSERT_LE(half.first.size(), clean.first.size());
    EXPECT_TRUE(std::equal(half.first.begin(), half.first.end(), clean.first.begin()));
    EXPECT_TRUE(std::equal(half.second.begin(), half.second.end(), clean.second.begin()));
    const std::string why = unfinished_merge(*Collection::open(work));
    if (stop_at == 1) {
      EXPECT_EQ(half, base) << "a merge stopped before its first commit leaves dest as it was";
      EXPECT_EQ(why, "");
    } else {
      EXPECT_NE(why.find("stopped after " + std::to_string(merged) + " of 5 rows"), std::string::npos) << why;
      EXPECT_NE(why.find("run the same merge again"), std::string::npos) << why;
      // Nothing else may write into the half-merged collection: not another merge, not index.
      {
        auto dest = Collection::open(work);
        try {
          merge_collections(*dest, {tmp / "p1.irbis"}, 2);
          ADD_FAILURE() << "another merge went into a half-merged collection";
        } catch (const StoreError& e) {
          EXPECT_NE(std::string(e.what()).find("not this merge"), std::string::npos) << e.what();
        }
        IndexParams p;
        p.roots = {(tmp / "p0.irbis").string()};
        try {
          index_collection(*dest, p);
          ADD_FAILURE() << "index appended to a half-merged collection";
        } catch (const StoreError& e) {
          EXPECT_NE(std::string(e.what()).find("before indexing"), std::string::npos) << e.what();
        }
      }
      EXPECT_EQ(contents(work), half) << "the refused writers changed nothing";
    }
    // The same merge again (relative spelling of the same partials) finishes it.
    auto dest = Collection::open(work);
    const MergeReport rep = merge_collections(*dest, {tmp.path() / "." / "p0.irbis", tmp / "p1.irbis"}, 2);
    EXPECT_EQ(rep.resumed, merged);
    EXPECT_EQ(rep.records, 5);
    EXPECT_EQ(rep.ok, 4);
    EXPECT_EQ(rep.failed, 1);
    EXPECT_EQ(contents(work), clean);
    EXPECT_EQ(unfinished_merge(*dest), "");
    EXPECT_EQ(dest->meta(kMergeInProgressKey), "");
    // Once more (as after a kill that came just after the last commit): nothing changes.
    const MergeReport again = merge_collections(*dest, parts, 2);
    EXPECT_EQ(again.resumed, 5);
    EXPECT_EQ(again.records, 5);
    EXPECT_EQ(contents(work), clean);
  }
}

// The rows merged so far must be the partials' own: a partial indexed again since the merge began
// is another merge, refused with the reason.
TEST(MergeResume, APartialChangedSinceIsRefused) {
  test::TempDir tmp("merge_resume");
  make_partial(tmp / "p0.irbis", {"/a/1", "/a/2", "/a/3"}, 10);
  make_partial(tmp / "p1.irbis", {"/b/1"}, 20);
  auto dest = Collection::open_or_create(tmp / "dest.irbis");
  {
    FaultHooks h;
    h.before_catalog_commit = [](int64_t commit, int64_t) {
      if (commit == 2) throw Killed{};
    };
    HooksGuard guard(std::move(h));
    EXPECT_THROW(merge_collections(*dest, {tmp / "p0.irbis", tmp / "p1.irbis"}, 2), Killed);
  }
  dest.reset();
  make_partial(tmp / "p1.irbis", {"/b/2"}, 30);  // one more row in p1
  dest = Collection::open(tmp / "dest.irbis");
  try {
    merge_collections(*dest, {tmp / "p0.irbis", tmp / "p1.irbis"}, 2);
    FAIL() << "resumed a merge whose partial changed";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("a partial indexed again since is another merge"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(dest->committed_rows(), 2);
}
