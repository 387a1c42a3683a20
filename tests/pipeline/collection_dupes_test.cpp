// find_collection_dupes on indexed collections: the mirror pHash that `index` stores (the feature
// registry's phash_variants), its back-fill into a collection indexed before it, and the evidence.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "irbis/collection_analysis.h"
#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/pipeline.h"
#include "pipeline_test_util.h"

using namespace irbis;
namespace fs = std::filesystem;

namespace {

IndexParams params_for(const fs::path& root, bool hashes) {
  IndexParams p;
  p.roots = {root.string()};
  p.hashes = hashes;
  p.threads = 1;
  return p;
}

// An original, its mirror and an unrelated photo. Their pHashes are far apart (a mirror moves
// every odd horizontal frequency), the mirror pHash of one equals the other's pHash.
void write_mirror_pair(const fs::path& dir) {
  fs::create_directories(dir);
  const cv::Mat photo = test::synthetic_photo(160, 120, 3);
  cv::Mat mirrored;
  cv::flip(photo, mirrored, 1);
  test::write_file(dir / "a.png", test::encode(photo, ".png"));
  test::write_file(dir / "a_mirrored.png", test::encode(mirrored, ".png"));
  test::write_file(dir / "other.png", test::encode(test::synthetic_photo(160, 120, 40), ".png"));
}

// The duplicate tying a.png and a_mirrored.png together (either may be the kept one: same pixels,
// the larger file is kept), or null.
const DupeMember* mirror_member(const CollectionDupes& d) {
  auto name = [&](size_t i) { return fs::path(d.records[i].path).filename().string(); };
  for (const auto& g : d.groups)
    for (const auto& m : g.duplicates) {
      const std::string a = name(g.keep), b = name(m.index);
      if ((a == "a.png" && b == "a_mirrored.png") || (a == "a_mirrored.png" && b == "a.png")) return &m;
    }
  return nullptr;
}

}  // namespace

TEST(CollectionDupes, IndexStoresThePhashVariantsOfTheSameDecode) {
  test::TempDir tmp("cdupes_variants");
  write_mirror_pair(tmp / "pics");
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  index_collection(*coll, params_for(tmp / "pics", true));
  ASSERT_TRUE(coll->has_feature(kPhashVariantsFeature));
  ASSERT_EQ(coll->feature_rows(kPhashVariantsFeature), 3);
  const FeatureView hashes = coll->view(kHashesFeature), variants = coll->view(kPhashVariantsFeature);
  for (const auto& r : coll->records(ImageStatus::ok)) {
    DecodeOptions o;
    o.min_side = kHashMinSide;
    const auto want = phash_variants(decode_image(test::read_file(r.path), o).rgb);
    EXPECT_EQ(hashes.row_u64(r.id)[0], want[0]) << r.path;
    for (int v = 1; v < kHashVariants; ++v) EXPECT_EQ(variants.row_u64(r.id)[v - 1], want[size_t(v)]) << r.path << " " << v;
  }
}

TEST(CollectionDupes, MirroredCopyIsFoundByTheStoredMirrorHashWithItsEvidence) {
  test::TempDir tmp("cdupes_mirror");
  write_mirror_pair(tmp / "pics");
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  index_collection(*coll, params_for(tmp / "pics", true));

  DupesParams p;
  p.band.max_hash_distance = 0;  // no verification: the hash evidence alone
  p.agreement.max_band_phash = 0;
  p.agreement.max_band_dhash = 0;
  const CollectionDupes found = find_collection_dupes(*coll, p);
  EXPECT_EQ(found.variants, 1);
  ASSERT_EQ(found.groups.size(), 1u);
  const DupeMember* m = mirror_member(found);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->kind, DupeKind::near);
  EXPECT_GT(m->distance, p.max_distance);  // the plain pHash would not match
  EXPECT_LE(m->variant_distance, 2);
  EXPECT_EQ(HashVariant(m->variant), HashVariant::mirror);
  // The stored dHash agrees through its mirrored form (the sure rule asks for <= max_sure_dhash).
  EXPECT_GE(m->dhash_distance, 0);
  EXPECT_LE(m->dhash_distance, p.agreement.max_sure_dhash);
  EXPECT_FALSE(m->verified());
  EXPECT_EQ(found.pairs_verified, 0u);
  EXPECT_FALSE(found.verify_max_distance.has_value());

  p.variants_used = 0;  // variants off: the mirror is not found
  const CollectionDupes plain = find_collection_dupes(*coll, p);
  EXPECT_EQ(plain.variants, 0);
  EXPECT_EQ(mirror_member(plain), nullptr);
}

TEST(CollectionDupes, CollectionIndexedBeforeTheVariantsGetsThemBackFilled) {
  test::TempDir tmp("cdupes_backfill");
  write_mirror_pair(tmp / "pics");
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  index_collection(*coll, params_for(tmp / "pics", false));  // catalog only
  // What an older `index` wrote: the pHash rows, no variant rows.
  coll->ensure_feature({kHashesFeature, "u64", 3});
  std::vector<uint64_t> rows;
  for (const auto& r : coll->records(ImageStatus::ok)) {
    ASSERT_EQ(r.id, int64_t(rows.size() / 3));
    DecodeOptions o;
    o.min_side = kHashMinSide;
    const ImageHashes h = image_hashes(decode_image(test::read_file(r.path), o).rgb);
    rows.insert(rows.end(), {h.phash, h.dhash, h.ahash});
  }
  coll->stage_feature_rows(kHashesFeature, 0, {reinterpret_cast<const uint8_t*>(rows.data()), rows.size() * 8});
  coll->commit();
  ASSERT_FALSE(coll->has_feature(kPhashVariantsFeature));

  DupesParams p;
  p.band.max_hash_distance = 0;
  const CollectionDupes before = find_collection_dupes(*coll, p);  // works, without the mirror
  EXPECT_EQ(before.variants, 0);
  EXPECT_EQ(mirror_member(before), nullptr);

  // The next index run (even without --features hashes) back-fills every feature of the group.
  index_collection(*coll, params_for(tmp / "pics", false));
  ASSERT_EQ(coll->feature_rows(kPhashVariantsFeature), 3);
  const CollectionDupes after = find_collection_dupes(*coll, p);
  EXPECT_EQ(after.variants, 1);
  ASSERT_NE(mirror_member(after), nullptr);
  EXPECT_EQ(HashVariant(mirror_member(after)->variant), HashVariant::mirror);
}
