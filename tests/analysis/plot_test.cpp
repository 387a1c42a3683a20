#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "analysis/synthetic_data.h"
#include "irbis/cluster.h"
#include "irbis/errors.h"
#include "test_util.h"

using namespace irbis;

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
size_t count(const std::string& s, const std::string& what) {
  size_t c = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++c;
  return c;
}
// Minimal well-formedness: every element is closed, nesting balanced, single root <svg>.
bool well_formed(const std::string& s) {
  std::vector<std::string> stack;
  std::regex tag(R"(<(/?)([a-zA-Z?][a-zA-Z0-9:_-]*)[^<>]*?(/?)>)");
  int roots = 0;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), tag); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    const std::string name = m[2];
    if (name == "?xml") continue;
    if (m[1] == "/") {
      if (stack.empty() || stack.back() != name) return false;
      stack.pop_back();
    } else if (m[3] != "/") {
      if (stack.empty()) ++roots;
      stack.push_back(name);
    } else if (stack.empty()) {
      return false;
    }
  }
  return stack.empty() && roots == 1;
}
}  // namespace

TEST(Plot, ScatterSvgHasOneCirclePerPointAndALegend) {
  test::TempDir dir("plot");
  const int64_t n = 300;
  std::vector<int> lab;
  const auto x = analysis::make_blobs(n, 2, 4, 1.0, 3, &lab, 8.0);
  plot_map(dir / "map.svg", x, lab, 4, "", "t-SNE");
  const std::string s = slurp(dir / "map.svg");
  EXPECT_TRUE(well_formed(s));
  EXPECT_EQ(count(s, "<circle"), static_cast<size_t>(n));
  EXPECT_NE(s.find("cluster (items)"), std::string::npos);
  for (int c = 0; c < 4; ++c) EXPECT_NE(s.find(">" + std::to_string(c) + " (75)<"), std::string::npos);
  EXPECT_NE(s.find(">t-SNE 1<"), std::string::npos);
  EXPECT_NE(s.find(">t-SNE 2<"), std::string::npos);
}

TEST(Plot, CurvesSvgAndPng) {
  test::TempDir dir("plot");
  std::vector<KScore> t;
  for (int k = 2; k <= 12; ++k) t.push_back({k, k == 5 ? 0.8 : 0.3 - 0.01 * k, 1000.0 / k});
  plot_k_curves(dir / "k.svg", t, 5, 4);
  const std::string s = slurp(dir / "k.svg");
  EXPECT_TRUE(well_formed(s));
  EXPECT_NE(s.find("chosen k = 5"), std::string::npos);
  EXPECT_NE(s.find("elbow k = 4"), std::string::npos);
  EXPECT_NE(s.find(">silhouette<"), std::string::npos);
  EXPECT_NE(s.find(">inertia<"), std::string::npos);
  plot_k_curves(dir / "k.png", t, 5, 4);
  const cv::Mat png = cv::imread((dir / "k.png").string());
  ASSERT_FALSE(png.empty());
  EXPECT_EQ(png.cols, 900);
}

TEST(Plot, ScatterPngAndDegenerateMaps) {
  test::TempDir dir("plot");
  const std::vector<float> xy(2 * 10, 0.0f);  // all points at one spot
  const std::vector<int> lab(10, 0);
  plot_map(dir / "one.png", xy, lab, 1);
  EXPECT_FALSE(cv::imread((dir / "one.png").string()).empty());
  plot_map(dir / "one.svg", xy, lab, 1, "x < y & \"quoted\"");
  const std::string s = slurp(dir / "one.svg");
  EXPECT_TRUE(well_formed(s));
  EXPECT_NE(s.find("x &lt; y &amp; &quot;quoted&quot;"), std::string::npos);
  EXPECT_THROW(plot_map(dir / "nodir" / "x.svg", xy, lab, 1), IoError);
  EXPECT_THROW(plot_map(dir / "bad.svg", xy, std::vector<int>(3, 0), 1), UsageError);
}
