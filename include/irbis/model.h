// Pretrained CNN embeddings run on the CPU with oneDNN (default) or OpenCV DNN. A model is an ONNX file plus a model card
// (JSON) in the model registry directory. See docs/models.md for the card format, where the
// default weights come from (npm nsfwjs 4.3.0, fetched and imported by ./setup.sh) and the
// descriptor recipe.
//
// Registry directory (model_dir()): $IRBIS_MODEL_DIR when set, else <repo>/models/onnx found
// relative to the running executable: <dir of /proc/self/exe>/../models/onnx (the binary is
// build/irbis; for binaries one level deeper, e.g. build/bench/*, <dir of exe>/../../models/onnx is
// used when the first does not exist). Each model is <dir>/<name>.json (the card) next to the
// ONNX file it names.
#pragma once
#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <opencv2/core.hpp>

namespace irbis {

// The model used when none is chosen.
inline constexpr const char* kDefaultModel = "mobilenet_v2_mid";

// One tensor of the network that is globally average-pooled (4-D N,C,H,W output) or taken as it
// is (2-D N,C output) into a block of the per-image "blocks" row.
struct ModelBlock {
  std::string name;    // short name, e.g. "expanded_conv_8/add" (unique within the card)
  std::string tensor;  // ONNX tensor name (a graph output of the ONNX file)
  int dim = 0;         // channels after pooling
};

// An extra network output that is not part of the embedding (e.g. the classifier's softmax).
struct ModelOutput {
  std::string name;
  std::string tensor;
  int dim = 0;
};

struct ModelCard {
  int card_version = 1;
  std::string name;          // registry name, [A-Za-z0-9_.-]+
  std::string onnx_file;     // file name of the ONNX model, relative to the card's directory
  std::string onnx_sha256;   // hex sha256 of the ONNX file's bytes
  // Where the weights came from.
  std::string source;          // "npm" for imported packages, "user" for `irbis model add`
  std::string source_package;  // e.g. "nsfwjs" (empty for user models)
  std::string source_version;  // e.g. "4.3.0"
  std::string source_path;     // e.g. "dist/models/mobilenet_v2_mid"
  std::string license;         // e.g. "MIT"
  std::string architecture;    // free text, e.g. "MobileNetV2 width 1.4"
  // Input: input_size x input_size, squashed (aspect ratio not kept) with area averaging.
  std::string input_tensor = "input";  // NCHW float input
  int input_size = 224;
  std::string color_order = "RGB";     // "RGB" or "BGR"
  // Network input value = (pixel * pixel_scale - mean[c]) / std[c], c in color_order.
  double pixel_scale = 1.0 / 255.0;
  std::array<double, 3> mean{0, 0, 0};
  std::array<double, 3> std{1, 1, 1};
  // Pooled tensors stored per image (the "blocks" row), in this order.
  std::vector<ModelBlock> blocks;
  // Descriptor recipe: names of blocks; each L2-normalised, concatenated, L2-normalised again.
  std::vector<std::string> descriptor;
  // Block used by the "semantic" view (clustering by object/species).
  std::string semantic_block;
  std::vector<ModelOutput> outputs;
  int embedding_dim = 0;  // dimension of the descriptor (sum of its blocks' dims); checked on load

  // int8 calibration (calibrate_int8): the range [min, max] of every activation tensor the oneDNN
  // engine quantizes, measured with the fp32 engine on a fixed set of photos. Empty: the model
  // has not been calibrated and runs int8 only after `irbis model calibrate`.
  struct Int8Calibration {
    int photos = 0;          // photos the ranges were measured on
    std::string photo_set;   // which photos (folders and the selection rule)
    std::string method;      // how the ranges were taken
    std::map<std::string, std::pair<float, float>> ranges;  // tensor -> (min, max)
    // Mixed precision: the operators up to the one producing `float_until` and those after the one
    // producing `float_after` run in bf16 (f32 on CPUs without native bf16) instead of int8; empty:
    // none.
    std::string float_until, float_after;
    bool empty() const { return ranges.empty(); }
  } int8;

  // Where the card was loaded from (not serialised); onnx_path() resolves against it.
  std::filesystem::path card_path;

  std::filesystem::path onnx_path() const;
  int descriptor_dim() const;  // sum of the descriptor blocks' dims
  int blocks_dim() const;      // sum of all blocks' dims
  const ModelBlock& block(const std::string& name) const;  // throws ModelError if absent
  // Offset of a block within the blocks row; throws ModelError if absent.
  int block_offset(const std::string& name) const;

  // Throws ModelError naming the card for missing fields, unknown descriptor blocks or an
  // embedding_dim that disagrees with the blocks.
  void validate() const;
  // JSON (nlohmann) round trip; load() throws ModelError naming the file.
  std::string to_json() const;
  static ModelCard from_json(const std::string& text, const std::filesystem::path& origin = {});
  static ModelCard load(const std::filesystem::path& card_json);
  void save(const std::filesystem::path& card_json) const;  // written atomically (tmp + rename)
};

// --- registry ---
// $IRBIS_MODEL_DIR, else <dir of /proc/self/exe>/../models/onnx (see the top of this file).
std::filesystem::path model_dir();
// All valid cards in dir (sorted by name); cards that fail to load are skipped.
std::vector<ModelCard> list_models(const std::filesystem::path& dir);
std::vector<ModelCard> list_models();
// Throws ModelError("unknown model 'x'; installed: a, b; run ./setup.sh to import the defaults").
ModelCard find_model(const std::string& name, const std::filesystem::path& dir);
ModelCard find_model(const std::string& name);

// --- import (used by `irbis model import` / `irbis model add`) ---
struct ImportOptions {
  std::string name;             // registry name; default: the TF.js folder's name
  std::string source_package;   // recorded in the card, e.g. "nsfwjs"
  std::string source_version;   // e.g. "4.3.0"
  std::string license;          // e.g. "MIT"
};
// Converts a TF.js model folder (model.json + weights.bin as written by scripts/unwrap_tfjs.js,
// or model.json with the original shard files) to <out_dir>/<name>.onnx and <name>.json.
// Graph models (format "graph-model") and Keras layers models are supported; the three nsfwjs
// models get their built-in recipe (blocks, descriptor), others use the classifier's input.
// Throws ModelError for unsupported ops/layers, naming them.
ModelCard import_tfjs(const std::filesystem::path& tfjs_dir, const std::filesystem::path& out_dir,
                      const ImportOptions& opts = {});
// Registers a user's ONNX file: copies it to <out_dir>/<card.name>.onnx, loads it in cv::dnn,
// runs a zero input to measure the output dims (card.blocks[].dim filled in when 0, checked
// otherwise), and saves the card. Throws ModelError if the file is not a loadable ONNX model,
// a tensor is missing, or a given dimension disagrees with the model.
ModelCard add_onnx_model(const std::filesystem::path& onnx_file, ModelCard card,
                         const std::filesystem::path& out_dir);

// Hex sha256 of a file's bytes (throws IoError).
std::string sha256_file(const std::filesystem::path& p);

// --- inference engines and precisions (docs/models.md) ---
// automatic: oneDNN when it covers every operator of the graph, else OpenCV DNN.
enum class InferenceEngine { automatic, onednn, opencv };
// automatic: the fastest precision that passes the accuracy gates on the running CPU (see
// auto_precision). OpenCV DNN runs fp32 only. int8: s8 weights with per-channel scales, u8/s8
// activations with the per-tensor scales of the card's int8 calibration.
enum class Precision { automatic, fp32, bf16, int8 };
struct InferenceOptions {
  InferenceEngine engine = InferenceEngine::automatic;
  Precision precision = Precision::automatic;
  // oneDNN: threads of one forward pass (the network's OpenMP team, fixed when it is built). 1 is
  // the scheme irbis uses: one single-threaded network per worker, images (or LIME samples) shared
  // out between workers; a team waits at every layer's barrier and, on a busy machine, spins there
  // (docs/models.md, "Threads"). OpenCV DNN runs on OpenCV's own pool (cv::setNumThreads).
  int threads = 1;
};
// "auto" | "onednn" | "opencv" and "auto" | "fp32" | "bf16" | "int8"; throw UsageError otherwise.
InferenceEngine parse_engine(const std::string& s);
Precision parse_precision(const std::string& s);
std::string engine_name(InferenceEngine e);
std::string precision_name(Precision p);
// The process-wide choice every Embedder built without explicit options uses (CLI --engine /
// --precision, Python irbis.set_inference). Starts from $IRBIS_ENGINE / $IRBIS_PRECISION when set.
void set_default_inference(const InferenceOptions& o);
InferenceOptions default_inference();
// The precisions this CPU runs natively with oneDNN, fastest first (measured, BENCHMARKS.md):
// with AMX int8, bf16, fp32; with AVX-512 BF16 and VNNI (Zen 4) int8, bf16, fp32; with VNNI
// only int8, fp32; else fp32. best_precision() is the first.
std::vector<Precision> native_precisions();
Precision best_precision();
// What Precision::automatic resolves to for a model: the first of native_precisions() the model
// passed the accuracy gates for (tests/models/onednn_engine_test.cpp; int8 also needs the card's
// calibration): nsfwjs's mobilenet_v2_mid and inception_v3 int8 or bf16, mobilenet_v2 fp32.
Precision auto_precision(const ModelCard& card);
// How calibrate_int8 turns what it saw into a range: `max` the min and max of each tensor over the
// photos; `mse` (default) each tensor's clip that minimises the expected squared error of
// quantising its values (rounding below the clip, the cut above), from a histogram of the
// photos' values (the network's input keeps its full range).
enum class Int8RangeMethod { max, mse };
// Measures the int8 activation ranges of a model: runs the fp32 oneDNN engine over 8-bit RGB
// photos and returns the card with `int8` filled in. photo_set is recorded as it is. Throws
// ModelError when the engine cannot run the graph, UsageError for no photos.
ModelCard calibrate_int8(const ModelCard& card, const std::vector<cv::Mat>& rgb_photos, const std::string& photo_set,
                         Int8RangeMethod method = Int8RangeMethod::mse);
// The instruction set oneDNN dispatches to here, e.g. "avx512_core_bf16".
std::string inference_isa();

// --- inference ---
// Runs a model on the CPU with the chosen engine. Not thread-safe: use one Embedder per thread.
// Threads of one forward pass: InferenceOptions::threads (oneDNN), cv::setNumThreads() (OpenCV DNN).
class Embedder {
 public:
  // Loads the card's ONNX file; throws ModelError (with the setup step to run) if it is missing,
  // and when the engine asked for cannot run the graph (naming the operator) or the precision.
  explicit Embedder(const ModelCard& card, const InferenceOptions& opts = default_inference());

  // The engine and precision in use (never automatic) and their tag, e.g. "onednn/bf16".
  InferenceEngine engine() const { return engine_; }
  Precision precision() const { return precision_; }
  // The oneDNN network's team size (InferenceOptions::threads; 1 for OpenCV DNN, which uses OpenCV's pool).
  int threads() const { return threads_; }
  std::string inference_tag() const;
  ~Embedder();
  Embedder(const Embedder&) = delete;
  Embedder& operator=(const Embedder&) = delete;

  const ModelCard& card() const { return card_; }
  int input_size() const { return card_.input_size; }
  int dim() const;         // full descriptor dimension
  int blocks_dim() const;  // concatenated pooled block outputs
  // Name and dim of each pooled block in a blocks row, in order (slice with block_offset()).
  std::vector<std::pair<std::string, int>> block_layout() const;

  // 8-bit RGB (CV_8UC3) -> input_size x input_size CV_32FC3 in the card's colour order and
  // scaling. Area-averaging resize, aspect ratio not kept (squash, like nsfwjs).
  cv::Mat preprocess(const cv::Mat& rgb) const;
  // Embeds 8-bit RGB images in one forward pass: descriptors is n x dim() CV_32F, each row
  // L2-normalised; blocks (if not null) is n x blocks_dim() CV_32F, the raw pooled tensors.
  void embed(const std::vector<cv::Mat>& rgb_images, cv::Mat& descriptors, cv::Mat* blocks);

  // Lower level, for tests and tools: runs already preprocessed inputs (CV_32FC3,
  // input_size^2) and returns the raw pooled blocks (n x blocks_dim()) and, when asked, the
  // card's extra outputs (one n x dim matrix per card.outputs entry).
  cv::Mat forward_blocks(const std::vector<cv::Mat>& inputs, std::vector<cv::Mat>* outputs = nullptr);
  // Descriptor rows from blocks rows (the card's recipe), L2-normalised.
  cv::Mat descriptor_from_blocks(const cv::Mat& blocks) const;
  // One block, sliced from blocks rows and L2-normalised per row (e.g. the semantic view).
  cv::Mat block_view(const cv::Mat& blocks, const std::string& name) const;

 private:
  ModelCard card_;
  InferenceEngine engine_ = InferenceEngine::opencv;
  Precision precision_ = Precision::fp32;
  int threads_ = 1;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace irbis
