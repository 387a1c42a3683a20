// The accuracy gates' inputs (tests/models/onednn_engine_test.cpp), shared with
// bench/int8_layers_bench.cpp, which looks for where a precision loses them.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace irbis::test {

// Every photo of the Debian sample folders (sorted, so the set is fixed), as 8-bit RGB. Each also
// gives a second view, its mirrored central 60 % crop, so the gate sees about 240 inputs.
inline std::vector<cv::Mat> gate_photos() {
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"/usr/share/doc/opencv-doc/examples/data", "/usr/lib/python3/dist-packages/skimage/data",
                          "/usr/lib/python3/dist-packages/sklearn/datasets/images"}) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<cv::Mat> out;
  for (const auto& f : files) {
    cv::Mat bgr = cv::imread(f.string(), cv::IMREAD_COLOR);
    if (bgr.empty() || bgr.cols < 64 || bgr.rows < 64) continue;  // icons, masks, tiny patterns
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    out.push_back(rgb);
    cv::Rect crop(rgb.cols / 5, rgb.rows / 5, rgb.cols * 3 / 5, rgb.rows * 3 / 5);
    cv::Mat view;
    cv::flip(rgb(crop), view, 1);
    out.push_back(view);
  }
  return out;
}

}  // namespace irbis::test
