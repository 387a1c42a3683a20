#include "models/onednn_engine.h"

#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <variant>
#include <dnnl.hpp>
#include <onnx/onnx_pb.h>

#include "irbis/errors.h"
#include "models/ir.h"

namespace irbis::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

// Operators the engine runs (docs/models.md lists them). Conv covers grouped and depthwise.
const std::set<std::string> kCovered = {"Conv",    "Clip",       "Relu",          "Sigmoid",           "Add",
                                        "Sub",     "Mul",        "MaxPool",       "AveragePool",       "Concat",
                                        "Flatten", "Identity",   "Transpose",     "GlobalAveragePool", "Gemm",
                                        "Softmax"};

// The calling thread's OpenMP team size for oneDNN while a network is built or run, and the
// caller's own size again afterwards: a network built on the main thread with one thread must not
// leave k-means, t-SNE or faiss on that thread single-threaded (Python runs them after an index).
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~ScopedOmpThreads() { omp_set_num_threads(saved_); }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int saved_;
};

onnx::ModelProto read_onnx(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ModelError("model file " + path.string() + " is missing; run ./setup.sh (scripts/fetch_models.sh, then "
                     "scripts/import_models.sh) to import the default models");
  onnx::ModelProto m;
  if (!m.ParseFromIstream(&in) || !m.has_graph())
    throw ModelError(path.string() + ": not an ONNX model (protobuf ModelProto with a graph expected)");
  ir::check_onnx_model(m, path.string());  // windows and initializer sizes before anything divides or indexes
  return m;
}

struct Initializer {
  std::vector<int64_t> dims;
  std::vector<float> data;
};

Initializer to_floats(const onnx::TensorProto& t, const std::string& where) {
  Initializer out;
  out.dims.assign(t.dims().begin(), t.dims().end());
  if (t.data_type() != onnx::TensorProto::FLOAT) throw ModelError(where + ": initializer '" + t.name() + "' is not float32");
  if (!t.raw_data().empty()) {
    out.data.resize(t.raw_data().size() / sizeof(float));
    std::memcpy(out.data.data(), t.raw_data().data(), out.data.size() * sizeof(float));
  } else {
    out.data.assign(t.float_data().begin(), t.float_data().end());
  }
  return out;
}

const onnx::AttributeProto* attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name, std::vector<int64_t> def) {
  const auto* a = attr(n, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
}
int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  const auto* a = attr(n, name);
  return a ? a->i() : def;
}
float attr_float(const onnx::NodeProto& n, const std::string& name, float def) {
  const auto* a = attr(n, name);
  return a ? a->f() : def;
}

// A tensor of the running network: 4-D (N=1, C, H, W) in a oneDNN layout, or flat (C f32 floats).
struct Tensor {
  memory mem;
  memory::desc md;
  bool flat = false;
  int c = 0, h = 0, w = 0;
  int last_use = -1;     // node index of the last consumer
  bool owns = false;     // its buffer returns to the pool after last_use
  bool is_input = false;
  size_t buffer = 0;     // pool slot
  float scale = 1.f;     // int8 (s8 / u8) tensors: the real value of one unit; 1 for f32 / bf16
  std::vector<float> scales;  // u8 tensors in per-channel units (then `scale` is unused), else empty
  bool per_channel() const { return !scales.empty(); }
  // The real value of one unit of channel k.
  float unit(size_t k) const { return scales.empty() ? scale : scales[k]; }
  // Each channel's unit divided by `to` (a reorder's output scales into units of `to`), or one
  // factor for all.
  std::vector<float> factors(float to) const {
    if (scales.empty()) return {scale / to};
    std::vector<float> f(scales.size());
    for (size_t k = 0; k < f.size(); ++k) f[k] = scales[k] / to;
    return f;
  }
};

bool is_int8(dt t) { return t == dt::s8 || t == dt::u8; }
bool is_int8(const Tensor& t) { return is_int8(t.md.data_type()); }

struct Step {
  dnnl::primitive prim;
  std::unordered_map<int, memory> args;
  std::function<void()> host;  // when set, runs on the host instead of a primitive
};

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

}  // namespace

std::string unsupported_op(const std::filesystem::path& onnx_path) {
  onnx::ModelProto m = read_onnx(onnx_path);
  for (const auto& n : m.graph().node())
    if (!kCovered.count(n.op_type())) return n.op_type() + " ('" + n.name() + "')";
  return "";
}

std::string effective_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "all";
  }
}

bool cpu_has_amx() { return dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx512_core_amx; }
bool cpu_has_native_bf16() {
  auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}
bool cpu_has_native_int8() {
  auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}

struct Network::Impl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dt act = dt::f32;  // activation / weight type of convolutions (s8 stands for int8)
  bool int8 = false;
  dt float_act = dt::f32;  // int8 networks: the type of the operators after card.int8.float_after
  // int8: the calibrated range of each tensor (the card's); observe: ranges measured per run.
  const std::map<std::string, std::pair<float, float>>* ranges = nullptr;
  bool observe = false;
  std::map<std::string, std::pair<float, float>> observed;
  // Second calibration pass: a histogram of |x| over [0, top] per tensor (set_histograms()).
  std::map<std::string, Network::Histogram> histograms;
  std::string where;
  std::map<std::string, Tensor> tensors;
  std::map<std::string, Initializer> inits;
  std::vector<Step> steps;
  // Buffer pool: one allocation per slot, reused once a tensor's last consumer has run.
  struct Slot {
    size_t size = 0;
    bool busy = false;
    std::unique_ptr<char, void (*)(void*)> ptr{nullptr, std::free};
  };
  std::vector<Slot> slots;
  std::vector<memory> constants;  // weights, biases (kept alive)
  size_t scratch_size = 0;
  std::vector<std::pair<memory*, size_t>> scratch_users;
  std::unique_ptr<char, void (*)(void*)> scratch{nullptr, std::free};
  memory input_mem;
  std::vector<float> pooled;  // blocks then outputs, in card order
  std::vector<size_t> output_offsets;
  double macs = 0;

  size_t alloc(size_t bytes) {
    bytes = align64(std::max<size_t>(bytes, 64));
    size_t best = slots.size();
    for (size_t i = 0; i < slots.size(); ++i)
      if (!slots[i].busy && slots[i].size >= bytes && (best == slots.size() || slots[i].size < slots[best].size)) best = i;
    if (best == slots.size()) {
      Slot s;
      s.size = bytes;
      s.ptr.reset(static_cast<char*>(std::aligned_alloc(64, bytes)));
      if (!s.ptr) throw ModelError(where + ": out of memory");
      std::memset(s.ptr.get(), 0, bytes);
      slots.push_back(std::move(s));
    }
    slots[best].busy = true;
    return best;
  }

  // A tensor with a pooled buffer for md.
  Tensor make(const memory::desc& md, int c, int h, int w) {
    Tensor t;
    t.md = md;
    t.c = c, t.h = h, t.w = w;
    t.buffer = alloc(md.get_size());
    t.owns = true;
    t.mem = memory(md, eng, slots[t.buffer].ptr.get());
    return t;
  }
  void release(Tensor& t) {
    if (t.owns) slots[t.buffer].busy = false;
    t.owns = false;
  }

  void add_prim(const dnnl::primitive& p, std::unordered_map<int, memory> args) {
    steps.push_back({p, std::move(args), {}});
  }
  void add_host(std::function<void()> f) { steps.push_back({{}, {}, std::move(f)}); }

  template <class PD>
  void note_scratchpad(const PD& pd) {
    scratch_size = std::max(scratch_size, pd.scratchpad_desc().get_size());
  }
  // Adds the shared scratchpad to a step's args once its size is known (finish()).
  std::vector<size_t> scratch_steps;
  void uses_scratchpad() { scratch_steps.push_back(steps.size() - 1); }

  // A reorder step; factor multiplies the values (int8 scale changes: from.scale / to.scale).
  void add_reorder(const memory& from, const memory& to, float factor) {
    add_reorder(from, to, std::vector<float>{factor});
  }
  // One factor for all, or one per channel (dimension 1).
  void add_reorder(const memory& from, const memory& to, const std::vector<float>& factors) {
    if (factors.size() == 1 && factors[0] == 1.f) {
      add_prim(dnnl::reorder(from, to), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
      return;
    }
    dnnl::primitive_attr a;
    a.set_output_scales(factors.size() == 1 ? 0 : 1 << 1, factors);
    dnnl::reorder::primitive_desc pd(eng, from.get_desc(), eng, to.get_desc(), a);
    add_prim(dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  }

  // The tensor in md (at scale `scale` when md is int8): itself, or a reordered copy (a temp).
  Tensor as(const Tensor& t, const memory::desc& md, std::vector<Tensor>& temps, float scale = 1.f) {
    if (!is_int8(md.data_type())) scale = 1.f;
    if (t.md == md && t.scale == scale && !t.per_channel()) return t;
    Tensor r = make(md, t.c, t.h, t.w);
    r.scale = scale;
    add_reorder(t.mem, r.mem, t.factors(scale));
    temps.push_back(r);
    return r;
  }
  // The tensor in md's layout, in its own units (per-channel ones too).
  Tensor relayout(const Tensor& t, const memory::desc& md, std::vector<Tensor>& temps) {
    if (t.md == md) return t;
    Tensor r = make(md, t.c, t.h, t.w);
    r.scale = t.scale;
    r.scales = t.scales;
    add_reorder(t.mem, r.mem, 1.f);
    temps.push_back(r);
    return r;
  }
  // An int8 tensor as f32 (channels-last) for the operators that run in f32.
  Tensor as_f32(const Tensor& t, std::vector<Tensor>& temps) {
    if (t.flat || !is_int8(t)) return t;
    return as(t, memory::desc({1, t.c, t.h, t.w}, dt::f32, tag::nhwc), temps);
  }

  // The calibrated range of a tensor (int8 networks).
  std::pair<float, float> range(const std::string& name) const {
    auto it = ranges->find(name);
    if (it == ranges->end())
      throw ModelError(where + ": the int8 calibration has no range for tensor '" + name +
                       "'; run `irbis model calibrate` for this model");
    return it->second;
  }
  // Units of an int8 type for a range: u8 covers [0, max], s8 [-amax, amax].
  static float scale_for(dt type, std::pair<float, float> r) {
    float amax = type == dt::u8 ? std::max(r.second, 0.f) : std::max(std::fabs(r.first), std::fabs(r.second));
    return amax > 0 ? amax / (type == dt::u8 ? 255.f : 127.f) : 1.f;
  }

  // Calibration: min and max of a tensor's values after the step that produced it.
  void observe_range(const std::string& name, const Tensor& t) {
    if (!observe || t.md.data_type() != dt::f32) return;
    memory mem = t.mem;  // the input's handle is set per run: read it when the step runs
    const size_t n = t.md.get_size() / sizeof(float);  // blocked layouts pad with zeros: harmless
    auto* slot = &observed.try_emplace(name, std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest())
                      .first->second;
    Network::Histogram* hist = &histograms[name];  // empty (not counted) until set_histograms()
    add_host([mem, n, slot, hist] {
      const float* p = static_cast<const float*>(mem.get_data_handle());
      auto [lo, hi] = std::minmax_element(p, p + n);
      slot->first = std::min(slot->first, *lo);
      slot->second = std::max(slot->second, *hi);
      if (hist->counts.empty() || !(hist->top > 0)) return;
      const size_t bins = hist->counts.size();
      const float per_bin = float(bins) / hist->top;
      for (size_t k = 0; k < n; ++k) {
        const float a = std::fabs(p[k]);
        if (a == 0.f) {
          ++hist->zeros;  // exact in every scale (ReLU's zeros, blocked layouts' padding)
          continue;
        }
        ++hist->counts[std::min(bins - 1, size_t(a * per_bin))];
      }
    });
  }

  // Flat f32 view of a 4-D tensor (NCHW order), as a new tensor.
  Tensor flatten(const Tensor& t) {
    if (t.flat) return t;
    memory::desc md({1, t.c, t.h, t.w}, dt::f32, tag::nchw);
    Tensor r = make(md, t.c * t.h * t.w, 1, 1);
    r.flat = true;
    add_reorder(t.mem, r.mem, t.factors(1.f));
    return r;
  }

  // Global average of a 4-D tensor into `out` (c floats, f32), appended as steps.
  void mean_pool(const Tensor& t, float* out) {
    if (t.flat) {
      const float* src = reinterpret_cast<const float*>(t.mem.get_data_handle());
      int c = t.c;
      add_host([src, out, c] { std::memcpy(out, src, size_t(c) * sizeof(float)); });
      return;
    }
    // Channels-last (what oneDNN picks for these convolutions) or plain, f32 or bf16: averaged
    // on the host in one pass (oneDNN 2.6's reduction is a slow reference kernel for these
    // layouts); any other layout is first reordered to f32 channels-last.
    const memory::dims dims{1, t.c, t.h, t.w};
    const dt type = t.md.data_type();
    const bool typed = type == dt::f32 || type == dt::bf16 || is_int8(type);
    const bool nhwc = typed && t.md == memory::desc(dims, type, tag::nhwc);
    // (per-channel units are applied to the sums below)
    const bool nchw = typed && t.md == memory::desc(dims, type, tag::nchw);
    const char* src = nullptr;
    dt read_type = type;
    bool channels_last = true;
    if (nhwc || nchw) {
      src = static_cast<const char*>(t.mem.get_data_handle());
      channels_last = nhwc;
    } else {
      Tensor r = make(memory::desc(dims, dt::f32, tag::nhwc), t.c, t.h, t.w);
      add_reorder(t.mem, r.mem, t.factors(1.f));
      src = static_cast<const char*>(r.mem.get_data_handle());
      read_type = dt::f32;
      release(r);  // read by the host step below, before any later step reuses it
    }
    const size_t c = size_t(t.c), hw = size_t(t.h) * size_t(t.w);
    std::vector<double> unit(c, 1.0);  // int8: each channel's unit (1 once reordered to f32)
    if (read_type == type)
      for (size_t k = 0; k < c; ++k) unit[k] = t.unit(k);
    add_host([src, out, c, hw, read_type, channels_last, unit] {
      auto at = [&](size_t i) -> float {
        switch (read_type) {
          case dt::s8: return float(reinterpret_cast<const int8_t*>(src)[i]);
          case dt::u8: return float(reinterpret_cast<const uint8_t*>(src)[i]);
          case dt::bf16: {
            uint32_t bits = uint32_t(reinterpret_cast<const uint16_t*>(src)[i]) << 16;
            float f;
            std::memcpy(&f, &bits, sizeof f);
            return f;
          }
          default: return reinterpret_cast<const float*>(src)[i];
        }
      };
      std::vector<double> sum(c, 0.0);
      if (channels_last) {
        for (size_t p = 0; p < hw; ++p)
          for (size_t k = 0; k < c; ++k) sum[k] += at(p * c + k);
      } else {
        for (size_t k = 0; k < c; ++k)
          for (size_t p = 0; p < hw; ++p) sum[k] += at(k * hw + p);
      }
      for (size_t k = 0; k < c; ++k) out[k] = float(sum[k] * unit[k] / double(hw));
    });
  }
};

Network::Network(const ModelCard& card, Precision precision, bool observe_ranges, int threads)
    : card_(card), precision_(precision), observe_(observe_ranges) {
  IRBIS_THROW_IF_NOT(threads >= 1, UsageError, "the oneDNN engine needs at least one thread");
  if (precision != Precision::bf16 && precision != Precision::fp32 && precision != Precision::int8)
    throw UsageError("the oneDNN engine runs fp32, bf16 or int8");
  if (observe_ && precision != Precision::fp32) throw UsageError("activation ranges are measured in fp32");
  if (precision == Precision::int8 && card.int8.empty())
    throw ModelError("model '" + card.name + "' has no int8 calibration; run `irbis model calibrate " + card.name +
                     "` (scripts/import_models.sh does it for the default models)");
  build(threads);
}

void Network::build(int threads) {
  const ModelCard& card = card_;
  const ScopedOmpThreads team(threads);  // oneDNN plans each primitive's team (and its weight reorders') from this
  threads_ = threads;
  impl_ = std::make_unique<Impl>();
  Impl& I = *impl_;
  I.where = "model '" + card.name + "' (" + card.onnx_path().string() + ")";
  I.act = precision_ == Precision::bf16 ? dt::bf16 : precision_ == Precision::int8 ? dt::s8 : dt::f32;
  I.int8 = precision_ == Precision::int8;
  I.float_act = cpu_has_native_bf16() ? dt::bf16 : dt::f32;
  I.ranges = &card.int8.ranges;
  I.observe = observe_;
  onnx::ModelProto model = read_onnx(card.onnx_path());
  const auto& g = model.graph();
  for (const auto& t : g.initializer()) I.inits[t.name()] = to_floats(t, I.where);
  auto data_inputs = [&](const onnx::NodeProto& n) {
    std::vector<std::string> v;
    for (const auto& i : n.input())
      if (!I.inits.count(i) && !i.empty()) v.push_back(i);
    return v;
  };
  auto unsupported = [&](const onnx::NodeProto& n, const std::string& why) {
    return ModelError(I.where + ": the oneDNN engine does not cover " + n.op_type() + " '" + n.name() + "'" +
                      (why.empty() ? "" : " (" + why + ")") + "; use --engine opencv");
  };
  const int nn = g.node_size();
  // Consumers and last uses; block / output tensors are pooled when produced.
  std::map<std::string, std::vector<int>> consumers;
  for (int i = 0; i < nn; ++i)
    for (const auto& in : data_inputs(g.node(i))) consumers[in].push_back(i);
  struct PoolTarget {
    float* out;
    int dim;
    std::string what;  // "block 'x'" / "output 'y'"
  };
  std::map<std::string, std::vector<PoolTarget>> pool_targets;
  size_t total = size_t(card.blocks_dim());
  for (const auto& o : card.outputs) total += size_t(o.dim);
  I.pooled.assign(total, 0.f);
  {
    size_t off = 0;
    for (const auto& b : card.blocks) {
      pool_targets[b.tensor].push_back({I.pooled.data() + off, b.dim, "block '" + b.name + "'"});
      off += size_t(b.dim);
    }
    for (const auto& o : card.outputs) {
      I.output_offsets.push_back(off);
      pool_targets[o.tensor].push_back({I.pooled.data() + off, o.dim, "output '" + o.name + "'"});
      off += size_t(o.dim);
    }
  }
  for (const auto& [name, targets] : pool_targets) {
    bool produced = name == card.input_tensor;
    for (const auto& n : g.node())
      for (const auto& o : n.output()) produced |= o == name;
    if (!produced) throw ModelError(I.where + ": the network has no tensor named '" + name + "'");
  }

  // The input: the preprocessed CV_32FC3 image is NHWC f32; its pointer is set per run.
  {
    const int s = card.input_size;
    Tensor in;
    in.md = memory::desc({1, 3, s, s}, dt::f32, tag::nhwc);
    in.mem = memory(in.md, I.eng, DNNL_MEMORY_NONE);
    in.c = 3, in.h = s, in.w = s;
    in.is_input = true;
    I.input_mem = in.mem;
    I.tensors[card.input_tensor] = in;
    I.observe_range(card.input_tensor, in);
  }
  auto set_last_use = [&](const std::string& name, int i) {
    auto& cs = consumers[name];
    I.tensors[name].last_use = cs.empty() ? i : std::max(i, cs.back());
  };
  set_last_use(card.input_tensor, -1);
  auto get = [&](const std::string& name) -> Tensor& {
    auto it = I.tensors.find(name);
    if (it == I.tensors.end()) throw ModelError(I.where + ": tensor '" + name + "' is used before it is computed");
    return it->second;
  };
  auto produced = [&](const std::string& name, Tensor t, int i) {
    I.tensors[name] = t;
    set_last_use(name, i);
    I.observe_range(name, t);
    auto pt = pool_targets.find(name);
    if (pt != pool_targets.end())
      for (const PoolTarget& target : pt->second) {
        const Tensor& pooled = I.tensors[name];
        if (pooled.c != target.dim)
          throw ModelError("model '" + card.name + "': " + target.what + " has " + std::to_string(pooled.c) +
                           " channels, the card says " + std::to_string(target.dim));
        I.mean_pool(pooled, target.out);
      }
  };
  std::vector<bool> fused(size_t(nn), false);
  // Mixed precision (int8 networks): the nodes up to the one producing card.int8.float_until and
  // those after the one producing float_after run in I.float_act, the rest in int8.
  auto producer = [&](const std::string& tensor, const char* field) {
    for (int i = 0; i < nn; ++i)
      for (const auto& o : g.node(i).output())
        if (o == tensor) return i;
    throw ModelError(I.where + ": the int8 calibration's " + field + " names no tensor of the network ('" + tensor +
                     "')");
  };
  const int float_until =
      I.int8 && !card.int8.float_until.empty() ? producer(card.int8.float_until, "float_until") : -1;
  const int float_from = I.int8 && !card.int8.float_after.empty() ? producer(card.int8.float_after, "float_after") + 1 : nn;
  auto in_float = [&](int i) { return I.int8 && (i <= float_until || i >= float_from); };
  // A float operator's int8 input, dequantized (a temp).
  auto dequantized = [&](const Tensor& t, std::vector<Tensor>& temps, int i) -> Tensor {
    if (!in_float(i) || t.flat || !is_int8(t)) return t;
    return I.as(t, memory::desc({1, t.c, t.h, t.w}, I.float_act, tag::nhwc), temps);
  };

  for (int i = 0; i < nn; ++i) {
    if (fused[size_t(i)]) {
      // Its work ran inside the convolution it was fused into; free what it last used.
    } else {
      const auto& n = g.node(i);
      const std::string& op = n.op_type();
      if (!kCovered.count(op)) throw unsupported(n, "");
      std::vector<std::string> ins = data_inputs(n);
      if (ins.empty() || n.output_size() != 1) throw unsupported(n, "expects data inputs and one output");
      const std::string out_name = n.output(0);
      std::vector<Tensor> temps;

      if (op == "Conv") {
        // int8 up to the card's float_after, then the float type of a mixed-precision network.
        const bool q = I.int8 && !in_float(i);
        const dt act = q ? dt::s8 : I.int8 ? I.float_act : I.act;
        Tensor& x = get(ins[0]);
        if (x.flat) throw unsupported(n, "on a 2-D tensor");
        if (const auto* ap = attr(n, "auto_pad"); ap && ap->s() != "NOTSET") throw unsupported(n, "auto_pad");
        const Initializer& W = I.inits.at(n.input(1));
        if (W.dims.size() != 4) throw unsupported(n, "weights are not 4-D");
        const int group = int(attr_int(n, "group", 1));
        const int oc = int(W.dims[0]), icg = int(W.dims[1]), kh = int(W.dims[2]), kw = int(W.dims[3]);
        if (icg * group != x.c) throw unsupported(n, "input channels disagree with the weights");
        auto st = attr_ints(n, "strides", {1, 1}), dl = attr_ints(n, "dilations", {1, 1}),
             pd4 = attr_ints(n, "pads", {0, 0, 0, 0});
        const int oh = (x.h + int(pd4[0] + pd4[2]) - ((kh - 1) * int(dl[0]) + 1)) / int(st[0]) + 1;
        const int ow = (x.w + int(pd4[1] + pd4[3]) - ((kw - 1) * int(dl[1]) + 1)) / int(st[1]) + 1;
        I.macs += double(oc) * oh * ow * icg * kh * kw;
        // Fuse what follows while the chain is single-consumer and no pooled tensor is skipped:
        // Clip / Relu as eltwise post-ops, an Add of an earlier tensor as a sum post-op.
        dnnl::post_ops po;
        std::string result = out_name;
        std::string residual;
        int add_index = -1;
        bool nonnegative = false;  // the fused chain ends in ReLU / a clip at >= 0 (int8: u8 output)
        struct Eltwise {
          dnnl::algorithm alg;
          float lo, hi;
        };
        std::vector<std::variant<Eltwise, std::monostate>> chain;  // eltwise, or the residual sum
        for (;;) {
          const auto& cs = consumers[result];
          if (cs.size() != 1 || pool_targets.count(result)) break;
          const auto& c = g.node(cs[0]);
          std::vector<std::string> cins = data_inputs(c);
          if (c.op_type() == "Clip" || c.op_type() == "Relu") {
            float lo = c.op_type() == "Relu" ? 0.f : attr_float(c, "min", -3.4e38f);
            float hi = c.op_type() == "Relu" ? 3.4e38f : attr_float(c, "max", 3.4e38f);
            if (c.op_type() == "Relu")
              chain.push_back(Eltwise{dnnl::algorithm::eltwise_relu, 0.f, 0.f});
            else
              chain.push_back(Eltwise{dnnl::algorithm::eltwise_clip, lo, hi});
            nonnegative = lo >= 0.f;
          } else if (c.op_type() == "Add" && cins.size() == 2 && residual.empty() && !I.observe) {
            // (calibration runs the Adds unfused: an int8 network that cannot fuse one needs the
            // range of the convolution's own output)
            const std::string& other = cins[0] == result ? cins[1] : cins[0];
            auto it = I.tensors.find(other);
            if (other == result || it == I.tensors.end() || it->second.flat || it->second.is_input ||
                it->second.c != oc || it->second.h != oh || it->second.w != ow ||
                // int8: an s8 residual (a u8 one would clip a negative sum; that Add runs unfused)
                (q ? it->second.md.data_type() != dt::s8 : it->second.md.data_type() != act))
              break;
            residual = other;
            add_index = cs[0];
            chain.push_back(std::monostate{});
            nonnegative = false;
          } else {
            break;
          }
          fused[size_t(cs[0])] = true;
          result = c.output(0);
        }
        memory::dims strides{st[0], st[1]}, dil{dl[0] - 1, dl[1] - 1}, pl{pd4[0], pd4[1]}, pr{pd4[2], pd4[3]};
        // int8: u8 / s8 activations in units of their calibrated range, s8 weights with one scale
        // per output channel; oneDNN computes dst = out_scale[oc] * (acc + bias) then the post-ops,
        // so the bias is given in accumulator units and the post-ops in the output's units.
        dt src_t = act, dst_t = act;
        float src_scale = 1.f, dst_scale = 1.f;
        std::vector<float> w_scale(size_t(oc), 1.f);
        const std::vector<float>* wdata = &W.data;  // the weights, or `folded` (per-channel input units)
        std::vector<float> folded;
        if (q) {
          if (is_int8(x)) {
            src_t = x.md.data_type();
            src_scale = x.scale;
          } else {
            auto r = I.range(ins[0]);
            src_t = r.first >= 0.f ? dt::u8 : dt::s8;
            src_scale = Impl::scale_for(src_t, r);
          }
          dst_t = residual.empty() ? (nonnegative ? dt::u8 : dt::s8) : get(residual).md.data_type();
          dst_scale = Impl::scale_for(dst_t, I.range(result));
          // An input in per-channel units: each input channel's unit goes into the weights (oneDNN
          // has one source scale), which are then quantized per output channel as usual.
          if (is_int8(x) && x.per_channel()) {
            folded = W.data;
            const size_t k2 = size_t(kh) * size_t(kw), ocg = size_t(oc / group);
            for (size_t o = 0; o < size_t(oc); ++o)
              for (size_t ci = 0; ci < size_t(icg); ++ci) {
                const float u = x.unit((o / ocg) * size_t(icg) + ci);
                float* w = folded.data() + (o * size_t(icg) + ci) * k2;
                for (size_t k = 0; k < k2; ++k) w[k] *= u;
              }
            wdata = &folded;
            src_scale = 1.f;
          }
          const size_t per = size_t(icg) * size_t(kh) * size_t(kw);
          for (size_t o = 0; o < size_t(oc); ++o) {
            float m = 0.f;
            for (size_t k = 0; k < per; ++k) m = std::max(m, std::fabs((*wdata)[o * per + k]));
            w_scale[o] = m > 0 ? m / 127.f : 1.f;
          }
        }
        const float out_units = q ? 1.f / dst_scale : 1.f;
        for (const auto& link : chain) {
          if (const auto* e = std::get_if<Eltwise>(&link))
            po.append_eltwise(1.f, e->alg, e->lo * out_units, e->hi * out_units);
          else
            po.append_sum(q ? get(residual).scale * out_units : 1.f);  // rescaled if copied (below)
        }
        memory::desc src_md({1, x.c, x.h, x.w}, src_t, tag::any);
        memory::desc w_md = group == 1 ? memory::desc({oc, icg, kh, kw}, q ? dt::s8 : act, tag::any)
                                       : memory::desc({group, oc / group, icg, kh, kw}, q ? dt::s8 : act, tag::any);
        memory::desc b_md({oc}, dt::f32, tag::x);
        memory::desc dst_md = residual.empty() ? memory::desc({1, oc, oh, ow}, dst_t, tag::any) : get(residual).md;
        dnnl::primitive_attr pa;
        if (q) {
          std::vector<float> out_scales(static_cast<size_t>(oc));
          for (size_t o = 0; o < size_t(oc); ++o) out_scales[o] = src_scale * w_scale[o] / dst_scale;
          pa.set_output_scales(1 << 1, out_scales);
        }
        pa.set_post_ops(po);
        pa.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::convolution_forward::primitive_desc pd;
        try {
          pd = dnnl::convolution_forward::primitive_desc(
              {dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, w_md, b_md, dst_md,
               strides, dil, pl, pr},
              pa, I.eng);
        } catch (const dnnl::error& e) {
          throw ModelError(I.where + ": oneDNN has no " + (q ? "int8" : act == dt::bf16 ? "bf16" : "fp32") +
                           " convolution for '" + n.name() + "' on this CPU (" + effective_isa() + "): " + e.what());
        }
        I.note_scratchpad(pd);
        // Weights and bias, reordered once into the layout the primitive chose.
        memory::desc w_user = group == 1 ? memory::desc({oc, icg, kh, kw}, dt::f32, tag::oihw)
                                         : memory::desc({group, oc / group, icg, kh, kw}, dt::f32, tag::goihw);
        memory wsrc(w_user, I.eng, const_cast<float*>(wdata->data()));
        memory wmem(pd.weights_desc(), I.eng);
        if (q) {
          dnnl::primitive_attr wa;  // quantized per output channel (and the s8 compensation oneDNN adds)
          std::vector<float> inv(static_cast<size_t>(oc));
          for (size_t o = 0; o < size_t(oc); ++o) inv[o] = 1.f / w_scale[o];
          wa.set_output_scales(group == 1 ? 1 : (1 << 0) | (1 << 1), inv);
          dnnl::reorder(dnnl::reorder::primitive_desc(I.eng, w_user, I.eng, pd.weights_desc(), wa))
              .execute(I.strm, wsrc, wmem);
        } else {
          dnnl::reorder(wsrc, wmem).execute(I.strm, wsrc, wmem);
        }
        std::vector<float> bias(size_t(oc), 0.f);
        if (n.input_size() > 2 && !n.input(2).empty()) bias = I.inits.at(n.input(2)).data;
        if (q)
          for (size_t o = 0; o < size_t(oc); ++o) bias[o] /= src_scale * w_scale[o];
        memory bmem(b_md, I.eng);
        std::memcpy(bmem.get_data_handle(), bias.data(), bias.size() * sizeof(float));
        I.strm.wait();
        I.constants.push_back(wmem);
        I.constants.push_back(bmem);
        Tensor xs = q && x.per_channel() ? I.relayout(x, pd.src_desc(), temps) : I.as(x, pd.src_desc(), temps, src_scale);
        Tensor y;
        if (!residual.empty()) {
          Tensor& r = get(residual);
          // In place on the residual when this Add is its last use, else a copy to add onto.
          // Every other reader of the residual has run already (it is pooled when produced).
          bool last = true;
          for (int c : consumers[residual])
            if (c != add_index && c >= i) last = false;  // incl. this convolution reading it
          if (last && r.owns) {
            y = r;
            r.owns = false;
          } else {
            // A plain copy: the sum post-op's scale converts r's units to the output's.
            y = I.make(pd.dst_desc(), oc, oh, ow);
            I.add_reorder(r.mem, y.mem, 1.f);
          }
        } else {
          y = I.make(pd.dst_desc(), oc, oh, ow);
        }
        I.add_prim(dnnl::convolution_forward(pd), {{DNNL_ARG_SRC, xs.mem},
                                                   {DNNL_ARG_WEIGHTS, wmem},
                                                   {DNNL_ARG_BIAS, bmem},
                                                   {DNNL_ARG_DST, y.mem}});
        I.uses_scratchpad();
        for (auto& t : temps) I.release(t);
        temps.clear();
        y.c = oc, y.h = oh, y.w = ow;
        y.scale = dst_scale;
        produced(result, y, i);
      } else if (op == "Clip" || op == "Relu" || op == "Sigmoid" ||
                 ((op == "Mul" || op == "Sub" || op == "Add") && ins.size() == 1)) {
        // int8 tensors are taken as f32 here (no operator of the imported graphs takes this path).
        Tensor& x0 = get(ins[0]);
        Tensor xf = I.as_f32(x0, temps);
        const bool converted = !temps.empty();
        Tensor& x = converted ? xf : x0;
        dnnl::algorithm alg = dnnl::algorithm::eltwise_linear;
        float a = 1.f, b = 0.f;
        const Initializer* cst = nullptr;
        if (op == "Clip") {
          alg = dnnl::algorithm::eltwise_clip;
          a = attr_float(n, "min", -3.4e38f);
          b = attr_float(n, "max", 3.4e38f);
        } else if (op == "Relu") {
          alg = dnnl::algorithm::eltwise_relu;
        } else if (op == "Sigmoid") {
          alg = dnnl::algorithm::eltwise_logistic;
        } else {
          if (n.input_size() != 2 || !I.inits.count(n.input(1)) || n.input(0) != ins[0])
            throw unsupported(n, "the constant must be the second operand");
          cst = &I.inits.at(n.input(1));
          if (cst->data.size() == 1) {
            float v = cst->data[0];
            if (op == "Mul") a = v;
            if (op == "Sub") b = -v;
            if (op == "Add") b = v;
            cst = nullptr;
          } else if (int(cst->data.size()) != x.c || x.flat) {
            throw unsupported(n, "only scalar or per-channel constants");
          }
        }
        // In place when nothing reads the input afterwards and it is the engine's own buffer.
        bool inplace = !converted && x.owns && x.last_use == i && !x.is_input;
        Tensor y;
        if (x.flat) {
          y = inplace ? x : I.make(x.md, x.c, 1, 1);
          y.flat = true;
          float* src = reinterpret_cast<float*>(x.mem.get_data_handle());
          float* dst = reinterpret_cast<float*>(y.mem.get_data_handle());
          size_t c = size_t(x.c);
          I.add_host([src, dst, c, alg, a, b] {
            for (size_t k = 0; k < c; ++k) {
              float v = src[k];
              if (alg == dnnl::algorithm::eltwise_clip) v = std::min(std::max(v, a), b);
              else if (alg == dnnl::algorithm::eltwise_relu) v = std::max(v, 0.f);
              else if (alg == dnnl::algorithm::eltwise_logistic) v = 1.f / (1.f + std::exp(-v));
              else v = a * v + b;
              dst[k] = v;
            }
          });
        } else if (cst) {
          y = inplace ? x : I.make(x.md, x.c, x.h, x.w);
          memory::desc c_md({1, x.c, 1, 1}, dt::f32, tag::nchw);
          memory cmem(c_md, I.eng);
          std::vector<float> v = cst->data;
          if (op == "Sub")
            for (auto& e : v) e = -e;
          std::memcpy(cmem.get_data_handle(), v.data(), v.size() * sizeof(float));
          I.constants.push_back(cmem);
          dnnl::algorithm balg = op == "Mul" ? dnnl::algorithm::binary_mul : dnnl::algorithm::binary_add;
          dnnl::binary::primitive_desc pd({balg, x.md, c_md, y.md}, I.eng);
          I.add_prim(dnnl::binary(pd), {{DNNL_ARG_SRC_0, x.mem}, {DNNL_ARG_SRC_1, cmem}, {DNNL_ARG_DST, y.mem}});
        } else {
          y = inplace ? x : I.make(x.md, x.c, x.h, x.w);
          dnnl::eltwise_forward::primitive_desc pd({dnnl::prop_kind::forward_inference, alg, x.md, a, b}, I.eng);
          I.add_prim(dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, x.mem}, {DNNL_ARG_DST, y.mem}});
        }
        if (inplace) x.owns = false;
        y.is_input = false;
        y.owns = true;
        y.scale = 1.f;
        for (auto& t : temps) I.release(t);
        produced(out_name, y, i);
      } else if (op == "Add") {
        if (ins.size() != 2) throw unsupported(n, "two tensor operands expected");
        Tensor& a0 = get(ins[0]);
        Tensor b = get(ins[1]);
        if (a0.flat || b.flat) throw unsupported(n, "on 2-D tensors");
        if (a0.c != b.c || a0.h != b.h || a0.w != b.w) throw unsupported(n, "operands of different shapes");
        Tensor af = I.as_f32(a0, temps);  // int8: the sum in f32
        const bool converted = !temps.empty();
        Tensor& a = converted ? af : a0;
        Tensor bs = I.as(I.as_f32(b, temps), a.md, temps);
        bool inplace = !converted && a.owns && a.last_use == i && !a.is_input;
        Tensor y = inplace ? a : I.make(a.md, a.c, a.h, a.w);
        dnnl::binary::primitive_desc pd({dnnl::algorithm::binary_add, a.md, a.md, a.md}, I.eng);
        I.add_prim(dnnl::binary(pd), {{DNNL_ARG_SRC_0, a.mem}, {DNNL_ARG_SRC_1, bs.mem}, {DNNL_ARG_DST, y.mem}});
        if (inplace) a.owns = false;
        y.owns = true;
        y.is_input = false;
        y.scale = 1.f;
        for (auto& t : temps) I.release(t);
        produced(out_name, y, i);
      } else if (op == "MaxPool" || op == "AveragePool") {
        Tensor& x0 = get(ins[0]);
        if (x0.flat) throw unsupported(n, "on a 2-D tensor");
        auto k = attr_ints(n, "kernel_shape", {}), st = attr_ints(n, "strides", {1, 1}),
             pd4 = attr_ints(n, "pads", {0, 0, 0, 0});
        if (k.size() != 2) throw unsupported(n, "kernel_shape must be 2-D");
        if (attr_int(n, "ceil_mode", 0) != 0) throw unsupported(n, "ceil_mode");
        const int oh = (x0.h + int(pd4[0] + pd4[2]) - int(k[0])) / int(st[0]) + 1;
        const int ow = (x0.w + int(pd4[1] + pd4[3]) - int(k[1])) / int(st[1]) + 1;
        // (only for per-channel units, a concatenation's, or bf16: mobilenet_v2_mid's gated int8
        // pooling of one-unit tensors stays as it was calibrated and measured)
        if (op == "AveragePool" && (x0.per_channel() || x0.md.data_type() == dt::bf16) && oh == 1 && ow == 1 &&
            k[0] == x0.h && k[1] == x0.w && pd4 == std::vector<int64_t>{0, 0, 0, 0}) {
          // A mean over the whole map (Inception's last pooling) is the descriptor: taken in f32
          // like GlobalAveragePool, not rounded to the units of the map it averages.
          Tensor y = I.make(memory::desc({1, x0.c, 1, 1}, dt::f32, tag::nchw), x0.c, 1, 1);
          I.mean_pool(x0, reinterpret_cast<float*>(y.mem.get_data_handle()));
          produced(out_name, y, i);
        } else {
          const Tensor x = dequantized(x0, temps, i);  // a mixed-precision network's float part
          dnnl::algorithm alg = op == "MaxPool" ? dnnl::algorithm::pooling_max
                                : attr_int(n, "count_include_pad", 0) ? dnnl::algorithm::pooling_avg_include_padding
                                                                      : dnnl::algorithm::pooling_avg_exclude_padding;
          memory::desc dst_md({1, x.c, oh, ow}, x.md.data_type(), tag::any);
          dnnl::primitive_attr pa;
          pa.set_scratchpad_mode(dnnl::scratchpad_mode::user);
          dnnl::pooling_forward::primitive_desc pd(
              {dnnl::prop_kind::forward_inference, alg, x.md, dst_md, {st[0], st[1]}, {k[0], k[1]}, {pd4[0], pd4[1]},
               {pd4[2], pd4[3]}},
              pa, I.eng);
          I.note_scratchpad(pd);
          Tensor y = I.make(pd.dst_desc(), x.c, oh, ow);
          y.scale = x.scale;  // int8 pooling keeps the units
          y.scales = x.scales;
          I.add_prim(dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, x.mem}, {DNNL_ARG_DST, y.mem}});
          I.uses_scratchpad();
          for (auto& t : temps) I.release(t);
          produced(out_name, y, i);
        }
      } else if (op == "GlobalAveragePool") {
        Tensor& x = get(ins[0]);
        if (x.flat) throw unsupported(n, "on a 2-D tensor");
        // Into f32 (also for bf16 networks): the pooled tensor is the embedding's last block.
        Tensor y = I.make(memory::desc({1, x.c, 1, 1}, dt::f32, tag::nchw), x.c, 1, 1);
        I.mean_pool(x, reinterpret_cast<float*>(y.mem.get_data_handle()));
        produced(out_name, y, i);
      } else if (op == "Concat") {
        if (attr_int(n, "axis", 1) != 1) throw unsupported(n, "only channel concatenation");
        std::vector<memory::desc> mds;
        int c = 0;
        const Tensor& first = get(ins[0]);
        bool any_int8 = false, all_u8 = true;
        for (const auto& in : ins) {
          const Tensor& t = get(in);
          if (t.flat || t.h != first.h || t.w != first.w) throw unsupported(n, "inputs of different sizes");
          any_int8 |= is_int8(t);
          all_u8 &= t.md.data_type() == dt::u8;
        }
        // oneDNN concatenates one data type in one set of units: int8 inputs are requantized to
        // the output's calibrated range when theirs differ.
        std::vector<Tensor> parts;
        float scale = 1.f;
        const dt type = all_u8 ? dt::u8 : dt::s8;
        const bool float_part = in_float(i);  // a mixed-precision network's float part
        if (float_part) any_int8 = false;
        // u8 inputs (Inception's branches after ReLU) keep their own units: the output is in
        // per-channel units, and nothing is rounded a second time.
        const bool keep_units = any_int8 && all_u8;
        if (any_int8 && !keep_units) scale = Impl::scale_for(type, I.range(out_name));
        for (const auto& in : ins) {
          const Tensor& t = get(in);
          if (float_part && t.md.data_type() != I.float_act)
            parts.push_back(I.as(t, memory::desc({1, t.c, t.h, t.w}, I.float_act, tag::nhwc), temps));
          else if (any_int8 && !keep_units && (t.md.data_type() != type || t.scale != scale || t.per_channel()))
            parts.push_back(I.as(t, memory::desc({1, t.c, t.h, t.w}, type, tag::nhwc), temps, scale));
          else
            parts.push_back(t);
          mds.push_back(parts.back().md);
          c += t.c;
        }
        dnnl::concat::primitive_desc pd(1, mds, I.eng);
        Tensor y = I.make(pd.dst_desc(), c, first.h, first.w);
        y.scale = scale;
        if (keep_units)
          for (const auto& part : parts)
            for (size_t k = 0; k < size_t(part.c); ++k) y.scales.push_back(part.unit(k));
        std::unordered_map<int, memory> args{{DNNL_ARG_DST, y.mem}};
        for (size_t k = 0; k < parts.size(); ++k) args[DNNL_ARG_MULTIPLE_SRC + int(k)] = parts[k].mem;
        I.add_prim(dnnl::concat(pd), args);
        for (auto& t : temps) I.release(t);
        produced(out_name, y, i);
      } else if (op == "Flatten" || op == "Identity" || op == "Transpose") {
        Tensor& x = get(ins[0]);
        if (op == "Transpose" && !x.flat && (x.h != 1 || x.w != 1)) throw unsupported(n, "only on 1 x 1 maps");
        if (op == "Flatten" && attr_int(n, "axis", 1) != 1) throw unsupported(n, "axis other than 1");
        Tensor y;
        if (op == "Identity" && !x.flat) {
          y = x;
          y.owns = false;  // an alias; the source keeps the buffer
          y.is_input = x.is_input;
          // An alias must not outlive its source: extend the source's life.
          set_last_use(out_name, i);
        } else if (x.flat || (x.h == 1 && x.w == 1 && x.md == memory::desc({1, x.c, 1, 1}, dt::f32, tag::nchw))) {
          y = x;
          y.owns = false;
          y.flat = true;
        } else {
          y = I.flatten(x);
        }
        if (y.owns == false && x.owns) {
          // Hand the buffer to the alias so it lives until the alias' last use.
          y.owns = true;
          y.buffer = x.buffer;
          x.owns = false;
        }
        produced(out_name, y, i);
      } else if (op == "Gemm") {
        Tensor x = I.flatten(get(ins[0]));
        const Initializer& W = I.inits.at(n.input(1));
        if (W.dims.size() != 2) throw unsupported(n, "weights are not 2-D");
        bool trans_b = attr_int(n, "transB", 0) != 0;
        if (attr_int(n, "transA", 0) != 0) throw unsupported(n, "transA");
        const int out = int(trans_b ? W.dims[0] : W.dims[1]), in = int(trans_b ? W.dims[1] : W.dims[0]);
        if (in != x.c) throw unsupported(n, "input width disagrees with the weights");
        std::vector<float> bias(size_t(out), 0.f);
        if (n.input_size() > 2 && I.inits.count(n.input(2))) {
          bias = I.inits.at(n.input(2)).data;
          if (bias.size() == 1) bias.assign(size_t(out), bias[0]);
          if (int(bias.size()) != out) throw unsupported(n, "bias size");
        }
        const float alpha = attr_float(n, "alpha", 1.f), beta = attr_float(n, "beta", 1.f);
        I.macs += double(in) * out;
        Tensor y = I.make(memory::desc({1, out}, dt::f32, tag::nc), out, 1, 1);
        y.flat = true;
        const float* src = reinterpret_cast<const float*>(x.mem.get_data_handle());
        float* dst = reinterpret_cast<float*>(y.mem.get_data_handle());
        I.add_host([src, dst, w = W.data, b = std::move(bias), in, out, trans_b, alpha, beta] {
          for (int o = 0; o < out; ++o) {
            double s = 0;
            for (int k = 0; k < in; ++k)
              s += double(src[k]) * (trans_b ? w[size_t(o) * size_t(in) + size_t(k)] : w[size_t(k) * size_t(out) + size_t(o)]);
            dst[o] = float(alpha * s + beta * b[size_t(o)]);
          }
        });
        if (x.owns && x.mem.get() != get(ins[0]).mem.get()) I.release(x);
        produced(out_name, y, i);
      } else if (op == "Softmax") {
        Tensor& x = get(ins[0]);
        if (!x.flat) throw unsupported(n, "only on 2-D tensors");
        Tensor y = I.make(x.md, x.c, 1, 1);
        y.flat = true;
        const float* src = reinterpret_cast<const float*>(x.mem.get_data_handle());
        float* dst = reinterpret_cast<float*>(y.mem.get_data_handle());
        int c = x.c;
        I.add_host([src, dst, c] {
          float m = *std::max_element(src, src + c);
          double s = 0;
          for (int k = 0; k < c; ++k) s += std::exp(double(src[k] - m));
          for (int k = 0; k < c; ++k) dst[k] = float(std::exp(double(src[k] - m)) / s);
        });
        produced(out_name, y, i);
      }
    }
    // Buffers whose last consumer was this node go back to the pool.
    for (auto& [name, t] : I.tensors)
      if (t.owns && t.last_use <= i) I.release(t);
  }
  // The shared scratchpad, now that every primitive's need is known.
  if (I.scratch_size > 0) {
    I.scratch.reset(static_cast<char*>(std::aligned_alloc(64, align64(I.scratch_size))));
    memory::desc smd({int64_t(I.scratch_size)}, dt::u8, tag::x);
    memory smem(smd, I.eng, I.scratch.get());
    for (size_t s : I.scratch_steps) I.steps[s].args[DNNL_ARG_SCRATCHPAD] = smem;
  }
  I.inits.clear();  // weights now live in the primitives' layouts
}

Network::~Network() = default;

double Network::macs() const { return impl_->macs; }

const std::map<std::string, std::pair<float, float>>& Network::observed_ranges() const { return impl_->observed; }

void Network::set_histograms(const std::map<std::string, float>& tops, int bins) {
  IRBIS_THROW_IF_NOT(observe_ && bins >= 1, UsageError, "histograms are taken by observing fp32 networks");
  for (auto& [name, h] : impl_->histograms) {
    auto it = tops.find(name);
    h = {};
    if (it == tops.end() || !(it->second > 0)) continue;
    h.top = it->second;
    h.counts.assign(size_t(bins), 0.0);
  }
}

const std::map<std::string, Network::Histogram>& Network::histograms() const { return impl_->histograms; }

void Network::run(const cv::Mat& input, float* blocks_row, const std::vector<float*>& outputs) {
  IRBIS_THROW_IF_NOT(input.type() == CV_32FC3 && input.isContinuous(), UsageError,
                     "oneDNN engine: the input must be a continuous CV_32FC3 image");
  Impl& I = *impl_;
  const ScopedOmpThreads team(threads_);
  I.input_mem.set_data_handle(const_cast<uchar*>(input.data));
  for (auto& s : I.steps) {
    if (s.host) {
      I.strm.wait();
      s.host();
    } else {
      s.prim.execute(I.strm, s.args);
    }
  }
  I.strm.wait();
  size_t blocks_total = I.output_offsets.empty() ? I.pooled.size() : I.output_offsets.front();
  std::memcpy(blocks_row, I.pooled.data(), blocks_total * sizeof(float));
  for (size_t o = 0; o < outputs.size() && o < I.output_offsets.size(); ++o) {
    size_t end = o + 1 < I.output_offsets.size() ? I.output_offsets[o + 1] : I.pooled.size();
    std::memcpy(outputs[o], I.pooled.data() + I.output_offsets[o], (end - I.output_offsets[o]) * sizeof(float));
  }
}

}  // namespace irbis::onednn
