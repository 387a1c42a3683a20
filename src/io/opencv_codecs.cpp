#include "io/opencv_codecs.h"

#include "io/lazy_library.h"
#include "io/library_messages.h"

namespace irbis::opencv_codecs {
namespace {

// The sonames the build found (CMake passes them), e.g. libopencv_imgcodecs.so.406.
io::LazyLibrary& codecs() {
  // The format libraries OpenCV loads with it print their errors on stderr (library_messages.h).
  static io::LazyLibrary library(IRBIS_OPENCV_IMGCODECS_SONAME, "OpenCV's image codecs",
                                 [](void*) { io::route_stderr_prints_of_loaded({"libpng", "libtiff"}); });
  return library;
}
io::LazyLibrary& ximgproc() {
  static io::LazyLibrary library(IRBIS_OPENCV_XIMGPROC_SONAME, "OpenCV's ximgproc");
  return library;
}

// A function of the library by its mangled C++ name (OpenCV 4's, Itanium ABI).
template <class Fn>
Fn* codecs_fn(const char* mangled) {
  return codecs().function<Fn>(mangled);
}

}  // namespace

cv::Mat imdecode(cv::InputArray buf, int flags) {
  using Fn = cv::Mat(cv::InputArray, int);
  static Fn* f = codecs_fn<Fn>("_ZN2cv8imdecodeERKNS_11_InputArrayEi");
  return f(buf, flags);
}

bool imencode(const std::string& ext, cv::InputArray img, std::vector<uchar>& buf, const std::vector<int>& params) {
  using Fn = bool(const cv::String&, cv::InputArray, std::vector<uchar>&, const std::vector<int>&);
  static Fn* f = codecs_fn<Fn>(
      "_ZN2cv8imencodeERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKNS_11_InputArrayERSt6vectorIhSaIhEERKSB_"
      "IiSaIiEE");
  return f(ext, img, buf, params);
}

cv::Mat imread(const std::string& path, int flags) {
  using Fn = cv::Mat(const cv::String&, int);
  static Fn* f = codecs_fn<Fn>("_ZN2cv6imreadERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEi");
  return f(path, flags);
}

bool imwrite(const std::string& path, cv::InputArray img, const std::vector<int>& params) {
  using Fn = bool(const cv::String&, cv::InputArray, const std::vector<int>&);
  static Fn* f = codecs_fn<Fn>(
      "_ZN2cv7imwriteERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKNS_11_InputArrayERKSt6vectorIiSaIiEE");
  return f(path, img, params);
}

cv::Ptr<cv::ximgproc::SuperpixelSLIC> create_superpixel_slic(cv::InputArray image, int algorithm, int region_size,
                                                             float ruler) {
  using Fn = cv::Ptr<cv::ximgproc::SuperpixelSLIC>(cv::InputArray, int, int, float);
  static Fn* f = ximgproc().function<Fn>("_ZN2cv8ximgproc20createSuperpixelSLICERKNS_11_InputArrayEiif");
  return f(image, algorithm, region_size, ruler);
}

bool codecs_loaded() { return codecs().loaded(); }

}  // namespace irbis::opencv_codecs
