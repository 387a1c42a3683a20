// odd_one_out on either side of the exact threshold: above it the neighbours come from the
// self-join, whose candidates for the answer are searched exhaustively (issues.cpp), so the rows
// flagged are the exact path's.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <random>
#include <set>

#include "irbis/collection.h"
#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/issues.h"
#include "irbis/model.h"
#include "irbis/quality.h"
#include "search/search_data.h"
#include "test_util.h"

namespace irbis {
namespace {

template <class Row>
std::span<const uint8_t> bytes_of(const Row& r) {
  return {reinterpret_cast<const uint8_t*>(r.data()), sizeof(r[0]) * r.size()};
}

// n photos' worth of rows around n / 50 centres (the default model's dimension), plus five
// strays: three from one foreign centre (each other's nearest) and two singles. Measured
// properties vary mildly (brightness), so a few images carry a property part in their score.
// With hashes: random perceptual hashes, every 40th image a near copy of an earlier one (pHash
// 2 bits off) and every 300th an exact copy (same content hash), so there are duplicate rows.
void write_collection(const std::filesystem::path& dir, int n, bool hashes = false) {
  const ModelCard card = find_model(kDefaultModel);
  const int dim = card.embedding_dim;
  const cv::Mat base = test::mixture(n, dim, n / 50, 0.6f, 41);
  const cv::Mat group = test::mixture(3, dim, 1, 0.25f, 42), singles = test::mixture(2, dim, 2, 0.25f, 43);
  cv::Mat x;
  cv::vconcat(std::vector<cv::Mat>{base, group, singles}, x);
  auto c = Collection::open_or_create(dir);
  const std::string emb = embedding_feature(card.name);
  c->ensure_feature({emb, "f32", dim});
  c->ensure_feature({kQualityFeature, "f32", kQualityDim});
  if (hashes) c->ensure_feature({kHashesFeature, "u64", 3});
  std::vector<std::array<uint64_t, 3>> hash_rows;
  std::mt19937_64 rng(44);
  std::normal_distribution<float> g(0.f, 1.f);
  for (int i = 0; i < x.rows; ++i) {
    ImageRecord r;
    r.path = "/photos/" + std::to_string(i) + ".jpg";
    r.size = 1000 + i;
    const int content = hashes && i > 0 && i % 300 == 0 ? i / 300 : i;  // an exact copy of image i / 300
    for (size_t b = 0; b < 8; ++b) r.content_hash[b] = uint8_t(uint64_t(content) >> (8 * b));
    r.content_hash[8] = 1;
    r.format = ImageFormat::jpeg;
    r.width = 640;
    r.height = 480;
    QualityRow q{};
    const float mean = std::clamp(0.45f + 0.1f * g(rng), 0.1f, 0.9f);
    q[kLumP01] = mean - 0.4f;
    q[kLumP05] = mean - 0.3f;
    q[kLumP50] = q[kLumMean] = mean;
    q[kLumP95] = mean + 0.3f;
    q[kLumP99] = mean + 0.4f;
    q[kLumStd] = 0.2f;
    q[kEntropy] = 7.3f;
    q[kUniqueColors] = 9000;
    q[kColorfulness] = 40;
    q[kColoredFraction] = 0.8f;
    std::vector<std::pair<std::string, std::span<const uint8_t>>> rows = {
        {emb, std::span<const uint8_t>(x.ptr<uint8_t>(i), size_t(dim) * sizeof(float))}, {kQualityFeature, bytes_of(q)}};
    if (hashes) {
      std::array<uint64_t, 3> h{rng(), rng(), rng()};
      if (i > 0 && i % 40 == 0) {
        h = hash_rows[size_t(rng() % uint64_t(i))];
        h[0] ^= (1ull << (i % 64)) | (1ull << ((i + 7) % 64));
      }
      hash_rows.push_back(h);
      rows.push_back({kHashesFeature, bytes_of(hash_rows.back())});
    }
    c->stage_image(r, rows);
  }
  c->commit();
}

std::vector<std::string> odd_paths(const CollectionIssues& c) {
  std::vector<std::string> v;
  for (const auto& is : c.issues)
    if (is.kind == IssueKind::odd_one_out) v.push_back(c.records[is.image].path);
  return v;
}

TEST(OddOneOut, SelfJoinSideOfTheThresholdFlagsTheExactSidesRows) {
  test::TempDir dir("odd-one-out");
  const int n = 3000;
  write_collection(dir.path(), n);
  const auto coll = Collection::open(dir.path());
  IssueParams exact;
  exact.index.hnsw_min_images = n + 6;  // n + 5 images: just below the switch
  const CollectionIssues e = find_collection_issues(*coll, exact);
  IssueParams join = exact;
  join.index.hnsw_min_images = n + 5;  // at the switch: the self-join
  join.index.join.nprobe = 2;          // so the join alone is visibly off
  const CollectionIssues a = find_collection_issues(*coll, join);
  IssueParams plain = join;  // the join alone: no refine pass, no exhaustive search
  plain.index.join.refine_share = 0;
  plain.odd_one_out_refine_margin = -1;
  const CollectionIssues b = find_collection_issues(*coll, plain);
  ASSERT_TRUE(e.used_embeddings);
  ASSERT_TRUE(a.used_embeddings);
  const auto exact_rows = odd_paths(e), join_rows = odd_paths(a), plain_rows = odd_paths(b);
  std::printf("odd_one_out rows: exact %zu, self-join %zu, join alone %zu\n", exact_rows.size(), join_rows.size(),
              plain_rows.size());
  // The strays first on both sides.
  ASSERT_GE(exact_rows.size(), 5u);
  ASSERT_GE(join_rows.size(), 5u);
  std::set<std::string> strays;
  for (int i = n; i < n + 5; ++i) strays.insert("/photos/" + std::to_string(i) + ".jpg");
  EXPECT_EQ(std::set<std::string>(exact_rows.begin(), exact_rows.begin() + 5), strays);
  EXPECT_EQ(std::set<std::string>(join_rows.begin(), join_rows.begin() + 5), strays);
  EXPECT_EQ(join_rows, exact_rows);
  // The refined distances are the exact ones for every image flagged.
  for (const auto& is : a.issues) {
    if (is.kind == IssueKind::odd_one_out) {
      EXPECT_NEAR(a.kth_distance[is.image], e.kth_distance[is.image], 1e-5);
    }
  }
}

// The duplicate groups are found on a thread of their own while the neighbours are searched, and
// the self-join's lists run on several threads: neither may change the answer. The same rows in
// the same order, with the same scores and words, as on one thread (everything in turn).
TEST(OddOneOut, SameRowsOnOneThreadAsOnAll) {
  test::TempDir dir("issues-threads");
  const int n = 3000;
  write_collection(dir.path(), n, /*hashes=*/true);
  const auto coll = Collection::open(dir.path());
  IssueParams all;
  all.index.hnsw_min_images = n;  // the self-join, and the exact search of its candidates
  IssueParams one = all;
  one.index.threads = 1;
  const CollectionIssues a = find_collection_issues(*coll, all), b = find_collection_issues(*coll, one);
  ASSERT_TRUE(a.used_embeddings);
  std::map<IssueKind, size_t> kinds;
  for (const auto& is : a.issues) ++kinds[is.kind];
  EXPECT_GE(kinds[IssueKind::odd_one_out], 5u);
  EXPECT_GE(kinds[IssueKind::near_duplicate], 50u);
  EXPECT_GE(kinds[IssueKind::exact_duplicate], 5u);
  ASSERT_EQ(a.issues.size(), b.issues.size());
  for (size_t i = 0; i < a.issues.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    EXPECT_EQ(a.issues[i].kind, b.issues[i].kind);
    EXPECT_EQ(a.records[a.issues[i].image].path, b.records[b.issues[i].image].path);
    EXPECT_EQ(a.issues[i].score, b.issues[i].score);
    EXPECT_EQ(a.issues[i].threshold, b.issues[i].threshold);
    EXPECT_EQ(a.issues[i].reason, b.issues[i].reason);
  }
  EXPECT_EQ(a.kth_distance, b.kth_distance);
}

// Neighbours found elsewhere (issues_bench scores exact ones computed once) go through the same
// rules: the searched distances given back give the same rows, a changed distance moves its row,
// and a list of the wrong length is refused.
TEST(OddOneOut, GivenKthDistancesAreScoredAsSearchedOnes) {
  test::TempDir dir("odd-one-out-given");
  const int n = 600;
  write_collection(dir.path(), n);
  const auto coll = Collection::open(dir.path());
  const CollectionIssues searched = find_collection_issues(*coll);
  ASSERT_TRUE(searched.used_embeddings);
  IssueParams given;
  given.kth_distance = searched.kth_distance;
  const CollectionIssues same = find_collection_issues(*coll, given);
  EXPECT_TRUE(same.used_embeddings);
  ASSERT_EQ(odd_paths(same), odd_paths(searched));
  EXPECT_EQ(same.kth_distance, searched.kth_distance);
  // An ordinary image given a distance far beyond every other's becomes the first odd one out.
  size_t ordinary = 0;
  while (searched.records[ordinary].path != "/photos/7.jpg") ++ordinary;
  given.kth_distance[ordinary] = 2.0;
  const auto moved = odd_paths(find_collection_issues(*coll, given));
  ASSERT_FALSE(moved.empty());
  EXPECT_EQ(moved.front(), "/photos/7.jpg");
  given.kth_distance.pop_back();
  EXPECT_THROW(find_collection_issues(*coll, given), UsageError);
}

}  // namespace
}  // namespace irbis
