// The persisted HNSW index as derived state of a real (temporary) collection: incremental adds,
// tombstones, the rebuild rules, and index files that disagree with the catalog's committed rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <map>
#include <set>

#include <xxhash.h>

#include <nlohmann/json.hpp>

#include "irbis/collection.h"
#include "irbis/fault_hooks.h"
#include "irbis/model.h"
#include "irbis/pipeline.h"
#include "irbis/search.h"
#include "irbis/warnings.h"
#include "search/index_files.h"
#include "search/search_data.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace irbis {
namespace {

// A collection written through the Collection API with the default model's feature name and
// dimension (rows are synthetic, not computed by the model: the index only sees vectors).
class TestCollection {
 public:
  TestCollection() : tmp_("vindex"), dir_(tmp_ / "c.irbis") {
    const ModelCard card = find_model(kDefaultModel);
    feat_ = embedding_feature(card.name);
    dim_ = card.embedding_dim;
  }
  int dim() const { return dim_; }
  const fs::path& dir() const { return dir_; }
  fs::path index_file(const std::string& ext) const { return dir_ / "index" / (std::string(kDefaultModel) + ext); }

  // One ok image per row of x (dim() columns), committed; returns the ids.
  std::vector<int64_t> add(const cv::Mat& x) {
    auto c = Collection::open_or_create(dir_);
    c->ensure_feature({feat_, "f32", dim_});
    std::vector<int64_t> ids;
    for (int i = 0; i < x.rows; ++i) {
      ImageRecord r;
      r.path = "/img/" + std::to_string(serial_) + ".jpg";
      r.size = 1000 + serial_;
      r.content_hash[0] = uint8_t(serial_);
      r.content_hash[1] = uint8_t(serial_ >> 8);
      r.content_hash[2] = 1;
      r.format = ImageFormat::jpeg;
      r.width = r.height = 64;
      ++serial_;
      const std::span<const uint8_t> row(x.ptr<uint8_t>(i), size_t(dim_) * sizeof(float));
      ids.push_back(c->stage_image(r, {{feat_, row}}));
    }
    c->commit();
    return ids;
  }
  void remove(const std::vector<int64_t>& ids, ImageStatus status = ImageStatus::removed) {
    auto c = Collection::open(dir_);
    for (int64_t id : ids) c->stage_status(id, status);
    c->commit();
  }
  std::unique_ptr<VectorSearch> open(const IndexOptions& o) const {
    auto c = Collection::open(dir_);
    return VectorSearch::open(*c, kDefaultModel, o);
  }
  void hook() const {  // what `irbis index` runs after its commit
    auto c = Collection::open(dir_);
    update_vector_index_if_present(*c, kDefaultModel);
  }
  nlohmann::json sidecar() const {
    std::ifstream in(index_file(".json"));
    return nlohmann::json::parse(in);
  }
  // Copies of the catalog + feature files (everything but index/), to simulate a restore.
  void snapshot_catalog(const fs::path& to) const {
    fs::create_directories(to);
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename() != "index") fs::copy(e.path(), to / e.path().filename(), fs::copy_options::recursive);
  }
  void restore_catalog(const fs::path& from) const {
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename() != "index") fs::remove_all(e.path());
    for (const auto& e : fs::directory_iterator(from)) fs::copy(e.path(), dir_ / e.path().filename(), fs::copy_options::recursive);
  }

 private:
  test::TempDir tmp_;
  fs::path dir_;
  std::string feat_;
  int dim_ = 0;
  int serial_ = 0;
};

IndexOptions hnsw_options(int reduced_dim = 0) {
  IndexOptions o;
  o.kind = IndexKind::hnsw;  // forced: the collections here are far below hnsw_min_images
  o.reduced_dim = reduced_dim;
  o.threads = 2;
  return o;
}

// Collection ids of hits.
std::vector<int64_t> ids_of(const VectorSearch& vs, const std::vector<Neighbor>& hits) {
  std::vector<int64_t> v;
  for (const auto& h : hits) v.push_back(vs.ids()[size_t(h.row)]);
  return v;
}

// Every row of x (stored under ids) finds itself first, and HNSW agrees with exact on the top 10.
void expect_found(const VectorSearch& vs, const cv::Mat& x, const std::vector<int64_t>& ids) {
  for (int i = 0; i < x.rows; ++i) {
    const auto hits = vs.search(x.ptr<float>(i), 10);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(vs.ids()[size_t(hits[0].row)], ids[size_t(i)]) << "row " << i;
    EXPECT_EQ(ids_of(vs, hits), ids_of(vs, vs.search_exact(x.ptr<float>(i), 10))) << "row " << i;
  }
}

TEST(IndexPersistence, AddedImagesAreFoundWithoutRebuild) {
  TestCollection tc;
  const cv::Mat a = test::mixture(300, tc.dim(), 20, 0.5f, 1, 100);
  const cv::Mat b = test::mixture(60, tc.dim(), 20, 0.5f, 2, 100);
  tc.add(a);
  {
    auto vs = tc.open(hnsw_options());
    EXPECT_TRUE(vs->status().built);
    EXPECT_EQ(vs->status().rebuild_reason, "missing");
  }
  ASSERT_TRUE(fs::exists(tc.index_file(".hnsw")));
  EXPECT_EQ(tc.sidecar()["ids"].size(), 300u);
  const auto new_ids = tc.add(b);
  tc.hook();  // updates the index on disk incrementally
  EXPECT_EQ(tc.sidecar()["ids"].size(), 360u);
  auto vs = tc.open(hnsw_options());
  EXPECT_TRUE(vs->status().loaded);
  EXPECT_FALSE(vs->status().built);
  EXPECT_EQ(vs->status().added, 0);  // the hook already added them
  expect_found(*vs, b, new_ids);

  // Without the hook (a crash between the commit and the index update): the next open adds them.
  const cv::Mat c = test::mixture(30, tc.dim(), 20, 0.5f, 3, 100);
  const auto more = tc.add(c);
  auto vs2 = tc.open(hnsw_options());
  EXPECT_TRUE(vs2->status().loaded);
  EXPECT_EQ(vs2->status().added, 30);
  expect_found(*vs2, c, more);
}

TEST(IndexPersistence, RemovedImagesNeverComeBack) {
  TestCollection tc;
  const cv::Mat x = test::mixture(400, tc.dim(), 10, 0.4f, 4);
  const auto ids = tc.add(x);
  tc.open(hnsw_options());
  // Remove the 15 nearest neighbours of row 0 (and row 0 itself) through the catalog: they are
  // exactly the candidates an HNSW query at row 0 meets first.
  std::vector<int64_t> gone{ids[0]};
  {
    auto vs = tc.open(hnsw_options());
    for (const auto& h : vs->search_exact(x.ptr<float>(0), 15, 0)) gone.push_back(vs->ids()[size_t(h.row)]);
  }
  tc.remove(gone);
  IndexOptions o = hnsw_options();
  o.rerank_factor = 1;  // the least over-fetch: k + 32 candidates
  auto vs = tc.open(o);
  EXPECT_TRUE(vs->status().loaded);
  EXPECT_EQ(vs->status().tombstoned, 16);
  EXPECT_EQ(vs->status().tombstones, 16);
  EXPECT_EQ(tc.sidecar()["tombstones"].size(), 16u);
  const std::set<int64_t> removed(gone.begin(), gone.end());
  for (int k : {1, 5, 10, 40}) {
    const auto hits = vs->search(x.ptr<float>(0), k);
    EXPECT_EQ(int(hits.size()), k);
    for (int64_t id : ids_of(*vs, hits)) EXPECT_EQ(removed.count(id), 0u) << "removed id " << id << " returned, k " << k;
    EXPECT_EQ(ids_of(*vs, hits), ids_of(*vs, vs->search_exact(x.ptr<float>(0), k)));
  }
  for (const auto& nbs : vs->self_knn(10))
    for (const auto& h : nbs) EXPECT_EQ(removed.count(vs->ids()[size_t(h.row)]), 0u);
  // Also without the re-rank (the graph's own answers): tombstones are skipped by hnswlib.
  o.rerank = false;
  auto bare = tc.open(o);
  for (int64_t id : ids_of(*bare, bare->search(x.ptr<float>(0), 20))) EXPECT_EQ(removed.count(id), 0u);
  // And after reloading from disk.
  auto again = tc.open(hnsw_options());
  EXPECT_TRUE(again->status().loaded);
  EXPECT_EQ(again->status().tombstoned, 0);
  EXPECT_EQ(again->status().tombstones, 16);
  for (int64_t id : ids_of(*again, again->search(x.ptr<float>(0), 50))) EXPECT_EQ(removed.count(id), 0u);
}

TEST(IndexPersistence, RebuildsOnceTombstonesPassTheThreshold) {
  TestCollection tc;
  const cv::Mat x = test::mixture(200, tc.dim(), 10, 0.5f, 5);
  const auto ids = tc.add(x);
  tc.open(hnsw_options());
  // 40 of 200 = exactly the 20 % threshold: still tombstones.
  tc.remove(std::vector<int64_t>(ids.begin(), ids.begin() + 40), ImageStatus::retired);
  {
    auto vs = tc.open(hnsw_options());
    EXPECT_TRUE(vs->status().loaded);
    EXPECT_EQ(vs->status().tombstones, 40);
  }
  // One more passes it: rebuilt from the live rows only.
  tc.remove({ids[40]});
  auto vs = tc.open(hnsw_options());
  EXPECT_TRUE(vs->status().built);
  EXPECT_EQ(vs->status().rebuild_reason, "tombstones");
  EXPECT_EQ(vs->status().tombstones, 0);
  const auto j = tc.sidecar();
  EXPECT_EQ(j["tombstones"].size(), 0u);
  EXPECT_EQ(j["ids"].get<std::vector<int64_t>>(), std::vector<int64_t>(ids.begin() + 41, ids.end()));
  expect_found(*vs, x.rowRange(41, 200), std::vector<int64_t>(ids.begin() + 41, ids.end()));
}

TEST(IndexPersistence, RebuildsWhenTheCollectionOutgrowsThePcaSample) {
  TestCollection tc;
  const int rd = 16;  // PCA needs >= 4 x 16 = 64 rows; retrained past 8 x the sample
  const cv::Mat x = test::mixture(560, tc.dim(), 12, 0.5f, 6);
  // 40 rows: too few for PCA, the graph holds full vectors.
  tc.add(x.rowRange(0, 40));
  {
    auto vs = tc.open(hnsw_options(rd));
    EXPECT_EQ(vs->status().indexed_dim, tc.dim());
    EXPECT_FALSE(tc.sidecar()["pca"].get<bool>());
  }
  // 64 rows: large enough, rebuilt with PCA trained on all 64.
  tc.add(x.rowRange(40, 64));
  {
    auto vs = tc.open(hnsw_options(rd));
    EXPECT_TRUE(vs->status().built);
    EXPECT_EQ(vs->status().rebuild_reason, "collection large enough for PCA");
    EXPECT_EQ(vs->status().indexed_dim, rd);
    EXPECT_EQ(tc.sidecar()["pca_trained_rows"].get<int64_t>(), 64);
    EXPECT_TRUE(fs::exists(tc.index_file(".pca")));
  }
  // 512 = 8 x 64: still the old PCA, rows added incrementally.
  tc.add(x.rowRange(64, 512));
  {
    auto vs = tc.open(hnsw_options(rd));
    EXPECT_TRUE(vs->status().loaded);
    EXPECT_EQ(vs->status().added, 448);
    EXPECT_EQ(tc.sidecar()["pca_trained_rows"].get<int64_t>(), 64);
  }
  // 513 > 8 x 64: retrained on the whole collection.
  const auto last = tc.add(x.rowRange(512, 560));
  auto vs = tc.open(hnsw_options(rd));
  EXPECT_TRUE(vs->status().built);
  EXPECT_EQ(vs->status().rebuild_reason, "collection outgrew the PCA sample");
  EXPECT_EQ(tc.sidecar()["pca_trained_rows"].get<int64_t>(), 560);
  EXPECT_EQ(vs->status().indexed_dim, rd);
  expect_found(*vs, x.rowRange(512, 560), last);
}

TEST(IndexPersistence, TombstonedIdLiveAgainRebuilds) {
  TestCollection tc;
  const cv::Mat x = test::mixture(200, tc.dim(), 10, 0.5f, 7);
  const auto ids = tc.add(x);
  tc.open(hnsw_options());
  tc.remove({ids[5], ids[6]});
  EXPECT_EQ(tc.open(hnsw_options())->status().tombstones, 2);
  // Back to ok (the catalog never does this itself, a restored one can): its graph node is
  // marked deleted, so the graph is rebuilt rather than searched with a hole.
  tc.remove({ids[5]}, ImageStatus::ok);
  auto vs = tc.open(hnsw_options());
  EXPECT_TRUE(vs->status().built);
  EXPECT_EQ(vs->status().rebuild_reason, "tombstoned ids live again");
  EXPECT_EQ(vs->status().tombstones, 0);
  const auto hits = vs->search(x.ptr<float>(5), 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(vs->ids()[size_t(hits[0].row)], ids[5]);
  EXPECT_EQ(vs->row_of_id(ids[6]), -1);
  EXPECT_EQ(tc.sidecar()["ids"].size(), 199u);
}

TEST(IndexPersistence, IndexNewerThanTheCatalogIsRepaired) {
  TestCollection tc;
  test::TempDir backup("vindex-backup");
  const cv::Mat a = test::mixture(300, tc.dim(), 10, 0.5f, 8, 200);
  const cv::Mat b = test::mixture(40, tc.dim(), 10, 0.5f, 9, 201);   // other centres than c
  const cv::Mat c = test::mixture(40, tc.dim(), 10, 0.5f, 10, 202);
  tc.add(a);
  tc.snapshot_catalog(backup.path());
  const auto b_ids = tc.add(b);
  tc.open(hnsw_options());  // the index now covers ids 300..339 (b)
  // The catalog goes back to 300 images (a restored backup); the index stays newer.
  tc.restore_catalog(backup.path());
  {
    auto vs = tc.open(hnsw_options());
    EXPECT_TRUE(vs->status().loaded);
    EXPECT_EQ(vs->status().tombstoned, 40);  // ids the catalog does not have are never returned
    for (int i = 0; i < b.rows; ++i)
      for (const auto& h : vs->search(b.ptr<float>(i), 5)) EXPECT_LT(vs->ids()[size_t(h.row)], 300);
  }
  // New images get the ids 300..339 again: tombstoned ids live again, rebuilt.
  const auto c_ids = tc.add(c);
  EXPECT_EQ(c_ids, b_ids);
  {
    auto vs = tc.open(hnsw_options());
    EXPECT_EQ(vs->status().rebuild_reason, "tombstoned ids live again");
    expect_found(*vs, c, c_ids);
  }
  // Same, but the ids are reassigned before any index open saw the restore (the index now holds
  // c under 300..339, the catalog gets b there): nothing is missing or gone, yet the graph would
  // hold c's vectors under b's ids.
  tc.restore_catalog(backup.path());
  tc.add(b);
  auto vs = tc.open(hnsw_options());
  EXPECT_TRUE(vs->status().built);
  EXPECT_EQ(vs->status().rebuild_reason, "graph vectors differ from the catalog's rows");
  expect_found(*vs, b, b_ids);
}

TEST(IndexPersistence, IndexOlderThanTheCatalogIsRepaired) {
  TestCollection tc;
  test::TempDir old_index("vindex-old");
  const cv::Mat x = test::mixture(360, tc.dim(), 10, 0.5f, 11);
  const auto ids = tc.add(x.rowRange(0, 300));
  tc.open(hnsw_options());
  fs::copy(tc.dir() / "index", old_index.path(), fs::copy_options::recursive);
  const auto added = tc.add(x.rowRange(300, 360));
  tc.remove({ids[0], ids[1], ids[2]});
  tc.hook();
  // The whole older triple comes back (e.g. restored with a backup of index/ only).
  fs::remove_all(tc.dir() / "index");
  fs::copy(old_index.path(), tc.dir() / "index", fs::copy_options::recursive);
  auto vs = tc.open(hnsw_options());
  EXPECT_TRUE(vs->status().loaded);
  EXPECT_EQ(vs->status().added, 60);
  EXPECT_EQ(vs->status().tombstoned, 3);
  expect_found(*vs, x.rowRange(300, 360), added);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(vs->row_of_id(ids[size_t(i)]), -1);
  for (int64_t id : ids_of(*vs, vs->search(x.ptr<float>(0), 20))) EXPECT_GT(id, ids[2]);
}

TEST(IndexPersistence, HalfWrittenOrTruncatedFilesAreRebuilt) {
  TestCollection tc;
  const cv::Mat x = test::mixture(300, tc.dim(), 10, 0.5f, 12);
  const auto ids = tc.add(x.rowRange(0, 250));
  tc.open(hnsw_options());
  const std::string old_json = [&] {
    std::ifstream in(tc.index_file(".json"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  const auto added = tc.add(x.rowRange(250, 300));
  tc.hook();
  // A crash between renaming the new graph into place and renaming its sidecar: the old sidecar's
  // digest does not match the new graph.
  std::ofstream(tc.index_file(".json")) << old_json;
  {
    auto vs = tc.open(hnsw_options());
    EXPECT_TRUE(vs->status().built);
    EXPECT_EQ(vs->status().rebuild_reason,
              "damaged: " + tc.index_file(".hnsw").string() + ": its xxh3 digest does not match (torn or changed)");
    expect_found(*vs, x.rowRange(250, 300), added);
  }
  EXPECT_TRUE(tc.open(hnsw_options())->status().loaded);  // the rebuilt triple is consistent
  // A truncated graph file.
  fs::resize_file(tc.index_file(".hnsw"), fs::file_size(tc.index_file(".hnsw")) / 2);
  {
    auto vs = tc.open(hnsw_options());
    EXPECT_TRUE(vs->status().built);
    expect_found(*vs, x.rowRange(0, 20), ids);
  }
  // A truncated sidecar (not JSON any more).
  fs::resize_file(tc.index_file(".json"), 10);
  {
    auto vs = tc.open(hnsw_options());
    EXPECT_TRUE(vs->status().built);
    EXPECT_EQ(vs->size(), 300);
  }
  // A truncated PCA file (PCA-16: 300 rows are enough).
  const IndexOptions pca = hnsw_options(16);
  EXPECT_EQ(tc.open(pca)->status().indexed_dim, 16);
  fs::resize_file(tc.index_file(".pca"), 100);
  auto vs = tc.open(pca);
  EXPECT_TRUE(vs->status().built);
  EXPECT_EQ(vs->status().rebuild_reason,
            "damaged: " + tc.index_file(".pca").string() + ": its xxh3 digest does not match (torn or changed)");
  EXPECT_EQ(vs->status().indexed_dim, 16);
  expect_found(*vs, x.rowRange(0, 20), ids);
}

// The library reports a damaged index it rebuilds through warn() (warnings.h), never on stderr.
TEST(IndexPersistence, DamagedIndexIsReportedThroughTheWarningHandler) {
  TestCollection tc;
  const cv::Mat x = test::mixture(120, tc.dim(), 4, 0.5f, 3);
  tc.add(x);
  tc.open(hnsw_options());
  fs::resize_file(tc.index_file(".json"), 10);  // not JSON any more
  std::vector<std::string> warnings;
  set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  testing::internal::CaptureStderr();
  EXPECT_TRUE(tc.open(hnsw_options())->status().built);
  const std::string stderr_text = testing::internal::GetCapturedStderr();
  set_warning_handler(nullptr);
  EXPECT_EQ(stderr_text, "");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("vector index damaged: " + tc.index_file(".json").string()), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(tc.dir().string()), std::string::npos) << warnings[0];
  // No handler: dropped, still nothing on stderr.
  fs::resize_file(tc.index_file(".json"), 10);
  testing::internal::CaptureStderr();
  EXPECT_TRUE(tc.open(hnsw_options())->status().built);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}


// ---------------------------------------------------------------- the index files as untrusted bytes

std::vector<uint8_t> bytes_of(const fs::path& f) { return test::read_file(f); }

// Every file in index/ (name -> bytes): what a failed save must leave as it was.
std::map<std::string, std::vector<uint8_t>> index_files_of(const TestCollection& tc) {
  std::map<std::string, std::vector<uint8_t>> m;
  for (const auto& e : fs::directory_iterator(tc.dir() / "index")) m[e.path().filename().string()] = bytes_of(e.path());
  return m;
}

// The graph irbis writes is byte for byte hnswlib's own saveIndex output, and check_hnsw accepts it.
TEST(IndexFiles, GraphFileIsHnswlibsLayoutAndPassesItsChecks) {
  TestCollection tc;
  const cv::Mat x = test::mixture(300, tc.dim(), 10, 0.5f, 31);
  tc.add(x);
  auto vs = tc.open(hnsw_options(16));
  const auto graph = bytes_of(tc.index_file(".hnsw"));
  EXPECT_EQ(index_files::check_hnsw(graph, 16, 16, 300), "");
  test::TempDir tmp("vindex_save");
  vs->save_hnsw(tmp / "g.hnsw");
  EXPECT_EQ(bytes_of(tmp / "g.hnsw"), graph);
  // The wrong expectations are refused with the reason.
  EXPECT_NE(index_files::check_hnsw(graph, 32, 16, 300).find("32-float vectors"), std::string::npos);
  EXPECT_NE(index_files::check_hnsw(graph, 16, 8, 300).find("built with M = 16"), std::string::npos);
  EXPECT_NE(index_files::check_hnsw(graph, 16, 16, 299).find("holds 300 elements"), std::string::npos);
  std::string why;
  const auto pca = bytes_of(tc.index_file(".pca"));
  EXPECT_NE(index_files::read_pca(pca, tc.dim(), 16, why), nullptr) << why;
  EXPECT_EQ(index_files::read_pca(pca, tc.dim(), 17, why), nullptr);
  EXPECT_NE(why.find("expected " + std::to_string(tc.dim()) + " to 17"), std::string::npos) << why;
}

// Every truncation and a bit flip at every byte of a graph file (digest made to match, as a
// crafted file would): check_hnsw refuses it, or hnswlib loads and searches it within bounds
// (run under ASan in the sanitizer job). A PCA file the same way: refused, or a projection of the
// right shape.
TEST(IndexFiles, CutOrBitFlippedFilesAreRefusedOrStayInBounds) {
  TestCollection tc;
  const cv::Mat x = test::mixture(24, tc.dim(), 4, 0.5f, 32);  // small: every byte is loaded once
  tc.add(x);
  tc.open(hnsw_options(4));
  const auto graph = bytes_of(tc.index_file(".hnsw"));
  const auto pca = bytes_of(tc.index_file(".pca"));
  ASSERT_EQ(index_files::check_hnsw(graph, 4, 16, 24), "");
  test::TempDir tmp("vindex_flip");
  std::vector<float> queries(4 * 3);
  for (size_t i = 0; i < queries.size(); ++i) queries[i] = float((i * 37) % 11) / 11.f - 0.5f;
  int refused = 0, loaded = 0;
  for (size_t cut = 0; cut < graph.size(); ++cut)
    EXPECT_NE(index_files::check_hnsw(std::span(graph).first(cut), 4, 16, 24), "") << "cut at " << cut;
  for (size_t i = 0; i < graph.size(); ++i) {
    auto flipped = graph;
    flipped[i] ^= uint8_t(1u << (i % 8));
    if (!index_files::check_hnsw(flipped, 4, 16, 24).empty()) {
      ++refused;
      continue;
    }
    test::write_file(tmp / "g.hnsw", flipped);
    const auto hits = index_files::search_hnsw_file(tmp / "g.hnsw", 4, queries, 5);
    ASSERT_EQ(hits.size(), 3u);
    for (const auto& h : hits)
      for (size_t label : h) EXPECT_LT(label, size_t(1) << 62);
    ++loaded;
  }
  RecordProperty("refused", refused);
  RecordProperty("loaded", loaded);
  EXPECT_GT(refused, int(graph.size() / 20));  // the header, the list counts and ids, the labels
  EXPECT_GT(loaded, int(graph.size() / 10));   // the vectors, unused link slots: harmless
  std::string why;
  for (size_t cut = 0; cut < pca.size(); ++cut)
    EXPECT_EQ(index_files::read_pca(std::span(pca).first(cut), tc.dim(), 4, why), nullptr) << "cut at " << cut;
  for (size_t i = 0; i < 20; ++i) {  // the header
    auto flipped = pca;
    flipped[i] ^= 0x10;
    EXPECT_EQ(index_files::read_pca(flipped, tc.dim(), 4, why), nullptr) << "flip at " << i;
  }
  auto nan = pca;
  std::fill(nan.end() - 4, nan.end(), 0xFF);
  EXPECT_EQ(index_files::read_pca(nan, tc.dim(), 4, why), nullptr);
  EXPECT_NE(why.find("not a finite number"), std::string::npos) << why;
}

// A graph file that is damaged on disk but keeps a matching digest (edited along with its JSON)
// is refused on open, named in the warning and the rebuild reason, and rebuilt.
TEST(IndexFiles, DamagedGraphWithAMatchingDigestIsRebuiltWithTheReason) {
  TestCollection tc;
  const cv::Mat x = test::mixture(120, tc.dim(), 4, 0.5f, 33);
  const auto ids = tc.add(x);
  tc.open(hnsw_options());
  auto graph = bytes_of(tc.index_file(".hnsw"));
  // The entry point (bytes 52..55 of the header) moved past the last element.
  const uint32_t bad_entry = 5000;
  std::memcpy(graph.data() + 52, &bad_entry, 4);
  test::write_file(tc.index_file(".hnsw"), graph);
  auto j = tc.sidecar();
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(XXH3_64bits(graph.data(), graph.size())));
  j["hnsw_xxh3"] = hex;
  std::ofstream(tc.index_file(".json")) << j.dump();
  std::vector<std::string> warnings;
  set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  auto vs = tc.open(hnsw_options());
  set_warning_handler(nullptr);
  EXPECT_TRUE(vs->status().built);
  EXPECT_EQ(vs->status().rebuild_reason,
            "damaged: " + tc.index_file(".hnsw").string() + ": entry point 5000 is not an element");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(tc.index_file(".hnsw").string()), std::string::npos) << warnings[0];
  expect_found(*vs, x.rowRange(0, 10), ids);
  EXPECT_TRUE(tc.open(hnsw_options())->status().loaded);  // the rebuilt files are whole
}

// Saving the index into a folder that fills up or fails (every write and sync of every file
// failed in turn, ENOSPC and EIO; EROFS for a read-only folder): the search still answers from
// memory, the warning names the file and the reason, the files on disk are the old ones byte for
// byte with no temporary file left, and the next open saves it.
TEST(IndexFiles, FailedSavesKeepTheOldFilesAndNameTheFile) {
  TestCollection tc;
  const cv::Mat x = test::mixture(300, tc.dim(), 10, 0.5f, 34);
  const auto first = tc.add(x.rowRange(0, 250));
  tc.open(hnsw_options(16));
  const auto before = index_files_of(tc);
  const auto added = tc.add(x.rowRange(250, 300));  // the next open repairs and saves
  test::TempDir keep("vindex_keep");
  fs::copy(tc.dir(), keep / "c.irbis", fs::copy_options::recursive);
  const auto restore = [&] {
    fs::remove_all(tc.dir());
    fs::copy(keep / "c.irbis", tc.dir(), fs::copy_options::recursive);
  };
  for (IoOp op : {IoOp::write}) {  // derived files are not synced: a torn one fails its digest
    std::vector<std::string> points;
    {
      FaultHooks h;
      h.before_io = [&](IoOp o, const std::string& path) {
        if (o == op && path.find("/index") != std::string::npos) points.push_back(path);
        return 0;
      };
      install_fault_hooks(std::move(h));
      tc.open(hnsw_options(16));
      install_fault_hooks({});
      restore();
    }
    EXPECT_GE(points.size(), 3u) << "hnsw, pca and json";
    for (int err : {ENOSPC, EIO, EROFS}) {
      for (size_t k = 0; k < points.size(); ++k) {
        SCOPED_TRACE(std::string(io_op_name(op)) + " #" + std::to_string(k + 1) + " (" + points[k] + "): " + std::strerror(err));
        std::vector<std::string> warnings;
        set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
        size_t seen = 0;
        FaultHooks h;
        h.before_io = [&](IoOp o, const std::string& path) {
          return o == op && path.find("/index") != std::string::npos && seen++ == k ? err : 0;
        };
        install_fault_hooks(std::move(h));
        auto vs = tc.open(hnsw_options(16));
        install_fault_hooks({});
        set_warning_handler(nullptr);
        expect_found(*vs, x.rowRange(250, 260), added);
        ASSERT_EQ(warnings.size(), 1u);
        EXPECT_NE(warnings[0].find(tc.dir().string() + "/index/"), std::string::npos) << warnings[0];
        EXPECT_NE(warnings[0].find(std::strerror(err)), std::string::npos) << warnings[0];
        const auto after = index_files_of(tc);
        for (const auto& [name, bytes] : after) {
          EXPECT_EQ(name.find(".tmp"), std::string::npos) << "left behind: " << name;
          EXPECT_EQ(bytes, before.at(name)) << name << " changed";  // every file is written whole before any is replaced
        }
        EXPECT_EQ(after.size(), before.size());
        auto again = tc.open(hnsw_options(16));  // no faults: loads the old files, repairs and saves
        EXPECT_TRUE(again->status().loaded) << again->status().rebuild_reason;
        expect_found(*again, x.rowRange(0, 10), first);
        EXPECT_TRUE(tc.open(hnsw_options(16))->status().loaded);
        restore();
      }
    }
  }
}

// ---------------------------------------------------------------- the saved self-join

// The self-join path of self_knn (forced: these collections are below hnsw_min_images), no graph.
IndexOptions join_options() {
  IndexOptions o = hnsw_options();
  o.open_graph = false;
  return o;
}

fs::path knn_file(const TestCollection& tc, int k) {
  return tc.dir() / "index" / (std::string(kDefaultModel) + ".self" + std::to_string(k) + ".knn");
}

// What the self-join itself answers on vs's rows with o's options.
std::vector<std::vector<Neighbor>> joined(const VectorSearch& vs, int k, const IndexOptions& o = join_options()) {
  SelfJoinOptions jo = o.join;
  jo.threads = o.threads;
  return self_join_knn(vs.data(), k, jo);
}

// A fresh open of the collection reads `answer` back from the saved file.
void expect_read_back(const TestCollection& tc, int k, const std::vector<std::vector<Neighbor>>& answer,
                      const IndexOptions& o = join_options()) {
  auto vs = tc.open(o);
  EXPECT_EQ(vs->self_knn(k), answer);
  EXPECT_EQ(vs->saved_self_join_reads(), 1);
}

// The first self_knn joins and saves; the next one on the same rows reads the answer back bit for
// bit (similarities and tie order), and it is the self-join's own answer.
TEST(SavedSelfJoin, TheNextRunReadsTheSameAnswer) {
  TestCollection tc;
  tc.add(test::mixture(400, tc.dim(), 12, 0.5f, 41));
  auto first = tc.open(join_options());
  const auto answer = first->self_knn(7);
  EXPECT_EQ(first->saved_self_join_reads(), 0);
  ASSERT_TRUE(fs::exists(knn_file(tc, 7)));
  EXPECT_EQ(answer, joined(*first, 7));
  expect_read_back(tc, 7, answer);
  // The thread count changes nothing in the answer, so it does not change what is read.
  IndexOptions one = join_options();
  one.threads = 1;
  expect_read_back(tc, 7, answer, one);
}

// Another k, other join options or other rows are another answer: joined again (and saved), never
// the old one read; each k keeps its own file.
TEST(SavedSelfJoin, OtherRowsKOrOptionsJoinAgain) {
  TestCollection tc;
  const cv::Mat x = test::mixture(500, tc.dim(), 12, 0.5f, 42);
  tc.add(x.rowRange(0, 400));
  tc.open(join_options())->self_knn(7);
  auto other_k = tc.open(join_options());
  other_k->self_knn(5);
  EXPECT_EQ(other_k->saved_self_join_reads(), 0);
  EXPECT_TRUE(fs::exists(knn_file(tc, 5)) && fs::exists(knn_file(tc, 7)));
  IndexOptions probes = join_options();
  probes.join.nprobe = 4;
  auto other_options = tc.open(probes);
  EXPECT_EQ(other_options->self_knn(7), joined(*other_options, 7, probes));
  EXPECT_EQ(other_options->saved_self_join_reads(), 0);
  tc.add(x.rowRange(400, 500));
  auto grown = tc.open(join_options());
  const auto after_add = grown->self_knn(7);
  EXPECT_EQ(grown->saved_self_join_reads(), 0);
  ASSERT_EQ(after_add.size(), 500u);
  EXPECT_EQ(after_add, joined(*grown, 7));
  expect_read_back(tc, 7, after_add);
}

// A caller's RowsToRefine makes the answer its own: never read from or written to the file.
TEST(SavedSelfJoin, AnAnswerRefinedByItsCallerIsNeitherReadNorSaved) {
  TestCollection tc;
  tc.add(test::mixture(300, tc.dim(), 10, 0.5f, 43));
  auto vs = tc.open(join_options());
  int asked = 0;
  const RowsToRefine refine = [&](const std::vector<std::vector<Neighbor>>&) {
    ++asked;
    return std::vector<int64_t>{0, 1, 2};
  };
  vs->self_knn(6, refine);
  EXPECT_EQ(asked, 1);
  EXPECT_FALSE(fs::exists(knn_file(tc, 6)));
  vs->self_knn(6);
  ASSERT_TRUE(fs::exists(knn_file(tc, 6)));
  auto next = tc.open(join_options());
  next->self_knn(6, refine);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(next->saved_self_join_reads(), 0);
}

// A saved answer damaged on disk (a flipped bit, a cut) is reported through the warning handler
// naming the file and the reason, joined again and replaced; the next run reads the new file.
TEST(SavedSelfJoin, ADamagedFileIsReportedAndReplaced) {
  TestCollection tc;
  tc.add(test::mixture(300, tc.dim(), 10, 0.5f, 44));
  const auto answer = tc.open(join_options())->self_knn(7);
  const fs::path f = knn_file(tc, 7);
  for (const bool cut : {false, true}) {
    auto bytes = bytes_of(f);
    if (cut) bytes.resize(bytes.size() - 3);
    else bytes[bytes.size() / 2] ^= 0x04;
    test::write_file(f, bytes);
    std::vector<std::string> warnings;
    set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
    auto vs = tc.open(join_options());
    const auto got = vs->self_knn(7);
    set_warning_handler(nullptr);
    EXPECT_EQ(got, answer);
    EXPECT_EQ(vs->saved_self_join_reads(), 0);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find(f.string()), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find(cut ? "bytes, expected" : "digest does not match"), std::string::npos) << warnings[0];
    expect_read_back(tc, 7, answer);
  }
}

// A folder the answer cannot be written to (each write of the file failing in turn, ENOSPC and
// EROFS): the answer is the same, the warning names the file and the reason, nothing is left
// behind, and the next run joins and saves.
TEST(SavedSelfJoin, AFailedSaveCostsOnlyTime) {
  TestCollection tc;
  tc.add(test::mixture(300, tc.dim(), 10, 0.5f, 45));
  for (int err : {ENOSPC, EROFS}) {
    SCOPED_TRACE(std::strerror(err));
    std::vector<std::string> warnings;
    set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
    FaultHooks h;
    h.before_io = [&](IoOp o, const std::string& path) {
      return o == IoOp::write && path.find(".knn") != std::string::npos ? err : 0;
    };
    install_fault_hooks(std::move(h));
    auto vs = tc.open(join_options());
    const auto got = vs->self_knn(7);
    install_fault_hooks({});
    set_warning_handler(nullptr);
    EXPECT_EQ(got, joined(*vs, 7));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find(knn_file(tc, 7).string()), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find(std::strerror(err)), std::string::npos) << warnings[0];
    if (fs::exists(tc.dir() / "index")) {
      for (const auto& e : fs::directory_iterator(tc.dir() / "index")) {
        EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
      }
    }
    EXPECT_FALSE(fs::exists(knn_file(tc, 7)));
  }
  auto vs = tc.open(join_options());
  const auto answer = vs->self_knn(7);
  EXPECT_EQ(vs->saved_self_join_reads(), 0);
  expect_read_back(tc, 7, answer);
}

// The file as untrusted bytes: what write_knn writes reads back whole; a header that names other
// rows, k or key is stale (not damage); every cut is refused; a list that names an impossible row,
// itself, a neighbour twice, a similarity that is not a cosine or lists out of order is refused
// with the reason even when its digest was made to match.
TEST(IndexFiles, SelfJoinFileReadsBackAndRefusesWhatCannotBeAnAnswer) {
  std::vector<std::vector<Neighbor>> knn = {{{1, 0.9f}, {2, 0.5f}}, {{0, 0.9f}, {2, 0.7f}}, {{1, 0.7f}, {0, 0.5f}}};
  test::TempDir tmp("knn_file");
  const auto encode = [&](const std::vector<std::vector<Neighbor>>& v) {
    {
      FileReplacer out(tmp / "a.knn");
      index_files::write_knn(v, 2, 77, out);
      out.commit();
    }
    return bytes_of(tmp / "a.knn");
  };
  const auto good = encode(knn);
  EXPECT_EQ(good.size(), 40u + 3 * 2 * 8);
  std::string why;
  bool stale = true;
  const auto back = index_files::read_knn(good, 2, 3, 77, why, stale);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, knn);
  EXPECT_FALSE(stale);
  for (const auto& [k, rows, key] : {std::tuple{3, 3, 77}, std::tuple{2, 4, 77}, std::tuple{2, 3, 78}}) {
    EXPECT_FALSE(index_files::read_knn(good, k, rows, uint64_t(key), why, stale));
    EXPECT_TRUE(stale) << why;
  }
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(index_files::read_knn(std::span(good).first(cut), 2, 3, 77, why, stale)) << "cut at " << cut;
    EXPECT_FALSE(stale);
  }
  auto flipped = good;
  flipped[45] ^= 1;
  EXPECT_FALSE(index_files::read_knn(flipped, 2, 3, 77, why, stale));
  EXPECT_NE(why.find("digest does not match"), std::string::npos) << why;
  const auto refused = [&](std::vector<std::vector<Neighbor>> v, const std::string& reason) {
    EXPECT_FALSE(index_files::read_knn(encode(v), 2, 3, 77, why, stale));
    EXPECT_FALSE(stale);
    EXPECT_NE(why.find(reason), std::string::npos) << why;
  };
  auto bad = knn;
  bad[0][1].row = 3;
  refused(bad, "row 0's neighbour 1 is row 3");
  bad = knn;
  bad[1][0].row = 1;
  refused(bad, "row 1's neighbour 0 is row 1");
  bad = knn;
  bad[2][1] = {1, 0.6f};
  refused(bad, "row 2 lists a neighbour twice");
  bad = knn;
  bad[0][0].similarity = std::nanf("");
  refused(bad, "row 0's neighbour 0 has similarity");
  bad = knn;
  bad[0][1].similarity = 0.95f;
  refused(bad, "row 0's neighbour 1 is out of order");
  bad = knn;
  bad[1][1].similarity = 0.9f;  // a tie: the lower row comes first, and 2 > 0
  EXPECT_TRUE(index_files::read_knn(encode(bad), 2, 3, 77, why, stale)) << why;
  std::swap(bad[1][0], bad[1][1]);
  refused(bad, "row 1's neighbour 1 is out of order");
}

}  // namespace
}  // namespace irbis
