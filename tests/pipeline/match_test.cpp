// match_images / CollectionMatcher: edited copies of collection photos (mirror, crop, JPEG
// re-encode) find their original with the right evidence, unrelated photos find nothing, a corrupt
// file is listed as failed while the rest go on. Photos from Debian's opencv-doc and python3-skimage.
#include <array>
#include <bit>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <tuple>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/collection_analysis.h"
#include "irbis/dupes.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/model.h"
#include "irbis/pipeline.h"
#include "irbis/results.h"
#include "test_util.h"

namespace irbis {
namespace {

namespace fs = std::filesystem;

const char* kCv = "/usr/share/doc/opencv-doc/examples/data/";
const char* kSk = "/usr/lib/python3/dist-packages/skimage/data/";

cv::Mat read_bgr(const std::string& path) { return cv::imread(path, cv::IMREAD_COLOR); }

void write(const fs::path& p, const cv::Mat& bgr, int jpeg_quality = 95) {
  ASSERT_TRUE(cv::imwrite(p.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality})) << p;
}

cv::Mat centre_crop(const cv::Mat& img, double keep_area) {
  const double s = std::sqrt(keep_area);
  const int w = int(img.cols * s), h = int(img.rows * s);
  return img(cv::Rect((img.cols - w) / 2, (img.rows - h) / 2, w, h)).clone();
}

struct MatchFixture : ::testing::Test {
  // Collection: originals; queries: their edits, photos not in the collection, a corrupt file.
  const std::vector<std::string> originals = {std::string(kCv) + "baboon.jpg", std::string(kCv) + "fruits.jpg",
                                              std::string(kCv) + "building.jpg", std::string(kSk) + "astronaut.png",
                                              std::string(kSk) + "coffee.png", std::string(kSk) + "chelsea.png"};
  const std::vector<std::string> unrelated = {std::string(kCv) + "butterfly.jpg", std::string(kCv) + "home.jpg",
                                              std::string(kSk) + "rocket.jpg", std::string(kSk) + "motorcycle_left.png"};
  std::unique_ptr<test::TempDir> tmp;
  fs::path pics, queries;
  bool have = true;

  void SetUp() override {
    for (const auto& p : originals) have = have && fs::exists(p);
    for (const auto& p : unrelated) have = have && fs::exists(p);
    if (!have) return;
    tmp = std::make_unique<test::TempDir>("match");
    pics = tmp->path() / "pics";
    queries = tmp->path() / "queries";
    fs::create_directories(pics);
    fs::create_directories(queries);
    for (size_t i = 0; i < originals.size(); ++i) {
      const cv::Mat img = read_bgr(originals[i]);
      write(pics / ("orig" + std::to_string(i) + ".png"), img);
      cv::Mat mirrored;
      cv::flip(img, mirrored, 1);
      write(queries / ("mirror" + std::to_string(i) + ".png"), mirrored);
      write(queries / ("crop" + std::to_string(i) + ".png"), centre_crop(img, 0.8));
      write(queries / ("jpeg" + std::to_string(i) + ".jpg"), img, 30);
    }
    for (size_t i = 0; i < unrelated.size(); ++i) write(queries / ("other" + std::to_string(i) + ".png"), read_bgr(unrelated[i]));
    const std::string junk = "\xff\xd8\xff\xe0 not really a jpeg";
    test::write_file(queries / "corrupt.jpg", std::vector<uint8_t>(junk.begin(), junk.end()));
  }

  std::unique_ptr<Collection> make_collection(const std::string& model) {
    auto coll = Collection::open_or_create(tmp->path() / "c.irbis");
    IndexParams p;
    p.roots = {pics.string()};
    p.model = model;
    index_collection(*coll, p);
    return coll;
  }

  static std::string original_of(const std::string& query_path) {
    std::string name = fs::path(query_path).stem().string();
    while (!name.empty() && !std::isdigit(static_cast<unsigned char>(name.front()))) name.erase(0, 1);
    return "orig" + name + ".png";
  }
};

TEST_F(MatchFixture, HashesFindMirrorsAndReencodesAndListTheCorruptFile) {
  if (!have) GTEST_SKIP() << "opencv-doc / python3-skimage sample photos not installed";
  auto coll = make_collection("");
  const MatchResult r = match_images(*coll, {queries.string()});
  EXPECT_FALSE(r.cnn);
  EXPECT_NE(r.note.find("irbis index"), std::string::npos) << r.note;  // names the command that adds embeddings
  ASSERT_EQ(r.queries.size(), originals.size() * 3 + unrelated.size() + 1);
  ASSERT_EQ(r.failed(), 1u);
  for (const MatchedQuery& q : r.queries) {
    const std::string name = fs::path(q.path).filename().string();
    if (name == "corrupt.jpg") {
      EXPECT_TRUE(q.failed());
      EXPECT_TRUE(q.matches.empty());
      continue;
    }
    EXPECT_FALSE(q.failed()) << name << ": " << q.reason;
    if (name.starts_with("other")) {
      EXPECT_TRUE(q.matches.empty()) << name << " matched " << r.records[q.matches[0].index].path;
      continue;
    }
    if (name.starts_with("crop")) continue;  // crops are the CNN's and the band's (next test)
    ASSERT_FALSE(q.matches.empty()) << name;
    const DupeMember& best = q.matches[0];
    EXPECT_EQ(fs::path(r.records[best.index].path).filename().string(), original_of(q.path)) << name;
    if (name.starts_with("mirror")) {
      EXPECT_EQ(best.variant, int(HashVariant::mirror)) << name;
      EXPECT_LE(best.variant_distance, 8) << name;
      EXPECT_GT(best.distance, 8) << name;  // only the query's mirror variant finds it
    }
  }
}

TEST_F(MatchFixture, ExactCopyIsExactAndNothingIsAdded) {
  if (!have) GTEST_SKIP() << "sample photos not installed";
  auto coll = make_collection("");
  const size_t before = coll->records(ImageStatus::ok).size();
  const MatchResult r = match_images(*coll, {(pics / "orig1.png").string(), (tmp->path() / "missing.png").string()});
  ASSERT_EQ(r.queries.size(), 2u);
  ASSERT_FALSE(r.queries[0].matches.empty());
  EXPECT_EQ(r.queries[0].matches[0].kind, DupeKind::exact);
  EXPECT_TRUE(r.queries[1].failed());
  EXPECT_EQ(coll->records(ImageStatus::ok).size(), before);
  // The serializer: one CSV row per matched pair plus one per failed query.
  const Table t = match_table(r);
  ASSERT_GE(t.header.size(), 2u);
  EXPECT_EQ(t.header[0], "query");
  EXPECT_EQ(t.header[1], "match");
  const nlohmann::json j = match_json(r, MatchOptions{});
  EXPECT_EQ(j["queries"], 2);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["results"][0]["matches"][0]["kind"], "exact");
  EXPECT_TRUE(j["results"][1]["query"].contains("reason"));
}

TEST_F(MatchFixture, CnnAndVerificationFindCropsWithoutMatchingUnrelatedPhotos) {
  if (!have) GTEST_SKIP() << "sample photos not installed";
  try {
    find_model(kDefaultModel);
  } catch (const Error&) {
    GTEST_SKIP() << "model " << kDefaultModel << " not available";
  }
  auto coll = make_collection(kDefaultModel);
  const MatchResult r = match_images(*coll, {queries.string()});
  ASSERT_TRUE(r.cnn);
  EXPECT_TRUE(r.note.empty());
  size_t copies = 0, found = 0;
  for (const MatchedQuery& q : r.queries) {
    const std::string name = fs::path(q.path).filename().string();
    if (name == "corrupt.jpg") {
      EXPECT_TRUE(q.failed());
    } else if (name.starts_with("other")) {
      EXPECT_TRUE(q.matches.empty()) << name << " matched " << r.records[q.matches[0].index].path;
    } else {
      ++copies;
      if (!q.matches.empty() && fs::path(r.records[q.matches[0].index].path).filename() == original_of(q.path)) ++found;
      for (const DupeMember& m : q.matches) EXPECT_TRUE(m.has_similarity()) << name;  // CNN evidence is reported
    }
  }
  EXPECT_EQ(found, copies);
}

// match_images runs whole queries on per-core workers (MatchOptions::threads): the answer is the
// one of a single worker, row for row, evidence and verification counts included.
TEST_F(MatchFixture, TwoWorkersAnswerAsOne) {
  if (!have) GTEST_SKIP() << "sample photos not installed";
  std::string model = kDefaultModel;
  try {
    find_model(kDefaultModel);
  } catch (const Error&) {
    model.clear();  // hashes and their band only
  }
  auto coll = make_collection(model);
  MatchOptions one, two;
  one.threads = 1;
  two.threads = 2;
  const MatchResult a = match_images(*coll, {queries.string(), (tmp->path() / "missing.png").string()}, one);
  const MatchResult b = match_images(*coll, {queries.string(), (tmp->path() / "missing.png").string()}, two);
  ASSERT_EQ(a.queries.size(), originals.size() * 3 + unrelated.size() + 2);
  const auto rows = [](const MatchResult& r) {
    nlohmann::json j = match_json(r, MatchOptions{});
    for (auto& q : j["results"]) q["query"].erase("verify_seconds"), q["query"].erase("check_seconds");
    j.erase("verify_seconds"), j.erase("check_seconds");
    return j;
  };
  EXPECT_EQ(rows(a), rows(b));
  EXPECT_EQ(a.verified_pairs, b.verified_pairs);
  EXPECT_EQ(a.checked_pairs, b.checked_pairs);
  EXPECT_GT(a.matched(), originals.size());  // not two empty answers
  EXPECT_TRUE(b.queries.back().failed());     // the missing file stays last, with its reason
}

TEST(NearQueryPairs, SameAsAScan) {
  std::vector<uint64_t> items, queries;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&] { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; };
  for (int i = 0; i < 3000; ++i) items.push_back(next());
  for (int i = 0; i < 400; ++i) {
    uint64_t q = i % 2 ? items[size_t(i) * 7] : next();
    for (int b = 0; b < i % 13; ++b) q ^= uint64_t(1) << (next() % 64);  // 0..12 flipped bits
    queries.push_back(q);
  }
  for (int t : {0, 5, 8, 12}) {
    std::vector<QueryNearPair> want;
    for (uint32_t q = 0; q < queries.size(); ++q)
      for (uint32_t i = 0; i < items.size(); ++i)
        if (std::popcount(queries[q] ^ items[i]) <= t) want.push_back({q, i, std::popcount(queries[q] ^ items[i])});
    EXPECT_EQ(find_near_query_pairs(items, queries, t), want) << "t=" << t;
    EXPECT_FALSE(want.empty());
  }
  EXPECT_THROW(find_near_query_pairs(items, queries, 65), Error);
}

// ---- Which pairs match verifies (the rule of dupes: judge_pair, verification_order), on a
// collection of hash rows only: the verifier is the test's, so no file is read.
struct HashRowsFixture : ::testing::Test {
  std::unique_ptr<test::TempDir> tmp;
  std::unique_ptr<Collection> coll;
  // Collection image i has pHash rows[i][0], dHash rows[i][1].
  void make(const std::vector<std::array<uint64_t, 3>>& rows) {
    tmp = std::make_unique<test::TempDir>("match_policy");
    coll = Collection::open_or_create(tmp->path() / "c.irbis");
    coll->ensure_feature({kHashesFeature, "u64", 3});
    for (size_t i = 0; i < rows.size(); ++i) {
      ImageRecord r;
      r.path = "/nowhere/" + std::to_string(1000 + i) + ".jpg";
      r.size = 1000;
      r.format = ImageFormat::jpeg;
      r.width = r.height = 100;
      r.content_hash[0] = uint8_t(i + 1);
      coll->stage_image(r, {{kHashesFeature, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(rows[i].data()), 24)}});
    }
    coll->commit();
  }
  static MatchQuery query(uint64_t phash, uint64_t dhash, uint64_t mirror_phash = 0x5555AAAA5555AAAAull) {
    MatchQuery q;
    q.path = "query.jpg";
    q.phash_variants.fill(0x123456789ull);
    q.phash_variants[0] = phash;
    q.phash_variants[1] = mirror_phash;
    q.dhash = dhash;
    return q;
  }
};

TEST_F(HashRowsFixture, AQueryWithASureMatchVerifiesNothingAndTheBandIsCappedStrongestFirst) {
  // Image 0: the query's copy (pHash 2 bits, dHash 1 bit: sure). Images 1..8: pHash 6..13 bits,
  // dHash 2 bits: the band of two agreeing hashes, each farther than the last.
  const uint64_t ph = 0x0123456789ABCDEFull, dh = 0x0F0F0F0F0F0F0F0Full;
  std::vector<std::array<uint64_t, 3>> rows{{ph ^ 0x3, dh ^ 0x1, 0}};
  for (int k = 0; k < 8; ++k) rows.push_back({ph ^ ((1ull << (6 + k)) - 1) << 20, dh ^ (0x3ull << (2 * k + 8)), 0});
  make(rows);
  MatchOptions o;
  o.cnn = false;
  CollectionMatcher matcher(*coll, o);
  std::vector<std::vector<uint32_t>> calls;
  bool confirm_third = false;
  const QueryVerifier verify = [&](const std::vector<uint32_t>& items) {
    calls.push_back(items);
    std::vector<PairCheck> out;
    for (uint32_t i : items) out.push_back({confirm_third && i >= 3, 25 + int(i)});
    return out;
  };
  // With the copy in the collection: one sure match, not one verification.
  MatchedQuery q = matcher.match(query(ph, dh), verify);
  ASSERT_EQ(q.matches.size(), 1u);
  EXPECT_EQ(q.matches[0].index, 0u);
  EXPECT_EQ(q.matches[0].kind, DupeKind::near);
  EXPECT_TRUE(calls.empty());
  EXPECT_EQ(q.verified_pairs, 0);
  // A query 4 bits further (6 from the copy: a band pair now, the strongest; 10..17 from the
  // others): the band is verified strongest first in batches of two, at most 5 pairs, all refused.
  const MatchQuery farther = query(ph ^ 0x3C, dh);
  q = matcher.match(farther, verify);
  EXPECT_TRUE(q.matches.empty());
  EXPECT_EQ(q.verified_pairs, 5);
  const std::vector<std::vector<uint32_t>> want{{0, 1}, {2, 3}, {4}};
  EXPECT_EQ(calls, want);
  // The first confirmed pair in that order is the match; later batches are not asked.
  calls.clear();
  confirm_third = true;
  q = matcher.match(farther, verify);
  ASSERT_EQ(q.matches.size(), 1u);
  EXPECT_EQ(q.matches[0].index, 3u);
  EXPECT_EQ(q.matches[0].kind, DupeKind::verified);
  EXPECT_EQ(q.matches[0].inliers, 28);
  EXPECT_EQ(q.verified_pairs, 4);
  EXPECT_EQ(calls, (std::vector<std::vector<uint32_t>>{{0, 1}, {2, 3}}));
  // Of the confirmed pairs of the batches verified, the one with the most inliers is the match
  // (another frame of a static scene is confirmed too, with fewer corresponding keypoints).
  const QueryVerifier all_confirmed = [&](const std::vector<uint32_t>& items) {
    calls.push_back(items);
    std::vector<PairCheck> out;
    for (uint32_t i : items) out.push_back({true, i == 1 ? 400 : 100});
    return out;
  };
  calls.clear();
  q = matcher.match(farther, all_confirmed);
  ASSERT_EQ(q.matches.size(), 1u);
  EXPECT_EQ(q.matches[0].index, 1u);
  EXPECT_EQ(q.matches[0].inliers, 400);
  EXPECT_EQ(calls, (std::vector<std::vector<uint32_t>>{{0, 1}}));
  // The cap is an option.
  MatchOptions o2 = o;
  o2.policy.max_verified_per_item = 1;
  CollectionMatcher one(*coll, o2);
  calls.clear();
  confirm_third = false;
  q = one.match(farther, verify);
  EXPECT_EQ(calls, (std::vector<std::vector<uint32_t>>{{0}}));
}

// The batch match() verifies queries on several threads at once, and each query's answer and the
// pairs it hands to the verifier (which and in what order) are those of match() on that query alone.
TEST_F(HashRowsFixture, ABatchOnTwoThreadsAnswersAsOneQueryAtATime) {
  std::mt19937_64 rng(7);
  std::vector<std::array<uint64_t, 3>> rows;
  for (int i = 0; i < 60; ++i) rows.push_back({rng(), rng(), 0});
  make(rows);
  const auto flip = [&](uint64_t h, int bits) {
    for (int b = 0; b < bits; ++b) h ^= uint64_t(1) << (rng() % 64);
    return h;
  };
  std::vector<MatchQuery> qs;
  for (int k = 0; k < 80; ++k) {  // copies 0-14 pHash bits and 0-10 dHash bits from an image, or new
    const auto& r = rows[size_t(k) % rows.size()];
    qs.push_back(k % 4 == 3 ? query(rng(), rng()) : query(flip(r[0], k % 15), flip(r[1], k % 11)));
    qs.back().path = std::to_string(k) + ".jpg";
  }
  // Confirms some pairs, with inliers that depend on the pair only.
  const auto answer = [](size_t k, uint32_t i) { return PairCheck{(k + i) % 3 != 0, 20 + int((k * 7 + i) % 50)}; };
  MatchOptions o;
  o.cnn = false;
  o.threads = 2;
  CollectionMatcher matcher(*coll, o);
  std::vector<MatchedQuery> serial;
  std::vector<std::vector<uint32_t>> serial_calls(qs.size());
  for (size_t k = 0; k < qs.size(); ++k)
    serial.push_back(matcher.match(qs[k], [&](const std::vector<uint32_t>& items) {
      serial_calls[k].insert(serial_calls[k].end(), items.begin(), items.end());
      std::vector<PairCheck> out;
      for (uint32_t i : items) out.push_back(answer(k, i));
      return out;
    }));
  // The first query that verifies waits in its verifier until another query is verified on the other thread.
  size_t first = 0;
  while (first < qs.size() && serial_calls[first].empty()) ++first;
  ASSERT_LT(first + 10, qs.size());
  std::mutex mu;
  std::condition_variable cv;
  bool other_started = false, waited = false;
  std::vector<std::vector<uint32_t>> batch_calls(qs.size());
  const std::vector<MatchedQuery> batch = matcher.match(qs, [&](size_t k, const std::vector<uint32_t>& items) {
    std::unique_lock lk(mu);
    if (k == first && !waited) waited = cv.wait_for(lk, std::chrono::seconds(20), [&] { return other_started; });
    if (k != first) other_started = true, cv.notify_all();
    batch_calls[k].insert(batch_calls[k].end(), items.begin(), items.end());
    std::vector<PairCheck> out;
    for (uint32_t i : items) out.push_back(answer(k, i));
    return out;
  });
  EXPECT_TRUE(waited) << "no other query was verified while the first one waited: not two threads";
  ASSERT_EQ(batch.size(), serial.size());
  size_t verified = 0, matched = 0;
  for (size_t k = 0; k < qs.size(); ++k) {
    EXPECT_EQ(batch[k].path, qs[k].path);
    EXPECT_EQ(batch_calls[k], serial_calls[k]) << k;
    EXPECT_EQ(batch[k].verified_pairs, serial[k].verified_pairs) << k;
    ASSERT_EQ(batch[k].matches.size(), serial[k].matches.size()) << k;
    for (size_t e = 0; e < batch[k].matches.size(); ++e) {
      const DupeMember &x = batch[k].matches[e], &y = serial[k].matches[e];
      EXPECT_EQ(std::tie(x.index, x.kind, x.distance, x.dhash_distance, x.inliers),
                std::tie(y.index, y.kind, y.distance, y.dhash_distance, y.inliers)) << k;
    }
    verified += size_t(serial[k].verified_pairs), matched += !serial[k].matches.empty();
  }
  EXPECT_GT(verified, 20u);  // the fixture verifies, confirms and refuses
  EXPECT_GT(matched, 20u);
  EXPECT_LT(matched, qs.size());
}

TEST_F(HashRowsFixture, AMirrorOnlyHashMatchIsVerified) {
  // Image 0 agrees with the query only mirrored (the query's mirror pHash 1 bit from it, the
  // mirrored dHash 0): verified, and refused by this verifier; with verification off it is a near match.
  const uint64_t ph = 0x0123456789ABCDEFull, dh = 0x13579BDF02468ACEull;
  make({{ph, dhash_mirrored(dh), 0}, {0x3C3C3C3C3C3C3C3Cull, 0x1111111111111111ull, 0}});
  MatchOptions o;
  o.cnn = false;
  CollectionMatcher matcher(*coll, o);
  int asked = 0;
  const QueryVerifier refuse = [&](const std::vector<uint32_t>& items) {
    asked += int(items.size());
    return std::vector<PairCheck>(items.size());
  };
  const MatchQuery q = query(~ph, dh, ph ^ 0x1);  // the plain pHashes 64 bits apart
  MatchedQuery got = matcher.match(q, refuse);
  EXPECT_TRUE(got.matches.empty());
  EXPECT_EQ(asked, 1);
  const QueryVerifier confirm = [&](const std::vector<uint32_t>& items) { return std::vector<PairCheck>(items.size(), PairCheck{true, 99}); };
  got = matcher.match(q, confirm);
  ASSERT_EQ(got.matches.size(), 1u);
  EXPECT_EQ(got.matches[0].kind, DupeKind::verified);
  EXPECT_EQ(HashVariant(got.matches[0].variant), HashVariant::mirror);
  EXPECT_EQ(got.matches[0].variant_distance, 1);
  o.verify = false;
  CollectionMatcher unverified(*coll, o);
  got = unverified.match(q, refuse);
  ASSERT_EQ(got.matches.size(), 1u);
  EXPECT_EQ(got.matches[0].kind, DupeKind::near);
}

}  // namespace
}  // namespace irbis
