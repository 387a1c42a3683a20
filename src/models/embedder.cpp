#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <onnx/onnx_pb.h>
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/model.h"
#include "irbis/image.h"
#include "models/dnn_util.h"
#include "models/ir.h"
#include "models/onednn_engine.h"

namespace irbis {
namespace dnn_util {

cv::dnn::Net load_net(const std::filesystem::path& onnx) {
  std::error_code ec;
  if (!std::filesystem::exists(onnx, ec))
    throw ModelError("model file " + onnx.string() + " is missing; run ./setup.sh (scripts/fetch_models.sh, then "
                     "scripts/import_models.sh) to import the default models");
  // Read and checked here first (ir::check_onnx_model): OpenCV's importer trusts the file's windows
  // and initializer sizes, and a model file is user input (`irbis model add`).
  std::string bytes;
  {
    std::ifstream in(onnx, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) throw ModelError(onnx.string() + ": cannot read the file");
  }
  onnx::ModelProto proto;
  if (!proto.ParseFromString(bytes) || !proto.has_graph())
    throw ModelError(onnx.string() + ": not an ONNX model (protobuf ModelProto with a graph expected)");
  ir::check_onnx_model(proto, onnx.string());
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
  } catch (const cv::Exception& e) {
    throw ModelError(onnx.string() + ": OpenCV DNN cannot load this ONNX model: " + e.what());
  }
  if (net.empty()) throw ModelError(onnx.string() + ": OpenCV DNN loaded an empty network");
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

std::string layer_for_tensor(cv::dnn::Net& net, const std::string& tensor, const std::string& where) {
  for (const std::string& cand : {tensor, "onnx_node!" + tensor})
    if (net.getLayerId(cand) >= 0) return cand;
  throw ModelError(where + ": the network has no tensor named '" + tensor + "'");
}

cv::Mat pool_rows(const cv::Mat& out) {
  if (out.dims < 2) throw ModelError("model output has fewer than 2 dimensions");
  int n = out.size[0], c = out.size[1];
  size_t spatial = out.total() / (size_t(n) * size_t(c));
  cv::Mat rows(n, c, CV_32F);
  const float* p = out.ptr<float>();
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < c; ++k) {
      const float* q = p + (size_t(i) * c + k) * spatial;
      double s = 0;
      for (size_t j = 0; j < spatial; ++j) s += q[j];
      rows.at<float>(i, k) = float(s / double(spatial));
    }
  return rows;
}

}  // namespace dnn_util

namespace {
void l2_normalise_row(float* p, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += double(p[i]) * p[i];
  if (s <= 0) return;
  float inv = float(1.0 / std::sqrt(s));
  for (int i = 0; i < n; ++i) p[i] *= inv;
}
}  // namespace

InferenceEngine parse_engine(const std::string& s) {
  if (s == "auto") return InferenceEngine::automatic;
  if (s == "onednn") return InferenceEngine::onednn;
  if (s == "opencv") return InferenceEngine::opencv;
  throw UsageError("unknown inference engine '" + s + "'; use auto, onednn or opencv");
}

Precision parse_precision(const std::string& s) {
  if (s == "auto") return Precision::automatic;
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  if (s == "int8") return Precision::int8;
  throw UsageError("unknown precision '" + s + "'; use auto, fp32, bf16 or int8");
}

std::string engine_name(InferenceEngine e) {
  switch (e) {
    case InferenceEngine::onednn: return "onednn";
    case InferenceEngine::opencv: return "opencv";
    default: return "auto";
  }
}

std::string precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
    default: return "auto";
  }
}

namespace {
std::mutex g_inference_mu;
InferenceOptions initial_inference() {
  InferenceOptions o;
  if (const char* e = std::getenv("IRBIS_ENGINE"); e && *e) o.engine = parse_engine(e);
  if (const char* p = std::getenv("IRBIS_PRECISION"); p && *p) o.precision = parse_precision(p);
  return o;
}
InferenceOptions& inference_default_storage() {
  static InferenceOptions o = initial_inference();
  return o;
}
}  // namespace

void set_default_inference(const InferenceOptions& o) {
  std::lock_guard lk(g_inference_mu);
  inference_default_storage() = o;
}

InferenceOptions default_inference() {
  std::lock_guard lk(g_inference_mu);
  return inference_default_storage();
}

// Only precisions with native dot products: without them oneDNN emulates bf16 (slower than fp32)
// and runs int8 without VNNI at about fp32's speed. The order is the measured speed
// (BENCHMARKS.md "int8"): AMX's int8 tiles have twice the bf16 rate; with VNNI and AVX-512 BF16
// (Zen 4) int8 is also the faster of the two for mobilenet_v2_mid.
std::vector<Precision> native_precisions() {
  std::vector<Precision> v;
  if (onednn::cpu_has_native_int8()) v.push_back(Precision::int8);
  if (onednn::cpu_has_native_bf16()) v.push_back(Precision::bf16);
  v.push_back(Precision::fp32);
  return v;
}

Precision best_precision() { return native_precisions().front(); }

Precision auto_precision(const ModelCard& card) {
  // The imported models whose descriptors pass each gate on the Debian photos
  // (tests/models/onednn_engine_test.cpp holds these lists to the gates): bf16 median cosine to
  // fp32 >= 0.999 and min >= 0.99 (mobilenet_v2's median is 0.9988); int8 median >= 0.995 and
  // min >= 0.98, with the card's calibration (inception_v3's: its stem in bf16, --float-until).
  static const char* const kBf16Gated[] = {"mobilenet_v2_mid", "inception_v3"};
  static const char* const kInt8Gated[] = {"mobilenet_v2_mid", "inception_v3"};
  const bool imported = card.source == "npm" && card.source_package == "nsfwjs";
  auto listed = [&](const auto& list) {
    for (const char* m : list)
      if (imported && card.source_path == std::string("dist/models/") + m) return true;
    return false;
  };
  for (Precision p : native_precisions()) {
    if (p == Precision::int8 && listed(kInt8Gated) && !card.int8.empty()) return p;
    if (p == Precision::bf16 && listed(kBf16Gated)) return p;
    if (p == Precision::fp32) return p;
  }
  return Precision::fp32;
}

namespace {

// The clip c of a tensor (its values' |x| counted in h) that minimises the expected squared error
// of quantising to `levels` steps of c / levels: a value below half a step becomes 0 (its square),
// other values below c are off by a uniform rounding error (step^2 / 12), values above c by
// (|x| - c)^2. Exact zeros cost nothing at any clip. Candidates: every bin edge from top / 16.
float mse_optimal_clip(const onednn::Network::Histogram& h, int levels) {
  const size_t bins = h.counts.size();
  const double width = double(h.top) / double(bins);
  double best_err = std::numeric_limits<double>::max();
  size_t best = bins;
  for (size_t j = std::max<size_t>(1, bins / 16); j <= bins; ++j) {
    const double c = double(j) * width, step = c / levels;
    double err = 0;
    for (size_t i = 0; i < bins; ++i) {
      if (h.counts[i] == 0) continue;
      const double v = (double(i) + 0.5) * width;
      const double e = v >= c ? (v - c) * (v - c) : v < step / 2 ? v * v : step * step / 12;
      err += h.counts[i] * e;
    }
    if (err < best_err) best_err = err, best = j;
  }
  return float(double(best) * width);
}

}  // namespace

ModelCard calibrate_int8(const ModelCard& card, const std::vector<cv::Mat>& rgb_photos, const std::string& photo_set,
                         Int8RangeMethod method) {
  IRBIS_THROW_IF_NOT(!rgb_photos.empty(), UsageError, "calibrate_int8: no photos");
  Embedder pre(card, {InferenceEngine::onednn, Precision::fp32});  // the preprocessing
  onednn::Network net(card, Precision::fp32, /*observe_ranges=*/true);
  std::vector<float> blocks(size_t(card.blocks_dim()));
  std::vector<cv::Mat> inputs;
  for (const auto& rgb : rgb_photos) inputs.push_back(pre.preprocess(rgb));
  for (const auto& in : inputs) net.run(in, blocks.data(), {});
  ModelCard out = card;
  out.int8 = {};
  out.int8.photos = int(rgb_photos.size());
  out.int8.photo_set = photo_set;
  out.int8.ranges = net.observed_ranges();
  if (method == Int8RangeMethod::max) {
    out.int8.method = "min and max of each activation tensor over the photos, oneDNN fp32";
    return out;
  }
  // Second pass: each tensor's |x| in 2048 bins up to its largest magnitude.
  constexpr int kBins = 2048;
  std::map<std::string, float> tops;
  for (const auto& [name, r] : out.int8.ranges)
    if (name != card.input_tensor) tops[name] = std::max(std::fabs(r.first), std::fabs(r.second));
  net.set_histograms(tops, kBins);
  for (const auto& in : inputs) net.run(in, blocks.data(), {});
  for (const auto& [name, h] : net.histograms()) {
    auto it = out.int8.ranges.find(name);
    if (it == out.int8.ranges.end() || h.counts.empty()) continue;
    auto& [lo, hi] = it->second;
    const float c = mse_optimal_clip(h, lo >= 0.f ? 255 : 127);  // u8 or s8, as the engine will store it
    lo = std::max(lo, -c);
    hi = std::min(hi, c);
  }
  out.int8.method =
      "oneDNN fp32 over the photos; each activation tensor's range clipped where the expected squared error of "
      "quantising its values is smallest (2048-bin histogram of |x|; the input keeps its full range)";
  return out;
}

std::string inference_isa() { return onednn::effective_isa(); }


struct Embedder::Impl {
  cv::dnn::Net net;
  std::vector<cv::String> block_layers;
  std::vector<cv::String> output_layers;
  std::unique_ptr<onednn::Network> onednn;
};

Embedder::Embedder(const ModelCard& card, const InferenceOptions& opts) : card_(card), impl_(std::make_unique<Impl>()) {
  card_.validate();
  std::string where = "model '" + card_.name + "' (" + card_.onnx_path().string() + ")";
  if (opts.engine == InferenceEngine::opencv && (opts.precision == Precision::bf16 || opts.precision == Precision::int8))
    throw UsageError("the OpenCV DNN engine runs fp32 only; use --engine onednn for " + precision_name(opts.precision));
  if (opts.engine != InferenceEngine::opencv) {
    Precision p = opts.precision == Precision::automatic ? auto_precision(card_) : opts.precision;
    try {
      IRBIS_THROW_IF_NOT(opts.threads >= 1, UsageError, "inference needs at least one thread");
      impl_->onednn = std::make_unique<onednn::Network>(card_, p, /*observe_ranges=*/false, opts.threads);
      engine_ = InferenceEngine::onednn;
      precision_ = p;
      threads_ = opts.threads;
      return;
    } catch (const ModelError&) {
      // auto falls back to OpenCV DNN for graphs (or precisions) oneDNN does not cover
      if (opts.engine == InferenceEngine::onednn || opts.precision == Precision::bf16 ||
          opts.precision == Precision::int8)
        throw;
    }
  }
  engine_ = InferenceEngine::opencv;
  precision_ = Precision::fp32;
  impl_->net = dnn_util::load_net(card_.onnx_path());
  for (const auto& b : card_.blocks) impl_->block_layers.push_back(dnn_util::layer_for_tensor(impl_->net, b.tensor, where));
  for (const auto& o : card_.outputs) impl_->output_layers.push_back(dnn_util::layer_for_tensor(impl_->net, o.tensor, where));
}

std::string Embedder::inference_tag() const { return engine_name(engine_) + "/" + precision_name(precision_); }

Embedder::~Embedder() = default;

int Embedder::dim() const { return card_.descriptor_dim(); }
int Embedder::blocks_dim() const { return card_.blocks_dim(); }

std::vector<std::pair<std::string, int>> Embedder::block_layout() const {
  std::vector<std::pair<std::string, int>> v;
  for (const auto& b : card_.blocks) v.emplace_back(b.name, b.dim);
  return v;
}

cv::Mat Embedder::preprocess(const cv::Mat& rgb) const {
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, UsageError, "Embedder::preprocess needs an 8-bit RGB image");
  int s = card_.input_size;
  cv::Mat small;
  if (rgb.cols == s && rgb.rows == s) {
    small = rgb;
  } else {
    small = resize_area(rgb, s, s);  // area averaging: a photo and its downscaled copy embed alike
  }
  if (card_.color_order == "BGR") {
    cv::Mat bgr;  // never in place: `small` may share the caller's pixels
    cv::cvtColor(small, bgr, cv::COLOR_RGB2BGR);
    small = bgr;
  }
  cv::Mat f;
  small.convertTo(f, CV_32FC3, card_.pixel_scale);
  bool plain = card_.mean == std::array<double, 3>{0, 0, 0} && card_.std == std::array<double, 3>{1, 1, 1};
  if (!plain) {
    cv::subtract(f, cv::Scalar(card_.mean[0], card_.mean[1], card_.mean[2]), f);
    cv::multiply(f, cv::Scalar(1.0 / card_.std[0], 1.0 / card_.std[1], 1.0 / card_.std[2]), f);
  }
  return f;
}

cv::Mat Embedder::forward_blocks(const std::vector<cv::Mat>& inputs, std::vector<cv::Mat>* outputs) {
  IRBIS_THROW_IF_NOT(!inputs.empty(), UsageError, "Embedder: no images");
  for (const auto& m : inputs)
    IRBIS_THROW_IF_NOT(m.type() == CV_32FC3 && m.rows == card_.input_size && m.cols == card_.input_size, UsageError,
                       "Embedder: inputs must be preprocessed CV_32FC3 input_size x input_size");
  if (impl_->onednn) {
    const int n = int(inputs.size());
    cv::Mat blocks(n, blocks_dim(), CV_32F);
    std::vector<cv::Mat> outs;
    for (const auto& o : card_.outputs) outs.emplace_back(n, o.dim, CV_32F);
    for (int i = 0; i < n; ++i) {
      std::vector<float*> rows;
      if (outputs)
        for (auto& o : outs) rows.push_back(o.ptr<float>(i));
      const cv::Mat& in = inputs[size_t(i)];
      impl_->onednn->run(in.isContinuous() ? in : in.clone(), blocks.ptr<float>(i), rows);
    }
    if (outputs) *outputs = std::move(outs);
    return blocks;
  }
  cv::Mat blob = cv::dnn::blobFromImages(inputs, 1.0, cv::Size(), cv::Scalar(), false, false, CV_32F);
  std::vector<cv::String> names = impl_->block_layers;
  if (outputs) names.insert(names.end(), impl_->output_layers.begin(), impl_->output_layers.end());
  std::vector<cv::Mat> outs;
  try {
    impl_->net.setInput(blob, card_.input_tensor);
    impl_->net.forward(outs, names);
  } catch (const cv::Exception& e) {
    throw ModelError("model '" + card_.name + "': inference failed: " + e.what());
  }
  int n = int(inputs.size());
  cv::Mat blocks(n, blocks_dim(), CV_32F);
  int off = 0;
  for (size_t b = 0; b < card_.blocks.size(); ++b) {
    cv::Mat pooled = dnn_util::pool_rows(outs[b]);
    if (pooled.rows != n || pooled.cols != card_.blocks[b].dim)
      throw ModelError("model '" + card_.name + "': block '" + card_.blocks[b].name + "' has " +
                       std::to_string(pooled.cols) + " channels, the card says " + std::to_string(card_.blocks[b].dim));
    pooled.copyTo(blocks.colRange(off, off + pooled.cols));
    off += pooled.cols;
  }
  if (outputs) {
    outputs->clear();
    for (size_t o = 0; o < card_.outputs.size(); ++o) outputs->push_back(dnn_util::pool_rows(outs[card_.blocks.size() + o]));
  }
  return blocks;
}

cv::Mat Embedder::block_view(const cv::Mat& blocks, const std::string& name) const {
  IRBIS_THROW_IF_NOT(blocks.type() == CV_32F && blocks.cols == blocks_dim(), UsageError,
                     "Embedder::block_view: rows are not this model's blocks");
  int off = card_.block_offset(name), d = card_.block(name).dim;
  cv::Mat v = blocks.colRange(off, off + d).clone();
  for (int r = 0; r < v.rows; ++r) l2_normalise_row(v.ptr<float>(r), d);
  return v;
}

cv::Mat Embedder::descriptor_from_blocks(const cv::Mat& blocks) const {
  IRBIS_THROW_IF_NOT(blocks.type() == CV_32F && blocks.cols == blocks_dim(), UsageError,
                     "Embedder::descriptor_from_blocks: rows are not this model's blocks");
  cv::Mat d(blocks.rows, dim(), CV_32F);
  int col = 0;
  for (const auto& name : card_.descriptor) {
    cv::Mat v = block_view(blocks, name);
    v.copyTo(d.colRange(col, col + v.cols));
    col += v.cols;
  }
  for (int r = 0; r < d.rows; ++r) l2_normalise_row(d.ptr<float>(r), d.cols);
  return d;
}

void Embedder::embed(const std::vector<cv::Mat>& rgb_images, cv::Mat& descriptors, cv::Mat* blocks) {
  std::vector<cv::Mat> inputs;
  inputs.reserve(rgb_images.size());
  for (const auto& im : rgb_images) inputs.push_back(preprocess(im));
  cv::Mat b = forward_blocks(inputs, nullptr);
  descriptors = descriptor_from_blocks(b);
  if (blocks) *blocks = b;
}

}  // namespace irbis
