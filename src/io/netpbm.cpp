// Netpbm (PBM P1/P4, PGM P2/P5, PPM P3/P6, PAM P7): the header is parsed here (sizes, and the data
// length of the binary variants to refuse truncated files up front); pixels come from OpenCV's PxM
// and PAM readers.
#include <cctype>
#include <mutex>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>  // the IMREAD_ / IMWRITE_ constants
#include <opencv2/imgproc.hpp>
#include <string>

#include "io/opencv_codecs.h"
#include "io/io_internal.h"
#include "irbis/errors.h"

namespace irbis::io {

namespace {

struct NetpbmInfo {
  char kind = 0;        // '1'..'7'
  uint64_t width = 0, height = 0, depth = 1, maxval = 1;
  size_t data_offset = 0;  // first byte of the raster (binary variants)
};

[[noreturn]] void malformed(const std::string& why) { throw DecodeError("malformed Netpbm header: " + why); }

std::string printable(uint8_t c) { return std::isprint(c) ? std::string(1, char(c)) : "\\x" + std::to_string(int(c)); }

// P1..P6: whitespace-separated decimal fields, '#' comments to the end of the line.
class Fields {
 public:
  Fields(std::span<const uint8_t> b, size_t pos) : b_(b), pos_(pos) {}
  uint64_t next(const char* name) {
    for (;;) {
      while (pos_ < b_.size() && std::isspace(b_[pos_])) ++pos_;
      if (pos_ < b_.size() && b_[pos_] == '#') {
        while (pos_ < b_.size() && b_[pos_] != '\n' && b_[pos_] != '\r') ++pos_;
        continue;
      }
      break;
    }
    if (pos_ >= b_.size()) malformed(std::string("file ends before the ") + name);
    if (!std::isdigit(b_[pos_])) malformed(std::string("the ") + name + " is not a number");
    uint64_t v = 0;
    while (pos_ < b_.size() && std::isdigit(b_[pos_])) {
      v = v * 10 + uint64_t(b_[pos_++] - '0');
      if (v > 0xFFFFFFFFull) malformed(std::string("the ") + name + " is too large");
    }
    // A '#' touching a number is read two ways: as a comment by Netpbm's own reader, as the
    // number's terminator by OpenCV's (which then reads the "comment" as the next field). Refused,
    // so that the size checked here is the size decoded (F9, found by fuzz_decode).
    if (pos_ < b_.size() && !std::isspace(b_[pos_])) {
      malformed(std::string("the ") + name + " is followed by '" + printable(b_[pos_]) + "', not whitespace");
    }
    return v;
  }
  size_t pos() const { return pos_; }

 private:
  std::span<const uint8_t> b_;
  size_t pos_;
};

// P7: "KEY value" lines up to ENDHDR.
NetpbmInfo parse_pam(std::span<const uint8_t> b) {
  NetpbmInfo info;
  info.kind = '7';
  size_t pos = 3;
  bool end = false;
  while (!end) {
    const size_t eol = [&] {
      size_t e = pos;
      while (e < b.size() && b[e] != '\n') ++e;
      return e;
    }();
    if (eol >= b.size()) malformed("file ends before ENDHDR");
    std::string line(reinterpret_cast<const char*>(b.data() + pos), eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.find_first_of(" \t");
    const std::string key = line.substr(0, sp);
    // "KEY" alone or followed by blanks only has an empty value (found by fuzz_decode: substr(npos) threw).
    const size_t vstart = sp == std::string::npos ? sp : line.find_first_not_of(" \t", sp);
    const std::string value = vstart == std::string::npos ? "" : line.substr(vstart);
    const auto number = [&] {
      if (value.empty() || !std::isdigit(static_cast<unsigned char>(value[0]))) malformed(key + " is not a number");
      const unsigned long long v = std::stoull(value.substr(0, 10));
      return uint64_t(v);
    };
    if (key == "ENDHDR") end = true;
    else if (key == "WIDTH") info.width = number();
    else if (key == "HEIGHT") info.height = number();
    else if (key == "DEPTH") info.depth = number();
    else if (key == "MAXVAL") info.maxval = number();
    // OpenCV's PAM reader refuses any other key (and prints to stderr doing so): refuse it here,
    // with its name, before any pixels are handed over.
    else if (key != "TUPLTYPE") malformed("unknown PAM header key '" + key.substr(0, 32) + "'");
  }
  info.data_offset = pos;
  if (info.depth < 1 || info.depth > 4) malformed("DEPTH " + std::to_string(info.depth) + " is not 1 to 4");
  return info;
}

NetpbmInfo parse_netpbm(std::span<const uint8_t> b) {
  if (b.size() < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '7') malformed("no P1..P7 magic");
  if (b[1] == '7') {
    NetpbmInfo info = parse_pam(b);
    if (info.width == 0 || info.height == 0) malformed("zero WIDTH or HEIGHT");
    if (info.maxval < 1 || info.maxval > 65535) malformed("MAXVAL out of range");
    return info;
  }
  NetpbmInfo info;
  info.kind = char(b[1]);
  Fields f(b, 2);
  info.width = f.next("width");
  info.height = f.next("height");
  if (info.kind != '1' && info.kind != '4') info.maxval = f.next("maximum value");
  if (info.kind == '3' || info.kind == '6') info.depth = 3;
  info.data_offset = f.pos() + 1;  // exactly one whitespace byte before a binary raster
  if (info.width == 0 || info.height == 0) malformed("zero width or height");
  if (info.maxval < 1 || info.maxval > 65535) malformed("maximum value out of range");
  return info;
}

// Bytes of the raster of a binary variant (P4..P7); 0 for the plain (ASCII) ones.
uint64_t binary_raster_bytes(const NetpbmInfo& i) {
  if (i.kind == '4') return (i.width + 7) / 8 * i.height;
  if (i.kind < '5') return 0;
  return i.width * i.height * i.depth * (i.maxval > 255 ? 2 : 1);
}

}  // namespace

bool is_netpbm(std::span<const uint8_t> b) {
  // "P1".."P7" and whitespace is a weak magic (a text file may start so): the header must parse.
  if (b.size() < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '7' || !std::isspace(b[2])) return false;
  try {
    parse_netpbm(b);
    return true;
  } catch (const DecodeError&) {
    return false;
  }
}

ImageHeader netpbm_header(std::span<const uint8_t> b) {
  const NetpbmInfo i = parse_netpbm(b);
  if (i.width > 0x7FFFFFFF || i.height > 0x7FFFFFFF) malformed("size too large");
  return {ImageFormat::netpbm, int(i.width), int(i.height)};
}

StoredImage decode_netpbm(std::span<const uint8_t> b, const DecodeOptions& opts) {
  const NetpbmInfo i = parse_netpbm(b);
  StoredImage out;
  out.header = netpbm_header(b);
  if (i.width * i.height > opts.max_pixels) {
    throw DecodeError("image declares " + std::to_string(i.width) + "x" + std::to_string(i.height) +
                      " pixels, over the limit of " + std::to_string(opts.max_pixels));
  }
  if (const uint64_t raster = binary_raster_bytes(i); raster > 0 && i.data_offset + raster > b.size()) {
    throw DecodeError("truncated Netpbm data: " + std::to_string(b.size()) + " bytes, the header declares " +
                      std::to_string(i.data_offset + raster));
  }
  if (b.size() > size_t(INT32_MAX)) throw DecodeError("Netpbm file too large to decode");
  static std::once_flag quiet;  // OpenCV logs a warning for every file it cannot decode
  std::call_once(quiet, [] {
    if (cv::utils::logging::getLogLevel() > cv::utils::logging::LOG_LEVEL_ERROR) {
      cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    }
  });
  const cv::Mat buf(1, int(b.size()), CV_8U, const_cast<uint8_t*>(b.data()));
  cv::Mat m;
  try {
    m = opencv_codecs::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw DecodeError("corrupt Netpbm data: " + e.err);
  }
  if (m.empty()) throw DecodeError("corrupt or truncated Netpbm data (could not be decoded)");
  // OpenCV keeps maxval-scaled samples (e.g. 0..15 for maxval 15): stretch to the full range.
  const double full = m.depth() == CV_16U ? 65535.0 : 255.0;
  if (i.kind != '1' && i.kind != '4' && double(i.maxval) != full && i.maxval != 255 && i.maxval != 65535) {
    m.convertTo(m, m.type(), full / double(i.maxval));
  }
  // OpenCV's PAM reader keeps the file's RGB(A) order (its PPM reader gives BGR).
  if (i.kind == '7' && m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_RGB2BGR);
  if (i.kind == '7' && m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_RGBA2BGRA);
  // Defence in depth for F9: the pixel limit was checked on the header's size, so a decoder that
  // reads another size must not be believed.
  if (uint64_t(m.cols) != i.width || uint64_t(m.rows) != i.height) {
    throw DecodeError("Netpbm header declares " + std::to_string(i.width) + "x" + std::to_string(i.height) +
                      " pixels but the data decodes as " + std::to_string(m.cols) + "x" + std::to_string(m.rows));
  }
  out.rgb = opencv_to_rgb8(m);
  return out;
}

}  // namespace irbis::io
