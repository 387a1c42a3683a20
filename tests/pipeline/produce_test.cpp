// Produce: one image decoded and featurized on a worker; failures become a reason, not rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/pipeline.h"
#include "pipeline/impl/plan.h"
#include "pipeline/impl/produce.h"
#include "pipeline_test_util.h"

using namespace irbis;
using namespace irbis::indexing;
namespace fs = std::filesystem;

namespace {

std::vector<std::unique_ptr<FeatureProducer>> hashes_and_mean() {
  std::vector<std::unique_ptr<FeatureProducer>> out;
  out.push_back(make_image_producer(image_feature_groups().front()));
  out.push_back(test::mean_colour_producer());
  return out;
}

ScanEntry entry_of(const fs::path& p) {
  return {p.string(), int64_t(fs::file_size(p)), 1234};
}

template <typename T>
T row_as(const std::vector<uint8_t>& row) {
  T out{};
  EXPECT_EQ(row.size(), sizeof(T));
  std::memcpy(&out, row.data(), std::min(row.size(), sizeof(T)));
  return out;
}

}  // namespace

TEST(Produce, GeneratedImageGetsEveryProducersRows) {
  test::TempDir tmp("produce_ok");
  const fs::path file = tmp / "photo.jpg";
  const cv::Mat rgb = test::synthetic_photo(200, 120, 3);
  test::write_file(file, test::encode(rgb, ".jpg"));
  const auto producers = hashes_and_mean();
  const ProduceContext ctx{producers, DecodeOptions{}, 1ull << 30};

  const ProducedImage got = produce_image(entry_of(file), ctx);
  ASSERT_TRUE(got.is_image);
  EXPECT_EQ(got.record.status, ImageStatus::ok) << got.record.reason;
  EXPECT_EQ(got.record.path, file.string());
  EXPECT_EQ(got.record.format, ImageFormat::jpeg);
  EXPECT_EQ(got.record.width, 200);
  EXPECT_EQ(got.record.height, 120);
  EXPECT_EQ(got.record.mtime_ns, 1234);
  EXPECT_EQ(got.record.content_hash, content_hash(test::read_file(file)));

  // The hashes group sees the decode at its own side, whatever else runs in the same pass.
  const auto bytes = test::read_file(file);
  const cv::Mat small = decode_image_sizes(bytes, DecodeOptions{}, {kHashMinSide}).front().rgb;
  const ImageHashes h = image_hashes(small);
  ASSERT_TRUE(got.rows.computed(0));
  ASSERT_EQ(got.rows.rows[0].size(), 3u);
  EXPECT_EQ((row_as<std::array<uint64_t, 3>>(got.rows.rows[0][0])), (std::array<uint64_t, 3>{h.phash, h.dhash, h.ahash}));
  EXPECT_EQ((row_as<std::array<float, kColorStatsDim>>(got.rows.rows[0][1])), color_stats(small));
  // The mirror/rotation pHashes (all but the identity, which is h.phash) from the same decode.
  const auto variants = phash_variants(small);
  EXPECT_EQ(variants[0], h.phash);
  std::array<uint64_t, kHashVariants - 1> want_variants;
  std::copy(variants.begin() + 1, variants.end(), want_variants.begin());
  EXPECT_EQ((row_as<std::array<uint64_t, kHashVariants - 1>>(got.rows.rows[0][2])), want_variants);
  // The producer registered by the test ran on the same file.
  ASSERT_TRUE(got.rows.computed(1));
  const auto mean = row_as<std::array<float, 3>>(got.rows.rows[1][0]);
  const cv::Scalar want = cv::mean(rgb);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean[size_t(c)], want[c], 6.0) << "channel " << c;
}

TEST(Produce, CorruptFileFailsWithAReasonAndNoRows) {
  test::TempDir tmp("produce_corrupt");
  const fs::path file = tmp / "broken.jpg";
  std::vector<uint8_t> bytes = test::encode(test::synthetic_photo(64, 64, 1), ".jpg");
  bytes.resize(40);  // the header, then nothing
  test::write_file(file, bytes);
  const auto producers = hashes_and_mean();
  const ProduceContext ctx{producers, DecodeOptions{}, 1ull << 30};

  const ProducedImage got = produce_image(entry_of(file), ctx);
  EXPECT_TRUE(got.is_image);
  EXPECT_EQ(got.record.status, ImageStatus::failed);
  EXPECT_FALSE(got.record.reason.empty());
  EXPECT_FALSE(got.rows.computed(0));
  EXPECT_FALSE(got.rows.computed(1));
}

TEST(Produce, FileGoneBeforeReadFailsNamingIt) {
  test::TempDir tmp("produce_gone");
  const auto producers = hashes_and_mean();
  const ProduceContext ctx{producers, DecodeOptions{}, 1ull << 30};
  const ProducedImage got = produce_image({(tmp / "gone.png").string(), 10, 1}, ctx);
  EXPECT_EQ(got.record.status, ImageStatus::failed);
  EXPECT_NE(got.record.reason.find("gone.png"), std::string::npos) << got.record.reason;
}

TEST(Produce, TooLargeFileFailsBeforeDecoding) {
  test::TempDir tmp("produce_large");
  const auto files = test::write_photos(tmp.path(), 1);
  const auto producers = hashes_and_mean();
  const ProduceContext ctx{producers, DecodeOptions{}, 16};
  const ProducedImage got = produce_image(entry_of(files[0]), ctx);
  EXPECT_EQ(got.record.status, ImageStatus::failed);
  EXPECT_FALSE(got.record.reason.empty());
}

TEST(Produce, TextFileIsNotAnImage) {
  test::TempDir tmp("produce_text");
  const fs::path file = tmp / "notes.txt";
  test::write_file(file, {'h', 'e', 'l', 'l', 'o'});
  const auto producers = hashes_and_mean();
  const ProduceContext ctx{producers, DecodeOptions{}, 1ull << 30};
  EXPECT_FALSE(produce_image(entry_of(file), ctx).is_image);
  // The same bytes named like an image are an image that fails.
  const fs::path named = tmp / "notes.png";
  test::write_file(named, {'h', 'e', 'l', 'l', 'o'});
  const ProducedImage got = produce_image(entry_of(named), ctx);
  EXPECT_TRUE(got.is_image);
  EXPECT_EQ(got.record.status, ImageStatus::failed);
}

TEST(Produce, BackfillComputesOnlyWantedProducersOfOkImages) {
  test::TempDir tmp("produce_backfill");
  const auto files = test::write_photos(tmp.path(), 1);
  const auto producers = hashes_and_mean();
  const ProduceContext ctx{producers, DecodeOptions{}, 1ull << 30};
  ImageRecord rec;
  rec.id = 0;
  rec.path = files[0].string();
  rec.status = ImageStatus::ok;

  const ImageRows only_mean = produce_backfill(rec, {false, true}, ctx);
  EXPECT_FALSE(only_mean.computed(0));
  EXPECT_TRUE(only_mean.computed(1));

  rec.status = ImageStatus::failed;
  EXPECT_FALSE(produce_backfill(rec, {true, true}, ctx).computed(1));
  rec.status = ImageStatus::ok;
  fs::remove(files[0]);  // changed or gone since it was indexed
  const ImageRows gone = produce_backfill(rec, {true, true}, ctx);
  EXPECT_FALSE(gone.computed(0));
  EXPECT_FALSE(gone.computed(1));
}
