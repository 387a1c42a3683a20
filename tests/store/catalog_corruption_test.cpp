// A damaged or edited catalog.sqlite (issue 16, D4/D5): every corruption of a generated family
// ends in a StoreError naming the collection, never in a crash and never in a write outside it.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <set>

#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "store/sqlite_db.h"
#include "test_util.h"

using namespace irbis;
namespace fs = std::filesystem;

namespace {

// Three ok images and one failed, with hashes u64[3] and color f32[4].
void make_collection(const fs::path& dir) {
  auto c = Collection::open_or_create(dir);
  c->ensure_feature({kHashesFeature, "u64", 3});
  c->ensure_feature({kColorFeature, "f32", 4});
  for (int i = 0; i < 4; ++i) {
    ImageRecord r;
    r.path = "/photos/" + std::to_string(i) + ".jpg";
    r.size = 100 + i;
    r.format = ImageFormat::jpeg;
    r.width = r.height = 8;
    r.status = i == 3 ? ImageStatus::failed : ImageStatus::ok;
    const std::vector<uint64_t> h{uint64_t(i), 2, 3};
    const std::vector<float> col{1, 2, 3, 4};
    if (i == 3) c->stage_image(r, {});
    else
      c->stage_image(r, {{kHashesFeature, {reinterpret_cast<const uint8_t*>(h.data()), 24}},
                         {kColorFeature, {reinterpret_cast<const uint8_t*>(col.data()), 16}}});
  }
  c->commit();
}

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(e.path().string());
  return out;
}

struct Corruption {
  const char* what;
  const char* sql;
};

// The family: wrong dims and dtypes, negative / huge / duplicate / gapped ids, feature names that
// leave features/, row counts beyond the images, missing tables, garbage meta.
const Corruption kCorruptions[] = {
    {"hashes dim 0", "UPDATE features SET dim=0 WHERE name='hashes'"},
    {"hashes dim 1", "UPDATE features SET dim=1 WHERE name='hashes'"},
    {"negative dim", "UPDATE features SET dim=-5 WHERE name='color'"},
    {"huge dim", "UPDATE features SET dim=4000000000 WHERE name='color'"},
    {"color dim 2", "UPDATE features SET dim=2 WHERE name='color'"},
    {"unknown dtype", "UPDATE features SET dtype='f64' WHERE name='color'"},
    {"wrong dtype", "UPDATE features SET dtype='u8' WHERE name='hashes'"},
    {"negative id", "UPDATE images SET id=-7 WHERE id=1"},
    {"huge id", "UPDATE images SET id=1000000 WHERE id=2"},
    {"max id", "UPDATE images SET id=9223372036854775807 WHERE id=2"},
    {"gap in ids", "DELETE FROM images WHERE id=1"},
    {"text id",
     "CREATE TABLE i2 AS SELECT * FROM images; DROP TABLE images; CREATE TABLE images(id, path, size, mtime_ns, "
     "content_hash, format, width, height, status, reason, indexed_at); INSERT INTO images SELECT * FROM i2; "
     "UPDATE images SET id='x' WHERE id=1; DROP TABLE i2"},
    {"duplicate ids",
     "CREATE TABLE i2 AS SELECT * FROM images; DROP TABLE images; CREATE TABLE images(id, path, size, mtime_ns, "
     "content_hash, format, width, height, status, reason, indexed_at); INSERT INTO images SELECT * FROM i2; "
     "UPDATE images SET id=0 WHERE id=1; DROP TABLE i2"},
    {"name ../../victim", "UPDATE features SET name='../../victim' WHERE name='color'"},
    {"name with /", "UPDATE features SET name='a/b' WHERE name='color'"},
    {"name ..", "UPDATE features SET name='..' WHERE name='color'"},
    {"absolute name", "UPDATE features SET name='/tmp/victim' WHERE name='color'"},
    {"empty name", "UPDATE features SET name='' WHERE name='color'"},
    {"rows beyond images", "UPDATE features SET committed_rows=99 WHERE name='hashes'"},
    {"negative rows", "UPDATE features SET committed_rows=-1 WHERE name='hashes'"},
    {"no images table", "DROP TABLE images"},
    {"no features table", "DROP TABLE features"},
    {"no meta table", "DROP TABLE meta"},
    {"garbage schema version", "UPDATE meta SET value='garbage' WHERE key='schema_version'"},
    {"huge schema version", "UPDATE meta SET value='99999999999999999999' WHERE key='schema_version'"},
    {"unknown status", "UPDATE images SET status='zombie' WHERE id=0"},
    {"text dim", "UPDATE features SET dim='abc' WHERE name='color'"},
    {"fractional dim", "UPDATE features SET dim=4.7 WHERE name='color'"},
    {"dim with trailing text", "UPDATE features SET dim='4x' WHERE name='color'"},
    {"text committed rows", "UPDATE features SET committed_rows='3x' WHERE name='hashes'"},
    {"blob feature name", "UPDATE features SET name=x'2e2e2f76696374696d' WHERE name='color'"},
    {"empty schema version", "UPDATE meta SET value='' WHERE key='schema_version'"},
    {"negative schema version", "UPDATE meta SET value='-1' WHERE key='schema_version'"},
    {"no schema version", "DELETE FROM meta WHERE key='schema_version'"},
    {"images without a column", "ALTER TABLE images DROP COLUMN reason"},
    {"features of another shape", "DROP TABLE features; CREATE TABLE features(x)"},
    {"meta of another shape", "DROP TABLE meta; CREATE TABLE meta(k, v)"},
    {"images a view", "ALTER TABLE images RENAME TO i2; CREATE VIEW images AS SELECT * FROM i2"},
};

// Everything a reader and a writer do with a collection; must succeed or throw StoreError.
void exercise(const fs::path& dir) {
  auto c = Collection::open(dir);
  (void)c->records();
  for (const auto& s : c->feature_specs()) {
    auto v = c->view(s.name);
    for (int64_t r = 0; r < v.rows(); ++r) (void)v.row_bytes(r)[0];
  }
  auto h = c->view(kHashesFeature, "u64", 3);
  for (int64_t r = 0; r < h.rows(); ++r) (void)h.row_u64(r)[2];
  (void)c->view(kColorFeature, "f32", 4);
  for (int64_t id = 0; id < c->committed_rows(); ++id)
    if (!c->record(id)) throw StoreError("no record " + std::to_string(id));
  c->set_meta("touched", "1");
  c->commit();
}

// The StoreError's message exercise() ends in ("" if none; any other exception fails the test).
std::string store_error_of_exercise(const fs::path& dir) {
  try {
    exercise(dir);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(CatalogCorruption, EveryCorruptionIsAStoreErrorNamingTheCollection) {
  test::TempDir tmp("corrupt");
  const fs::path pristine = tmp / "pristine.irbis";
  make_collection(pristine);
  EXPECT_NO_THROW(exercise(pristine));  // the undamaged one passes the same exercise
  for (const auto& k : kCorruptions) {
    SCOPED_TRACE(k.what);
    const fs::path box = tmp / (std::string("box-") + std::to_string(&k - kCorruptions));
    const fs::path coll = box / "deep" / "c.irbis";
    fs::create_directories(coll.parent_path());
    fs::copy(pristine, coll, fs::copy_options::recursive);
    { store::Database db((coll / kCatalogFile).string()); db.exec(k.sql); }
    const auto before = listing(box);
    const std::string message = store_error_of_exercise(coll);
    EXPECT_NE(message.find(coll.string()), std::string::npos) << "no error naming the collection: '" << message << "'";
    // Nothing appears or changes outside the collection directory.
    auto after = listing(box);
    std::set<std::string> outside_before, outside_after;
    for (const auto& p : before)
      if (p.rfind(coll.string(), 0) != 0) outside_before.insert(p);
    for (const auto& p : after)
      if (p.rfind(coll.string(), 0) != 0) outside_after.insert(p);
    EXPECT_EQ(outside_before, outside_after);
  }
}

// D5: the name that would have truncated ../../victim on the next `index`.
TEST(CatalogCorruption, FeatureNameCannotReachOutsideFeatures) {
  test::TempDir tmp("corrupt");
  const fs::path coll = tmp / "a" / "b" / "c.irbis";
  make_collection(coll);
  const fs::path victim = tmp / "a" / "victim.f";
  { std::ofstream(victim) << "precious"; }
  { store::Database db((coll / kCatalogFile).string()); db.exec("UPDATE features SET name='../../victim' WHERE name='color'"); }
  EXPECT_THROW(Collection::open(coll), StoreError);
  EXPECT_THROW(feature_file(coll, "../../victim"), StoreError);
  EXPECT_THROW(Collection::open_or_create(tmp / "new.irbis")->ensure_feature({"../x", "u8", 1}), StoreError);
  std::ifstream in(victim);
  std::string s;
  in >> s;
  EXPECT_EQ(s, "precious");
}

TEST(CatalogCorruption, ValidFeatureNames) {
  for (const char* ok : {"hashes", "color", "emb.mobilenet_v2", "blocks.inception_v3", "emb.model-1.2"})
    EXPECT_TRUE(valid_feature_name(ok)) << ok;
  for (const char* bad : {"", ".", "..", ".hidden", "a/b", "../x", "a\\b", "a b", "x\n"})
    EXPECT_FALSE(valid_feature_name(bad)) << bad;
  EXPECT_FALSE(valid_feature_name(std::string(129, 'a')));
}

// D4 as the audit found it: `dupes` on hashes declared with dimension 1 read past every row.
TEST(CatalogCorruption, DupesOnWrongHashDimIsAStoreError) {
  test::TempDir tmp("corrupt");
  const fs::path coll = tmp / "c.irbis";
  make_collection(coll);
  { store::Database db((coll / kCatalogFile).string()); db.exec("UPDATE features SET dim=1 WHERE name='hashes'"); }
  auto c = Collection::open(coll);
  EXPECT_THROW(find_collection_dupes(*c, DupesParams{}, CnnDupesOptions{}), StoreError);
}

// Damage to the files rather than the rows: a catalog that is not SQLite or is cut short, a
// feature file that is missing, short, or a symlink to a file outside the collection (a collection
// handed over by someone else), features/ that is a file. Each ends in a StoreError naming the
// collection; nothing outside it is changed.
TEST(CatalogCorruption, DamagedFilesAreStoreErrorsAndNothingOutsideIsWritten) {
  test::TempDir tmp("corrupt_files");
  const fs::path pristine = tmp / "pristine.irbis";
  make_collection(pristine);
  { auto c = Collection::open(pristine); }  // checkpointed: everything in catalog.sqlite
  struct FileDamage {
    const char* what;
    std::function<void(const fs::path& coll, const fs::path& victim)> apply;
  };
  const auto cut = [](const fs::path& p, size_t keep) {
    auto b = test::read_file(p);
    b.resize(std::min(b.size(), keep));
    test::write_file(p, b);
  };
  const std::vector<FileDamage> damages = {
      {"catalog is not SQLite", [](const fs::path& c, const fs::path&) {
         fs::remove(c / (std::string(kCatalogFile) + "-wal"));
         test::write_file(c / kCatalogFile, std::vector<uint8_t>(4096, 'x'));
       }},
      {"catalog cut short", [&](const fs::path& c, const fs::path&) {
         fs::remove(c / (std::string(kCatalogFile) + "-wal"));
         cut(c / kCatalogFile, 1500);
       }},
      {"feature file missing", [](const fs::path& c, const fs::path&) { fs::remove(feature_file(c, kColorFeature)); }},
      {"feature file short", [&](const fs::path& c, const fs::path&) { cut(feature_file(c, kHashesFeature), 30); }},
      {"feature file a symlink outside", [](const fs::path& c, const fs::path& victim) {
         const fs::path f = feature_file(c, kColorFeature);
         fs::remove(f);
         fs::create_symlink(victim, f);
       }},
      {"features/ a file", [](const fs::path& c, const fs::path&) {
         fs::remove_all(c / kFeaturesDir);
         test::write_file(c / kFeaturesDir, {1, 2, 3});
       }},
      {"catalog a symlink outside", [](const fs::path& c, const fs::path& victim) {
         fs::remove(c / kCatalogFile);
         fs::remove(c / (std::string(kCatalogFile) + "-wal"));
         fs::create_symlink(victim, c / kCatalogFile);
       }},
  };
  for (size_t k = 0; k < damages.size(); ++k) {
    SCOPED_TRACE(damages[k].what);
    const fs::path box = tmp / ("box-" + std::to_string(k));
    const fs::path coll = box / "c.irbis", victim = box / "victim";
    fs::create_directories(box);
    fs::copy(pristine, coll, fs::copy_options::recursive);
    // The victim holds more bytes than any committed row count, so a truncation would show.
    const std::vector<uint8_t> victim_bytes(4096, 0x5A);
    test::write_file(victim, victim_bytes);
    damages[k].apply(coll, victim);
    const std::string message = store_error_of_exercise(coll);
    EXPECT_NE(message.find(coll.string()), std::string::npos) << "no error naming the collection: '" << message << "'";
    EXPECT_EQ(test::read_file(victim), victim_bytes) << "a file outside the collection was changed";
  }
}
