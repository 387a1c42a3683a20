// Temporary until the io branch lands (it owns format_name).
#include "irbis/image.h"
namespace irbis {
const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::jpeg: return "jpeg";
    case ImageFormat::png: return "png";
    case ImageFormat::webp: return "webp";
    case ImageFormat::bmp: return "bmp";
    case ImageFormat::tiff: return "tiff";
    case ImageFormat::gif: return "gif";
    default: return "unknown";
  }
}
}  // namespace irbis
