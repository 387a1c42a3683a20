// Plan: which files an index run reads, which producers it runs, where each back-fill starts.
#include <gtest/gtest.h>

#include <algorithm>

#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/pipeline.h"
#include "irbis/quality.h"
#include "irbis/scan.h"
#include "pipeline/impl/plan.h"
#include "pipeline_test_util.h"

using namespace irbis;
using namespace irbis::indexing;
namespace fs = std::filesystem;

namespace {

IndexParams params_for(const fs::path& root, bool hashes) {
  IndexParams p;
  p.roots = {root.string()};
  p.hashes = hashes;
  p.threads = 1;
  return p;
}

std::vector<std::string> labels(const FeaturePlan& plan) {
  std::vector<std::string> out;
  for (const auto& p : plan.producers) out.push_back(p->label());
  return out;
}

}  // namespace

TEST(PlanFiles, NewChangedRemovedAndUnchanged) {
  test::TempDir tmp("plan_files");
  const fs::path root = tmp / "pics";
  const auto photos = test::write_photos(root, 3);
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  index_collection(*coll, params_for(root, true));
  const int64_t changed_id = coll->find_live(photos[1].string())->id;
  const int64_t removed_id = coll->find_live(photos[2].string())->id;

  test::write_file(photos[1], test::encode(test::synthetic_photo(80, 80, 42), ".png"));
  fs::last_write_time(photos[1], fs::last_write_time(photos[1]) + std::chrono::seconds(10));
  fs::remove(photos[2]);
  const fs::path added = root / "new.png";
  test::write_file(added, test::encode(test::synthetic_photo(40, 40, 7), ".png"));

  const std::vector<std::string> roots{absolute_root(root.string())};
  const FilePlan plan = plan_files(*coll, roots, scan(roots));
  EXPECT_EQ(plan.unchanged, 1);
  ASSERT_EQ(plan.todo.size(), 2u);
  ASSERT_EQ(plan.replaces.size(), 2u);
  for (size_t i = 0; i < plan.todo.size(); ++i) {
    if (plan.todo[i].path == photos[1].string()) EXPECT_EQ(plan.replaces[i], changed_id);
    else if (plan.todo[i].path == added.string()) EXPECT_EQ(plan.replaces[i], -1);
    else ADD_FAILURE() << "unexpected file to index: " << plan.todo[i].path;
  }
  EXPECT_EQ(plan.removed, std::vector<int64_t>{removed_id});
  // Planning changes nothing.
  EXPECT_EQ(coll->records(ImageStatus::ok).size(), 3u);
}

TEST(PlanFiles, UnreadableDirectoryIsNotRemovedAndOtherRootsAreLeftAlone) {
  test::TempDir tmp("plan_unreadable");
  const auto inside = test::write_photos(tmp / "pics" / "locked", 1);
  const auto other = test::write_photos(tmp / "elsewhere", 1, 5);
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  index_collection(*coll, params_for(tmp / "pics", true));
  index_collection(*coll, params_for(tmp / "elsewhere", true));

  // The scan of pics found nothing, but could not read pics/locked.
  ScanResult scanned;
  scanned.problems.push_back({absolute_root((tmp / "pics" / "locked").string()), "permission denied"});
  const FilePlan plan = plan_files(*coll, {absolute_root((tmp / "pics").string())}, scanned);
  EXPECT_TRUE(plan.todo.empty());
  EXPECT_TRUE(plan.removed.empty());  // neither the unreadable one nor the one under another root

  const FilePlan gone = plan_files(*coll, {absolute_root((tmp / "pics").string())}, ScanResult{});
  EXPECT_EQ(gone.removed.size(), 1u);
}

TEST(PlanFeatures, AskedForAndWhatTheCollectionHas) {
  test::TempDir tmp("plan_features");
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  IndexParams none = params_for(tmp / "pics", false);
  EXPECT_TRUE(plan_features(*coll, none).producers.empty());

  IndexParams hashes = params_for(tmp / "pics", true);
  FeaturePlan asked = plan_features(*coll, hashes);
  // Every image feature group comes with the hashes: hashes + colour, and the quality measures.
  const std::vector<std::string> image_groups{"hashes", "quality"};
  EXPECT_EQ(labels(asked), image_groups);
  EXPECT_TRUE(asked.also_computed.empty());
  declare_features(*coll, asked.producers);
  EXPECT_TRUE(coll->has_feature(kHashesFeature));
  EXPECT_TRUE(coll->has_feature(kColorFeature));
  EXPECT_TRUE(coll->has_feature(kQualityFeature));

  // Not asked for, but the collection has it: computed too, and reported.
  const FeaturePlan kept = plan_features(*coll, none);
  EXPECT_EQ(labels(kept), image_groups);
  EXPECT_EQ(kept.also_computed, image_groups);
}

TEST(PlanFeatures, MissingModelOfTheCollectionIsRefusedBeforeAnyWrite) {
  test::TempDir tmp("plan_missing_model");
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  coll->ensure_feature({embedding_feature("no_such_model"), "f32", 4});
  coll->ensure_feature({blocks_feature("no_such_model"), "f16", 8});
  EXPECT_EQ(collection_models(*coll), std::vector<std::string>{"no_such_model"});
  try {
    plan_features(*coll, params_for(tmp / "pics", true));
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_model"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(coll->has_feature(kHashesFeature));
}

TEST(PlanFeatures, FeatureBehindTheCatalogIsBackFilledFromItsFirstMissingRow) {
  test::TempDir tmp("plan_backfill");
  const fs::path root = tmp / "pics";
  test::write_photos(root, 3);
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  index_collection(*coll, params_for(root, false));  // no features at all
  ASSERT_EQ(coll->committed_rows(), 3);

  FeaturePlan plan = plan_features(*coll, params_for(root, true));
  declare_features(*coll, plan.producers);
  EXPECT_EQ(backfill_starts(*coll, plan.producers), (std::vector<int64_t>{0, 0}));  // hashes, quality

  // A back-fill interrupted after two rows of one file of the group resumes at the group's
  // least-filled file.
  const std::vector<uint64_t> hash_rows(6, 1);
  coll->stage_feature_rows(kHashesFeature, 0, {reinterpret_cast<const uint8_t*>(hash_rows.data()), 48});
  coll->commit();
  EXPECT_EQ(coll->feature_rows(kHashesFeature), 2);
  EXPECT_EQ(backfill_starts(*coll, plan.producers), (std::vector<int64_t>{0, 0}));

  // A registered feature the collection lacks rows for starts at 0, the complete group at the end.
  plan.producers.push_back(test::mean_colour_producer());
  declare_features(*coll, plan.producers);
  index_collection(*coll, params_for(root, true));  // completes hashes and colour
  EXPECT_EQ(backfill_starts(*coll, plan.producers), (std::vector<int64_t>{3, 3, 0}));
}

TEST(PlanFeatures, DeclareRefusesAnotherShapeBeforeDeclaringAnything) {
  test::TempDir tmp("plan_shape");
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  coll->ensure_feature({kHashesFeature, "u64", 2});
  const FeaturePlan plan = plan_features(*coll, params_for(tmp / "pics", true));
  EXPECT_THROW(declare_features(*coll, plan.producers), StoreError);
  EXPECT_FALSE(coll->has_feature(kColorFeature));
}

// A feature whose stored rows are of another definition version (FeatureDef::version) is emptied
// and back-filled by the next run, and the collection records the version; one of the same
// version is left alone.
TEST(PlanFeatures, RowsOfAnotherDefinitionVersionAreEmptiedAndBackFilled) {
  test::TempDir tmp("plan_version");
  const fs::path root = tmp / "pics";
  test::write_photos(root, 3);
  auto coll = Collection::open_or_create(tmp / "c.irbis");
  index_collection(*coll, params_for(root, true));
  ASSERT_EQ(coll->feature_rows(kSharpnessFeature), 3);
  EXPECT_EQ(coll->meta(feature_version_key(kSharpnessFeature)), "2");
  const FeatureView before = coll->view(kSharpnessFeature);
  const std::vector<float> first_row(before.row_f32(0), before.row_f32(0) + kSharpnessDim);

  // As a collection indexed by an irbis whose sharpness was version 1 would be: its rows are
  // other values and no version is recorded.
  const std::vector<float> old_rows(3 * kSharpnessDim, 7.f);
  coll->clear_feature(kSharpnessFeature, {{feature_version_key(kSharpnessFeature), "1"}});
  coll->stage_feature_rows(kSharpnessFeature, 0,
                           {reinterpret_cast<const uint8_t*>(old_rows.data()), old_rows.size() * sizeof(float)});
  coll->commit();
  ASSERT_EQ(coll->view(kSharpnessFeature).row_f32(2)[0], 7.f);
  const FeatureView reader = coll->view(kSharpnessFeature);  // mapped before the run empties it

  const IndexReport rep = index_collection(*coll, params_for(root, true));
  EXPECT_EQ(rep.redefined, std::vector<std::string>{kSharpnessFeature});
  EXPECT_EQ(rep.backfilled, 3);
  EXPECT_EQ(coll->meta(feature_version_key(kSharpnessFeature)), "2");
  ASSERT_EQ(coll->feature_rows(kSharpnessFeature), 3);
  const FeatureView after = coll->view(kSharpnessFeature);
  for (int k = 0; k < kSharpnessDim; ++k) EXPECT_EQ(after.row_f32(0)[k], first_row[size_t(k)]);
  EXPECT_NE(after.row_f32(2)[0], 7.f);
  EXPECT_EQ(reader.row_f32(2)[0], 7.f);  // the old mapping still reads its rows

  // Same version: nothing is redone.
  const IndexReport again = index_collection(*coll, params_for(root, true));
  EXPECT_TRUE(again.redefined.empty());
  EXPECT_EQ(again.backfilled, 0);
}
