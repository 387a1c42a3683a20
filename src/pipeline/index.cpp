// `irbis index`: plan (pipeline/plan.cpp), produce on worker threads (pipeline/produce.cpp) and
// commit in order (pipeline/commit.cpp). The features themselves are registered in
// pipeline/features.cpp.
#include "irbis/pipeline.h"
#include "irbis/search.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <numeric>
#include <thread>

#include <opencv2/core.hpp>

#include "irbis/errors.h"
#include "irbis/merge.h"
#include "pipeline/impl/commit.h"
#include "pipeline/impl/opencv_threads.h"
#include "pipeline/impl/ordered_parallel.h"
#include "pipeline/impl/plan.h"
#include "pipeline/impl/produce.h"

namespace irbis {


bool has_image_extension(const std::string& path) {
  static const char* kExt[] = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib",
                               ".tif", ".tiff", ".gif", ".heic", ".heif", ".hif", ".avif", ".jxl",
                               ".pbm", ".pgm", ".ppm", ".pnm", ".pam", ".mpo", ".dng", ".cr2", ".cr3",
                               ".nef", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw", ".jp2", ".psd"};
  const auto dot = path.find_last_of("./");
  if (dot == std::string::npos || path[dot] != '.') return false;
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* e) { return ext == e; });
}

namespace {

// Thrown by an ordered sink when params.should_stop() says so: ordered_parallel stops its workers
// and rethrows it, and the run commits what was staged.
struct Stopped {};

}  // namespace

IndexReport index_collection(Collection& coll, const IndexParams& params) {
  using namespace indexing;
  const auto t0 = std::chrono::steady_clock::now();
  IRBIS_THROW_IF_NOT(params.commit_every >= 1, UsageError, "commit_every must be at least 1");
  // New ids appended after a half-merged prefix would sit where the merge's remaining rows belong.
  if (const std::string merge = unfinished_merge(coll); !merge.empty()) throw StoreError(merge + " before indexing");
  IndexReport rep;
  std::vector<std::string> roots;
  for (const auto& r : params.roots) roots.push_back(absolute_root(r));

  // ---- plan
  const ScanResult scanned = scan(roots);
  rep.scanned = int64_t(scanned.files.size());
  rep.problems = scanned.problems;
  const FilePlan files = plan_files(coll, roots, scanned);
  rep.unchanged = files.unchanged;
  const int threads = index_workers(params);
  OpenCvThreads cv_threads(int(std::max(1u, std::thread::hardware_concurrency())), threads);  // the run's until the rows are committed
  // Everything that can fail on a model is checked before the collection is touched.
  FeaturePlan features = plan_features(coll, params);
  rep.also_computed = features.also_computed;
  const auto& producers = features.producers;
  for (int64_t id : files.removed) coll.stage_status(id, ImageStatus::removed);
  rep.removed = int64_t(files.removed.size());
  rep.redefined = declare_features(coll, producers);
  // Feature files that stop short of the catalog (declared this run, or a back-fill that was
  // interrupted) are filled in id order first, so their rows line up with ids before new images
  // are appended.
  const std::vector<int64_t> starts = backfill_starts(coll, producers);
  const int64_t committed = coll.committed_rows();
  const int64_t fill_from = std::accumulate(starts.begin(), starts.end(), committed,
                                            [](int64_t a, int64_t b) { return std::min(a, b); });

  // ---- produce and commit
  const auto stop_requested = [&params] { return params.should_stop && params.should_stop(); };
  const bool runs_models = std::any_of(producers.begin(), producers.end(), [](const auto& p) { return !p->model().empty(); });
  if (!runs_models) cv_threads.no_models();
  {
    if (!files.todo.empty() || fill_from < committed)
      for (auto& p : producers) p->prepare(threads);
    const ProduceContext ctx{producers, params.decode, params.max_file_bytes};
    int64_t done = 0;
    if (fill_from < committed) {
      std::vector<ImageRecord> old;
      for (int64_t id = fill_from; id < committed; ++id) {
        auto rec = coll.record(id);
        if (!rec) throw StoreError(coll.dir().string() + ": catalog damaged: no image with id " + std::to_string(id));
        old.push_back(std::move(*rec));
      }
      const int64_t total = int64_t(old.size() + files.todo.size());
      BackfillSink sink(coll, producers, starts, params.commit_every);
      try {
        ordered_parallel<ImageRows>(
            old.size(), threads, size_t(threads) * 8,
            [&](size_t i) { return produce_backfill(old[i], sink.wanted(old[i].id), ctx); },
            [&](size_t i, ImageRows& rows) {
              if (sink.stage(old[i].id, rows)) ++rep.backfilled;
              done = int64_t(i + 1);
              if (params.progress) params.progress(done, total);
              if (done < total && stop_requested()) throw Stopped{};
            });
      } catch (const Stopped&) {
        rep.interrupted = true;
      }
      sink.finish();
    }
    const int64_t total = int64_t(committed - fill_from) + int64_t(files.todo.size());
    if (rep.interrupted) {
      rep.left = total - done;
    } else {
      IngestSink sink(coll, producers, params.commit_every, rep);
      try {
        ordered_parallel<ProducedImage>(
            files.todo.size(), threads, size_t(threads) * 16,
            [&](size_t i) { return produce_image(files.todo[i], ctx); },
            [&](size_t i, ProducedImage& w) {
              sink.stage(w, files.replaces[i]);
              if (params.progress) params.progress(++done, total);
              if (done < total && stop_requested()) throw Stopped{};
            });
      } catch (const Stopped&) {
        rep.interrupted = true;
        rep.left = total - done;
      }
      sink.finish();
    }
  }
  cv_threads.restore();

  for (const auto& p : producers)  // derived state; never throws. After an interruption the next
    if (!p->model().empty() && !rep.interrupted)  // search repairs it, so Ctrl-C returns at once.
      update_vector_index_if_present(coll, p->model());
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace irbis
