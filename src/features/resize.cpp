// irbis::resize_area: area-averaging resize (see docs/features.md).
//
// OpenCV's INTER_AREA computes exact pixel-area weights only when *both* axes shrink (or stay
// the same); as soon as one axis grows it switches to a bilinear-like kernel for the whole image.
// Area averaging is separable, so when one axis shrinks and the other grows we resize the axes
// one after the other: the shrinking pass is then exact area averaging, the growing pass is
// OpenCV's INTER_AREA upscaling (bilinear-like). The intermediate is kept in float so that 8-bit
// inputs are rounded only once.
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/image.h"

namespace irbis {

cv::Mat resize_area(const cv::Mat& src, int width, int height) {
  IRBIS_THROW_IF_NOT(!src.empty(), Error, "resize_area: empty image");
  IRBIS_THROW_IF_NOT(width > 0 && height > 0, Error, "resize_area: target size must be positive");
  if (src.cols == width && src.rows == height) return src.clone();

  const bool shrink_x = width <= src.cols, shrink_y = height <= src.rows;
  cv::Mat dst;
  if (shrink_x == shrink_y) {
    // Both axes shrink: exact area averaging in one pass. Both grow: INTER_AREA upscaling.
    cv::resize(src, dst, cv::Size(width, height), 0, 0, cv::INTER_AREA);
    return dst;
  }
  const int depth = src.depth();
  cv::Mat work = src;
  if (depth != CV_32F && depth != CV_64F) src.convertTo(work, CV_32F);
  cv::Mat mid;
  // Shrink first (fewer pixels for the second pass).
  if (shrink_x) {
    cv::resize(work, mid, cv::Size(width, src.rows), 0, 0, cv::INTER_AREA);
    cv::resize(mid, dst, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  } else {
    cv::resize(work, mid, cv::Size(src.cols, height), 0, 0, cv::INTER_AREA);
    cv::resize(mid, dst, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  }
  if (dst.depth() != depth) {
    cv::Mat out;
    dst.convertTo(out, depth);  // rounds and saturates for integer depths
    return out;
  }
  return dst;
}

}  // namespace irbis
