// Inner-product kernel shared by the HNSW graph (search/vector_search.cpp) and k-means
// (analysis/kmeans.cpp), chosen at run time: AVX-512 when the CPU has it (the rest of the build
// stays x86-64-v3, where hnswlib's own kernels stop at AVX2), else AVX2/FMA. It lives in features,
// below both, so neither reaches into the other's private headers.
#pragma once
#include <cstddef>

namespace irbis::kernels {

float dot(const float* a, const float* b, size_t n);
bool dot_uses_avx512();
// hnswlib DISTFUNC for inner product: 1 - <a, b>, dim_ptr points at a size_t (same as hnswlib's
// InnerProductSpace, so files built here load in python3-hnswlib with space='ip').
float ip_distance(const void* a, const void* b, const void* dim_ptr);

}  // namespace irbis::kernels
