// irbis::jpeg_quality: the IJG quality factor a JPEG was saved with, from its quantisation tables.
//
// libjpeg (and every encoder built on it: PIL, OpenCV, ImageMagick's default, cjpeg) makes its
// tables by scaling the ITU-T T.81 Annex K tables: scale = q < 50 ? 5000 / q : 200 - 2q percent,
// entry = clamp((base * scale + 50) / 100, 1, 255). The estimate redoes that scaling for every q
// in 1..100 and keeps the q whose tables are nearest (sum of squared differences over the luminance
// table and, for a colour JPEG, the first chrominance table). The tables come from libjpeg's own
// header reader (jpeg_read_header): no JPEG parsing of our own. TurboJPEG's API, which decodes,
// does not expose them.
#include <algorithm>
#include <csetjmp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

#include <jpeglib.h>

#include "irbis/image.h"

namespace irbis {

namespace {

// ITU-T T.81 Annex K.1, in natural (row-major) order, as libjpeg's jcparam.c holds them.
constexpr unsigned kLuminance[64] = {16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
                                     14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
                                     18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
                                     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};
constexpr unsigned kChrominance[64] = {17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
                                       24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
                                       99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
                                       99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99};

// libjpeg's jpeg_quality_scaling + jpeg_add_quant_table with force_baseline.
unsigned ijg_entry(unsigned base, int q) {
  const long scale = q < 50 ? 5000 / q : 200 - 2 * q;
  long v = (long(base) * scale + 50) / 100;
  return unsigned(std::clamp(v, 1L, 255L));
}

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1);
}
void no_message(j_common_ptr, int) {}

// Reads the tables of the header into luma / chroma (natural order); false if the header cannot
// be read. Only plain C data lives in this function: longjmp skips no destructor.
bool read_tables(std::span<const uint8_t> bytes, unsigned (&luma)[64], unsigned (&chroma)[64], bool& has_chroma) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = no_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  bool ok = jpeg_read_header(&cinfo, TRUE) == JPEG_HEADER_OK && cinfo.num_components >= 1;
  const JQUANT_TBL* tables[2] = {nullptr, nullptr};
  if (ok) {
    const int luma_slot = cinfo.comp_info[0].quant_tbl_no;
    tables[0] = luma_slot >= 0 && luma_slot < NUM_QUANT_TBLS ? cinfo.quant_tbl_ptrs[luma_slot] : nullptr;
    if (cinfo.num_components >= 3) {
      const int chroma_slot = cinfo.comp_info[1].quant_tbl_no;
      tables[1] = chroma_slot >= 0 && chroma_slot < NUM_QUANT_TBLS ? cinfo.quant_tbl_ptrs[chroma_slot] : nullptr;
    }
    ok = tables[0] != nullptr;
  }
  if (ok) {
    for (int i = 0; i < 64; ++i) luma[i] = tables[0]->quantval[i];
    has_chroma = tables[1] != nullptr && tables[1] != tables[0];
    if (has_chroma)
      for (int i = 0; i < 64; ++i) chroma[i] = tables[1]->quantval[i];
  }
  jpeg_destroy_decompress(&cinfo);
  return ok;
}

}  // namespace

float jpeg_quality(std::span<const uint8_t> bytes) {
  constexpr float kNotJpeg = std::numeric_limits<float>::quiet_NaN();
  if (bytes.size() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF) return kNotJpeg;
  unsigned luma[64], chroma[64];
  bool has_chroma = false;
  if (!read_tables(bytes, luma, chroma, has_chroma)) return kNotJpeg;
  // Every q's scaled tables, made once: the search is then integer differences (exact, as the
  // double sums were) in a loop the compiler vectorises.
  struct Scaled {
    int luma[100][64], chroma[100][64];
  };
  static const Scaled scaled = [] {
    Scaled t{};
    for (int q = 1; q <= 100; ++q)
      for (int i = 0; i < 64; ++i)
        t.luma[q - 1][i] = int(ijg_entry(kLuminance[i], q)), t.chroma[q - 1][i] = int(ijg_entry(kChrominance[i], q));
    return t;
  }();
  int luma_i[64], chroma_i[64];
  for (int i = 0; i < 64; ++i) luma_i[i] = int(luma[i]), chroma_i[i] = has_chroma ? int(chroma[i]) : 0;
  int best_q = 1;
  int64_t best = std::numeric_limits<int64_t>::max();
  for (int q = 1; q <= 100; ++q) {
    int64_t err = 0;  // 64-bit: a table entry may be 16 bits
    for (int i = 0; i < 64; ++i) {
      const int d = luma_i[i] - scaled.luma[q - 1][i];
      const int c = has_chroma ? chroma_i[i] - scaled.chroma[q - 1][i] : 0;
      err += int64_t(d) * d + int64_t(c) * c;
    }
    if (err < best) best = err, best_q = q;  // ties keep the lower q (the tables saturate at low q)
  }
  return float(best_q);
}

}  // namespace irbis
