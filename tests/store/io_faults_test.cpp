// I/O fault injection (issue 16, docs/reliability.md "Fault-injection matrix"): every write, sync
// and truncate that `index`, `merge` and `serve`'s thumbnails make is failed in turn, with ENOSPC
// and with EIO, through the one before_io hook (fault_hooks.h). At every point: a clean error
// naming a file of the collection, a collection that opens and is consistent, nothing committed
// lost, and a re-run whose result equals a clean run's. Then a simulated power loss: feature
// files cut (and junk appended) at random offsets past their committed rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <tuple>

#include <unistd.h>

#include "irbis/collection.h"
#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/fault_hooks.h"
#include "irbis/merge.h"
#include "irbis/pipeline.h"
#include "irbis/report.h"
#include "test_util.h"

using namespace irbis;
namespace fs = std::filesystem;

namespace irbis {
void PrintTo(IoOp op, std::ostream* os) { *os << io_op_name(op); }
}  // namespace irbis

namespace {

struct HooksGuard {
  explicit HooksGuard(FaultHooks h) { install_fault_hooks(std::move(h)); }
  ~HooksGuard() { install_fault_hooks({}); }
};

// Everything a collection answers with: records and the committed bytes of each feature file.
struct Snapshot {
  std::vector<std::tuple<int64_t, std::string, int64_t, int64_t, std::string, int, int, std::string, std::string>> records;
  std::map<std::string, std::vector<uint8_t>> features;
};

// Opens the collection (which validates the catalog) and checks what a reader relies on: each
// feature file holds its committed rows, every feature is complete (no model here, so nothing is
// ever back-filled), then reads it all.
Snapshot snapshot(const fs::path& dir) {
  Snapshot s;
  auto c = Collection::open(dir);
  for (const auto& r : c->records())
    s.records.emplace_back(r.id, r.path, r.size, r.mtime_ns,
                           std::string(reinterpret_cast<const char*>(r.content_hash.data()), r.content_hash.size()),
                           r.width, r.height, status_name(r.status), r.reason);
  for (const auto& f : c->feature_specs()) {
    EXPECT_EQ(c->feature_rows(f.name), c->committed_rows()) << dir << ": feature " << f.name << " incomplete";
    const FeatureView v = c->view(f.name);
    const uint8_t* p = v.rows() ? v.row_bytes(0) : nullptr;
    s.features[f.name].assign(p, p + v.rows() * f.row_bytes());
  }
  return s;
}

// `part` is what `whole` starts with: its records and, row for row, its feature bytes.
::testing::AssertionResult is_prefix(const Snapshot& part, const Snapshot& whole) {
  if (part.records.size() > whole.records.size())
    return ::testing::AssertionFailure() << part.records.size() << " records, more than " << whole.records.size();
  for (size_t i = 0; i < part.records.size(); ++i)
    if (part.records[i] != whole.records[i]) return ::testing::AssertionFailure() << "record " << i << " differs";
  for (const auto& [name, bytes] : part.features) {
    auto it = whole.features.find(name);
    if (it == whole.features.end()) return ::testing::AssertionFailure() << "feature " << name << " lost";
    if (bytes.size() > it->second.size() || !std::equal(bytes.begin(), bytes.end(), it->second.begin()))
      return ::testing::AssertionFailure() << "feature " << name << " rows differ";
  }
  if (!part.records.empty() && part.features.size() != whole.features.size())
    return ::testing::AssertionFailure() << "features differ";
  return ::testing::AssertionSuccess();
}

// After a writer ran, no feature file holds bytes past its committed rows: the bytes a failed or
// killed writer left were cut (or overwritten), never kept to be mistaken for rows later.
void expect_no_bytes_past_committed(const fs::path& dir) {
  auto c = Collection::open(dir);
  for (const auto& f : c->feature_specs())
    EXPECT_EQ(int64_t(fs::file_size(feature_file(dir, f.name))), c->feature_rows(f.name) * int64_t(f.row_bytes()))
        << feature_file(dir, f.name);
}

bool equal(const Snapshot& a, const Snapshot& b) { return a.records == b.records && a.features == b.features; }

void copy_dir(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

// Photos as JPEGs plus one damaged file (a failed record with a reason).
void write_images(const fs::path& dir, int first, int n) {
  fs::create_directories(dir);
  for (int k = first; k < first + n; ++k)
    test::write_file(dir / ("img" + std::to_string(100 + k) + ".jpg"),
                     test::encode(test::synthetic_photo(80 + 4 * k, 60, 7 + k), ".jpg"));
  if (first == 0) test::write_file(dir / "broken.jpg", {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F'});
}

IndexReport run_index(const fs::path& coll, const fs::path& root) {
  auto c = Collection::open_or_create(coll);
  IndexParams p;
  p.roots = {root.string()};
  p.threads = 1;
  p.commit_every = 2;
  return index_collection(*c, p);
}

enum class Scenario { index_new, index_more, merge, thumbnails };
const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::index_new: return "index_new";
    case Scenario::index_more: return "index_more";
    case Scenario::merge: return "merge";
    case Scenario::thumbnails: return "thumbnails";
  }
  return "?";
}

// A scratch directory in memory (/dev/shm) when there is one: the fault runs count and fail
// operations, they do not need a disk, and a few hundred runs of real fsyncs would take minutes.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    static int counter = 0;
    const fs::path shm = "/dev/shm";
    std::error_code ec;
    const bool in_memory = fs::is_directory(shm, ec) && ::access(shm.c_str(), W_OK) == 0;
    path_ = (in_memory ? shm : fs::path(IRBIS_BINARY_DIR) / "test-tmp") /
            ("irbis-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_, ec);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Inputs built once per scenario; each fault run starts from a copy of `base`.
class Workbench {
 public:
  explicit Workbench(Scenario s) : s_(s), tmp_(std::string("io_faults_") + scenario_name(s)) {
    images_ = tmp_ / "images";
    switch (s) {
      case Scenario::index_new:
        write_images(images_, 0, 5);
        fs::create_directories(tmp_ / "base");  // no collection yet
        break;
      case Scenario::index_more: {
        write_images(images_, 0, 3);
        run_index(tmp_ / "base", images_);
        write_images(images_, 3, 4);
        // A crashed writer's leftovers past the committed rows: the next writer cuts them.
        for (const auto& f : fs::directory_iterator(tmp_ / "base" / kFeaturesDir)) {
          auto bytes = test::read_file(f.path());
          bytes.insert(bytes.end(), 37, 0xAB);
          test::write_file(f.path(), bytes);
        }
        break;
      }
      case Scenario::merge:
        write_images(images_ / "c", 0, 2);
        run_index(tmp_ / "base", images_ / "c");
        write_images(images_ / "p0", 10, 3);
        write_images(images_ / "p1", 20, 4);
        run_index(tmp_ / "p0.irbis", images_ / "p0");
        run_index(tmp_ / "p1.irbis", images_ / "p1");
        break;
      case Scenario::thumbnails:
        write_images(images_, 0, 4);
        run_index(tmp_ / "base", images_);
        break;
    }
    base_ = snapshot_of(tmp_ / "base");
    copy_dir(tmp_ / "base", tmp_ / "clean");
    run(tmp_ / "clean");
    clean_ = snapshot_of(tmp_ / "clean");
  }

  // The operation under test, on a copy of base.
  void run(const fs::path& coll) const {
    switch (s_) {
      case Scenario::index_new:
        run_index(coll / "c.irbis", images_);
        break;
      case Scenario::index_more:
        run_index(coll, images_);
        break;
      case Scenario::merge: {
        auto dest = Collection::open(coll);
        merge_collections(*dest, {tmp_ / "p0.irbis", tmp_ / "p1.irbis"}, 2);
        break;
      }
      case Scenario::thumbnails: {
        auto c = Collection::open(coll);
        for (const auto& r : c->records(ImageStatus::ok)) ensure_thumbnail(*c, r);
        break;
      }
    }
  }

  // What the tests compare: the collection, and for thumbnails the cache's files too.
  Snapshot snapshot_of(const fs::path& coll) const {
    if (s_ == Scenario::index_new) return fs::exists(coll / "c.irbis" / kCatalogFile) ? snapshot(coll / "c.irbis") : Snapshot{};
    Snapshot s = snapshot(coll);
    if (s_ == Scenario::thumbnails && fs::exists(coll / kThumbsDir))
      for (const auto& f : fs::directory_iterator(coll / kThumbsDir))
        s.features["thumb " + f.path().filename().string()] = test::read_file(f.path());
    return s;
  }
  // A failed thumbnail run leaves whole thumbnails only: each one equal to the clean run's.
  ::testing::AssertionResult thumbnails_prefix(const Snapshot& got) const {
    for (const auto& [name, bytes] : got.features) {
      auto it = clean_.features.find(name);
      if (it == clean_.features.end()) return ::testing::AssertionFailure() << "unexpected file: " << name;
      if (it->second != bytes) return ::testing::AssertionFailure() << name << " differs from the clean run's";
    }
    return ::testing::AssertionSuccess();
  }

  Scenario scenario() const { return s_; }
  const fs::path& dir() const { return tmp_.path(); }
  const Snapshot& base() const { return base_; }
  const Snapshot& clean() const { return clean_; }

 private:
  Scenario s_;
  ScratchDir tmp_;
  fs::path images_;
  Snapshot base_, clean_;
};

// The collection directory a scenario's errors must name.
fs::path collection_of(Scenario s, const fs::path& work) { return s == Scenario::index_new ? work / "c.irbis" : work; }

bool names_the_reason(const std::string& msg, int err) {
  // Ours say strerror(); SQLite's own words for SQLITE_FULL and SQLITE_IOERR otherwise.
  if (msg.find(std::strerror(err)) != std::string::npos) return true;
  return err == ENOSPC ? msg.find("disk is full") != std::string::npos
                       : msg.find("disk I/O error") != std::string::npos;
}

void PrintTo(Scenario s, std::ostream* os) { *os << scenario_name(s); }

using Param = std::tuple<Scenario, IoOp, int>;

class IoFaults : public ::testing::TestWithParam<Param> {};

TEST_P(IoFaults, EveryPointFailsCleanlyAndARerunEqualsACleanRun) {
  // Named copies, not a structured binding: clang 14 (the sanitizer build) cannot capture those.
  const Scenario scenario = std::get<0>(GetParam());
  const IoOp op = std::get<1>(GetParam());
  const int err = std::get<2>(GetParam());
  static std::map<Scenario, std::unique_ptr<Workbench>> benches;  // built once per scenario
  auto& bench = benches[scenario];
  if (!bench) bench = std::make_unique<Workbench>(scenario);
  const fs::path work = bench->dir() / "work";

  // 1. Count this kind of operation in a fault-free run.
  std::vector<std::string> points;
  {
    copy_dir(bench->dir() / "base", work);
    FaultHooks h;
    h.before_io = [&](IoOp o, const std::string& path) {
      if (o == op) points.push_back(path);
      return 0;
    };
    HooksGuard guard(std::move(h));
    bench->run(work);
  }
  ASSERT_FALSE(points.empty()) << "no " << io_op_name(op) << " in " << scenario_name(scenario);
  RecordProperty("points", int(points.size()));

  // 2. Fail each one in turn.
  int errors = 0, absorbed = 0;
  for (size_t k = 0; k < points.size(); ++k) {
    SCOPED_TRACE(std::string(scenario_name(scenario)) + ": " + io_op_name(op) + " #" + std::to_string(k + 1) + " of " +
                 std::to_string(points.size()) + " (" + points[k] + "), " + std::strerror(err));
    copy_dir(bench->dir() / "base", work);
    std::string error;
    {
      std::atomic<size_t> seen{0};
      FaultHooks h;
      h.before_io = [&](IoOp o, const std::string&) { return o == op && seen++ == k ? err : 0; };
      HooksGuard guard(std::move(h));
      try {
        bench->run(work);
      } catch (const Error& e) {
        error = e.what();
      }
      // Any other exception type fails the test through gtest's own handler.
    }
    const Snapshot after = bench->snapshot_of(work);
    if (error.empty()) {
      // SQLite absorbs a few failures by design (a checkpoint or WAL reset when the catalog is
      // closed): the run must then have completed.
      ++absorbed;
      EXPECT_TRUE(equal(after, bench->clean())) << "no error, yet the result differs from a clean run";
    } else {
      ++errors;
      EXPECT_NE(error.find(collection_of(scenario, work).string()), std::string::npos)
          << "the error does not name a file of the collection: " << error;
      EXPECT_TRUE(names_the_reason(error, err)) << error;
      if (scenario == Scenario::thumbnails) {
        EXPECT_TRUE(bench->thumbnails_prefix(after));
        for (const auto& f : fs::directory_iterator(work / kThumbsDir))
          EXPECT_EQ(f.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << f.path();
        // What `serve` answers with when the cache cannot be written: the same bytes, uncached.
        auto c = Collection::open(work);
        for (const auto& r : c->records(ImageStatus::ok))
          EXPECT_EQ(thumbnail_jpeg(r), bench->clean().features.at("thumb " + std::to_string(r.id) + ".jpg"));
      } else {
        EXPECT_TRUE(is_prefix(bench->base(), after)) << "a committed row was lost";
        EXPECT_TRUE(is_prefix(after, bench->clean())) << "the collection is not a prefix of the clean result";
      }
    }
    // 3. The re-run, on what the failed run left (a merge resumes: merge.h).
    bench->run(work);
    EXPECT_TRUE(equal(bench->snapshot_of(work), bench->clean())) << "the re-run differs from a clean run";
    expect_no_bytes_past_committed(collection_of(scenario, work));
    if (HasFatalFailure()) return;
  }
  RecordProperty("errors", errors);
  RecordProperty("absorbed", absorbed);
  EXPECT_GT(errors, 0);
}

std::vector<Param> fault_points() {
  std::vector<Param> out;
  const std::vector<std::pair<Scenario, std::vector<IoOp>>> matrix = {
      {Scenario::index_new, {IoOp::write, IoOp::sync, IoOp::sqlite_write, IoOp::sqlite_sync}},
      {Scenario::index_more, {IoOp::write, IoOp::sync, IoOp::truncate, IoOp::sqlite_write, IoOp::sqlite_sync}},
      {Scenario::merge, {IoOp::write, IoOp::sync, IoOp::sqlite_write, IoOp::sqlite_sync}},
      {Scenario::thumbnails, {IoOp::write, IoOp::sync}},
  };
  for (const auto& [s, ops] : matrix)
    for (IoOp op : ops)
      for (int err : {ENOSPC, EIO}) out.emplace_back(s, op, err);
  return out;
}

std::string point_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [s, op, err] = info.param;
  return std::string(scenario_name(s)) + "_" + io_op_name(op) + "_" + (err == ENOSPC ? "ENOSPC" : "EIO");
}

INSTANTIATE_TEST_SUITE_P(Matrix, IoFaults, ::testing::ValuesIn(fault_points()), point_name);

// ---------------------------------------------------------------- the HTML report's folder

// `irbis report` into a folder that fills up, fails or is read-only: every write into it failed
// in turn (ENOSPC, EIO, EROFS). Each ends in an irbis::Error naming a file of the report folder
// and the reason; no temporary or part-written file is left; an older report there keeps its
// index.html; the collection is untouched; and the report is then written completely.
TEST(ReportFolderFaults, EveryWriteFailsCleanlyAndTheOldReportStays) {
  ScratchDir tmp("report_faults");
  write_images(tmp / "images", 0, 4);
  run_index(tmp / "c.irbis", tmp / "images");
  const Snapshot coll_before = snapshot(tmp / "c.irbis");
  const auto files_of = [](const fs::path& dir) {
    std::map<std::string, std::vector<uint8_t>> m;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) m[fs::relative(e.path(), dir).string()] = test::read_file(e.path());
    return m;
  };
  auto coll = Collection::open(tmp / "c.irbis");
  write_report(*coll, ReportOptions{}, tmp / "clean");
  const auto clean = files_of(tmp / "clean");
  ASSERT_TRUE(clean.count("index.html"));
  std::vector<std::string> points;
  {
    FaultHooks h;
    h.before_io = [&](IoOp o, const std::string& path) {
      if (o == IoOp::write && path.starts_with((tmp / "count").string())) points.push_back(path);
      return 0;
    };
    HooksGuard guard(std::move(h));
    write_report(*coll, ReportOptions{}, tmp / "count");
  }
  ASSERT_GE(points.size(), 3u) << "CSV files and index.html";
  int checked = 0;
  for (const bool old_report : {false, true}) {
    for (int err : {ENOSPC, EIO, EROFS}) {
      for (size_t k = 0; k < points.size(); ++k) {
        SCOPED_TRACE(std::string(old_report ? "over an older report, " : "new folder, ") + "write #" +
                     std::to_string(k + 1) + " (" + points[k] + "): " + std::strerror(err));
        const fs::path out = tmp / "count";  // the same names as counted
        fs::remove_all(out);
        if (old_report) copy_dir(tmp / "clean", out);
        std::string error;
        {
          size_t seen = 0;
          FaultHooks h;
          h.before_io = [&](IoOp o, const std::string& path) {
            return o == IoOp::write && path.starts_with(out.string()) && seen++ == k ? err : 0;
          };
          HooksGuard guard(std::move(h));
          try {
            write_report(*coll, ReportOptions{}, out);
          } catch (const Error& e) {
            error = e.what();
          }
        }
        ASSERT_NE(error, "") << "the failed write went unnoticed";
        EXPECT_NE(error.find(out.string() + "/"), std::string::npos) << error;
        EXPECT_NE(error.find(std::strerror(err)), std::string::npos) << error;
        const auto left = files_of(out);
        for (const auto& [name, bytes] : left) {
          EXPECT_EQ(name.find(".tmp"), std::string::npos) << "left behind: " << name;
          if (name.ends_with(".csv") || name.starts_with("thumbs/")) {
            EXPECT_EQ(bytes, clean.at(name)) << name;
          }
        }
        if (old_report) {
          EXPECT_EQ(left.at("index.html"), clean.at("index.html")) << "the old report's page";
        } else {
          EXPECT_EQ(left.count("index.html"), 0u) << "a page of a report that failed";
        }
        EXPECT_TRUE(equal(snapshot(tmp / "c.irbis"), coll_before));
        write_report(*coll, ReportOptions{}, out);
        EXPECT_EQ(files_of(out).size(), clean.size());
        ++checked;
      }
    }
  }
  RecordProperty("points", int(points.size()));
  EXPECT_EQ(checked, int(points.size()) * 6);
}

// ---------------------------------------------------------------- power loss

// An index run dies between making its feature bytes durable and the catalog commit; then the
// power goes: each feature file's bytes past its committed rows are cut at a random offset and
// random junk may follow (blocks allocated, data never written). The collection must open with
// everything committed, and a re-run must give exactly a clean run's result.
TEST(PowerLoss, FeatureFilesCutAtRandomOffsetsAfterTheLastSync) {
  test::TempDir tmp("power_loss");
  write_images(tmp / "images", 0, 3);
  run_index(tmp / "base", tmp / "images");
  write_images(tmp / "images", 3, 6);
  copy_dir(tmp / "base", tmp / "clean");
  run_index(tmp / "clean", tmp / "images");
  const Snapshot base = snapshot(tmp / "base"), clean = snapshot(tmp / "clean");

  std::mt19937_64 rng(16);
  int trials = 0;
  for (int commit_to_die_in = 1; commit_to_die_in <= 4; ++commit_to_die_in) {
    for (int rep = 0; rep < 4; ++rep, ++trials) {
      SCOPED_TRACE("dies in commit " + std::to_string(commit_to_die_in) + ", trial " + std::to_string(rep));
      const fs::path work = tmp / "work";
      copy_dir(tmp / "base", work);
      struct Died {};
      {
        FaultHooks h;
        h.before_catalog_commit = [&](int64_t commit, int64_t) {
          if (commit == commit_to_die_in) throw Died{};
        };
        HooksGuard guard(std::move(h));
        EXPECT_THROW(run_index(work, tmp / "images"), Died);
      }
      Snapshot before_cut;
      {
        auto c = Collection::open(work);
        std::map<std::string, int64_t> committed_bytes;
        for (const auto& f : c->feature_specs()) committed_bytes[f.name] = c->feature_rows(f.name) * int64_t(f.row_bytes());
        c.reset();
        before_cut = snapshot(work);
        for (const auto& [name, keep_at_least] : committed_bytes) {
          const fs::path file = feature_file(work, name);
          auto bytes = test::read_file(file);
          ASSERT_GE(int64_t(bytes.size()), keep_at_least);
          const int64_t cut = std::uniform_int_distribution<int64_t>(keep_at_least, int64_t(bytes.size()))(rng);
          bytes.resize(size_t(cut));
          const int junk = int(rng() % 3) == 0 ? int(rng() % 200) : 0;
          for (int j = 0; j < junk; ++j) bytes.push_back(uint8_t(rng()));
          test::write_file(file, bytes);
        }
      }
      const Snapshot after = snapshot(work);
      EXPECT_TRUE(equal(after, before_cut)) << "the cut changed what the collection answers";
      EXPECT_TRUE(is_prefix(base, after)) << "a committed row was lost";
      EXPECT_TRUE(is_prefix(after, clean));
      run_index(work, tmp / "images");
      EXPECT_TRUE(equal(snapshot(work), clean)) << "the re-run differs from a clean run";
      expect_no_bytes_past_committed(work);
    }
  }
  EXPECT_EQ(trials, 16);
}

// After a failed write or sync this writer refuses further commits (a retried fdatasync may
// "succeed" over pages the kernel dropped); a new writer continues from the committed rows.
TEST(IoFaultsWriter, NoCommitAfterAFailedSync) {
  test::TempDir tmp("io_faults_writer");
  auto c = Collection::open_or_create(tmp / "c.irbis");
  c->ensure_feature({"x", "u8", 4});
  const std::vector<uint8_t> row{1, 2, 3, 4};
  ImageRecord r;
  r.path = "/a";
  r.status = ImageStatus::ok;
  c->stage_image(r, {{"x", row}});
  {
    FaultHooks h;
    h.before_io = [](IoOp op, const std::string&) { return op == IoOp::sync ? EIO : 0; };
    HooksGuard guard(std::move(h));
    try {
      c->commit();
      FAIL() << "the injected EIO was not reported";
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find("features/x.f: fdatasync: Input/output error"), std::string::npos) << e.what();
    }
  }
  try {
    c->commit();
    FAIL() << "a second commit after a failed sync was accepted";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("no more commits after a failed write"), std::string::npos) << e.what();
  }
  c.reset();
  auto again = Collection::open(tmp / "c.irbis");
  EXPECT_EQ(again->committed_rows(), 0);
  again->stage_image(r, {{"x", row}});
  again->commit();
  EXPECT_EQ(Collection::open(tmp / "c.irbis")->committed_rows(), 1);
}

}  // namespace
