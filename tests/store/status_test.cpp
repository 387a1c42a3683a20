#include <gtest/gtest.h>
#include "irbis/collection.h"
#include "irbis/errors.h"

TEST(Status, RoundTripsEveryName) {
  for (auto s : {irbis::ImageStatus::ok, irbis::ImageStatus::failed, irbis::ImageStatus::retired,
                 irbis::ImageStatus::removed})
    EXPECT_EQ(irbis::status_from_name(irbis::status_name(s)), s);
  EXPECT_THROW(irbis::status_from_name("bogus"), irbis::StoreError);
}
