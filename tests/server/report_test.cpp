// Report helpers: escaping, CSV quoting, SVG charts, and the thumbnail cache.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include <cerrno>
#include <cstring>

#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/fault_hooks.h"
#include "irbis/palette.h"
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

// `serve`'s thumbnail when the cache cannot be written (issue 16): every write and sync of the
// thumbnail fails in turn with ENOSPC and EIO; the answer is the thumbnail made in memory, the
// reason names the thumbnail, and nothing is left in the cache (no cut file a later request would
// serve, no temporary file). Once the disk has room the same call caches it. A cut or empty file
// already under the thumbnail's name (a power cut before an older irbis synced it) is made again.
struct HooksGuard {
  explicit HooksGuard(FaultHooks h) { install_fault_hooks(std::move(h)); }
  ~HooksGuard() { install_fault_hooks({}); }
};

TEST(Report, AThumbnailTheCacheCannotTakeIsAnsweredFromMemoryAndNeverLeftCut) {
  test::TempDir tmp("thumbfault");
  const auto dir = tmp.path() / "pics";
  std::filesystem::create_directories(dir);
  test::write_file(dir / "a.jpg", test::encode(test::synthetic_photo(900, 600, 3), ".jpg"));
  auto coll = Collection::open_or_create(tmp.path() / "c.irbis");
  IndexParams p;
  p.roots = {dir.string()};
  index_collection(*coll, p);
  const auto recs = coll->records(ImageStatus::ok);
  ASSERT_EQ(recs.size(), 1u);
  const ImageRecord& r = recs[0];
  const std::vector<uint8_t> expected = thumbnail_jpeg(r);
  const auto thumbs = coll->dir() / kThumbsDir;
  const auto files_in_cache = [&] {
    std::vector<std::string> names;
    std::error_code ec;
    if (std::filesystem::exists(thumbs, ec))
      for (const auto& f : std::filesystem::directory_iterator(thumbs)) names.push_back(f.path().filename().string());
    return names;
  };

  int failed_points = 0;
  for (const IoOp op : {IoOp::write, IoOp::sync}) {
    for (const int err : {ENOSPC, EIO}) {
      SCOPED_TRACE(std::string(io_op_name(op)) + " " + std::strerror(err));
      std::filesystem::remove_all(thumbs);
      std::vector<std::string> seen;
      Thumbnail t;
      {
        FaultHooks h;
        h.before_io = [&](IoOp o, const std::string& path) {
          if (path.find("/thumbs/") == std::string::npos) return 0;
          seen.push_back(io_op_name(o));
          return o == op ? err : 0;
        };
        HooksGuard guard(std::move(h));
        t = cached_thumbnail(*coll, r);
        EXPECT_THROW(ensure_thumbnail(*coll, r), StoreError);  // the report's path: names the reason too
      }
      ASSERT_FALSE(seen.empty()) << "the thumbnail's write never went through the fault hook";
      ++failed_points;
      EXPECT_EQ(t.jpeg, expected) << "the answer is not the thumbnail made in memory";
      EXPECT_NE(t.cache_error.find(thumb_path(*coll, r.id).string()), std::string::npos) << t.cache_error;
      EXPECT_NE(t.cache_error.find(std::strerror(err)), std::string::npos) << t.cache_error;
      EXPECT_EQ(files_in_cache(), std::vector<std::string>{}) << "a failed write left a file in the cache";
      // The next request, with room on the disk: made again and cached whole.
      const Thumbnail later = cached_thumbnail(*coll, r);
      EXPECT_EQ(later.jpeg, expected);
      EXPECT_EQ(later.cache_error, "");
      EXPECT_EQ(test::read_file(thumb_path(*coll, r.id)), expected);
    }
  }
  EXPECT_EQ(failed_points, 4);

  // Cut, empty or foreign bytes under the thumbnail's name are never served: made again, cached.
  for (const size_t keep : {size_t(0), size_t(3), expected.size() / 2, expected.size() - 1}) {
    SCOPED_TRACE("a cached file of " + std::to_string(keep) + " bytes");
    test::write_file(thumb_path(*coll, r.id), std::vector<uint8_t>(expected.begin(), expected.begin() + long(keep)));
    const Thumbnail t = cached_thumbnail(*coll, r);
    EXPECT_EQ(t.jpeg, expected);
    EXPECT_EQ(t.cache_error, "");
    EXPECT_EQ(test::read_file(thumb_path(*coll, r.id)), expected);
  }
  // A whole cached file is served as it is (not made again).
  std::vector<uint8_t> other = test::encode(test::synthetic_photo(40, 30, 9), ".jpg");
  test::write_file(thumb_path(*coll, r.id), other);
  EXPECT_EQ(cached_thumbnail(*coll, r).jpeg, other);
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

// serve's colour search (/api/search?colors=) keeps the palettes it loaded with its other analyses:
// the answer is `irbis search --colors`'s, and a second query reads no palette again (the palette
// file cut after the first query would make any re-read fail).
TEST(Report, ColourSearchReadsThePalettesOnce) {
  test::TempDir tmp("report-colours");
  {
    auto c = Collection::open_or_create(tmp.path() / "c.irbis");
    c->ensure_feature({kPaletteFeature, "f32", kPaletteDim});
    const std::vector<std::vector<std::pair<std::string, float>>> images = {
        {{"#1f3a5f", 0.5f}, {"#ffffff", 0.5f}}, {{"#1f3a5f", 1.f}}, {{"#ffffff", 0.9f}, {"#fafafa", 0.1f}},
        {{"#c81e1e", 0.5f}, {"#1ea028", 0.5f}}, {{"#f0c814", 0.3f}, {"#141414", 0.7f}}};
    for (size_t i = 0; i < images.size(); ++i) {
      ImageRecord r;
      r.path = "/pics/" + std::to_string(i) + ".png";
      r.content_hash[0] = uint8_t(i + 1);
      r.format = ImageFormat::png;
      r.width = r.height = 100;
      PaletteRow row{};
      for (size_t j = 0; j < images[i].size(); ++j) {
        const LabColor lab = parse_hex_color(images[i][j].first);
        row[4 * j] = lab.L;
        row[4 * j + 1] = lab.a;
        row[4 * j + 2] = lab.b;
        row[4 * j + 3] = images[i][j].second;
      }
      c->stage_image(r, {{kPaletteFeature, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(row.data()), sizeof row)}});
    }
    c->commit();
  }
  const auto coll = Collection::open(tmp.path() / "c.irbis");
  ReportData data(*coll, ReportOptions{});
  const auto answer = [](const ColorSearch& s) { return color_search_json(s.query, s.hits).dump(); };
  const std::string cli = answer(search_collection_colors(*coll, "#1f3a5f,#ffffff", 3));
  const ColorSearch first = data.color_search("#1f3a5f,#ffffff", 3);
  ASSERT_EQ(first.hits.size(), 3u);
  EXPECT_EQ(first.hits[0].record.path, "/pics/0.png");
  EXPECT_EQ(answer(first), cli);
  EXPECT_THROW(data.color_search("#1f3a5f,navy", 3), UsageError);  // named before anything is read
  std::filesystem::resize_file(feature_file(coll->dir(), kPaletteFeature), 0);
  EXPECT_THROW(search_collection_colors(*coll, "#1f3a5f,#ffffff", 3), StoreError);  // a re-read fails now
  EXPECT_EQ(answer(data.color_search("#1f3a5f,#ffffff", 3)), cli);
  EXPECT_EQ(answer(data.color_search("#ffffff", 5)).find("/pics/2.png") != std::string::npos, true);
  ASSERT_NE(data.palette(1), nullptr);  // the cards' palettes come from the same load
  EXPECT_EQ(data.palette(1)->size(), 1u);
  EXPECT_EQ(data.palette(99), nullptr);
}

// Without the palette feature a colour search says which command computes them; cards show none.
TEST(Report, ColourSearchWithoutPalettesNamesTheIndexCommand) {
  test::TempDir tmp("report-no-colours");
  { Collection::open_or_create(tmp.path() / "c.irbis"); }
  const auto coll = Collection::open(tmp.path() / "c.irbis");
  ReportData data(*coll, ReportOptions{});
  EXPECT_EQ(data.palette(0), nullptr);
  try {
    data.color_search("#ffffff", 3);
    FAIL() << "no palettes, no answer";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("irbis index"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace irbis
