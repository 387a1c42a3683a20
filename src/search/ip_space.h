// Inner-product kernel for the HNSW graph, chosen at run time: AVX-512 when the CPU has it (the
// rest of the build stays x86-64-v3, where hnswlib's own kernels stop at AVX2), else AVX2/FMA.
// hnswlib itself is included by vector_search.cpp only (its header defines non-inline functions).
#pragma once
#include <cstddef>

namespace irbis::search_impl {

float dot(const float* a, const float* b, size_t n);
bool dot_uses_avx512();
// hnswlib DISTFUNC for inner product: 1 - <a, b>, dim_ptr points at a size_t (same as hnswlib's
// InnerProductSpace, so files built here load in python3-hnswlib with space='ip').
float ip_distance(const void* a, const void* b, const void* dim_ptr);

}  // namespace irbis::search_impl
