// OpenCV's image codecs and SLIC superpixels, loaded on first use. Debian's libopencv_imgcodecs
// (and libopencv_ximgproc, which needs it) pull in about 140 libraries (GDAL, DCMTK, poppler...),
// whose loading and relocation took most of every command's start-up; irbis links neither and
// dlopens them the first time an image is decoded or written through OpenCV (PNG, WebP, BMP, TIFF,
// Netpbm, thumbnails, plots, LIME's superpixels). Same signatures as the OpenCV functions.
#pragma once
#include <string>
#include <vector>
#include <opencv2/core.hpp>
#include <opencv2/ximgproc/slic.hpp>

namespace irbis::opencv_codecs {

// Throw NotAvailableError naming the library and dlerror() when it cannot be loaded.
cv::Mat imdecode(cv::InputArray buf, int flags);
bool imencode(const std::string& ext, cv::InputArray img, std::vector<uchar>& buf, const std::vector<int>& params = {});
cv::Mat imread(const std::string& path, int flags);
bool imwrite(const std::string& path, cv::InputArray img, const std::vector<int>& params = {});
cv::Ptr<cv::ximgproc::SuperpixelSLIC> create_superpixel_slic(cv::InputArray image, int algorithm, int region_size,
                                                             float ruler);

// Whether the codecs library is loaded in this process (tests check it is not at start-up).
bool codecs_loaded();

}  // namespace irbis::opencv_codecs
