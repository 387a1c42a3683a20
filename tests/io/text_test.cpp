#include <gtest/gtest.h>

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

}  // namespace
}  // namespace irbis
