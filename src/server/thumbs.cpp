// Thumbnail cache: <collection>/thumbs/<id>.jpg (see report.h).
#include <atomic>
#include <thread>

#include <opencv2/imgcodecs.hpp>  // the IMREAD_ / IMWRITE_ constants
#include <opencv2/imgproc.hpp>

#include "io/opencv_codecs.h"
#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/image.h"
#include "irbis/replace_file.h"
#include "irbis/report.h"
#include "irbis/scan.h"
#include "irbis/text.h"

namespace irbis {

namespace fs = std::filesystem;

fs::path thumb_path(const Collection& coll, int64_t id) {
  return coll.dir() / kThumbsDir / (std::to_string(id) + ".jpg");
}

namespace {

// A thumbnail file is ours only when it is a whole JPEG (OpenCV's encoder ends every one with EOI):
// anything else under the name — cut by a power loss before an older irbis synced it, emptied, or
// written by something else — is made again, never served.
bool is_whole_jpeg(const std::vector<uint8_t>& b) {
  return b.size() >= 4 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF && b[b.size() - 2] == 0xFF &&
         b[b.size() - 1] == 0xD9;
}

// The cached thumbnail's bytes, or empty when there is no whole one.
std::vector<uint8_t> read_cached(const fs::path& out) {
  std::error_code ec;
  const auto st = fs::symlink_status(out, ec);
  // Only a regular file is a cached thumbnail: anything else there (a symlink to a file outside the
  // collection, which `serve` would otherwise send) is replaced.
  if (ec || !fs::exists(st)) return {};
  if (fs::is_regular_file(st)) {
    try {
      std::vector<uint8_t> bytes = read_file_bytes(out.string(), 16u << 20);
      if (is_whole_jpeg(bytes)) return bytes;
    } catch (const std::exception&) {  // unreadable: made again below
    }
  }
  fs::remove(out, ec);
  return {};
}

// Writes the thumbnail through the one whole-file writer (replace_file.h): a temporary file beside
// it, every write and the sync through the before_io test hook, synced before the rename so that
// neither a failed write nor a power cut leaves a cut file under the thumbnail's name. The
// directory itself is not synced: a thumbnail whose name a power cut loses is made again.
// Returns "" or why the cache could not be written (the temporary file is gone then).
std::string write_cached(const fs::path& out, const std::vector<uint8_t>& jpg) {
  try {
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    FileReplacer w(out);
    w.write(jpg);
    w.finish(/*durable=*/true);
    w.commit();
    return "";
  } catch (const IoError& e) {
    return std::string("cannot write thumbnail: ") + e.what();
  }
}

}  // namespace

Thumbnail cached_thumbnail(const Collection& coll, const ImageRecord& rec, int side) {
  const fs::path out = thumb_path(coll, rec.id);
  Thumbnail t;
  t.jpeg = read_cached(out);
  if (!t.jpeg.empty()) return t;
  t.jpeg = thumbnail_jpeg(rec, side);
  t.cache_error = write_cached(out, t.jpeg);
  return t;
}

fs::path ensure_thumbnail(const Collection& coll, const ImageRecord& rec, int side) {
  const Thumbnail t = cached_thumbnail(coll, rec, side);
  if (!t.cache_error.empty()) throw StoreError(t.cache_error);
  return thumb_path(coll, rec.id);
}

std::vector<uint8_t> thumbnail_jpeg(const ImageRecord& rec, int side) {
  if (rec.status != ImageStatus::ok) throw DecodeError(display_path(rec.path) + ": not an indexed image");
  const auto bytes = read_file_bytes(rec.path, 1ull << 30);
  DecodeOptions opts;
  opts.min_side = side;  // DCT-scaled JPEG decode: only as many pixels as the thumbnail needs
  DecodedImage img = decode_image(bytes, opts);
  cv::Mat rgb = img.rgb;
  const int w = rgb.cols, h = rgb.rows;
  if (std::max(w, h) > side) {
    const double s = double(side) / std::max(w, h);
    rgb = resize_area(rgb, std::max(1, int(std::lround(w * s))), std::max(1, int(std::lround(h * s))));
  }
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> jpg;
  if (!opencv_codecs::imencode(".jpg", bgr, jpg, {cv::IMWRITE_JPEG_QUALITY, 80}))
    throw IoError(display_path(rec.path) + ": cannot encode thumbnail");
  return jpg;
}

size_t ensure_thumbnails(const Collection& coll, const std::vector<ImageRecord>& recs, int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, int(std::max<size_t>(1, recs.size())));
  std::atomic<size_t> next{0}, made{0};
  const int old_cv_threads = cv::getNumThreads();
  cv::setNumThreads(1);
  auto work = [&] {
    for (size_t i; (i = next++) < recs.size();) {
      try {
        ensure_thumbnail(coll, recs[i]);
        ++made;
      } catch (const std::exception&) {
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  cv::setNumThreads(old_cv_threads);
  return made;
}

}  // namespace irbis
