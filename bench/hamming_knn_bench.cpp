// The two-nearest Hamming search of the verifier (analysis/impl/hamming_knn) with each kernel the
// CPU has, side by side in one run: process CPU per 1 000 x 1 000 search of random 32-byte rows
// (ORB's), alternating the kernels so that a busy machine slows them alike.
// usage: hamming_knn_bench [ROUNDS]
#include <cstdio>
#include <ctime>
#include <random>
#include <string>

#include <opencv2/core.hpp>

#include "analysis/impl/hamming_knn.h"
#include "bench_clock.h"

using irbis::impl::HammingSimd;

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::stoi(argv[1]) : 5;
  std::mt19937 rng(1);
  cv::Mat query(1000, 32, CV_8U), train(1000, 32, CV_8U);
  for (int i = 0; i < 1000; ++i)
    for (int j = 0; j < 32; ++j) query.at<uint8_t>(i, j) = uint8_t(rng()), train.at<uint8_t>(i, j) = uint8_t(rng());
  std::printf("cpu: %s\n", irbis::bench::cpu_model().c_str());
  const char* names[] = {"scalar popcount", "AVX2 nibble lookup", "AVX-512 VPOPCNTQ"};
  double cpu[3] = {0, 0, 0};
  int runs[3] = {0, 0, 0};
  for (int r = 0; r < rounds; ++r)
    for (HammingSimd cap : {HammingSimd::none, HammingSimd::avx2, HammingSimd::avx512}) {
      const HammingSimd used = irbis::impl::knn2_simd(cap);
      if (used != cap) continue;  // not on this CPU
      const double c0 = irbis::bench::process_cpu_seconds();
      for (int k = 0; k < 20; ++k) irbis::impl::knn2_hamming(query, train);
      cpu[int(used)] += (irbis::bench::process_cpu_seconds() - c0) / 20;
      ++runs[int(used)];
    }
  irbis::impl::knn2_simd(HammingSimd::avx512);
  for (int k = 0; k < 3; ++k)
    if (runs[k])
      std::printf("%-20s %.3f ms CPU per 1000 x 1000 search (%.2fx the scalar loop)\n", names[k], 1e3 * cpu[k] / runs[k],
                  (cpu[0] / runs[0]) / (cpu[k] / runs[k]));
}
