#include "search/index_files.h"

#include "irbis/errors.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <vector>

#include <xxhash.h>

namespace irbis::index_files {

namespace {

template <class T>
void put(FileReplacer& out, const T& v) {
  out.write(std::span(reinterpret_cast<const uint8_t*>(&v), sizeof v));
}

// Reads fixed-size values from the front of a byte span; false once the bytes run out.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  template <class T>
  bool get(T& v) {
    if (b_.size() - pos_ < sizeof v) return false;
    std::memcpy(&v, b_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return true;
  }
  bool skip(size_t n) {
    if (b_.size() - pos_ < n) return false;
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }
  const uint8_t* at(size_t p) const { return b_.data() + p; }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

constexpr char kPcaMagic[8] = {'I', 'R', 'B', 'I', 'S', 'P', 'C', 'A'};
constexpr uint32_t kPcaVersion = 1;
constexpr char kKnnMagic[8] = {'I', 'R', 'B', 'I', 'S', 'K', 'N', 'N'};
constexpr uint32_t kKnnVersion = 1;
struct KnnEntry {
  int32_t row;
  float similarity;
};
static_assert(sizeof(KnnEntry) == 8);

}  // namespace

std::string check_hnsw(std::span<const uint8_t> bytes, int dim, size_t M, size_t elements,
                       std::span<const int64_t> ids) {
  Reader r(bytes);
  size_t offset_level0, max_elements, count, per_element, label_offset, offset_data, max_m, max_m0, m, ef_construction;
  int max_level;
  unsigned int entry;
  double mult;
  if (!(r.get(offset_level0) && r.get(max_elements) && r.get(count) && r.get(per_element) && r.get(label_offset) &&
        r.get(offset_data) && r.get(max_level) && r.get(entry) && r.get(max_m) && r.get(max_m0) && r.get(m) &&
        r.get(mult) && r.get(ef_construction)))
    return "shorter than the graph's header (" + std::to_string(bytes.size()) + " bytes)";
  if (dim < 1 || M < 2) return "bad parameters";
  const size_t links0 = max_m0 * sizeof(unsigned int) + sizeof(unsigned int);
  if (m != M || max_m != M || max_m0 != 2 * M) return "built with M = " + std::to_string(m) + ", expected " + std::to_string(M);
  if (offset_level0 != 0 || offset_data != links0 || label_offset != links0 + size_t(dim) * sizeof(float) ||
      per_element != label_offset + sizeof(size_t))
    return "its element layout is not that of " + std::to_string(dim) + "-float vectors";
  if (count != elements) return "holds " + std::to_string(count) + " elements, its ids list " + std::to_string(elements);
  // hnswlib allocates the capacity up front; ours is at most twice the elements (resizeIndex).
  if (count < 1 || count > (size_t(1) << 31) || max_elements < count || max_elements > std::max<size_t>(2 * count, 16))
    return "declares room for " + std::to_string(max_elements) + " elements with " + std::to_string(count);
  if (!std::isfinite(mult) || mult <= 0 || ef_construction < 1 || ef_construction > 100000)
    return "bad construction parameters";
  if (max_level < 0 || max_level > 64) return "top level " + std::to_string(max_level);
  if (entry >= count) return "entry point " + std::to_string(entry) + " is not an element";
  const size_t level0_at = r.pos();
  if (r.left() / per_element < count) return "cut short in its vectors";
  r.skip(count * per_element);
  // Upper levels: each element's list size, then its lists (one per level above 0).
  const size_t links = max_m * sizeof(unsigned int) + sizeof(unsigned int);
  std::vector<int> level(count, 0);
  std::vector<size_t> upper_at(count, 0);
  for (size_t i = 0; i < count; ++i) {
    unsigned int size;
    if (!r.get(size)) return "cut short in element " + std::to_string(i) + "'s links";
    if (size % links != 0 || size / links > size_t(max_level))
      return "element " + std::to_string(i) + " declares " + std::to_string(size) + " bytes of upper links";
    level[i] = int(size / links);
    upper_at[i] = r.pos();
    if (!r.skip(size)) return "cut short in element " + std::to_string(i) + "'s links";
  }
  if (r.left() != 0) return std::to_string(r.left()) + " bytes past the last element";
  if (level[entry] != max_level) return "the entry point is not on the top level";
  // Every list: hnswlib reads its count from the low 16 bits of the first word.
  const auto check_list = [&](size_t i, int l, const uint8_t* list, size_t cap) -> std::string {
    const size_t n = u32_at(list) & 0xFFFF;
    if (n > cap) return "element " + std::to_string(i) + "'s level-" + std::to_string(l) + " list holds " + std::to_string(n);
    for (size_t k = 0; k < n; ++k) {
      const uint32_t to = u32_at(list + 4 + 4 * k);
      if (to >= count || level[to] < l)
        return "element " + std::to_string(i) + "'s level-" + std::to_string(l) + " list names element " +
               std::to_string(to) + (to >= count ? ", which does not exist" : ", which has no level " + std::to_string(l));
    }
    return "";
  };
  std::vector<size_t> labels(count);  // hnswlib::labeltype
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* e = r.at(level0_at + i * per_element);
    if (auto why = check_list(i, 0, e, max_m0); !why.empty()) return why;
    std::memcpy(&labels[i], e + label_offset, sizeof(size_t));
    for (int l = 1; l <= level[i]; ++l)
      if (auto why = check_list(i, l, r.at(upper_at[i] + size_t(l - 1) * links), max_m); !why.empty()) return why;
  }
  std::sort(labels.begin(), labels.end());
  if (labels.back() >= (size_t(1) << 62)) return "an element carries id " + std::to_string(labels.back());
  if (std::adjacent_find(labels.begin(), labels.end()) != labels.end()) return "two elements carry the same id";
  if (!ids.empty()) {
    std::vector<int64_t> want(ids.begin(), ids.end());
    std::sort(want.begin(), want.end());
    for (size_t i = 0; i < count; ++i)
      if (int64_t(labels[i]) != want[i]) return "its elements' ids are not those its JSON lists";
  }
  return "";
}

void write_pca(const faiss::PCAMatrix& pca, FileReplacer& out) {
  out.write(std::span(reinterpret_cast<const uint8_t*>(kPcaMagic), sizeof kPcaMagic));
  put(out, kPcaVersion);
  put(out, uint32_t(pca.d_in));
  put(out, uint32_t(pca.d_out));
  std::vector<float> b = pca.b;
  if (!pca.have_bias) b.assign(size_t(pca.d_out), 0.f);
  out.write(std::span(reinterpret_cast<const uint8_t*>(pca.A.data()), pca.A.size() * sizeof(float)));
  out.write(std::span(reinterpret_cast<const uint8_t*>(b.data()), b.size() * sizeof(float)));
}

std::unique_ptr<faiss::PCAMatrix> read_pca(std::span<const uint8_t> bytes, int d_in, int d_out, std::string& why) {
  Reader r(bytes);
  char magic[8];
  uint32_t version, in, out;
  if (!(r.get(magic) && r.get(version) && r.get(in) && r.get(out))) {
    why = "shorter than its header (" + std::to_string(bytes.size()) + " bytes)";
    return nullptr;
  }
  if (std::memcmp(magic, kPcaMagic, sizeof magic) != 0) {
    why = "not an irbis PCA file";
    return nullptr;
  }
  if (version != kPcaVersion) {
    why = "format version " + std::to_string(version);
    return nullptr;
  }
  if (d_in < 1 || d_out < 1 || in != uint32_t(d_in) || out != uint32_t(d_out)) {
    why = "projects " + std::to_string(in) + " to " + std::to_string(out) + " dimensions, expected " +
          std::to_string(d_in) + " to " + std::to_string(d_out);
    return nullptr;
  }
  const size_t values = size_t(d_out) * size_t(d_in) + size_t(d_out);
  if (r.left() != values * sizeof(float)) {
    why = std::to_string(bytes.size()) + " bytes, expected " + std::to_string(r.pos() + values * sizeof(float));
    return nullptr;
  }
  auto pca = std::make_unique<faiss::PCAMatrix>(d_in, d_out, 0.f, false);
  pca->A.resize(size_t(d_out) * size_t(d_in));
  pca->b.resize(size_t(d_out));
  std::memcpy(pca->A.data(), r.at(r.pos()), pca->A.size() * sizeof(float));
  std::memcpy(pca->b.data(), r.at(r.pos() + pca->A.size() * sizeof(float)), pca->b.size() * sizeof(float));
  for (float v : pca->A)
    if (!std::isfinite(v)) {
      why = "a projection weight is not a finite number";
      return nullptr;
    }
  for (float v : pca->b)
    if (!std::isfinite(v)) {
      why = "a projection offset is not a finite number";
      return nullptr;
    }
  pca->have_bias = true;
  pca->is_trained = true;
  return pca;
}

void write_knn(const std::vector<std::vector<Neighbor>>& knn, int k, uint64_t key, FileReplacer& out) {
  const int64_t rows = int64_t(knn.size());
  const size_t per = size_t(std::clamp<int64_t>(rows - 1, 0, k));
  std::vector<KnnEntry> entries;
  entries.reserve(size_t(rows) * per);
  for (const auto& list : knn) {
    IRBIS_THROW_IF_NOT(list.size() == per, Error, "write_knn: a row lists " + std::to_string(list.size()) + " neighbours");
    for (const Neighbor& nb : list) entries.push_back({int32_t(nb.row), nb.similarity});
  }
  const auto payload = std::span(reinterpret_cast<const uint8_t*>(entries.data()), entries.size() * sizeof(KnnEntry));
  out.write(std::span(reinterpret_cast<const uint8_t*>(kKnnMagic), sizeof kKnnMagic));
  put(out, kKnnVersion);
  put(out, uint32_t(k));
  put(out, uint64_t(rows));
  put(out, key);
  put(out, uint64_t(XXH3_64bits(payload.data(), payload.size())));
  out.write(payload);
}

std::optional<std::vector<std::vector<Neighbor>>> read_knn(std::span<const uint8_t> bytes, int k, int64_t rows,
                                                           uint64_t key, std::string& why, bool& stale) {
  stale = false;
  Reader r(bytes);
  char magic[8];
  uint32_t version, file_k;
  uint64_t file_rows, file_key, file_digest;
  if (!(r.get(magic) && r.get(version) && r.get(file_k) && r.get(file_rows) && r.get(file_key) && r.get(file_digest))) {
    why = "shorter than its header (" + std::to_string(bytes.size()) + " bytes)";
    return std::nullopt;
  }
  if (std::memcmp(magic, kKnnMagic, sizeof magic) != 0) {
    why = "not an irbis self-join file";
    return std::nullopt;
  }
  if (version != kKnnVersion) {
    why = "format version " + std::to_string(version);
    return std::nullopt;
  }
  if (k < 1 || rows < 0 || rows > INT32_MAX || file_k != uint32_t(k) || file_rows != uint64_t(rows) || file_key != key) {
    stale = true;
    why = "holds the " + std::to_string(file_k) + " nearest of " + std::to_string(file_rows) +
          " rows computed from other rows or options";
    return std::nullopt;
  }
  const size_t per = size_t(std::clamp<int64_t>(rows - 1, 0, k));
  if (r.left() / sizeof(KnnEntry) / std::max<size_t>(per, 1) < size_t(rows) ||
      r.left() != size_t(rows) * per * sizeof(KnnEntry)) {
    why = std::to_string(bytes.size()) + " bytes, expected " +
          std::to_string(r.pos() + size_t(rows) * per * sizeof(KnnEntry));
    return std::nullopt;
  }
  if (XXH3_64bits(r.at(r.pos()), r.left()) != file_digest) {
    why = "its xxh3 digest does not match (torn or changed)";
    return std::nullopt;
  }
  std::vector<std::vector<Neighbor>> knn(static_cast<size_t>(rows));
  std::vector<int64_t> seen;
  for (int64_t q = 0; q < rows; ++q) {
    auto& list = knn[size_t(q)];
    list.resize(per);
    seen.clear();
    for (size_t j = 0; j < per; ++j) {
      KnnEntry e;
      std::memcpy(&e, r.at(r.pos() + (size_t(q) * per + j) * sizeof(KnnEntry)), sizeof e);
      // The message only when refused: a million entries at 100 000 rows.
      const auto refuse = [&](const std::string& what) {
        why = "row " + std::to_string(q) + "'s neighbour " + std::to_string(j) + what;
        return std::nullopt;
      };
      if (e.row < 0 || e.row >= rows || e.row == q) return refuse(" is row " + std::to_string(e.row));
      if (!std::isfinite(e.similarity) || std::abs(e.similarity) > 1.01f)
        return refuse(" has similarity " + std::to_string(e.similarity));
      if (j > 0 && !(list[j - 1].similarity > e.similarity ||
                     (list[j - 1].similarity == e.similarity && list[j - 1].row < e.row)))
        return refuse(" is out of order");
      list[j] = {e.row, e.similarity};
      seen.push_back(e.row);
    }
    std::sort(seen.begin(), seen.end());
    if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) {
      why = "row " + std::to_string(q) + " lists a neighbour twice";
      return std::nullopt;
    }
  }
  return knn;
}

}  // namespace irbis::index_files
