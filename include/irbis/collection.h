// A collection is a directory (e.g. pics.irbis/) holding:
//   catalog.sqlite      SQLite (WAL): one row per file version, feature-file row counts, metadata
//   features/<name>.f   fixed-width binary rows, row r belongs to image id r; memory-mapped reads
//   lock                flock()ed by the one writer
// A feature file may hold more bytes than the catalog says are committed (a crash between the
// write and the commit); those bytes are cut off when the file is opened, so a half-written row is
// never counted. See docs/storage.md.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "irbis/image.h"

namespace irbis {

enum class ImageStatus { ok, failed, retired, removed };
const char* status_name(ImageStatus s);
ImageStatus status_from_name(const std::string& s);

using ContentHash = std::array<uint8_t, 16>;  // xxh3-128 of the file's bytes

struct ImageRecord {
  int64_t id = -1;          // equals the row of this image in every feature file
  std::string path;         // bytes as the file system gave them (need not be UTF-8)
  int64_t size = 0;
  int64_t mtime_ns = 0;
  ContentHash content_hash{};
  ImageFormat format = ImageFormat::unknown;
  int width = 0, height = 0;  // after EXIF orientation
  ImageStatus status = ImageStatus::ok;
  std::string reason;       // why it failed (status failed)
};

// Description of one feature file. row_bytes = dim * sizeof(element).
struct FeatureSpec {
  std::string name;      // e.g. "hashes", "color", "emb.mobilenet_v2_mid"
  std::string dtype;     // "u64" or "f32"
  int dim = 0;           // elements per row
  size_t row_bytes() const;
};

// Read-only, memory-mapped view of the committed rows of one feature file.
class FeatureView {
 public:
  FeatureView() = default;
  FeatureView(const FeatureView&) = delete;
  FeatureView& operator=(const FeatureView&) = delete;
  FeatureView(FeatureView&&) noexcept;
  FeatureView& operator=(FeatureView&&) noexcept;
  ~FeatureView();
  const FeatureSpec& spec() const { return spec_; }
  int64_t rows() const { return rows_; }
  const uint8_t* row_bytes(int64_t r) const { return data_ + r * spec_.row_bytes(); }
  const float* row_f32(int64_t r) const { return reinterpret_cast<const float*>(row_bytes(r)); }
  const uint64_t* row_u64(int64_t r) const { return reinterpret_cast<const uint64_t*>(row_bytes(r)); }

 private:
  friend class Collection;
  FeatureSpec spec_;
  int64_t rows_ = 0;
  const uint8_t* data_ = nullptr;
  size_t map_len_ = 0;
};

class Collection {
 public:
  // Opens an existing collection; throws StoreError naming the path if it is not one.
  static std::unique_ptr<Collection> open(const std::filesystem::path& dir);
  // Opens, or creates an empty one.
  static std::unique_ptr<Collection> open_or_create(const std::filesystem::path& dir);
  ~Collection();

  const std::filesystem::path& dir() const { return dir_; }

  // --- reading ---
  // All records in id order; filter by status when given.
  std::vector<ImageRecord> records(std::optional<ImageStatus> status = std::nullopt) const;
  // The live record (ok or failed) for a path, if any.
  std::optional<ImageRecord> find_live(const std::string& path) const;
  std::optional<ImageRecord> record(int64_t id) const;
  int64_t committed_rows() const;  // number of ids assigned (rows in every complete feature file)
  std::vector<FeatureSpec> feature_specs() const;
  bool has_feature(const std::string& name) const;
  // Committed rows of one feature file (less than committed_rows() while it is being back-filled).
  int64_t feature_rows(const std::string& name) const;
  // Committed rows only.
  FeatureView view(const std::string& name) const;
  // The same, for a reader that needs one exact layout: StoreError if the catalog declares another.
  FeatureView view(const std::string& name, const std::string& dtype, int dim) const;

  std::string meta(const std::string& key, const std::string& fallback = "") const;

  // --- writing (one writer at a time; the first write call takes the lock) ---
  void set_meta(const std::string& key, const std::string& value);
  // Declares a feature file; a file declared after images exist starts empty and must be
  // back-filled in id order (append_feature_rows) before it is complete.
  void ensure_feature(const FeatureSpec& spec);
  // Empties a declared feature (its definition changed): the catalog's committed rows drop to 0,
  // with `meta` written in the same transaction, and an empty file replaces the old one (readers
  // that mapped it keep their rows). Back-fill it in id order like a newly declared feature.
  // Commits nothing else that is staged; throws StoreError if rows of it are staged.
  void clear_feature(const std::string& name, const std::vector<std::pair<std::string, std::string>>& meta = {});
  // Stages a new image version: assigns its id (= next row) and its row of each named feature.
  // An ok image must give a row of every complete feature (StoreError otherwise); a failed one
  // gets zero rows. Incomplete features get none. Not visible to readers until commit().
  int64_t stage_image(const ImageRecord& rec, const std::vector<std::pair<std::string, std::span<const uint8_t>>>& rows);
  // Stages rows for an existing feature file being back-filled; first_id must equal its row count.
  void stage_feature_rows(const std::string& name, int64_t first_id, std::span<const uint8_t> rows);
  // Marks live records as retired (replaced by a newer version) or removed (file gone).
  void stage_status(int64_t id, ImageStatus status);
  // Makes staged work durable: fdatasync the feature files, then one SQLite transaction.
  void commit();
  size_t staged_images() const;

 private:
  explicit Collection(std::filesystem::path dir);
  // Takes the writer lock and cuts bytes a crashed writer left past the committed rows.
  void acquire_writer();
  struct Impl;
  std::filesystem::path dir_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace irbis
