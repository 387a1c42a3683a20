// The vector index's files under <collection>/index/ (docs/search.md): written through
// FileReplacer (whole files, every write through the before_io test hook) and, being bytes read
// back from disk, checked before anything trusts them — the xxh3 digests in <model>.json catch a
// torn or bit-flipped file, and the checks below make sure that even a file whose digest was made
// to match (fuzz/vector_index.cpp) cannot make hnswlib or the projection read out of bounds.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <filesystem>
#include <vector>

#include <faiss/VectorTransform.h>

#include "irbis/replace_file.h"

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

}  // namespace irbis::index_files
