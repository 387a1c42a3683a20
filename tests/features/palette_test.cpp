// Dominant colours on images whose colours are known by construction, the colour parser, and
// the palette match that `irbis search --colors` ranks by.
#include "irbis/palette.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"

namespace irbis::test {
namespace {

// Left `left_share` of the width in one RGB colour, the rest in another.
cv::Mat two_colours(cv::Scalar left, cv::Scalar right, double left_share) {
  cv::Mat img(120, 200, CV_8UC3, right);
  img(cv::Rect(0, 0, int(200 * left_share), 120)).setTo(left);
  return img;
}

TEST(Palette, TwoColoursGiveTwoWeightedCentroids) {
  // 150 of 200 columns: exactly 48 of the 64 the palette looks at, so no column mixes the two.
  const cv::Mat img = two_colours(cv::Scalar(31, 58, 95), cv::Scalar(255, 255, 255), 0.75);  // RGB navy | white
  const auto colors = palette_colors(dominant_colors(img).data());
  ASSERT_EQ(colors.size(), 2u) << "only two distinct colours, the other slots are empty";
  EXPECT_NEAR(colors[0].weight, 0.75, 0.01);
  EXPECT_NEAR(colors[1].weight, 0.25, 0.01);
  EXPECT_LT(delta_e(colors[0].lab, parse_hex_color("#1f3a5f")), 1.0);
  EXPECT_LT(delta_e(colors[1].lab, parse_hex_color("#ffffff")), 1.0);
  EXPECT_EQ(hex_color(colors[0].lab), "#1f3a5f");
}

TEST(Palette, WeightsSumToOneAndTheSameImageGivesTheSamePalette) {
  cv::Mat img(150, 150, CV_8UC3);
  cv::RNG(3).fill(img, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(img, img, cv::Size(0, 0), 4);
  const PaletteRow a = dominant_colors(img);
  cv::theRNG().next();  // whatever the thread's RNG did before, the palette is the same
  const PaletteRow b = dominant_colors(img);
  EXPECT_EQ(a, b);
  double sum = 0;
  for (const auto& c : palette_colors(a.data())) sum += c.weight;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(palette_colors(a.data()).size(), size_t(kPaletteColors));
}

TEST(Palette, MatchNeedsEveryQueryColour) {
  const auto navy_white = palette_colors(dominant_colors(two_colours({31, 58, 95}, {255, 255, 255}, 0.5)).data());
  const auto all_navy = palette_colors(dominant_colors(two_colours({31, 58, 95}, {31, 58, 95}, 0.5)).data());
  const auto red_green = palette_colors(dominant_colors(two_colours({200, 30, 30}, {30, 160, 40}, 0.5)).data());
  const auto query = parse_hex_colors("#1f3a5f, #ffffff");
  ASSERT_EQ(query.size(), 2u);
  EXPECT_GT(palette_match(navy_white, query), 0.45);
  EXPECT_GT(palette_match(navy_white, query), 3 * palette_match(all_navy, query));
  EXPECT_LT(palette_match(red_green, query), 0.01);
  // A near colour (dE ~ 5) still matches most of the way.
  EXPECT_GT(palette_match(navy_white, parse_hex_colors("#23405f,#fafafa")), 0.4);
}

TEST(Palette, BadColoursAreRefusedByName) {
  for (const char* bad : {"", "#12345", "#gg0000", "red", "#1f3a5f,", "1f3a5f00"}) {
    try {
      parse_hex_colors(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("colour"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(parse_hex_color("1F3A5F"));
  EXPECT_THROW(dominant_colors(cv::Mat()), Error);
}

}  // namespace
}  // namespace irbis::test
