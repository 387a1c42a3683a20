// The machine's matrix-multiply limits, measured in the run that divides by them
// (bench/embed_engines.sh): OpenBLAS sgemm fp32 and oneDNN matmul fp32 / bf16 (fp32 out) /
// u8 x s8 -> s32, square N x N x N on THREADS threads (default: every core), best of REPS. Prints
// the CPU model and the instruction set oneDNN dispatches to, then one line per kernel:
//   limit <name> <GFLOP/s> <implementation>
//   usage: machine_limits_bench [N=2048] [THREADS=cores] [REPS=5]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <cblas.h>
#include <dnnl.hpp>

#include "irbis/model.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string cpu_flags_of_interest() {
  std::ifstream f("/proc/cpuinfo");
  std::string out;
  for (std::string line; std::getline(f, line);)
    if (line.rfind("flags", 0) == 0) {
      for (const char* fl : {"avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8"})
        if (line.find(std::string(" ") + fl) != std::string::npos) out += std::string(out.empty() ? "" : " ") + fl;
      break;
    }
  return out;
}

double gflops(double n, double seconds) { return 2.0 * n * n * n / seconds / 1e9; }

double bench_sgemm(int n, int reps) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  double best = 1e9;
  for (int r = 0; r < reps; ++r) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    best = std::min(best, now() - t0);
  }
  return gflops(n, best);
}

std::pair<double, std::string> bench_matmul(int n, int reps, dnnl::memory::data_type src, dnnl::memory::data_type wei,
                                            dnnl::memory::data_type dst) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::desc a_md({n, n}, src, memory::format_tag::ab), b_md({n, n}, wei, memory::format_tag::any),
      c_md({n, n}, dst, memory::format_tag::ab);
  matmul::primitive_desc pd({a_md, b_md, c_md}, eng);
  memory a(a_md, eng), b(pd.weights_desc(), eng), c(c_md, eng);
  std::fill_n(static_cast<char*>(a.get_data_handle()), a_md.get_size(), char(1));
  std::fill_n(static_cast<char*>(b.get_data_handle()), pd.weights_desc().get_size(), char(1));
  matmul mm(pd);
  double best = 1e9;
  for (int r = 0; r < reps + 1; ++r) {  // first run: JIT and page faults
    double t0 = now();
    mm.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    s.wait();
    if (r > 0) best = std::min(best, now() - t0);
  }
  return {gflops(n, best), pd.impl_info_str()};
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2048;
  const int threads = argc > 2 ? std::atoi(argv[2]) : int(std::max(1u, std::thread::hardware_concurrency()));
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  openblas_set_num_threads(threads);
  omp_set_num_threads(threads);
  std::printf("cpu %s\n", cpu_model().c_str());
  std::printf("cpu_flags %s\n", cpu_flags_of_interest().c_str());
  std::printf("onednn_isa %s (oneDNN %d.%d.%d); auto precision %s\n", irbis::inference_isa().c_str(),
              dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch,
              irbis::precision_name(irbis::best_precision()).c_str());
  std::printf("matmul %d x %d x %d, %d threads, best of %d\n", n, n, n, threads, reps);
  std::printf("limit openblas_sgemm_fp32 %.1f openblas\n", bench_sgemm(n, reps));
  using dt = dnnl::memory::data_type;
  auto [f32, f32_impl] = bench_matmul(n, reps, dt::f32, dt::f32, dt::f32);
  std::printf("limit onednn_matmul_fp32 %.1f %s\n", f32, f32_impl.c_str());
  try {
    auto [bf, bf_impl] = bench_matmul(n, reps, dt::bf16, dt::bf16, dt::f32);
    std::printf("limit onednn_matmul_bf16 %.1f %s\n", bf, bf_impl.c_str());
  } catch (const dnnl::error& e) {
    std::printf("limit onednn_matmul_bf16 0 unsupported\n");
  }
  try {
    auto [i8, i8_impl] = bench_matmul(n, reps, dt::u8, dt::s8, dt::s32);
    std::printf("limit onednn_matmul_int8 %.1f %s\n", i8, i8_impl.c_str());
  } catch (const dnnl::error& e) {
    std::printf("limit onednn_matmul_int8 0 unsupported\n");
  }
  return 0;
}
