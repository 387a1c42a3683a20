#include "search/index_files.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>


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

}  // namespace irbis::index_files
