// The vector index's files read back from disk (src/search/index_files.h), as if their xxh3
// digests had been made to match: byte 0 picks the file, the rest is its bytes.
//   0: an HNSW graph of 4-float vectors built with M = 4 (the element count is taken from the
//      file's own header, so the fuzzer gets past that check). Invariant: a graph check_hnsw
//      accepts is loaded by hnswlib without an exception and searched within bounds.
//   1: a PCA file projecting 8 to 4 dimensions. Invariant: a projection read_pca returns has A and
//      b of those sizes, and projecting a vector stays within them.
//   2: a saved self-join (read_knn), read with the k, row count and key its header names and its
//      digest fixed up. Invariant: an answer read_knn returns has that many rows, each listing
//      min(k, rows - 1) other rows in range with finite similarities; a refusal says why.
#include <cmath>
#include <cstring>
#include <vector>

#include <xxhash.h>

#include "fuzz_util.h"
#include "search/index_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  if (size < 1) return 0;
  const std::span<const uint8_t> bytes(data + 1, size - 1);
  if (data[0] == 0) {
    size_t elements = 0;
    if (bytes.size() >= 24) std::memcpy(&elements, bytes.data() + 16, 8);
    if (!index_files::check_hnsw(bytes, 4, 4, elements).empty()) return 0;
    const std::filesystem::path file = fuzz::scratch_dir() / "graph.hnsw";
    fuzz::write_bytes(file, bytes);
    const float queries[8] = {0.5f, -0.5f, 0.5f, -0.5f, 1, 0, 0, 0};
    try {
      const auto hits = index_files::search_hnsw_file(file, 4, queries, 3);
      if (hits.size() != 2) fuzz::invariant_failed("search_hnsw_file lost a query");
    } catch (const std::exception&) {
      fuzz::invariant_failed("hnswlib refused a graph check_hnsw accepted");
    }
  } else if (data[0] == 1) {
    std::string why;
    const auto pca = index_files::read_pca(bytes, 8, 4, why);
    if (!pca) {
      if (why.empty()) fuzz::invariant_failed("read_pca refused without a reason");
      return 0;
    }
    if (pca->A.size() != 32 || pca->b.size() != 4) fuzz::invariant_failed("projection of the wrong size");
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float y[4];
    pca->apply_noalloc(1, x, y);
  } else if (data[0] == 2) {
    std::vector<uint8_t> file(bytes.begin(), bytes.end());
    uint32_t k = 0;
    uint64_t rows = 0, key = 0;
    if (file.size() >= 40) {
      std::memcpy(&k, file.data() + 12, 4);
      std::memcpy(&rows, file.data() + 16, 8);
      std::memcpy(&key, file.data() + 24, 8);
      const uint64_t digest = XXH3_64bits(file.data() + 40, file.size() - 40);
      std::memcpy(file.data() + 32, &digest, 8);
    }
    if (k > 1000 || rows > (uint64_t(1) << 31)) return 0;
    std::string why;
    bool stale = false;
    const auto knn = index_files::read_knn(file, int(k), int64_t(rows), key, why, stale);
    if (!knn) {
      if (why.empty()) fuzz::invariant_failed("read_knn refused without a reason");
      return 0;
    }
    if (knn->size() != rows) fuzz::invariant_failed("read_knn returned another row count");
    const size_t per = rows == 0 ? 0 : std::min<uint64_t>(rows - 1, k);
    for (size_t q = 0; q < knn->size(); ++q) {
      if ((*knn)[q].size() != per) fuzz::invariant_failed("a row lists another number of neighbours");
      for (const Neighbor& nb : (*knn)[q])
        if (nb.row < 0 || uint64_t(nb.row) >= rows || size_t(nb.row) == q || !std::isfinite(nb.similarity))
          fuzz::invariant_failed("read_knn accepted an impossible neighbour");
    }
  }
  return 0;
}
