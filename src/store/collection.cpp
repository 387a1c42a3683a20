#include "irbis/collection.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/fault_hooks.h"
#include "store/sqlite_db.h"

namespace irbis {

namespace fs = std::filesystem;

namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- One row per file version. id is also the row of this image in every feature file.
CREATE TABLE IF NOT EXISTS images (
  id INTEGER PRIMARY KEY,
  path BLOB NOT NULL,          -- raw bytes from the file system
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  content_hash BLOB,
  format TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  status TEXT NOT NULL,        -- ok | failed | retired | removed
  reason TEXT NOT NULL DEFAULT '',
  indexed_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS images_live_path ON images(path) WHERE status IN ('ok', 'failed');
CREATE INDEX IF NOT EXISTS images_content_hash ON images(content_hash);
-- Feature files and how many of their rows are committed (bytes past that are cut on open).
CREATE TABLE IF NOT EXISTS features (
  name TEXT PRIMARY KEY, dtype TEXT NOT NULL, dim INTEGER NOT NULL, committed_rows INTEGER NOT NULL
);
)sql";

size_t dtype_size(const std::string& dtype) {
  if (dtype == "u64") return 8;
  if (dtype == "f32") return 4;
  if (dtype == "f16") return 2;
  if (dtype == "u8") return 1;
  throw StoreError("unknown feature dtype '" + dtype + "'");
}

std::string sys_error(const fs::path& p, const std::string& what) {
  return p.string() + ": " + what + ": " + std::strerror(errno);
}

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void sync_directory(const fs::path& d) {
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw StoreError(sys_error(d, "cannot open directory to sync it"));
  const int injected = injected_io_error(IoOp::sync, d.string());
  const int rc = injected ? (errno = injected, -1) : fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) throw StoreError(sys_error(d, "fsync of directory"));
}

int64_t now_seconds() { return int64_t(::time(nullptr)); }

}  // namespace

size_t FeatureSpec::row_bytes() const { return size_t(dim) * dtype_size(dtype); }

// ---------------------------------------------------------------- FeatureView

FeatureView::FeatureView(FeatureView&& o) noexcept
    : spec_(std::move(o.spec_)), rows_(o.rows_), data_(o.data_), map_len_(o.map_len_) {
  o.data_ = nullptr;
  o.map_len_ = 0;
  o.rows_ = 0;
}

FeatureView& FeatureView::operator=(FeatureView&& o) noexcept {
  if (this != &o) {
    if (map_len_) munmap(const_cast<uint8_t*>(data_), map_len_);
    spec_ = std::move(o.spec_);
    rows_ = o.rows_;
    data_ = o.data_;
    map_len_ = o.map_len_;
    o.data_ = nullptr;
    o.map_len_ = 0;
    o.rows_ = 0;
  }
  return *this;
}

FeatureView::~FeatureView() {
  if (map_len_) munmap(const_cast<uint8_t*>(data_), map_len_);
}

// ---------------------------------------------------------------- Collection::Impl

struct Collection::Impl {
  std::unique_ptr<store::Database> db;
  int lock_fd = -1;  // >= 0 once this process is the writer

  struct FeatureState {
    FeatureSpec spec;
    int64_t committed_rows = 0;
    int fd = -1;                 // writer only
    std::vector<uint8_t> staged; // rows appended after committed_rows
  };
  std::map<std::string, FeatureState> features;
  int64_t committed_image_rows = 0;
  int64_t commits = 0;  // commit() calls, for the fault switch
  std::string write_failed;  // the error of a failed feature write or sync: no more commits

  struct StagedStatus { int64_t id; ImageStatus status; };
  std::vector<ImageRecord> staged_images;
  std::vector<StagedStatus> staged_statuses;
  std::vector<std::pair<std::string, std::string>> staged_meta;

  ~Impl() {
    for (auto& [name, f] : features)
      if (f.fd >= 0) ::close(f.fd);
    if (lock_fd >= 0) ::close(lock_fd);
  }

  // Everything read back from the catalog is checked before it is used as a size, an offset or a
  // file name: a damaged or edited catalog must end in a StoreError, never in a crash or a write
  // outside the collection (docs/reliability.md).
  void load_features(const fs::path& dir) {
    const auto damaged = [&](const std::string& what) {
      return StoreError(dir.string() + ": catalog damaged: " + what + " (re-create the collection)");
    };
    features.clear();
    // Image ids are the rows of every feature file: they must run 0..n-1 without gaps or repeats.
    {
      store::Statement n(db->handle(),
                         "SELECT COUNT(*), COUNT(DISTINCT id), COALESCE(MIN(id), 0), COALESCE(MAX(id), -1), "
                         "SUM(typeof(id) != 'integer') FROM images");
      n.step();
      const int64_t count = n.column_int(0), distinct = n.column_int(1), lo = n.column_int(2), hi = n.column_int(3);
      if (n.column_int(4) > 0) throw damaged("image ids that are not integers");
      if (distinct != count) throw damaged("duplicate image ids");
      if (count > 0 && (lo != 0 || hi != count - 1))
        throw damaged("image ids run from " + std::to_string(lo) + " to " + std::to_string(hi) + " for " +
                      std::to_string(count) + " images (expected 0 to " + std::to_string(count - 1) + ")");
      committed_image_rows = count;
      store::Statement bad(db->handle(),
                           "SELECT status FROM images WHERE status NOT IN ('ok', 'failed', 'retired', 'removed') LIMIT 1");
      if (bad.step()) throw damaged("unknown image status '" + bad.column_text(0) + "'");
    }
    store::Statement st(db->handle(),
                        "SELECT name, dtype, dim, committed_rows, typeof(dim) = 'integer' AND "
                        "typeof(committed_rows) = 'integer' FROM features");
    while (st.step()) {
      FeatureState f;
      const std::string name = st.column_text(0);
      if (!valid_feature_name(name)) throw damaged("feature name '" + name + "' is not a plain name");
      // SQLite reads '4x' or 4.7 as 4: a size or count that is not stored as an integer is damage.
      if (st.column_int(4) != 1) throw damaged("feature '" + name + "' has a dimension or row count that is not an integer");
      const std::string dtype = st.column_text(1);
      if (dtype != "u64" && dtype != "f32" && dtype != "f16" && dtype != "u8")
        throw damaged("feature '" + name + "' has unknown dtype '" + dtype + "'");
      const int64_t dim = st.column_int(2);
      if (dim < 1 || dim > kMaxFeatureDim)
        throw damaged("feature '" + name + "' has dimension " + std::to_string(dim) + " (expected 1 to " +
                      std::to_string(kMaxFeatureDim) + ")");
      f.spec = {name, dtype, int(dim)};
      f.committed_rows = st.column_int(3);
      if (f.committed_rows < 0 || f.committed_rows > committed_image_rows)
        throw damaged("feature '" + name + "' claims " + std::to_string(f.committed_rows) + " rows for " +
                      std::to_string(committed_image_rows) + " images");
      features[f.spec.name] = std::move(f);
    }
  }
};

namespace {
// What the user most likely meant: a photo folder or an image given where the collection goes
// gets the index command that makes a collection of it (next to it, never into the photos).
std::string not_a_collection_message(const fs::path& dir) {
  std::error_code ec;
  std::string given = dir.string();
  while (given.size() > 1 && given.back() == '/') given.pop_back();
  const std::string head = given + ": not an irbis collection (no catalog.sqlite)";
  if (fs::is_regular_file(dir, ec))
    return head + "; it is a file. The collection (a folder made by `irbis index`) comes first, e.g. " +
           "`irbis index " + (dir.has_parent_path() ? dir.parent_path().string() : std::string(".")) +
           " --into " + (dir.has_parent_path() ? dir.parent_path().string() : std::string("photos")) + ".irbis`";
  if (fs::is_directory(dir, ec))
    return head + "; to make a collection of the images in it: `irbis index " + given + " --into " + given + ".irbis`";
  return head + "; it does not exist. Create one with `irbis index PHOTO_FOLDER --into " + given + "`";
}
}  // namespace

Collection::Collection(fs::path dir) : dir_(std::move(dir)), impl_(std::make_unique<Impl>()) {}
Collection::~Collection() = default;

std::unique_ptr<Collection> Collection::open(const fs::path& dir) {
  if (!fs::exists(dir / kCatalogFile)) throw NotACollectionError(not_a_collection_message(dir));
  return open_or_create(dir);
}

std::unique_ptr<Collection> Collection::open_or_create(const fs::path& dir) {
  std::error_code ec;
  const bool created = fs::create_directories(dir / kFeaturesDir, ec);
  if (ec) throw StoreError(dir.string() + ": cannot create collection directory: " + ec.message());
  if (created) sync_directory(dir);  // features/ itself survives a power loss
  std::unique_ptr<Collection> c(new Collection(dir));
  c->impl_->db = std::make_unique<store::Database>((dir / kCatalogFile).string());
  auto& db = *c->impl_->db;
  // synchronous=FULL: in WAL mode NORMAL may lose the last commits on power loss; FULL syncs the
  // WAL at every commit, so a commit that returned survives (cost measured in docs/reliability.md).
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  bool have_tables = false;
  {
    // A catalog with some of its tables is damaged; one with none is new.
    std::string missing;
    int have = 0;
    for (const char* table : {"meta", "images", "features"}) {
      store::Statement t(db.handle(), "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
      t.bind_text(1, table);
      if (t.step()) ++have;
      else missing += std::string(missing.empty() ? "" : ", ") + table;
    }
    if (have > 0 && !missing.empty())
      throw StoreError(dir.string() + ": catalog damaged: no table " + missing + " (re-create the collection)");
    have_tables = have > 0;
  }
  // A new catalog gets its tables and schema version in one transaction: one whose creation failed
  // half-way (a full disk) has no tables rather than some, so it is created again, not "damaged".
  if (!have_tables)
    db.transaction([&] {
      db.exec(kSchema);
      store::Statement st(db.handle(), "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)");
      st.bind_text(1, kSchemaVersionKey).bind_text(2, std::to_string(kSchemaVersion)).step();
    });
  const std::string version = c->meta(kSchemaVersionKey);
  if (version.empty()) {
    throw StoreError(dir.string() + ": catalog damaged: no schema version (re-create the collection)");
  } else if (version.size() > 9 || !std::all_of(version.begin(), version.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    throw StoreError(dir.string() + ": catalog damaged: schema version '" + version + "' is not a number");
  } else if (std::stoi(version) != kSchemaVersion) {
    throw StoreError(dir.string() + ": collection schema version " + version + " is not supported by this irbis (" +
                     std::to_string(kSchemaVersion) + ")");
  }
  c->impl_->load_features(dir);
  return c;
}

// ---------------------------------------------------------------- reading

namespace {
const char* kRecordColumns =
    "SELECT id, path, size, mtime_ns, content_hash, format, width, height, status, reason FROM images";

ImageRecord read_record(const store::Statement& st) {
  ImageRecord r;
  r.id = st.column_int(0);
  r.path = st.column_blob(1);
  r.size = st.column_int(2);
  r.mtime_ns = st.column_int(3);
  const std::string h = st.column_blob(4);
  if (h.size() == r.content_hash.size()) std::memcpy(r.content_hash.data(), h.data(), h.size());
  const std::string f = st.column_text(5);
  for (auto fmt : {ImageFormat::jpeg, ImageFormat::png, ImageFormat::webp, ImageFormat::bmp, ImageFormat::tiff,
                   ImageFormat::gif, ImageFormat::heif, ImageFormat::avif, ImageFormat::jxl, ImageFormat::netpbm,
                   ImageFormat::mpo, ImageFormat::raw})
    if (f == format_name(fmt)) r.format = fmt;
  r.width = int(st.column_int(6));
  r.height = int(st.column_int(7));
  r.status = status_from_name(st.column_text(8));
  r.reason = st.column_text(9);
  return r;
}
}  // namespace

std::vector<ImageRecord> Collection::records(std::optional<ImageStatus> status) const {
  std::vector<ImageRecord> out;
  std::string sql = kRecordColumns;
  if (status) sql += " WHERE status = ?";
  sql += " ORDER BY id";
  store::Statement st(impl_->db->handle(), sql);
  if (status) st.bind_text(1, status_name(*status));
  while (st.step()) out.push_back(read_record(st));
  return out;
}

std::optional<ImageRecord> Collection::find_live(const std::string& path) const {
  store::Statement st(impl_->db->handle(),
                      std::string(kRecordColumns) + " WHERE path = ? AND status IN ('ok', 'failed')");
  st.bind_blob(1, as_bytes(path));
  if (st.step()) return read_record(st);
  return std::nullopt;
}

std::optional<ImageRecord> Collection::record(int64_t id) const {
  store::Statement st(impl_->db->handle(), std::string(kRecordColumns) + " WHERE id = ?");
  st.bind(1, id);
  if (st.step()) return read_record(st);
  return std::nullopt;
}

int64_t Collection::committed_rows() const { return impl_->committed_image_rows; }

std::vector<FeatureSpec> Collection::feature_specs() const {
  std::vector<FeatureSpec> out;
  for (const auto& [name, f] : impl_->features) out.push_back(f.spec);
  return out;
}

bool Collection::has_feature(const std::string& name) const { return impl_->features.count(name) > 0; }

int64_t Collection::feature_rows(const std::string& name) const {
  auto it = impl_->features.find(name);
  return it == impl_->features.end() ? 0 : it->second.committed_rows;
}

FeatureView Collection::view(const std::string& name) const {
  auto it = impl_->features.find(name);
  if (it == impl_->features.end())
    throw StoreError(dir_.string() + ": collection has no feature '" + name + "'");
  FeatureView v;
  v.spec_ = it->second.spec;
  v.rows_ = it->second.committed_rows;
  const size_t len = size_t(v.rows_) * v.spec_.row_bytes();
  if (len == 0) return v;
  const fs::path file = feature_file(dir_, name);
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw StoreError(sys_error(file, "cannot open feature file"));
  struct stat sb {};
  if (fstat(fd, &sb) != 0 || size_t(sb.st_size) < len) {
    ::close(fd);
    throw StoreError(file.string() + ": feature file is shorter than its " + std::to_string(v.rows_) +
                     " committed rows (collection damaged; re-create it)");
  }
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw StoreError(sys_error(file, "cannot map feature file"));
  v.data_ = static_cast<const uint8_t*>(p);
  v.map_len_ = len;
  return v;
}

FeatureView Collection::view(const std::string& name, const std::string& dtype, int dim) const {
  FeatureView v = view(name);
  if (v.spec().dtype != dtype || v.spec().dim != dim)
    throw StoreError(dir_.string() + ": catalog damaged: feature '" + name + "' is " + v.spec().dtype + "[" +
                     std::to_string(v.spec().dim) + "], expected " + dtype + "[" + std::to_string(dim) + "]");
  return v;
}

std::string Collection::meta(const std::string& key, const std::string& fallback) const {
  store::Statement st(impl_->db->handle(), "SELECT value FROM meta WHERE key = ?");
  st.bind_text(1, key);
  return st.step() ? st.column_text(0) : fallback;
}

// ---------------------------------------------------------------- writing

void Collection::acquire_writer() {
  if (impl_->lock_fd >= 0) return;
  const fs::path lock = dir_ / kLockFile;
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw StoreError(sys_error(lock, "cannot open lock file"));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw StoreError(dir_.string() + ": another irbis process is writing this collection");
  }
  impl_->lock_fd = fd;
  // Reload under the lock, then cut any bytes a crashed writer left past the committed rows.
  impl_->load_features(dir_);
  for (auto& [name, f] : impl_->features) {
    const fs::path file = feature_file(dir_, name);
    // O_NOFOLLOW everywhere: a feature file that is a symlink (a collection handed over by someone
    // else) must not make the writer cut or overwrite the file it points to.
    f.fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f.fd < 0) throw StoreError(sys_error(file, "cannot open feature file"));
    const off_t committed = off_t(f.committed_rows * int64_t(f.spec.row_bytes()));
    struct stat sb {};
    if (fstat(f.fd, &sb) != 0) throw StoreError(sys_error(file, "stat"));
    if (sb.st_size < committed)
      throw StoreError(file.string() + ": feature file is shorter than its committed rows (collection damaged)");
    if (sb.st_size > committed) {
      const int injected = injected_io_error(IoOp::truncate, file.string());
      if (injected ? (errno = injected, true) : ftruncate(f.fd, committed) != 0)
        throw StoreError(sys_error(file, "cannot cut uncommitted rows"));
    }
  }
}

void Collection::set_meta(const std::string& key, const std::string& value) {
  acquire_writer();
  impl_->staged_meta.emplace_back(key, value);
}

void Collection::ensure_feature(const FeatureSpec& spec) {
  acquire_writer();
  auto it = impl_->features.find(spec.name);
  if (it != impl_->features.end()) {
    const auto& have = it->second.spec;
    if (have.dtype != spec.dtype || have.dim != spec.dim)
      throw StoreError(dir_.string() + ": feature '" + spec.name + "' exists with " + have.dtype + "[" +
                       std::to_string(have.dim) + "], not " + spec.dtype + "[" + std::to_string(spec.dim) + "]");
    return;
  }
  dtype_size(spec.dtype);  // validates
  if (!valid_feature_name(spec.name) || spec.dim < 1 || spec.dim > kMaxFeatureDim)
    throw StoreError(dir_.string() + ": cannot declare feature '" + spec.name + "' [" + std::to_string(spec.dim) + "]");
  // The file and its directory entry are made durable before the catalog names the feature: a
  // kill between the two leaves at worst an unnamed file, which the next declaration truncates.
  const fs::path file = feature_file(dir_, spec.name);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw StoreError(sys_error(file, "cannot create feature file"));
  Impl::FeatureState f;
  f.spec = spec;
  f.fd = fd;
  try {
    sync_directory(dir_ / kFeaturesDir);
    store::Statement st(impl_->db->handle(),
                        "INSERT INTO features(name, dtype, dim, committed_rows) VALUES (?, ?, ?, 0)");
    st.bind_text(1, spec.name).bind_text(2, spec.dtype).bind(3, int64_t(spec.dim)).step();
  } catch (...) {
    ::close(fd);
    throw;
  }
  impl_->features[spec.name] = std::move(f);
}

void Collection::clear_feature(const std::string& name, const std::vector<std::pair<std::string, std::string>>& meta) {
  acquire_writer();
  auto it = impl_->features.find(name);
  if (it == impl_->features.end()) throw StoreError("clear_feature: undeclared feature '" + name + "'");
  Impl::FeatureState& f = it->second;
  if (!f.staged.empty()) throw StoreError("clear_feature: '" + name + "' has staged rows");
  // The catalog first: once it says 0 rows, a crash before the file is replaced leaves old bytes
  // past the committed rows, which the next writer cuts.
  auto& db = *impl_->db;
  db.transaction([&] {
    store::Statement st(db.handle(), "UPDATE features SET committed_rows = 0 WHERE name = ?");
    st.bind_text(1, name).step();
    store::Statement m(db.handle(), "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    for (const auto& [k, v] : meta) {
      m.bind_text(1, k).bind_text(2, v).step();
      m.reset();
    }
  });
  f.committed_rows = 0;
  // A new empty file renamed over the old one, not the old one cut: a reader that mapped the old
  // rows keeps them (cutting a mapped file under a reader would end it with SIGBUS).
  const fs::path file = feature_file(dir_, name);
  fs::path fresh = file;
  fresh += ".new";
  const int fd = ::open(fresh.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw StoreError(sys_error(fresh, "cannot create feature file"));
  if (::rename(fresh.c_str(), file.c_str()) != 0) {
    ::close(fd);
    throw StoreError(sys_error(file, "cannot replace feature file"));
  }
  ::close(f.fd);
  f.fd = fd;
  sync_directory(dir_ / kFeaturesDir);
}

int64_t Collection::stage_image(const ImageRecord& rec,
                                const std::vector<std::pair<std::string, std::span<const uint8_t>>>& rows) {
  acquire_writer();
  const int64_t id = impl_->committed_image_rows + int64_t(impl_->staged_images.size());
  for (const auto& [name, bytes] : rows) {
    auto it = impl_->features.find(name);
    if (it == impl_->features.end()) throw StoreError("stage_image: undeclared feature '" + name + "'");
    if (bytes.size() != it->second.spec.row_bytes())
      throw StoreError("stage_image: feature '" + name + "' row has " + std::to_string(bytes.size()) +
                       " bytes, expected " + std::to_string(it->second.spec.row_bytes()));
  }
  // Every feature file that is complete up to this id gets a row, so rows stay aligned with ids.
  // An incomplete (being back-filled) feature is left alone. A failed image gets zero rows; an ok
  // one must bring a row of every complete feature, since a zero row would pass for its data
  // (a zero embedding, a flat image's hashes) and nothing would ever fill it in.
  for (const auto& [name, f] : impl_->features) {
    const int64_t have = f.committed_rows + int64_t(f.staged.size() / f.spec.row_bytes());
    if (have != id || rec.status != ImageStatus::ok) continue;
    const std::string& feature = name;  // clang 14 cannot capture a structured binding
    if (std::none_of(rows.begin(), rows.end(), [&](const auto& r) { return r.first == feature; }))
      throw StoreError("stage_image: " + rec.path + " has no row of feature '" + name + "'");
  }
  for (auto& [name, f] : impl_->features) {
    const int64_t have = f.committed_rows + int64_t(f.staged.size() / f.spec.row_bytes());
    if (have != id) continue;
    std::span<const uint8_t> given;
    for (const auto& [n, bytes] : rows)
      if (n == name) given = bytes;
    if (given.empty()) f.staged.resize(f.staged.size() + f.spec.row_bytes(), 0);
    else f.staged.insert(f.staged.end(), given.begin(), given.end());
  }
  ImageRecord r = rec;
  r.id = id;
  impl_->staged_images.push_back(std::move(r));
  return id;
}

void Collection::stage_feature_rows(const std::string& name, int64_t first_id, std::span<const uint8_t> rows) {
  acquire_writer();
  auto it = impl_->features.find(name);
  if (it == impl_->features.end()) throw StoreError("stage_feature_rows: undeclared feature '" + name + "'");
  auto& f = it->second;
  const int64_t have = f.committed_rows + int64_t(f.staged.size() / f.spec.row_bytes());
  if (first_id != have || rows.size() % f.spec.row_bytes() != 0)
    throw StoreError("stage_feature_rows: feature '" + name + "' expects rows from id " + std::to_string(have));
  f.staged.insert(f.staged.end(), rows.begin(), rows.end());
}

void Collection::stage_status(int64_t id, ImageStatus status) {
  acquire_writer();
  impl_->staged_statuses.push_back({id, status});
}

size_t Collection::staged_images() const { return impl_->staged_images.size(); }

void Collection::commit() {
  acquire_writer();
  auto& im = *impl_;
  // After a failed write or sync the kernel may have dropped the dirty pages while marking them
  // clean, so a retried fdatasync could "succeed" over lost bytes: this writer stops, and the next
  // one cuts the uncommitted bytes and redoes them (docs/reliability.md, fault injection).
  if (!im.write_failed.empty())
    throw StoreError(dir_.string() + ": no more commits after a failed write (" + im.write_failed +
                     "); open the collection again to continue");
  // 1. Feature bytes first, made durable, past the committed rows.
  for (auto& [name, f] : im.features) {
    if (f.staged.empty()) continue;
    const fs::path file = feature_file(dir_, name);
    const auto failed = [&](const char* what) {
      StoreError e(sys_error(file, what));
      im.write_failed = e.what();
      return e;
    };
    const off_t off = off_t(f.committed_rows * int64_t(f.spec.row_bytes()));
    size_t done = 0;
    while (done < f.staged.size()) {
      const int injected = injected_io_error(IoOp::write, file.string());
      const ssize_t n = injected ? (errno = injected, -1)
                                 : pwrite(f.fd, f.staged.data() + done, f.staged.size() - done, off + off_t(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw failed("write failed");
      }
      done += size_t(n);
    }
    const int injected = injected_io_error(IoOp::sync, file.string());
    if (injected ? (errno = injected, true) : fdatasync(f.fd) != 0) throw failed("fdatasync");
  }
  // The crash-resume tests die here (fault_hooks.h): after the feature bytes are written, before
  // the catalog says they exist.
  ++im.commits;
  if (const auto& hook = fault_hooks().before_catalog_commit)
    hook(im.commits, im.committed_image_rows + int64_t(im.staged_images.size()));
  // 2. One transaction makes them visible.
  auto& db = *im.db;
  db.transaction([&] {
    {
      store::Statement ins(db.handle(),
                           "INSERT INTO images(id, path, size, mtime_ns, content_hash, format, width, height, status, "
                           "reason, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      store::Statement upd(db.handle(), "UPDATE images SET status = ? WHERE id = ?");
      // Status changes first: a changed file's old version leaves the live set before the new one enters.
      for (const auto& s : im.staged_statuses) {
        upd.bind_text(1, status_name(s.status)).bind(2, s.id).step();
        upd.reset();
      }
      const int64_t t = now_seconds();
      for (const auto& r : im.staged_images) {
        ins.bind(1, r.id).bind_blob(2, as_bytes(r.path)).bind(3, r.size).bind(4, r.mtime_ns);
        ins.bind_blob(5, r.content_hash).bind_text(6, format_name(r.format));
        ins.bind(7, int64_t(r.width)).bind(8, int64_t(r.height)).bind_text(9, status_name(r.status));
        ins.bind_text(10, r.reason).bind(11, t).step();
        ins.reset();
      }
      store::Statement feat(db.handle(), "UPDATE features SET committed_rows = ? WHERE name = ?");
      for (auto& [name, f] : im.features) {
        if (f.staged.empty()) continue;
        feat.bind(1, f.committed_rows + int64_t(f.staged.size() / f.spec.row_bytes())).bind_text(2, name).step();
        feat.reset();
      }
      store::Statement meta(db.handle(), "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
      for (const auto& [k, v] : im.staged_meta) {
        meta.bind_text(1, k).bind_text(2, v).step();
        meta.reset();
      }
    }
  });
  for (auto& [name, f] : im.features) {
    f.committed_rows += int64_t(f.staged.size() / f.spec.row_bytes());
    f.staged.clear();
  }
  im.committed_image_rows += int64_t(im.staged_images.size());
  im.staged_images.clear();
  im.staged_statuses.clear();
  im.staged_meta.clear();
}

}  // namespace irbis
