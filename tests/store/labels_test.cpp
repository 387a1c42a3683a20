#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "irbis/errors.h"
#include "irbis/labels.h"
#include "test_util.h"

using namespace irbis;

namespace {
std::vector<ImageRecord> recs(const std::vector<std::string>& paths) {
  std::vector<ImageRecord> out;
  for (const auto& p : paths) {
    ImageRecord r;
    r.path = p;
    out.push_back(r);
  }
  return out;
}
}  // namespace

TEST(Labels, FromFolders) {
  auto set = load_labels("folders", recs({"/d/cat/1.jpg", "/d/dog/2.jpg", "/d/cat/3.jpg"}));
  ASSERT_EQ(set.classes, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(set.label, (std::vector<int>{0, 1, 0}));
  EXPECT_EQ(set.count(0), 2);
  EXPECT_EQ(set.labelled(), 3);
}

TEST(Labels, FromCsvWithQuotesAndUnlabelled) {
  test::TempDir tmp("labels");
  std::ofstream(tmp / "l.csv") << "label,path\n\"big, cat\",/d/a.jpg\ndog,\"/d/\"\"b\"\".jpg\"\n";
  auto set = load_labels((tmp / "l.csv").string(), recs({"/d/a.jpg", "/d/\"b\".jpg", "/d/c.jpg"}));
  ASSERT_EQ(set.classes, (std::vector<std::string>{"big, cat", "dog"}));
  EXPECT_EQ(set.label, (std::vector<int>{0, 1, -1}));
}

TEST(Labels, UnknownPathsAreNamed) {
  test::TempDir tmp("labels");
  std::ofstream(tmp / "l.csv") << "path,label\n/nowhere/x.jpg,cat\n";
  try {
    load_labels((tmp / "l.csv").string(), recs({"/d/a.jpg"}));
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("/nowhere/x.jpg"), std::string::npos);
  }
  EXPECT_THROW(load_labels((tmp / "missing.csv").string(), recs({})), UsageError);
}

TEST(Labels, FromPairsMatchLikeCsvRows) {
  // The pairs a Python dict gives: absolute, relative (to the current directory) and unknown paths.
  const std::string cwd = std::filesystem::current_path().string();
  auto set = labels_from_pairs({{"/d/a.jpg", "cat"}, {"rel/b.jpg", "dog"}, {"/d/c.jpg", ""}},
                               recs({"/d/a.jpg", cwd + "/rel/b.jpg", "/d/c.jpg"}), "mapping");
  ASSERT_EQ(set.classes, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(set.label, (std::vector<int>{0, 1, -1}));
  try {
    labels_from_pairs({{"/nowhere/x.jpg", "cat"}}, recs({"/d/a.jpg"}), "mapping");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("mapping: 1 labelled paths are not in the collection: /nowhere/x.jpg", 0), 0u)
        << e.what();
  }
}

TEST(Labels, UnknownPathsSkippedOnRequest) {
  test::TempDir tmp("labels");
  std::ofstream(tmp / "l.csv") << "path,label\n/d/a.jpg,cat\n/gone/1.jpg,cat\n/d/b.jpg,dog\n/gone/2.jpg,dog\n";
  const auto set = load_labels((tmp / "l.csv").string(), recs({"/d/a.jpg", "/d/b.jpg", "/d/c.jpg"}), UnknownPaths::skip);
  EXPECT_EQ(set.label, (std::vector<int>{0, 1, -1}));
  EXPECT_EQ(set.unknown, 2);
  EXPECT_EQ(set.unknown_paths, (std::vector<std::string>{"/gone/1.jpg", "/gone/2.jpg"}));
  EXPECT_EQ(set.unknown_message("l.csv"), "l.csv: 2 labelled paths are not in the collection: /gone/1.jpg /gone/2.jpg");
  // The default still refuses them.
  EXPECT_THROW(load_labels((tmp / "l.csv").string(), recs({"/d/a.jpg", "/d/b.jpg"})), UsageError);
}
