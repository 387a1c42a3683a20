#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include <fstream>

#include "irbis/classifier.h"
#include "irbis/errors.h"
#include "test_util.h"

using namespace irbis;

namespace {
ClassifierHead small_head(const std::string& model, int dim) {
  ClassifierHead h;
  h.embedding_model = model;
  h.embedding_sha256 = "abc";
  h.input = ClassifierInput::blocks;
  h.model.mean = cv::Mat(1, dim, CV_32F, cv::Scalar(0.5));
  h.model.scale = cv::Mat(1, dim, CV_32F, cv::Scalar(2));
  h.model.W = cv::Mat(3, dim, CV_32F);
  cv::randu(h.model.W, -1, 1);
  h.model.b = cv::Mat(1, 3, CV_32F, cv::Scalar(0.1));
  return h;
}

Classifier small() {
  Classifier c;
  c.heads = {small_head("m", 4)};
  c.classes = {"a", "b", "c"};
  c.report = {{"l2", 0.01}};
  return c;
}
}  // namespace

TEST(ClassifierFile, RoundTrip) {
  test::TempDir tmp("clf");
  const Classifier c = small();
  c.save(tmp / "x.clf");
  const Classifier d = Classifier::load(tmp / "x.clf");
  EXPECT_EQ(d.classes, c.classes);
  ASSERT_EQ(d.heads.size(), 1u);
  EXPECT_EQ(d.heads[0].embedding_model, "m");
  EXPECT_EQ(d.heads[0].input, ClassifierInput::blocks);
  EXPECT_EQ(cv::norm(d.heads[0].model.W, c.heads[0].model.W, cv::NORM_INF), 0.0);
  EXPECT_EQ(d.report["l2"], 0.01);
  const cv::Mat x(2, 4, CV_32F, cv::Scalar(0.3));
  EXPECT_EQ(cv::norm(d.predict_proba(std::vector<cv::Mat>{x}), c.predict_proba(std::vector<cv::Mat>{x}), cv::NORM_INF), 0.0);
}

TEST(ClassifierFile, TwoHeadsRoundTripAndAverage) {
  test::TempDir tmp("clf");
  Classifier c = small();
  c.heads.push_back(small_head("n", 6));
  c.heads[1].input = ClassifierInput::full;
  c.heads[1].model.temperature = 0.5;
  c.save(tmp / "two.clf");
  const Classifier d = Classifier::load(tmp / "two.clf");
  ASSERT_EQ(d.heads.size(), 2u);
  EXPECT_EQ(d.embedding_models_text(), "m,n");
  EXPECT_EQ(d.inputs_text(), "blocks,full");
  EXPECT_EQ(d.heads[1].model.temperature, 0.5);
  EXPECT_EQ(cv::norm(d.heads[1].model.W, c.heads[1].model.W, cv::NORM_INF), 0.0);
  cv::Mat x(3, 4, CV_32F), z(3, 6, CV_32F);
  cv::randu(x, -1, 1);
  cv::randu(z, -1, 1);
  // The classifier's probabilities are the mean of its heads' calibrated probabilities.
  const cv::Mat p = d.predict_proba(std::vector<cv::Mat>{x, z});
  const cv::Mat want = (d.heads[0].model.predict_proba(x) + d.heads[1].model.predict_proba(z)) / 2;
  EXPECT_LT(cv::norm(p, want, cv::NORM_INF), 1e-6);
  EXPECT_GT(cv::norm(p, d.heads[0].model.predict_proba(x), cv::NORM_INF), 1e-3);
  EXPECT_THROW(d.predict_proba(std::vector<cv::Mat>{x}), UsageError);
}

TEST(ClassifierFile, CorruptTruncatedForeignAndOtherVersion) {
  test::TempDir tmp("clf");
  small().save(tmp / "x.clf");
  auto bytes = test::read_file(tmp / "x.clf");
  auto msg = [&](const std::vector<uint8_t>& b) {
    test::write_file(tmp / "y.clf", b);
    try {
      Classifier::load(tmp / "y.clf");
    } catch (const ModelError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  EXPECT_NE(msg(flipped).find("corrupted"), std::string::npos);
  EXPECT_NE(msg({bytes.begin(), bytes.begin() + long(bytes.size() - 20)}).find("corrupted"), std::string::npos);
  EXPECT_NE(msg({'h', 'e', 'l', 'l', 'o'}).find("not an irbis classifier"), std::string::npos);
  auto other = bytes;
  other[8] = 99;
  EXPECT_NE(msg(other).find("version 99"), std::string::npos);
  EXPECT_THROW(Classifier::load(tmp / "missing.clf"), IoError);
}

TEST(ClassifierFile, ChecksEmbedder) {
  Classifier c = small();
  ModelCard card;
  card.name = "other";
  EXPECT_THROW(c.heads[0].check_embedder(card), ModelError);
  EXPECT_THROW(c.class_index("zebra"), UsageError);
  EXPECT_EQ(c.class_index("b"), 1);
}

TEST(ClassifierFile, ConfusionPlots) {
  test::TempDir tmp("clf");
  cv::Mat cm = (cv::Mat_<int>(2, 2) << 5, 1, 0, 6);
  write_confusion_plot(tmp / "c.png", cm, {"cat", "dog"}, "test");
  write_confusion_plot(tmp / "c.svg", cm, {"cat", "d<g"}, "test");
  EXPECT_GT(std::filesystem::file_size(tmp / "c.png"), 500u);
  std::ifstream in(tmp / "c.svg");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(s.find("d&lt;g"), std::string::npos);
  EXPECT_EQ(s, confusion_svg(cm, {"cat", "d<g"}, "test"));  // the file is the inline picture
  EXPECT_NE(s.find("data-row=\"1\" data-col=\"0\" data-count=\"0\""), std::string::npos);
  EXPECT_NE(s.find("data-row=\"1\" data-col=\"1\" data-count=\"6\""), std::string::npos);
  EXPECT_THROW(confusion_svg(cm, {"a", "b", "c"}, ""), UsageError);
  EXPECT_THROW(write_confusion_plot(tmp / "c.gif", cm, {"a", "b"}, ""), UsageError);
}

// Every count in the SVG confusion matrix is readable on its cell: its colour is set as an
// inline style (a page stylesheet cannot override it) and contrasts >= 4.5 (WCAG AA) with the
// cell's fill, from empty to full cells; class names carry their full text as a tooltip.
TEST(ConfusionPlot, CountsContrastWithTheirCells) {
  cv::Mat cm = (cv::Mat_<int>(4, 4) << 10, 0, 0, 0,  //
                7, 3, 0, 0,                          //
                4, 3, 3, 0,                          //
                1, 2, 3, 4);
  const std::vector<std::string> names{"naturalforms", "household", "a", "b"};
  const std::string s = confusion_svg(cm, names, "t");
  auto lum = [](double r, double g, double b) {
    auto lin = [](double c) { c /= 255; return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const std::regex cell(R"re(fill="rgb\((\d+),(\d+),(\d+)\)"[^\n]*\n<text class="count"[^>]*style="fill:#([0-9a-f]{6})">)re");
  int cells = 0;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), cell); it != std::sregex_iterator(); ++it, ++cells) {
    const auto& m = *it;
    const double bg = lum(std::stod(m[1]), std::stod(m[2]), std::stod(m[3]));
    const double fg = m[4] == "ffffff" ? 1.0 : m[4] == "000000" ? 0.0 : -1;
    ASSERT_GE(fg, 0) << m[4];
    const double ratio = (std::max(bg, fg) + 0.05) / (std::min(bg, fg) + 0.05);
    EXPECT_GE(ratio, 4.5) << m.str();
  }
  EXPECT_EQ(cells, 16);
  EXPECT_NE(s.find("<title>naturalforms</title>naturalforms</text>"), std::string::npos);
  EXPECT_NE(s.find("style=\"fill:#ffffff\""), std::string::npos);  // the full diagonal cell
  EXPECT_NE(s.find("style=\"fill:#000000\""), std::string::npos);  // the empty cells
}
