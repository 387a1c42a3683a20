// The one serializer per answer (results.h): the fields and columns every front end prints.
#include <gtest/gtest.h>

#include "irbis/results.h"

namespace irbis {
namespace {

ImageRecord rec(int64_t id, const std::string& path, int w, int h, int64_t size) {
  ImageRecord r;
  r.id = id;
  r.path = path;
  r.width = w;
  r.height = h;
  r.size = size;
  r.format = ImageFormat::png;
  return r;
}

// Two groups: 0 keeps 1 (exact) and 2 (near: distance 30, mirror distance 3); 3 keeps 4
// (verified: distance 20, similarity 0.95, 57 inliers).
CollectionDupes two_groups() {
  CollectionDupes d;
  d.records = {rec(10, "/p/a.png", 4, 3, 100), rec(11, "/p/a copy.png", 4, 3, 100), rec(12, "/p/a,small.png", 2, 2, 50),
               rec(13, "/q/b.png", 8, 8, 900), rec(14, "/q/b\xE9.png", 8, 8, 800)};
  DupeGroup g1;
  g1.keep = 0;
  DupeMember mirrored{2, DupeKind::near, 30};
  mirrored.variant_distance = 3;
  mirrored.variant = 1;  // mirror
  g1.duplicates = {{1, DupeKind::exact, 0}, mirrored};
  DupeGroup g2;
  g2.keep = 3;
  DupeMember m{4, DupeKind::verified, 20};
  m.similarity = 0.95;
  m.inliers = 57;
  g2.duplicates = {m};
  d.groups = {g1, g2};
  d.variants = 1;
  d.pairs_verified = 4;
  d.verify_seconds = 0.5;
  d.verify_max_distance = 12;
  return d;
}

TEST(Results, ImageJsonNamesEveryField) {
  ImageRecord r = rec(7, "/x/y/z.png", 640, 480, 1234);
  const auto j = image_json(r);
  EXPECT_EQ(j["id"], 7);
  EXPECT_EQ(j["path"], "/x/y/z.png");
  EXPECT_EQ(j["name"], "z.png");
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["format"], "png");
  EXPECT_EQ(j["width"], 640);
  EXPECT_EQ(j["height"], 480);
  EXPECT_EQ(j["size"], 1234);
  EXPECT_FALSE(j.contains("reason"));
  r.status = ImageStatus::failed;
  r.reason = "truncated";
  EXPECT_EQ(image_json(r)["reason"], "truncated");
  EXPECT_EQ(image_json(rec(1, "/a/b\xFF.png", 1, 1, 1))["name"], "b\xEF\xBF\xBD.png");  // valid UTF-8 always
}

TEST(Results, DupesJsonGroupsAndPages) {
  const CollectionDupes d = two_groups();
  const auto j = dupes_json(d, 8, std::nullopt);
  EXPECT_EQ(j["threshold"], 8);
  EXPECT_TRUE(j["cnn_threshold"].is_null());
  EXPECT_EQ(j["images"], 5);
  EXPECT_EQ(j["total_groups"], 2);
  EXPECT_EQ(j["duplicates"], 3);
  ASSERT_EQ(j["groups"].size(), 2u);
  EXPECT_EQ(j["groups"][0]["group"], 1);
  EXPECT_EQ(j["groups"][0]["keep"]["id"], 10);
  EXPECT_EQ(j["groups"][0]["duplicates"][1]["kind"], "near");
  EXPECT_EQ(j["groups"][0]["duplicates"][1]["distance"], 30);
  EXPECT_EQ(j["groups"][0]["duplicates"][1]["variant_distance"], 3);
  EXPECT_EQ(j["groups"][0]["duplicates"][1]["variant"], "mirror");
  EXPECT_TRUE(j["groups"][0]["duplicates"][1]["inliers"].is_null());
  EXPECT_TRUE(j["groups"][0]["duplicates"][0]["variant"].is_null());  // exact: no variant compared
  EXPECT_EQ(j["groups"][1]["duplicates"][0]["kind"], "verified");
  EXPECT_EQ(j["groups"][1]["duplicates"][0]["inliers"], 57);
  EXPECT_FALSE(j["groups"][0]["duplicates"][0].contains("similarity"));  // hashes only: no such field
  EXPECT_EQ(j["variants"], nlohmann::json::array({"mirror"}));
  EXPECT_EQ(j["pairs_verified"], 4);
  EXPECT_DOUBLE_EQ(j["verify_seconds"].get<double>(), 0.5);
  EXPECT_EQ(j["verify_max_distance"], 12);
  EXPECT_TRUE(j["verify_min_similarity"].is_null());

  const auto cnn = dupes_json(d, 8, 0.92, Page{1, 5});
  EXPECT_DOUBLE_EQ(cnn["cnn_threshold"].get<double>(), 0.92);
  EXPECT_EQ(cnn["total_groups"], 2);  // totals stay whole under paging
  ASSERT_EQ(cnn["groups"].size(), 1u);
  EXPECT_EQ(cnn["groups"][0]["group"], 2);
  EXPECT_DOUBLE_EQ(cnn["groups"][0]["duplicates"][0]["similarity"].get<double>(), 0.95);
  EXPECT_TRUE(dupes_json(d, 8, 0.92)["groups"][0]["duplicates"][0]["similarity"].is_null());  // no similarity known
  EXPECT_EQ(dupes_json(d, 8, std::nullopt, Page{7, 5})["groups"].size(), 0u);
}

TEST(Results, DupesTableColumns) {
  const CollectionDupes d = two_groups();
  const Table t = dupes_table(d, false);
  EXPECT_EQ(t.header, (std::vector<std::string>{"group", "path", "role", "distance", "kind", "width", "height", "size",
                                                "variant_distance", "variant", "dhash_distance", "inliers", "id"}));
  ASSERT_EQ(t.rows.size(), 5u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"1", "/p/a.png", "keep", "0", "", "4", "3", "100", "", "", "", "", "10"}));
  EXPECT_EQ(t.rows[2], (std::vector<std::string>{"1", "/p/a,small.png", "duplicate", "30", "near", "2", "2", "50", "3",
                                                 "mirror", "", "", "12"}));
  const Table c = dupes_table(d, true);
  EXPECT_EQ(c.header[8], "similarity");
  EXPECT_EQ(c.rows[0][8], "1.0000");   // the kept image
  EXPECT_EQ(c.rows[1][8], "");         // no similarity known
  EXPECT_EQ(c.rows[4][8], "0.9500");   // the verified CNN pair
  EXPECT_EQ(c.rows[4][12], "57");      // its inliers
  EXPECT_EQ(c.rows[4].back(), "14");
}

TEST(Results, DupeEvidenceTextNamesWhatApplied) {
  const CollectionDupes d = two_groups();
  EXPECT_EQ(dupe_evidence_text(d.groups[0].duplicates[0]), "exact, distance 0");
  EXPECT_EQ(dupe_evidence_text(d.groups[0].duplicates[1]), "near, distance 30, mirror distance 3");
  EXPECT_EQ(dupe_evidence_text(d.groups[1].duplicates[0]), "verified, distance 20, similarity 0.950, 57 inliers");
}

TEST(Results, CollectionSummaryJson) {
  CollectionSummary s;
  s.ok = 3;
  s.failed = 1;
  s.bytes = 3000;
  s.pixels = 2'500'000;
  s.formats = {{"png", 2}, {"jpeg", 1}};
  s.features = {{FeatureSpec{"hashes", "u64", 3}, 4}};
  ImageRecord f = rec(5, "/bad.jpg", 0, 0, 10);
  f.status = ImageStatus::failed;
  f.reason = "not an image";
  s.failures = {f};
  s.scan_problems = {{"/locked", "permission denied"}};
  const auto j = collection_summary_json(s);
  EXPECT_EQ(j["images"], 3);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_DOUBLE_EQ(j["megapixels"].get<double>(), 2.5);
  EXPECT_EQ(j["formats"]["png"], 2);
  EXPECT_EQ(j["features"][0], (nlohmann::json{{"name", "hashes"}, {"dtype", "u64"}, {"dim", 3}, {"rows", 4}}));
  EXPECT_EQ(j["failures"][0], (nlohmann::json{{"id", 5}, {"path", "/bad.jpg"}, {"reason", "not an image"}}));
  EXPECT_EQ(j["scan_problems"][0], (nlohmann::json{{"path", "/locked"}, {"reason", "permission denied"}}));
}

TEST(Results, OutlierSideUsesTheFences) {
  const BoxSummary s = box_summary({0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.4, 0.9});
  UniqueRow u;
  u.neighbor = 1;
  u.distance = s.upper_fence() + 1e-9;
  EXPECT_STREQ(outlier_side(s, u), "high");
  u.distance = s.upper_fence();
  EXPECT_STREQ(outlier_side(s, u), "");
  u.distance = s.lower_fence() - 1e-9;
  EXPECT_STREQ(outlier_side(s, u), "low");
  u.neighbor = -1;  // no neighbour: never an outlier
  u.distance = 100;
  EXPECT_STREQ(outlier_side(s, u), "");
  const auto j = box_summary_json(s);
  EXPECT_DOUBLE_EQ(j["upper_fence"].get<double>(), s.q3 + 1.5 * (s.q3 - s.q1));
  EXPECT_DOUBLE_EQ(j["lower_fence"].get<double>(), s.q1 - 1.5 * (s.q3 - s.q1));
}

// Classes a, b: 3 true a (2 right, 1 called b), 1 true b (called b).
Evaluation two_class_evaluation() { return evaluate({0, 0, 0, 1}, {0, 0, 1, 1}, 2); }

TEST(Results, ClassScoresTableFromTheEvaluation) {
  const Evaluation e = two_class_evaluation();
  const Table t = class_scores_table(e, {"a", "b"});
  EXPECT_EQ(t.header, (std::vector<std::string>{"class", "precision", "recall", "f1", "support"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"a", "1.0000", "0.6667", "0.8000", "3"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"b", "0.5000", "1.0000", "0.6667", "1"}));
  EXPECT_EQ(class_scores_table(e, {"a", "b"}, 3).rows[0][2], "0.667");
}

TEST(Results, ConfusionTableRowsAreTrueClassesColumnsPredicted) {
  const Table t = confusion_table(two_class_evaluation(), {"a", "b"});
  EXPECT_EQ(t.header, (std::vector<std::string>{"true_class", "predicted_a", "predicted_b"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"a", "2", "1"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"b", "0", "1"}));
  // Classes that do not match the matrix give the header only, never a read past it.
  EXPECT_TRUE(confusion_table(two_class_evaluation(), {"a", "b", "c"}).rows.empty());
}

TEST(Results, PredictionsJsonAndTableAgree) {
  std::vector<PredictionRow> rows(2);
  rows[0] = {"/p/cat,1.jpg", "b", "", {0.25f, 0.75f}};
  rows[1] = {"/p/broken.jpg", "", "/p/broken.jpg: truncated JPEG", {}};
  const auto j = predictions_json({"a", "b"}, rows);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["path"], "/p/cat,1.jpg");
  EXPECT_EQ(j[0]["label"], "b");
  EXPECT_FLOAT_EQ(j[0]["probability"].get<float>(), 0.75f);
  EXPECT_FLOAT_EQ(j[0]["probabilities"]["a"].get<float>(), 0.25f);
  EXPECT_FALSE(j[0].contains("error"));
  EXPECT_EQ(j[1]["error"], "/p/broken.jpg: truncated JPEG");
  EXPECT_FALSE(j[1].contains("label"));
  const Table t = predictions_table({"a", "b"}, rows);
  EXPECT_EQ(t.header, (std::vector<std::string>{"path", "label", "probability", "p_a", "p_b"}));
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"/p/cat,1.jpg", "b", "0.7500", "0.2500", "0.7500"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"/p/broken.jpg", "", "error: /p/broken.jpg: truncated JPEG", "", ""}));
}

TEST(Results, SuspectsJsonAndTableAgree) {
  const std::vector<SuspectRow> rows{{"/l/a/x.jpg", "a", "b", 0.91, 0.04}};
  const auto j = suspects_json(rows);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["path"], "/l/a/x.jpg");
  EXPECT_EQ(j[0]["predicted"], "b");
  EXPECT_DOUBLE_EQ(j[0]["p_label"].get<double>(), 0.04);
  const Table t = suspects_table(rows);
  EXPECT_EQ(t.header, (std::vector<std::string>{"path", "label", "predicted", "confidence", "p_label"}));
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"/l/a/x.jpg", "a", "b", "0.910", "0.040"}));
}

TEST(Results, RetrievalJsonNullsWhatIsUndefined) {
  RetrievalReport r;
  r.labelled = 4;
  r.classes = 2;
  r.topk = {{1, 0.5}, {4, 1.0}};
  r.knn1 = 0.75;
  r.skipped_classes = {"solo"};
  RetrievalParams p;
  p.seed = 9;
  auto j = retrieval_json(r, "/c", "m", p, 3);  // no queries, no mAP queries
  EXPECT_TRUE(j["top_k_accuracy"]["1"].is_null());
  EXPECT_TRUE(j["map"].is_null());
  EXPECT_EQ(j["seed"], 9);
  EXPECT_EQ(j["unknown_paths"], 3);
  EXPECT_EQ(j["skipped_classes"][0], "solo");
  Table t = retrieval_table(r);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"top-1 accuracy", "n/a"}));
  EXPECT_EQ(t.rows.back(), (std::vector<std::string>{"mAP", "n/a"}));
  r.queries = 2;
  r.map_queries = 4;
  r.map = 0.8;
  j = retrieval_json(r, "/c", "m", p, 0);
  EXPECT_DOUBLE_EQ(j["top_k_accuracy"]["4"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["map"].get<double>(), 0.8);
  t = retrieval_table(r);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"top-1 accuracy", "0.5000"}));
  EXPECT_EQ(t.rows[2], (std::vector<std::string>{"leave-one-out 1-NN accuracy", "0.7500"}));
}

}  // namespace
}  // namespace irbis
