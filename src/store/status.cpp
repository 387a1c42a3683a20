#include "irbis/collection.h"
#include "irbis/errors.h"

namespace irbis {

const char* status_name(ImageStatus s) {
  switch (s) {
    case ImageStatus::ok: return "ok";
    case ImageStatus::failed: return "failed";
    case ImageStatus::retired: return "retired";
    case ImageStatus::removed: return "removed";
  }
  return "?";
}

ImageStatus status_from_name(const std::string& s) {
  if (s == "ok") return ImageStatus::ok;
  if (s == "failed") return ImageStatus::failed;
  if (s == "retired") return ImageStatus::retired;
  if (s == "removed") return ImageStatus::removed;
  throw StoreError("unknown image status '" + s + "' in catalog");
}

}  // namespace irbis
