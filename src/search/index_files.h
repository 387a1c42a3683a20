// The vector index's files under <collection>/index/ (docs/search.md): written through
// FileReplacer (whole files, every write through the before_io test hook) and, being bytes read
// back from disk, checked before anything trusts them — the xxh3 digests in <model>.json catch a
// torn or bit-flipped file, and the checks below make sure that even a file whose digest was made
// to match (fuzz/vector_index.cpp) cannot make hnswlib or the projection read out of bounds.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <filesystem>
#include <vector>

#include <faiss/VectorTransform.h>

#include "irbis/replace_file.h"
#include "irbis/search.h"

namespace irbis::index_files {

// hnswlib's header defines functions that are not inline, so only vector_search.cpp includes it:
// the graph is written there (write_hnsw, in hnswlib 0.6.2's saveIndex layout, so hnswlib's
// loadIndex reads it), and loaded and searched for tests and the fuzz target by search_hnsw_file.

// Empty when `bytes` are a graph hnswlib can load and search within bounds: `elements` vectors of
// `dim` floats, built with `M`; else what is wrong ("element 12's level-1 list names element 40,
// which has no level 1"). Checks every field loadIndex trusts: the layout sizes, the element
// count and capacity, the entry point and top level, every neighbour list's length and ids, that a
// level-l list only names elements that have level l, and the file's exact length.
// Every element's label (the collection id it stands for) must be below 2^62 and distinct, and
// with `ids` given, the labels must be exactly those ids.
std::string check_hnsw(std::span<const uint8_t> bytes, int dim, size_t M, size_t elements,
                       std::span<const int64_t> ids = {});
// Loads a graph file with hnswlib exactly as VectorSearch does (call check_hnsw first) and returns
// each query's k nearest labels (vector_search.cpp).
std::vector<std::vector<size_t>> search_hnsw_file(const std::filesystem::path& file, int dim,
                                                  std::span<const float> queries, int k);

// The PCA projection (x -> A x + b), in irbis's own layout: "IRBISPCA", u32 version (1), u32 d_in,
// u32 d_out, f32 A[d_out * d_in], f32 b[d_out] (faiss's reader would allocate whatever sizes a
// damaged file declares before reading them).
void write_pca(const faiss::PCAMatrix& pca, FileReplacer& out);
// The projection, or nullptr with `why` set: wrong magic, version, sizes (d_in, d_out must be the
// given ones, the length exact) or a non-finite number.
std::unique_ptr<faiss::PCAMatrix> read_pca(std::span<const uint8_t> bytes, int d_in, int d_out, std::string& why);

// Bumped whenever self_join_knn (self_join.cpp) gives another answer for the same rows and options:
// an answer saved by another revision is stale.
constexpr uint32_t kSelfJoinRevision = 1;
// The self-join's answer (VectorSearch::self_knn above the exact threshold, asked without
// RowsToRefine), kept so that a later `dupes` or `unique` on the same rows reads it instead of
// joining again (docs/search.md, "The saved self-join"): "IRBISKNN", u32 version (1), u32 k,
// u64 rows, u64 key (what the answer was computed from: the caller's), u64 xxh3 of the lists, then
// every row's min(k, rows - 1) neighbours as (i32 row, f32 similarity), best first.
void write_knn(const std::vector<std::vector<Neighbor>>& knn, int k, uint64_t key, FileReplacer& out);
// The answer, or nullopt with `why` set. `stale`: the file is sound but holds another answer (its k,
// row count or key differ). Otherwise damage: wrong magic or version, a length that is not exact, a
// digest that does not match, a neighbour out of range, the row itself or listed twice, a
// similarity that is not a finite number in [-1.01, 1.01], or a list out of the answer's order
// (similarity descending, ties by lower row).
std::optional<std::vector<std::vector<Neighbor>>> read_knn(std::span<const uint8_t> bytes, int k, int64_t rows,
                                                           uint64_t key, std::string& why, bool& stale);

}  // namespace irbis::index_files
