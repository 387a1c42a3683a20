// The test-hook interface (fault_hooks.h): the store calls an installed hook at the documented
// point, and the environment switches the e2e/Dask tests use turn into the same hooks.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <utility>
#include <vector>

#include "irbis/collection.h"
#include "irbis/fault_hooks.h"
#include "test_util.h"

using namespace irbis;

namespace {
// Restores the empty hooks however the test ends.
struct HooksGuard {
  ~HooksGuard() { install_fault_hooks({}); }
};
ImageRecord rec(int k) {
  ImageRecord r;
  r.path = "/img/" + std::to_string(k) + ".png";
  r.size = 10 + k;
  r.content_hash[0] = uint8_t(k);
  r.format = ImageFormat::png;
  r.width = r.height = 2;
  return r;
}
}  // namespace

TEST(FaultHooks, NoneInstalledByDefault) {
  EXPECT_FALSE(fault_hooks().before_catalog_commit);
  EXPECT_FALSE(fault_hooks().before_read);
}

TEST(FaultHooks, CommitHookSeesCommitNumberAndImageCount) {
  HooksGuard guard;
  std::vector<std::pair<int64_t, int64_t>> calls;
  FaultHooks h;
  h.before_catalog_commit = [&](int64_t commit, int64_t images) { calls.emplace_back(commit, images); };
  install_fault_hooks(std::move(h));
  test::TempDir tmp("fault_hooks");
  auto c = Collection::open_or_create(tmp / "c.irbis");
  for (int k = 0; k < 3; ++k) c->stage_image(rec(k), {});
  c->commit();
  for (int k = 3; k < 5; ++k) c->stage_image(rec(k), {});
  c->commit();
  EXPECT_EQ(calls, (std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {2, 5}}));
  EXPECT_EQ(c->committed_rows(), 5);
}

TEST(FaultHooks, EnvironmentSwitchesBecomeHooks) {
  ::unsetenv("IRBIS_FAULT_ABORT_AT_COMMIT");
  ::unsetenv("IRBIS_FAULT_ABORT_AT_ROWS");
  ::unsetenv("IRBIS_FAULT_VANISH_BEFORE_READ");
  EXPECT_FALSE(fault_hooks_from_environment().before_catalog_commit);
  EXPECT_FALSE(fault_hooks_from_environment().before_read);

  test::TempDir tmp("fault_env");
  test::write_file(tmp / "b.png", {1, 2, 3});
  test::write_file(tmp / "ab.png", {1, 2, 3});
  ::setenv("IRBIS_FAULT_VANISH_BEFORE_READ", "b.png", 1);
  const FaultHooks vanish = fault_hooks_from_environment();
  ::unsetenv("IRBIS_FAULT_VANISH_BEFORE_READ");
  ASSERT_TRUE(vanish.before_read);
  vanish.before_read((tmp / "ab.png").string());  // a suffix of the name, not the name: kept
  EXPECT_TRUE(std::filesystem::exists(tmp / "ab.png"));
  vanish.before_read((tmp / "b.png").string());
  EXPECT_FALSE(std::filesystem::exists(tmp / "b.png"));

  ::setenv("IRBIS_FAULT_ABORT_AT_COMMIT", "3", 1);
  const FaultHooks at_commit = fault_hooks_from_environment();
  ::unsetenv("IRBIS_FAULT_ABORT_AT_COMMIT");
  ASSERT_TRUE(at_commit.before_catalog_commit);
  at_commit.before_catalog_commit(2, 100);  // not the third commit: returns
  EXPECT_DEATH(at_commit.before_catalog_commit(3, 0), "");
}
