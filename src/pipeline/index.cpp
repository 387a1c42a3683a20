#include "irbis/pipeline.h"
#include "irbis/search.h"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <opencv2/core.hpp>

#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/model.h"
#include "irbis/text.h"

namespace irbis {

namespace {

// Runs the network on one preprocessed input; returns the descriptor row and the float16 blocks.
struct EmbeddingRows {
  cv::Mat descriptor;  // 1 x dim, CV_32F
  cv::Mat blocks;      // 1 x blocks_dim, CV_16F
};

EmbeddingRows embed_one(Embedder& embedder, const cv::Mat& input) {
  EmbeddingRows out;
  cv::Mat blocks = embedder.forward_blocks({input});
  out.descriptor = embedder.descriptor_from_blocks(blocks);
  blocks.convertTo(out.blocks, CV_16F);
  return out;
}

// One Embedder per worker that needs one (a cv::dnn::Net is not thread-safe); created on first
// use from the card of the one built up front, and handed back after each image.
class EmbedderPool {
 public:
  explicit EmbedderPool(std::unique_ptr<Embedder> first)
      : card_(first->card()), inference_{first->engine(), first->precision()} {
    free_.push_back(std::move(first));
  }
  const Embedder& any() const { return *free_.front(); }
  // Loads n networks in all and runs each once on a blank input, one after the other, so no
  // network is built or set up (layer allocation, fusion) concurrently with another's inference.
  // The first call also checks the card against the network: forward_blocks throws ModelError
  // when a block's width is not the card's.
  void prepare(int n) {
    while (int(free_.size()) < n) free_.push_back(std::make_unique<Embedder>(card_, inference_));
    const cv::Mat blank = cv::Mat::zeros(card_.input_size, card_.input_size, CV_32FC3);
    for (; prepared_ < free_.size(); ++prepared_) free_[prepared_]->forward_blocks({blank});
  }

  class Lease {
   public:
    Lease(EmbedderPool& pool, std::unique_ptr<Embedder> e) : pool_(&pool), e_(std::move(e)) {}
    Lease(Lease&& o) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (!e_) return;
      std::lock_guard lk(pool_->mu_);
      pool_->free_.push_back(std::move(e_));
    }
    Embedder& operator*() { return *e_; }
    Embedder* operator->() { return e_.get(); }

   private:
    EmbedderPool* pool_;
    std::unique_ptr<Embedder> e_;
  };
  // Throws ModelError if a further copy of the network cannot be loaded.
  Lease acquire() {
    {
      std::lock_guard lk(mu_);
      if (!free_.empty()) {
        auto e = std::move(free_.back());
        free_.pop_back();
        return Lease(*this, std::move(e));
      }
    }
    return Lease(*this, std::make_unique<Embedder>(card_, inference_));
  }

 private:
  ModelCard card_;
  InferenceOptions inference_;  // every copy runs the engine and precision of the first
  std::mutex mu_;
  std::vector<std::unique_ptr<Embedder>> free_;
  size_t prepared_ = 0;  // free_[0, prepared_) have run once (prepare runs before any lease)
};

// One model computed in this run: its networks and its two feature files.
struct ModelRun {
  ModelCard card;
  std::unique_ptr<EmbedderPool> pool;
  std::string emb, blocks;  // feature names
  int dim = 0, blocks_dim = 0;
};

// What a run computes: the features asked for and every feature the collection already has, so
// that no image gets a zero row standing in for a feature of its collection (docs/storage.md).
struct Plan {
  bool hashes = false;
  std::vector<ModelRun> models;
  DecodeOptions decode;  // pixel limit; min_side is a floor under each feature's own side
  // Each feature group decodes at its own size, so its input (and its rows) do not depend on
  // which other features run in the same pass: the hashes see the 32 px DCT-scaled decode, a
  // model the decode for its input size.
  int hash_side() const { return std::max(decode.min_side, kHashMinSide); }
  int model_side(size_t m) const { return std::max(decode.min_side, models[m].card.input_size); }
};

// The feature rows of one image (those asked for).
struct FeatureRows {
  bool has_hashes = false;
  std::array<uint64_t, 3> hashes{};
  std::array<float, kColorStatsDim> color{};
  std::vector<EmbeddingRows> emb;  // per plan model; empty rows when not asked for
};

// What a worker produces for one file; the writer stages it in scan order.
struct WorkResult {
  bool is_image = true;
  ImageRecord record;
  FeatureRows rows;
};

using Leases = std::vector<std::optional<EmbedderPool::Lease>>;

// Leases a network of each model in `want` (all when empty). Throws ModelError when a further
// copy of a network cannot be loaded: that is not the image's fault.
Leases lease_models(const Plan& plan, const std::vector<bool>& want = {}) {
  Leases leases(plan.models.size());
  for (size_t m = 0; m < plan.models.size(); ++m)
    if (want.empty() || want[m]) leases[m].emplace(plan.models[m].pool->acquire());
  return leases;
}

// Decodes once per distinct size and computes the hashes (when asked) and each leased model's
// rows. Returns the oriented header. Throws what decoding and inference throw.
ImageHeader compute_rows(std::span<const uint8_t> bytes, const Plan& plan, bool hashes, Leases& leases,
                         FeatureRows& out) {
  std::vector<int> sides;
  if (hashes) sides.push_back(plan.hash_side());
  for (size_t m = 0; m < leases.size(); ++m)
    if (leases[m]) sides.push_back(plan.model_side(m));
  if (sides.empty()) sides.push_back(plan.hash_side());  // no features: decode to check the image
  const std::vector<DecodedImage> img = decode_image_sizes(bytes, plan.decode, sides);
  size_t k = 0;
  if (hashes) {
    const cv::Mat& rgb = img[k++].rgb;
    const ImageHashes h = image_hashes(rgb);
    out.has_hashes = true;
    out.hashes = {h.phash, h.dhash, h.ahash};
    out.color = color_stats(rgb);
  }
  out.emb.resize(leases.size());
  for (size_t m = 0; m < leases.size(); ++m) {
    if (!leases[m]) continue;
    Embedder& e = **leases[m];
    out.emb[m] = embed_one(e, e.preprocess(img[k++].rgb));
  }
  return oriented_header(img.front().header, img.front().orientation);
}

std::string absolute_root(const std::string& root) {
  std::error_code ec;
  auto p = std::filesystem::absolute(std::filesystem::path(root), ec);
  if (ec) return root;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool under_root(const std::string& path, const std::string& root) {
  if (path == root) return true;
  if (root == "/") return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
}

ContentHash content_hash(std::span<const uint8_t> bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  ContentHash out{};
  for (int i = 0; i < 8; ++i) {
    out[size_t(i)] = uint8_t(h.high64 >> (56 - 8 * i));
    out[size_t(8 + i)] = uint8_t(h.low64 >> (56 - 8 * i));
  }
  return out;
}

// Deterministic fault for tests/e2e/bad_input.sh: IRBIS_FAULT_VANISH_BEFORE_READ=NAME deletes the
// scanned file whose path ends with /NAME right before it is read, as if it vanished mid-scan.
void fault_vanish(const std::string& path) {
  static const char* name = std::getenv("IRBIS_FAULT_VANISH_BEFORE_READ");
  if (!name || !*name) return;
  const std::string suffix = std::string("/") + name;
  if (path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
    ::unlink(path.c_str());
}

WorkResult process_file(const ScanEntry& entry, const IndexParams& params, const Plan& plan) {
  WorkResult w;
  ImageRecord& r = w.record;
  r.path = entry.path;
  r.size = entry.size;
  r.mtime_ns = entry.mtime_ns;
  fault_vanish(entry.path);
  std::vector<uint8_t> bytes;
  try {
    bytes = read_file_bytes(entry.path, params.max_file_bytes);
  } catch (const Error& e) {
    r.status = ImageStatus::failed;
    r.reason = e.what();
    return w;
  }
  r.content_hash = content_hash(bytes);
  r.format = sniff_format(bytes);
  if (r.format == ImageFormat::unknown && !has_image_extension(entry.path)) {
    w.is_image = false;
    return w;
  }
  // Taken before the try: failing to load the network is not this file's fault.
  Leases leases = lease_models(plan);
  try {
    const ImageHeader shown = compute_rows(bytes, plan, plan.hashes, leases, w.rows);
    r.format = shown.format;
    r.width = shown.width;
    r.height = shown.height;
  } catch (const Error& e) {
    r.status = ImageStatus::failed;
    r.reason = e.what();
  } catch (const cv::Exception& e) {
    r.status = ImageStatus::failed;
    r.reason = std::string("decoder error: ") + e.what();
  } catch (const std::bad_alloc&) {
    r.status = ImageStatus::failed;
    r.reason = "out of memory while decoding";
  }
  return w;
}

// Runs `work(i)` for i in [0, n) on worker threads and hands the results to `sink` in index
// order on the calling thread. At most `window` results wait at once, so memory stays flat.
template <typename Result, typename Work, typename Sink>
void ordered_parallel(size_t n, int threads, size_t window, Work work, Sink sink) {
  std::mutex mu;
  std::condition_variable produced, consumed;
  std::unordered_map<size_t, Result> ready;
  size_t next_to_take = 0, next_to_sink = 0;
  std::atomic<bool> stop{false};
  std::exception_ptr error;

  auto worker = [&] {
    for (;;) {
      size_t i;
      {
        std::unique_lock lk(mu);
        consumed.wait(lk, [&] { return stop || next_to_take >= n || next_to_take < next_to_sink + window; });
        if (stop || next_to_take >= n) return;
        i = next_to_take++;
      }
      std::optional<Result> r;
      try {
        r.emplace(work(i));
      } catch (...) {
        std::lock_guard lk(mu);
        if (!error) error = std::current_exception();
        stop = true;
        produced.notify_all();
        consumed.notify_all();
        return;
      }
      std::lock_guard lk(mu);
      ready.emplace(i, std::move(*r));
      produced.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  try {
    while (next_to_sink < n) {
      Result r;
      {
        std::unique_lock lk(mu);
        produced.wait(lk, [&] { return stop || ready.count(next_to_sink); });
        if (stop) break;
        auto it = ready.find(next_to_sink);
        r = std::move(it->second);
        ready.erase(it);
      }
      sink(next_to_sink, r);
      {
        std::lock_guard lk(mu);
        ++next_to_sink;
      }
      consumed.notify_all();
    }
  } catch (...) {
    std::lock_guard lk(mu);
    if (!error) error = std::current_exception();
    stop = true;
  }
  {
    std::lock_guard lk(mu);
    stop = true;
  }
  consumed.notify_all();
  produced.notify_all();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

std::span<const uint8_t> mat_bytes(const cv::Mat& m) {
  return {m.ptr<uint8_t>(0), m.total() * m.elemSize()};
}

template <typename T, size_t N>
std::span<const uint8_t> as_bytes(const std::array<T, N>& a) {
  return {reinterpret_cast<const uint8_t*>(a.data()), sizeof(a)};
}

}  // namespace

std::string embedding_feature(const std::string& model) { return "emb." + model; }
std::string blocks_feature(const std::string& model) { return "blocks." + model; }
std::string model_weights_key(const std::string& model) { return "model." + model + ".onnx_sha256"; }
std::string model_inference_key(const std::string& model) { return "model." + model + ".inference"; }

bool has_image_extension(const std::string& path) {
  static const char* kExt[] = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib",
                               ".tif", ".tiff", ".gif", ".heic", ".avif"};
  const auto dot = path.find_last_of("./");
  if (dot == std::string::npos || path[dot] != '.') return false;
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* e) { return ext == e; });
}

namespace {

// Models whose embeddings the collection holds (from its emb.<model> and blocks.<model> files).
std::vector<std::string> collection_models(const Collection& coll) {
  std::vector<std::string> out;
  for (const auto& spec : coll.feature_specs())
    for (const std::string prefix : {"emb.", "blocks."})
      if (spec.name.rfind(prefix, 0) == 0) {
        const std::string m = spec.name.substr(prefix.size());
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
      }
  return out;
}

// Loads every model the run needs and checks it before anything is declared in the collection:
// the card against its network (one forward pass) and, when the collection already has rows of
// the model, the weights against those that made them. Nothing is written here.
Plan make_plan(const Collection& coll, const IndexParams& params, IndexReport& rep) {
  Plan plan;
  plan.decode = params.decode;
  plan.hashes = params.hashes;
  if (!plan.hashes && (coll.has_feature(kHashesFeature) || coll.has_feature(kColorFeature))) {
    plan.hashes = true;
    rep.also_computed.push_back("hashes");
  }
  std::vector<std::string> names;
  if (!params.model.empty()) names.push_back(params.model);
  for (const auto& m : collection_models(coll))
    if (m != params.model) {
      names.push_back(m);
      rep.also_computed.push_back("cnn:" + m);
    }
  for (const auto& name : names) {
    ModelCard card;
    try {
      card = find_model(name);
    } catch (const ModelError& e) {
      if (name == params.model) throw;
      throw ModelError(coll.dir().string() + " has embeddings of model '" + name +
                       "', which every new image gets too, but it is not installed: " + e.what());
    }
    const std::string stored = coll.meta(model_weights_key(card.name));
    if (!stored.empty() && !card.onnx_sha256.empty() && stored != card.onnx_sha256)
      throw ModelError(coll.dir().string() + ": its embeddings of model '" + card.name +
                       "' were computed with other weights (ONNX sha256 " + stored.substr(0, 12) +
                       "…) than the installed ones (" + card.onnx_sha256.substr(0, 12) +
                       "…); restore those weights or index into a new collection");
    // Engine and precision: rows of one model in one collection come from interchangeable ones
    // (docs/models.md). An automatic precision follows what made the collection's rows.
    std::string stored_inference = coll.meta(model_inference_key(card.name));
    if (stored_inference.empty() && coll.has_feature(embedding_feature(card.name)))
      stored_inference = "opencv/fp32";  // indexed before the engine was recorded
    InferenceOptions inference = default_inference();
    const std::string stored_precision = stored_inference.substr(stored_inference.find('/') + 1);
    if (!stored_inference.empty() && inference.precision == Precision::automatic)
      inference.precision = inference.engine == InferenceEngine::opencv ? Precision::fp32 : parse_precision(stored_precision);
    auto first = std::make_unique<Embedder>(card, inference);
    if (!stored_inference.empty() && !inference_interchangeable(stored_inference, first->inference_tag()))
      throw ModelError(coll.dir().string() + ": its embeddings of model '" + card.name + "' were computed with " +
                       stored_inference + ", which this run's " + first->inference_tag() +
                       " does not reproduce; use --precision " + stored_precision +
                       (stored_precision == "fp32" ? "" : " --engine onednn") + " or index into a new collection");
    ModelRun run;
    run.pool = std::make_unique<EmbedderPool>(std::move(first));
    run.pool->prepare(1);
    run.dim = run.pool->any().dim();
    run.blocks_dim = run.pool->any().blocks_dim();
    run.emb = embedding_feature(card.name);
    run.blocks = blocks_feature(card.name);
    run.card = std::move(card);
    plan.models.push_back(std::move(run));
  }
  return plan;
}

// Declares the plan's feature files; refuses before declaring any when one exists with another shape.
void declare_features(Collection& coll, const Plan& plan) {
  std::vector<FeatureSpec> want;
  if (plan.hashes) {
    want.push_back({kHashesFeature, "u64", 3});
    want.push_back({kColorFeature, "f32", kColorStatsDim});
  }
  for (const auto& m : plan.models) {
    want.push_back({m.emb, "f32", m.dim});
    want.push_back({m.blocks, "f16", m.blocks_dim});
  }
  for (const auto& w : want)
    for (const auto& have : coll.feature_specs())
      if (have.name == w.name && (have.dtype != w.dtype || have.dim != w.dim))
        throw StoreError(coll.dir().string() + ": feature '" + w.name + "' exists with " + have.dtype + "[" +
                         std::to_string(have.dim) + "], but the model card gives " + w.dtype + "[" +
                         std::to_string(w.dim) + "]");
  for (const auto& w : want) coll.ensure_feature(w);
  // Which weights made these rows: index and merge_collections refuse to mix models that share a name.
  for (const auto& m : plan.models) {
    coll.set_meta(model_weights_key(m.card.name), m.card.onnx_sha256);
    // The first engine/precision stays: later runs were checked to be interchangeable with it.
    if (coll.meta(model_inference_key(m.card.name)).empty())
      coll.set_meta(model_inference_key(m.card.name), m.pool->any().inference_tag());
  }
}

}  // namespace

IndexReport index_collection(Collection& coll, const IndexParams& params) {
  const auto t0 = std::chrono::steady_clock::now();
  IRBIS_THROW_IF_NOT(params.commit_every >= 1, UsageError, "commit_every must be at least 1");
  IndexReport rep;
  std::vector<std::string> roots;
  for (const auto& r : params.roots) roots.push_back(absolute_root(r));

  ScanResult scanned = scan(roots);
  rep.scanned = int64_t(scanned.files.size());
  rep.problems = scanned.problems;

  // Decide what to do with each file: compare with the live catalog rows under these roots.
  std::unordered_map<std::string, ImageRecord> live;
  for (auto& r : coll.records()) {
    if (r.status != ImageStatus::ok && r.status != ImageStatus::failed) continue;
    if (std::any_of(roots.begin(), roots.end(), [&](const std::string& root) { return under_root(r.path, root); }))
      live.emplace(r.path, std::move(r));
  }
  std::vector<ScanEntry> todo;
  std::vector<int64_t> replaces;  // id of the version a todo entry replaces, or -1
  for (auto& e : scanned.files) {
    auto it = live.find(e.path);
    if (it != live.end()) {
      const bool same = it->second.size == e.size && it->second.mtime_ns == e.mtime_ns;
      const int64_t old_id = it->second.id;
      live.erase(it);
      if (same) {
        ++rep.unchanged;
        continue;
      }
      replaces.push_back(old_id);
    } else {
      replaces.push_back(-1);
    }
    todo.push_back(std::move(e));
  }

  // Everything that can fail on a model is checked before the collection is touched.
  Plan plan = make_plan(coll, params, rep);

  // What is left in `live` was not found: removed, unless its directory could not be read.
  for (const auto& [path, r] : live) {
    const bool unreadable = std::any_of(rep.problems.begin(), rep.problems.end(),
                                        [&](const ScanProblem& p) { return under_root(path, p.path); });
    if (unreadable) continue;
    coll.stage_status(r.id, ImageStatus::removed);
    ++rep.removed;
  }
  declare_features(coll, plan);

  // Feature files that stop short of the catalog (declared this run, or a back-fill that was
  // interrupted) are filled in id order first, so their rows line up with ids before new images
  // are appended. Each file resumes from its own committed row count.
  const int64_t committed = coll.committed_rows();
  const auto missing_from = [&](const std::string& a, const std::string& b) {
    return std::min(coll.feature_rows(a), coll.feature_rows(b));
  };
  const int64_t hashes_from = plan.hashes ? missing_from(kHashesFeature, kColorFeature) : committed;
  std::vector<int64_t> model_from;
  for (const auto& m : plan.models) model_from.push_back(missing_from(m.emb, m.blocks));
  int64_t fill_from = hashes_from;
  for (int64_t f : model_from) fill_from = std::min(fill_from, f);

  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  // One worker per core; each decodes its file and, with a model, runs the network on it with
  // its own Embedder (pool). OpenCV's pool is off: inference parallelises across images, not
  // within one forward pass. (Inference on the calling thread with OpenCV's TBB pool over all
  // cores plus a decode worker ran 3 busy threads on 2 cores, and every layer of a forward pass
  // ends in a barrier, so a preempted pool thread stalled the others; see BENCHMARKS.md.)
  // With fewer workers than cores (--threads), each forward pass gets the spare cores.
  const int threads = params.threads > 0 ? params.threads : cores;
  const int cv_threads = cv::getNumThreads();
  cv::setNumThreads(plan.models.empty() ? 1 : std::max(1, cores / threads));
  if (!todo.empty() || fill_from < committed)
    for (auto& m : plan.models) m.pool->prepare(threads);
  auto last_commit = std::chrono::steady_clock::now();
  auto maybe_commit = [&] {
    const auto now = std::chrono::steady_clock::now();
    if (int(coll.staged_images()) >= params.commit_every || now - last_commit > std::chrono::seconds(2)) {
      coll.commit();
      last_commit = now;
    }
  };
  int64_t done = 0;
  try {
    if (fill_from < committed) {
      std::vector<ImageRecord> old;
      for (int64_t id = fill_from; id < committed; ++id) old.push_back(*coll.record(id));
      int64_t staged_since_commit = 0;
      ordered_parallel<FeatureRows>(
          old.size(), threads, size_t(threads) * 8,
          [&](size_t i) -> FeatureRows {
            FeatureRows rows;
            const int64_t id = old[i].id;
            if (old[i].status != ImageStatus::ok) return rows;
            std::vector<bool> want(plan.models.size());
            for (size_t m = 0; m < want.size(); ++m) want[m] = id >= model_from[m];
            Leases leases = lease_models(plan, want);
            try {
              const auto bytes = read_file_bytes(old[i].path, params.max_file_bytes);
              compute_rows(bytes, plan, plan.hashes && id >= hashes_from, leases, rows);
            } catch (const std::exception&) {
              return {};  // changed or gone since: zero rows; the next scan re-indexes it
            }
            return rows;
          },
          [&](size_t i, FeatureRows& rows) {
            const int64_t id = old[i].id;
            bool computed = false;
            // A feature file gets this id's row when it is the file's next one; zero rows where
            // nothing was computed (not an ok image, or it could not be read again).
            const auto stage = [&](const std::string& name, std::span<const uint8_t> row, bool have) {
              if (coll.feature_rows(name) > id) return;  // committed before an interruption
              if (have) {
                coll.stage_feature_rows(name, id, row);
                computed = true;
              } else {
                const std::vector<uint8_t> zeros(row.size(), 0);
                coll.stage_feature_rows(name, id, zeros);
              }
            };
            if (plan.hashes && id >= hashes_from) {
              stage(kHashesFeature, as_bytes(rows.hashes), rows.has_hashes);
              stage(kColorFeature, as_bytes(rows.color), rows.has_hashes);
            }
            for (size_t m = 0; m < plan.models.size(); ++m) {
              if (id < model_from[m]) continue;
              const auto& e = plan.models[m];
              if (m < rows.emb.size() && !rows.emb[m].descriptor.empty()) {
                stage(e.emb, mat_bytes(rows.emb[m].descriptor), true);
                stage(e.blocks, mat_bytes(rows.emb[m].blocks), true);
              } else {
                stage(e.emb, std::vector<uint8_t>(size_t(e.dim) * sizeof(float)), false);
                stage(e.blocks, std::vector<uint8_t>(size_t(e.blocks_dim) * 2), false);
              }
            }
            if (computed) ++rep.backfilled;
            if (++staged_since_commit >= params.commit_every) {
              coll.commit();
              staged_since_commit = 0;
            }
            if (params.progress) params.progress(int64_t(i + 1), int64_t(old.size() + todo.size()));
          });
      coll.commit();
      done = int64_t(old.size());
    }
    const int64_t total = done + int64_t(todo.size());
    ordered_parallel<WorkResult>(
        todo.size(), threads, size_t(threads) * 16,
        [&](size_t i) { return process_file(todo[i], params, plan); },
        [&](size_t i, WorkResult& w) {
          if (!w.is_image) {
            ++rep.not_images;
            if (replaces[i] >= 0) {  // was an image, is no longer one
              coll.stage_status(replaces[i], ImageStatus::removed);
              ++rep.removed;
            }
          } else {
            if (replaces[i] >= 0) {
              coll.stage_status(replaces[i], ImageStatus::retired);
              ++rep.changed;
            } else {
              ++rep.added;
            }
            std::vector<std::pair<std::string, std::span<const uint8_t>>> rows;
            if (w.record.status == ImageStatus::ok) {  // every feature of the plan was computed
              if (plan.hashes) {
                rows.emplace_back(kHashesFeature, as_bytes(w.rows.hashes));
                rows.emplace_back(kColorFeature, as_bytes(w.rows.color));
              }
              for (size_t m = 0; m < plan.models.size(); ++m) {
                rows.emplace_back(plan.models[m].emb, mat_bytes(w.rows.emb[m].descriptor));
                rows.emplace_back(plan.models[m].blocks, mat_bytes(w.rows.emb[m].blocks));
              }
            }
            coll.stage_image(w.record, rows);
            (w.record.status == ImageStatus::ok ? rep.ok : rep.failed)++;
          }
          ++done;
          maybe_commit();
          if (params.progress) params.progress(done, total);
        });
    coll.commit();
  } catch (...) {
    cv::setNumThreads(cv_threads);
    throw;
  }
  cv::setNumThreads(cv_threads);
  for (const auto& m : plan.models) update_vector_index_if_present(coll, m.card.name);  // derived state; never throws
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace irbis
