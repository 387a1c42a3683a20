#include "irbis/pipeline.h"
#include "irbis/search.h"

#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
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
  explicit EmbedderPool(std::unique_ptr<Embedder> first) : card_(first->card()) { free_.push_back(std::move(first)); }
  const Embedder& any() const { return *free_.front(); }
  // Loads n networks in all and runs each once on a blank input, one after the other, so no
  // network is built or set up (layer allocation, fusion) concurrently with another's inference.
  void prepare(int n) {
    while (int(free_.size()) < n) free_.push_back(std::make_unique<Embedder>(card_));
    const cv::Mat blank = cv::Mat::zeros(card_.input_size, card_.input_size, CV_32FC3);
    for (auto& e : free_) e->forward_blocks({blank});
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
    return Lease(*this, std::make_unique<Embedder>(card_));
  }

 private:
  ModelCard card_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Embedder>> free_;
};

// What a worker produces for one file; the writer stages it in scan order.
struct WorkResult {
  bool is_image = true;
  ImageRecord record;
  std::array<uint64_t, 3> hashes{};
  std::array<float, kColorStatsDim> color{};
  EmbeddingRows emb;  // descriptor and blocks rows (empty when no model or failed)
};

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

WorkResult process_file(const ScanEntry& entry, const IndexParams& params, const DecodeOptions& decode,
                        EmbedderPool* embedders) {
  WorkResult w;
  ImageRecord& r = w.record;
  r.path = entry.path;
  r.size = entry.size;
  r.mtime_ns = entry.mtime_ns;
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
  std::optional<EmbedderPool::Lease> embedder;
  if (embedders) embedder.emplace(embedders->acquire());
  try {
    DecodedImage img = decode_image(bytes, decode);
    r.format = img.header.format;
    const ImageHeader shown = oriented_header(img.header, img.orientation);
    r.width = shown.width;
    r.height = shown.height;
    if (params.hashes) {
      const ImageHashes h = image_hashes(img.rgb);
      w.hashes = {h.phash, h.dhash, h.ahash};
      w.color = color_stats(img.rgb);
    }
    if (embedder) w.emb = embed_one(**embedder, (*embedder)->preprocess(img.rgb));
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

}  // namespace

std::string embedding_feature(const std::string& model) { return "emb." + model; }
std::string blocks_feature(const std::string& model) { return "blocks." + model; }
std::string model_weights_key(const std::string& model) { return "model." + model + ".onnx_sha256"; }

bool has_image_extension(const std::string& path) {
  static const char* kExt[] = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib",
                               ".tif", ".tiff", ".gif", ".heic", ".avif"};
  const auto dot = path.find_last_of("./");
  if (dot == std::string::npos || path[dot] != '.') return false;
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* e) { return ext == e; });
}

IndexReport index_collection(Collection& coll, const IndexParams& params) {
  const auto t0 = std::chrono::steady_clock::now();
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
  // What is left in `live` was not found: removed, unless its directory could not be read.
  for (const auto& [path, r] : live) {
    const bool unreadable = std::any_of(rep.problems.begin(), rep.problems.end(),
                                        [&](const ScanProblem& p) { return under_root(path, p.path); });
    if (unreadable) continue;
    coll.stage_status(r.id, ImageStatus::removed);
    ++rep.removed;
  }

  if (params.hashes) {
    coll.ensure_feature({kHashesFeature, "u64", 3});
    coll.ensure_feature({kColorFeature, "f32", kColorStatsDim});
  }
  DecodeOptions decode = params.decode;
  decode.min_side = std::max(decode.min_side, 32);

  std::unique_ptr<EmbedderPool> embedders;
  const Embedder* embedder = nullptr;  // for dims; the workers lease their own from the pool
  std::string emb_name, blocks_name;
  if (!params.model.empty()) {
    const ModelCard card = find_model(params.model);
    embedders = std::make_unique<EmbedderPool>(std::make_unique<Embedder>(card));
    embedder = &embedders->any();
    emb_name = embedding_feature(card.name);
    blocks_name = blocks_feature(card.name);
    coll.ensure_feature({emb_name, "f32", embedder->dim()});
    coll.ensure_feature({blocks_name, "f16", embedder->blocks_dim()});
    // Which weights made these rows: merge_collections refuses to mix models that share a name.
    coll.set_meta(model_weights_key(card.name), card.onnx_sha256);
    decode.min_side = std::max(decode.min_side, embedder->input_size());
  }

  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  // One worker per core; each decodes its file and, with a model, runs the network on it with
  // its own Embedder (pool). OpenCV's pool is off: inference parallelises across images, not
  // within one forward pass. (Inference on the calling thread with OpenCV's TBB pool over all
  // cores plus a decode worker ran 3 busy threads on 2 cores, and every layer of a forward pass
  // ends in a barrier, so a preempted pool thread stalled the others; see BENCHMARKS.md.)
  // With fewer workers than cores (--threads), each forward pass gets the spare cores.
  const int threads = params.threads > 0 ? params.threads : cores;
  const int cv_threads = cv::getNumThreads();
  cv::setNumThreads(embedder ? std::max(1, cores / threads) : 1);
  if (embedders && (!todo.empty() || coll.feature_rows(emb_name) < coll.committed_rows())) embedders->prepare(threads);
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
    // A model asked for on a collection that already has images: embed those first, in id order,
    // so the feature rows line up with ids before new images are appended.
    if (embedder && coll.feature_rows(emb_name) < coll.committed_rows()) {
      std::vector<ImageRecord> old;
      for (int64_t id = coll.feature_rows(emb_name); id < coll.committed_rows(); ++id) old.push_back(*coll.record(id));
      int64_t staged_since_commit = 0;
      ordered_parallel<EmbeddingRows>(
          old.size(), threads, size_t(threads) * 8,
          [&](size_t i) -> EmbeddingRows {
            if (old[i].status != ImageStatus::ok) return {};
            auto e = embedders->acquire();
            cv::Mat input;
            try {
              const auto bytes = read_file_bytes(old[i].path, params.max_file_bytes);
              input = e->preprocess(decode_image(bytes, decode).rgb);
            } catch (const std::exception&) {
              return {};  // changed or gone since: a zero row; the next scan re-indexes it
            }
            return embed_one(*e, input);
          },
          [&](size_t i, EmbeddingRows& rows) {
            if (!rows.descriptor.empty()) {
              ++rep.backfilled;
            } else {
              rows.descriptor = cv::Mat::zeros(1, embedder->dim(), CV_32F);
              rows.blocks = cv::Mat::zeros(1, embedder->blocks_dim(), CV_16F);
            }
            coll.stage_feature_rows(emb_name, old[i].id, mat_bytes(rows.descriptor));
            coll.stage_feature_rows(blocks_name, old[i].id, mat_bytes(rows.blocks));
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
        [&](size_t i) { return process_file(todo[i], params, decode, embedders.get()); },
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
            if (w.record.status == ImageStatus::ok && params.hashes) {
              rows.emplace_back(kHashesFeature, std::span(reinterpret_cast<const uint8_t*>(w.hashes.data()), 24));
              rows.emplace_back(kColorFeature,
                                std::span(reinterpret_cast<const uint8_t*>(w.color.data()), sizeof(w.color)));
            }
            if (w.record.status == ImageStatus::ok && embedder) {  // computed by the worker
              rows.emplace_back(emb_name, mat_bytes(w.emb.descriptor));
              rows.emplace_back(blocks_name, mat_bytes(w.emb.blocks));
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
  update_vector_index_if_present(coll, params.model);  // derived state (src/search); never throws
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace irbis
