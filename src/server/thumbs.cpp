// Thumbnail cache: <collection>/thumbs/<id>.jpg (see report.h).
#include <atomic>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <opencv2/imgcodecs.hpp>  // the IMREAD_ / IMWRITE_ constants
#include <opencv2/imgproc.hpp>

#include "io/opencv_codecs.h"
#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/fault_hooks.h"
#include "irbis/image.h"
#include "irbis/report.h"
#include "irbis/scan.h"
#include "irbis/text.h"

namespace irbis {

namespace fs = std::filesystem;

fs::path thumb_path(const Collection& coll, int64_t id) {
  return coll.dir() / kThumbsDir / (std::to_string(id) + ".jpg");
}

namespace {

// Writes the JPEG to `tmp` and renames it over `out`, so a reader sees a whole thumbnail or none; on
// any failure (a full disk, an I/O error) the temporary file is removed and the error names the
// file. No fsync: a thumbnail is a cache, and one lost to a power cut is made again.
void write_thumbnail_file(const fs::path& tmp, const fs::path& out, const std::vector<uint8_t>& jpg) {
  const auto fail = [&](const fs::path& file, const std::string& what, int err) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw StoreError(file.string() + ": cannot write thumbnail: " + what + ": " + std::strerror(err));
  };
  std::error_code stale;
  fs::remove(tmp, stale);  // a crashed writer's, with the same pid and thread
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, "open", errno);
  size_t done = 0;
  while (done < jpg.size()) {
    const int injected = injected_io_error(IoOp::write, tmp.string());
    const ssize_t n = injected ? (errno = injected, -1) : ::write(fd, jpg.data() + done, jpg.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail(tmp, "write", err);
    }
    done += size_t(n);
  }
  if (::close(fd) != 0) fail(tmp, "close", errno);
  std::error_code ec;
  fs::rename(tmp, out, ec);
  if (ec) fail(out, "rename", ec.value());
}

}  // namespace

fs::path ensure_thumbnail(const Collection& coll, const ImageRecord& rec, int side) {
  const fs::path out = thumb_path(coll, rec.id);
  std::error_code ec;
  // Only a regular file is a cached thumbnail: anything else there (a symlink to a file outside the
  // collection, which `serve` would otherwise send) is replaced.
  const auto st = fs::symlink_status(out, ec);
  if (!ec && fs::is_regular_file(st)) return out;
  if (!ec && fs::exists(st)) fs::remove(out, ec);
  const std::vector<uint8_t> jpg = thumbnail_jpeg(rec, side);
  fs::create_directories(out.parent_path(), ec);
  const fs::path tmp = out.string() + ".tmp." + std::to_string(::getpid()) + "." +
                       std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  write_thumbnail_file(tmp, out, jpg);
  return out;
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
