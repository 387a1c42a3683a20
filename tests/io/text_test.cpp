#include <gtest/gtest.h>

#include <sstream>

#include "irbis/text.h"

namespace irbis {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

TEST(Text, ValidUtf8IsUnchanged) {
  for (const std::string s : {"", "plain/ascii path.jpg", "caf\xC3\xA9.jpg", "\xE2\x82\xAC 5",
                              "\xF0\x9F\x93\xB7 camera", "\xED\x9F\xBF", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(display_path(s), s);
  }
}

TEST(Text, EachInvalidByteBecomesOneReplacement) {
  EXPECT_EQ(display_path("caf\xE9.jpg"), "caf" + kFFFD + ".jpg");           // Latin-1
  EXPECT_EQ(display_path("\xC0\xAF"), kFFFD + kFFFD);                        // overlong '/'
  EXPECT_EQ(display_path("\xE0\x80\xAF"), kFFFD + kFFFD + kFFFD);            // overlong
  EXPECT_EQ(display_path("\xED\xA0\x80"), kFFFD + kFFFD + kFFFD);            // surrogate
  EXPECT_EQ(display_path("\xF4\x90\x80\x80"), kFFFD + kFFFD + kFFFD + kFFFD);  // above U+10FFFF
  EXPECT_EQ(display_path("a\x80z"), "a" + kFFFD + "z");                      // stray continuation
  EXPECT_EQ(display_path("end\xE2\x82"), "end" + kFFFD + kFFFD);             // truncated at the end
  EXPECT_EQ(display_path("\xE2\x82x"), kFFFD + kFFFD + "x");                 // truncated mid-string
  EXPECT_EQ(display_path("\xFF\xFE"), kFFFD + kFFFD);
  EXPECT_EQ(display_path(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Text, OutputIsAlwaysValidUtf8) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  const std::string once = display_path(all);
  EXPECT_EQ(display_path(once), once);  // idempotent: the result is valid UTF-8
}

TEST(Text, CsvFieldQuotesOnlyWhenNeeded) {
  EXPECT_EQ(csv_field("plain/path.jpg"), "plain/path.jpg");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(csv_field("caf\xE9,x"), "\"caf" + kFFFD + ",x\"");  // invalid UTF-8 replaced, then quoted
}

TEST(Text, CsvRowJoinsQuotedFields) {
  EXPECT_EQ(csv_row({"1", "a,b", "", "q\""}), "1,\"a,b\",,\"q\"\"\"\n");
  EXPECT_EQ(csv_row({}), "\n");
  std::ostringstream out;
  write_csv_row(out, {"x", "y,z"});
  EXPECT_EQ(out.str(), "x,\"y,z\"\n");
}

TEST(Text, HtmlEscapeCoversTextAndAttributes) {
  EXPECT_EQ(html_escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain"), "plain");
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");  // escapes what it is given, never un-escapes
}

TEST(Text, HumanBytesBinaryAndDecimal) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1024), "1.0 KiB");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(5.0 * 1024 * 1024 * 1024), "5.0 GiB");
  EXPECT_EQ(human_bytes(3.0 * 1024 * 1024 * 1024 * 1024 * 1024), "3072.0 TiB");  // TiB is the largest unit
  EXPECT_EQ(human_bytes(999, ByteUnits::decimal), "999 B");
  EXPECT_EQ(human_bytes(1000, ByteUnits::decimal), "1.0 KB");
  EXPECT_EQ(human_bytes(2'500'000, ByteUnits::decimal), "2.5 MB");
}

TEST(Text, NumberFormats) {
  EXPECT_EQ(fixed(0.123456), "0.1235");
  EXPECT_EQ(fixed(1.0, 3), "1.000");
  EXPECT_EQ(fixed(-0.5, 0), "-0");
  EXPECT_EQ(fixed(2.5, 6), "2.500000");
  EXPECT_EQ(general(0.001), "0.001");
  EXPECT_EQ(general(1e-5), "1e-05");
  EXPECT_EQ(general(123456789.0), "1.23457e+08");
  EXPECT_EQ(general(0.123456, 3), "0.123");
  EXPECT_EQ(general(100.0, 3), "100");
}

}  // namespace
}  // namespace irbis
