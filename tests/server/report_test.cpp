// Report helpers: escaping, CSV quoting, SVG charts, and the thumbnail cache.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "irbis/pipeline.h"
#include "irbis/report.h"
#include "test_util.h"

namespace irbis {
namespace {

TEST(Report, HtmlEscapeNeutralisesMarkup) {
  EXPECT_EQ(html_escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  EXPECT_EQ(html_escape("plain.jpg"), "plain.jpg");
}

TEST(Report, CsvQuotesAndRepairsUtf8) {
  CsvTable t{"x.csv", {"path", "n"}, {{"a,b.jpg", "1"}, {"say \"hi\".jpg", "2"}, {std::string("bad\xff.jpg"), "3"}}};
  EXPECT_EQ(csv_text(t), "path,n\n\"a,b.jpg\",1\n\"say \"\"hi\"\".jpg\",2\nbad\xEF\xBF\xBD.jpg,3\n");
}

TEST(Report, SvgChartsDrawEverySeries) {
  const std::vector<double> a = {1, 2, 3, 4, 100};
  const BoxSummary sa = box_summary(a);
  ASSERT_EQ(sa.high_outliers, 1);  // 100 > Q3 + 1.5 IQR = 7
  const std::string box =
      svg_boxplot({{"a", sa, {100}}, {"<b>", box_summary({5, 6}), {}}, {"empty", box_summary({}), {}}}, "distance");
  EXPECT_EQ(std::count(box.begin(), box.end(), '\n'), 0);
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t p = 0; (p = box.find(what, p)) != std::string::npos; ++p) ++n;
    return n;
  };
  EXPECT_EQ(count("class=\"box\""), 2u);  // the empty series draws nothing
  EXPECT_EQ(count("class=\"outlier\""), 1u);
  EXPECT_EQ(count("class=\"whisker\""), 4u);
  EXPECT_NE(box.find("data-outliers=\"1\""), std::string::npos);
  EXPECT_NE(box.find("whiskers 1-4,"), std::string::npos);  // the upper whisker stops at 4, not at 100
  EXPECT_NE(box.find("&lt;b&gt;"), std::string::npos);
  EXPECT_EQ(box.find("<b>"), std::string::npos);
  const std::string bars = svg_bars({{"jpeg", 10}, {"png", 0}}, "images");
  EXPECT_NE(bars.find("<svg"), std::string::npos);
  EXPECT_NE(bars.find(">jpeg<"), std::string::npos);
}

TEST(Report, ThumbnailsAreCachedByIdWithBoundedSide) {
  test::TempDir tmp("report");
  const auto dir = tmp.path() / "pics";
  std::filesystem::create_directories(dir);
  test::write_file(dir / "wide.jpg", test::encode(test::synthetic_photo(1200, 600, 1), ".jpg"));
  test::write_file(dir / "small.png", test::encode(test::synthetic_photo(100, 80, 2), ".png"));
  auto coll = Collection::open_or_create(tmp.path() / "c.irbis");
  IndexParams p;
  p.roots = {dir.string()};
  index_collection(*coll, p);
  const auto recs = coll->records(ImageStatus::ok);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(ensure_thumbnails(*coll, recs, 2), 2u);
  for (const auto& r : recs) {
    const cv::Mat t = cv::imread(thumb_path(*coll, r.id).string());
    ASSERT_FALSE(t.empty());
    if (r.width == 1200) EXPECT_EQ(cv::Size(t.cols, t.rows), cv::Size(256, 128));
    else EXPECT_EQ(cv::Size(t.cols, t.rows), cv::Size(100, 80));  // never upscaled
  }
  // Cached: a second call does not rewrite the file.
  const auto t0 = std::filesystem::last_write_time(thumb_path(*coll, recs[0].id));
  ensure_thumbnail(*coll, recs[0]);
  EXPECT_EQ(std::filesystem::last_write_time(thumb_path(*coll, recs[0].id)), t0);

  // A thumbnail that is a symlink (to a file outside the collection) is never served: it is
  // replaced by a real thumbnail, and the file it pointed to is left alone.
  const auto victim = tmp.path() / "secret.txt";
  test::write_file(victim, {'s', 'e', 'c', 'r', 'e', 't'});
  std::filesystem::remove(thumb_path(*coll, recs[0].id));
  std::filesystem::create_symlink(victim, thumb_path(*coll, recs[0].id));
  const auto p0 = ensure_thumbnail(*coll, recs[0]);
  EXPECT_FALSE(std::filesystem::is_symlink(p0));
  const auto bytes = test::read_file(p0);
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0xFF);
  EXPECT_EQ(bytes[1], 0xD8);
  EXPECT_EQ(test::read_file(victim), (std::vector<uint8_t>{'s', 'e', 'c', 'r', 'e', 't'}));
}

TEST(Report, DuplicateCardsNameTheShortestUniqueSuffix) {
  EXPECT_EQ(shortest_unique_suffixes({"w/a/5120x2880.png", "w/b/5120x2880.png", "w/b/screenshot.png"}),
            (std::vector<std::string>{"a/5120x2880.png", "b/5120x2880.png", "screenshot.png"}));
  EXPECT_EQ(shortest_unique_suffixes({"x/2019/IMG_1.jpg", "y/2019/IMG_1.jpg"}),
            (std::vector<std::string>{"x/2019/IMG_1.jpg", "y/2019/IMG_1.jpg"}));
  // One path the suffix of another: the shorter is shown whole, the longer one step further.
  EXPECT_EQ(shortest_unique_suffixes({"a.png", "d/a.png"}), (std::vector<std::string>{"a.png", "d/a.png"}));
  EXPECT_EQ(shortest_unique_suffixes({"/p/one.jpg"}), (std::vector<std::string>{"one.jpg"}));
  // The card shows the given name, and its size never wraps inside the numbers.
  ViewContext ctx;
  ctx.thumb_url = [](int64_t id) { return "thumbs/" + std::to_string(id) + ".jpg"; };
  ImageRecord r;
  r.id = 3;
  r.path = "w/a/5120x2880.png";
  const std::string h = thumb_html(ctx, r, "<b>keep</b> " + dimensions_html(1751, 65), "keep", nullptr, "a/5120x2880.png");
  EXPECT_NE(h.find("<span class=\"name\">a/5120x2880.png</span>"), std::string::npos) << h;
  EXPECT_NE(h.find("<span class=\"dims\">1751&times;65</span>"), std::string::npos) << h;
}

}  // namespace
}  // namespace irbis
