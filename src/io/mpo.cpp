// MPO (CIPA DC-007 multi-picture format): a JPEG whose APP2 "MPF" segment indexes further images
// appended after it. The first image is the JPEG itself, so it is decoded by the JPEG path.
#include <cstring>

#include "io/io_internal.h"

namespace irbis::io {

bool is_mpo(std::span<const uint8_t> b) {
  size_t pos = 2;  // after SOI
  while (pos + 4 <= b.size() && b[pos] == 0xFF) {
    const uint8_t code = b[pos + 1];
    if (code == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (code == 0xDA || code == 0xD9) break;  // SOS / EOI: no more header segments
    if ((code >= 0xD0 && code <= 0xD7) || code == 0x01) {
      pos += 2;
      continue;
    }
    const size_t len = be16(b.data() + pos + 2);
    if (len < 2 || pos + 2 + len > b.size()) break;
    if (code == 0xE2 && len >= 6 && std::memcmp(b.data() + pos + 4, "MPF\0", 4) == 0) return true;
    pos += 2 + len;
  }
  return false;
}

}  // namespace irbis::io
