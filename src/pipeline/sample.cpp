#include "irbis/sample.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include <opencv2/imgcodecs.hpp>  // the IMREAD_ / IMWRITE_ constants
#include <opencv2/imgproc.hpp>

#include "io/opencv_codecs.h"
#include "irbis/errors.h"

namespace irbis {

namespace fs = std::filesystem;

namespace {

// Real photographs only (no drawings, charts or calibration boards); of each stereo pair one view.
const char* kPhotos[] = {
    // opencv-doc
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "board.jpg", "building.jpg",
    "butterfly.jpg", "ela_original.jpg", "fruits.jpg", "home.jpg", "leuvenA.jpg", "licenseplate_motion.jpg",
    "messi5.jpg", "orange.jpg", "squirrel_cls.jpg", "stuff.jpg", "smarties.png", "graf1.png", "rubberwhale1.png",
    "left.jpg", "basketball1.png", "starry_night.jpg",
    // python3-skimage
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
    "retina.jpg", "grass.png", "gravel.png", "brick.png", "camera.png", "moon.png", "ihc.png", "coins.png"};

void write_image(const fs::path& p, const cv::Mat& bgr, std::vector<int> params = {}) {
  if (!opencv_codecs::imwrite(p.string(), bgr, params)) throw IoError(p.string() + ": cannot write sample image");
}

// libpng prints warnings about the ICC profiles of some shipped PNGs straight to stderr; they
// say nothing about the sample, so they are hidden while the sources are read.
class StderrSilenced {
 public:
  StderrSilenced() : saved_(dup(STDERR_FILENO)) {
    const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_ >= 0 && devnull >= 0) dup2(devnull, STDERR_FILENO);
    if (devnull >= 0) ::close(devnull);
  }
  ~StderrSilenced() {
    if (saved_ >= 0) {
      dup2(saved_, STDERR_FILENO);
      ::close(saved_);
    }
  }

 private:
  int saved_;
};

std::string stem(const std::string& name) { return fs::path(name).stem().string(); }

}  // namespace

std::vector<SampleFile> make_sample_collection(const fs::path& out, const SampleParams& params) {
  std::vector<std::pair<std::string, cv::Mat>> photos;
  for (const char* name : kPhotos) {
    for (const auto& dir : params.source_dirs) {
      const fs::path p = dir / name;
      if (!fs::exists(p)) continue;
      cv::Mat img;
      {
        StderrSilenced quiet;
        img = opencv_codecs::imread(p.string(), cv::IMREAD_COLOR);
      }
      if (!img.empty()) photos.emplace_back(name, img);
      break;
    }
  }
  if (photos.size() < 4)
    throw IoError("sample: found only " + std::to_string(photos.size()) +
                  " source photographs; install Debian's opencv-doc and python3-skimage (./setup.sh does)");

  fs::create_directories(out / "photos");
  fs::create_directories(out / "edits");
  std::vector<SampleFile> files;

  for (size_t i = 0; i < photos.size(); ++i) {
    const auto& [name, img] = photos[i];
    const std::string base = stem(name);
    const std::string orig = "photos/" + base + ".jpg";
    write_image(out / orig, img, {cv::IMWRITE_JPEG_QUALITY, 92});
    files.push_back({orig, "", "original", "original"});

    for (int t = 0; t < params.tiles_per_photo; ++t) {
      // Non-overlapping tiles of a 2x2 (or finer) grid: different content, same camera.
      const int g = 2 + t / 4, cell = t % 4;
      const int tw = img.cols / g, th = img.rows / g;
      if (tw < 64 || th < 64) break;
      cv::Mat tile = img(cv::Rect((cell % g) * tw, (cell / g) * th, tw, th));
      cv::Mat up;
      cv::resize(tile, up, cv::Size(), 2.0, 2.0, cv::INTER_CUBIC);
      const std::string p = "photos/" + base + "-tile" + std::to_string(t) + ".jpg";
      write_image(out / p, up, {cv::IMWRITE_JPEG_QUALITY, 90});
      files.push_back({p, "", "tile", "original"});
    }

    // Edits: every photo gets a few, chosen round-robin so each kind appears several times.
    auto add = [&](const std::string& transform, const std::string& expect, const cv::Mat& edited,
                   const std::string& ext = ".jpg", std::vector<int> prm = {cv::IMWRITE_JPEG_QUALITY, 90}) {
      const std::string p = "edits/" + base + "-" + transform + ext;
      write_image(out / p, edited, prm);
      files.push_back({p, orig, transform, expect});
    };
    const int kind = int(i % 6);
    cv::Mat m;
    if (i % 3 == 0) {  // byte-identical copy under another name
      const std::string p = "edits/" + base + "-copy.jpg";
      fs::copy_file(out / orig, out / p, fs::copy_options::overwrite_existing);
      files.push_back({p, orig, "copy", "exact"});
    }
    switch (kind) {
      case 0:
        add("jpeg-q35", "near", img, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 35});
        cv::flip(img, m, 1);
        add("flip", "cnn", m);
        break;
      case 1:
        cv::resize(img, m, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
        add("resize-50", "near", m);
        cv::rotate(img, m, cv::ROTATE_90_CLOCKWISE);
        add("rotate-90", "cnn", m);
        break;
      case 2:
        img.convertTo(m, -1, 1.0, 30);
        add("brighter", "near", m);
        m = img(cv::Rect(img.cols / 5, img.rows / 5, img.cols * 3 / 5, img.rows * 3 / 5)).clone();
        add("crop-60", "cnn", m);
        break;
      case 3:
        add("png", "near", img, ".png", {});
        m = img.clone();
        cv::rectangle(m, cv::Rect(0, m.rows * 2 / 3, m.cols, m.rows / 3), cv::Scalar(20, 20, 20), cv::FILLED);
        cv::putText(m, "irbis sample", cv::Point(10, m.rows - m.rows / 8), cv::FONT_HERSHEY_SIMPLEX,
                    std::max(0.5, m.cols / 400.0), cv::Scalar(255, 255, 255), 2);
        add("banner", "cnn", m);
        break;
      case 4:
        m = img(cv::Rect(img.cols / 40, img.rows / 40, img.cols * 38 / 40, img.rows * 38 / 40)).clone();
        add("crop-95", "near", m);
        cv::flip(img, m, 1);
        add("flip", "cnn", m);
        break;
      case 5:
        cv::GaussianBlur(img, m, cv::Size(0, 0), 1.5);
        add("blur", "near", m);
        cv::putText(m = img.clone(), "(c) 2026", cv::Point(m.cols / 20, m.rows / 10), cv::FONT_HERSHEY_SIMPLEX,
                    std::max(0.4, m.cols / 900.0), cv::Scalar(255, 255, 255), 1);
        add("caption", "near", m);
        break;
    }
  }
  std::ofstream truth(out / "truth.csv");
  truth << "path,original,transform,expect\n";
  for (const auto& f : files) truth << f.path << ',' << f.original << ',' << f.transform << ',' << f.expect << '\n';
  if (!truth) throw IoError((out / "truth.csv").string() + ": cannot write");
  return files;
}

}  // namespace irbis
