#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "analysis/synthetic_data.h"
#include "irbis/cluster.h"
#include "irbis/errors.h"

using namespace irbis;

namespace {
std::vector<std::string> names_for(int64_t n) {
  std::vector<std::string> v;
  for (int64_t i = 0; i < n; ++i) v.push_back("img/" + std::to_string(i) + ".jpg");
  return v;
}
}  // namespace

TEST(AutoK, FindsThreePlantedBlobs) {
  const int64_t n = 1200;
  const int d = 8;
  std::vector<int> truth;
  const auto x = analysis::make_blobs(n, d, 3, 1.0, 101, &truth, 8.0);
  KMeansParams p;
  p.restarts = 3;
  const AutoKResult a = choose_k(MatrixView(x.data(), n, d), 2, 12, p);
  EXPECT_EQ(a.best_k, 3);
  EXPECT_TRUE(a.clear_structure);
  ASSERT_EQ(a.table.size(), 11u);
  EXPECT_EQ(a.table.front().k, 2);
  for (size_t i = 1; i < a.table.size(); ++i) EXPECT_LE(a.table[i].inertia, a.table[i - 1].inertia * 1.001);
}

TEST(AutoK, FindsSevenPlantedBlobs) {
  const int64_t n = 1400;
  const int d = 8;
  std::vector<int> truth;
  const auto x = analysis::make_blobs(n, d, 7, 1.0, 102, &truth, 8.0);
  ClusterParams p;
  p.auto_k = true;
  p.k_min = 2;
  p.k_max = 15;
  p.restarts = 3;
  p.map = "none";
  const ClusterReport r = analyze_clusters(MatrixView(x.data(), n, d), p, truth);
  EXPECT_EQ(r.k, 7);
  EXPECT_TRUE(r.clear_structure);
  ASSERT_TRUE(r.scores.has_value());
  EXPECT_NEAR(r.scores->ari, 1.0, 1e-9);
  EXPECT_NEAR(r.scores->nmi, 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(r.scores->purity, 1.0);
}

TEST(AutoK, HonestAboutNoStructure) {
  KMeansParams p;
  p.restarts = 3;
  struct Case { const char* name; std::vector<float> x; int d; };
  const int64_t n = 1500;
  const std::vector<Case> cases = {
      {"uniform 2-D", analysis::make_uniform(n, 2, 201), 2},
      {"uniform 32-D", analysis::make_uniform(n, 32, 202), 32},
      {"single Gaussian 2-D", analysis::make_gaussian(n, 2, 203), 2},
      {"single Gaussian 64-D", analysis::make_gaussian(n, 64, 204), 64},
      {"Gaussian, decaying spectrum 64-D", analysis::make_gaussian(n, 64, 205, 0.1), 64},
  };
  for (const auto& c : cases) {
    const AutoKResult a = choose_k(MatrixView(c.x.data(), n, c.d), 2, 10, p);
    EXPECT_FALSE(a.clear_structure) << c.name << ": best silhouette " << a.best_silhouette << " null "
                                    << a.null_silhouette;
  }
}

TEST(AutoK, BadRangesAndTinyInputs) {
  const auto x = analysis::make_uniform(20, 2, 1);
  const MatrixView v(x.data(), 20, 2);
  KMeansParams p;
  EXPECT_THROW(choose_k(v, 5, 5, p), UsageError);  // one value
  EXPECT_THROW(choose_k(v, 6, 5, p), UsageError);
  EXPECT_THROW(choose_k(v, 1, 5, p), UsageError);
  EXPECT_THROW(choose_k(MatrixView(x.data(), 2, 2), 2, 5, p), UsageError);
  // Range clipped to n - 1.
  const AutoKResult a = choose_k(MatrixView(x.data(), 5, 2), 2, 30, p);
  EXPECT_EQ(a.table.back().k, 4);

  ClusterParams cp;
  cp.k = 25;
  EXPECT_THROW(analyze_clusters(v, cp), UsageError);  // k > n
  cp.k = 0;
  EXPECT_THROW(analyze_clusters(v, cp), UsageError);  // neither k nor auto
  cp.k = 2;
  cp.map = "umap";
  EXPECT_THROW(analyze_clusters(v, cp), UsageError);
  cp.map = "tsne";
  EXPECT_THROW(analyze_clusters(MatrixView(x.data(), 0, 2), cp), UsageError);
  cp.auto_k = true;
  cp.k_min = 4;
  cp.k_max = 4;
  EXPECT_THROW(analyze_clusters(v, cp), UsageError);
  // A single item: k = 1 and auto both work, no structure claimed.
  cp.k_min = 2;
  cp.k_max = 30;
  const ClusterReport one = analyze_clusters(MatrixView(x.data(), 1, 2), cp);
  EXPECT_EQ(one.k, 1);
  EXPECT_FALSE(one.clear_structure);
  EXPECT_EQ(one.map, (std::vector<float>{0, 0}));
}

TEST(AutoK, IdenticalRowsGiveFiniteReport) {
  const std::vector<float> x(60 * 4, 1.0f);
  ClusterParams p;
  p.auto_k = true;
  p.k_max = 6;
  const ClusterReport r = analyze_clusters(MatrixView(x.data(), 60, 4), p);
  EXPECT_FALSE(r.clear_structure);
  for (const auto& s : r.table) {
    EXPECT_TRUE(std::isfinite(s.silhouette));
    EXPECT_TRUE(std::isfinite(s.inertia));
  }
  for (float v : r.map) EXPECT_TRUE(std::isfinite(v));
  const nlohmann::json j = cluster_report_json(r, names_for(60));
  EXPECT_NO_THROW((void)j.dump());
}

TEST(Elbow, KneeOfACurve) {
  const std::vector<int> ks = {2, 3, 4, 5, 6, 7, 8};
  const std::vector<double> v = {100, 60, 20, 18, 16, 14, 12};
  EXPECT_EQ(elbow_of(ks, v), 4);
  EXPECT_EQ(elbow_of(std::vector<int>{2, 3}, std::vector<double>{5, 1}), 2);
}

TEST(Report, CsvJsonAndTable) {
  const int64_t n = 90;
  const int d = 4;
  std::vector<int> truth;
  const auto x = analysis::make_blobs(n, d, 3, 0.5, 7, &truth, 8.0);
  ClusterParams p;
  p.k = 3;
  p.map = "pca";
  auto names = names_for(n);
  names[0] = "odd, \"name\".jpg";
  const ClusterReport r = analyze_clusters(MatrixView(x.data(), n, d), p, truth);
  std::ostringstream csv;
  write_cluster_csv(csv, r, names);
  std::istringstream in(csv.str());
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "path,cluster,x,y,distance_to_centroid");
  std::getline(in, line);
  EXPECT_EQ(line.rfind("\"odd, \"\"name\"\".jpg\",", 0), 0u) << line;
  int rows = 1;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, n);

  const nlohmann::json j = cluster_report_json(r, names);
  EXPECT_EQ(j["k"], 3);
  EXPECT_EQ(j["clusters"].size(), 3u);
  int64_t total = 0;
  for (const auto& c : j["clusters"]) {
    total += c["size"].get<int64_t>();
    EXPECT_EQ(c["most_central"].size(), 5u);
    EXPECT_TRUE(c["medoid"].is_string());
  }
  EXPECT_EQ(total, n);
  EXPECT_EQ(j["scores"].size(), 1u);
  EXPECT_TRUE(j["clear_structure"].get<bool>());
  EXPECT_NEAR(j["label_scores"]["ari"].get<double>(), 1.0, 1e-9);
  EXPECT_NE(format_k_table(r).find("<- chosen"), std::string::npos);
  EXPECT_THROW(write_cluster_csv(csv, r, names_for(3)), UsageError);
}
