// HEIF, AVIF, JPEG XL, Netpbm, MPO and camera RAW (issue 19). The files are made at test time by
// Debian's own encoders (heif-enc, avifenc, cjxl, ImageMagick) from a real photo shipped by Debian
// (opencv-doc); the DNG and the MPO are assembled here. Each must decode close to its JPEG source.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/io_internal.h"
#include "irbis/errors.h"
#include "irbis/image.h"
#include "test_util.h"

namespace irbis {
namespace {

using test::TempDir;
using test::decode_error;
using test::mean_abs_diff;
namespace fs = std::filesystem;

std::span<const uint8_t> sp(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

// Runs a shell command in `dir`; fails the test with the command when it does not succeed.
void run(const fs::path& dir, const std::string& cmd) {
  const std::string full = "cd '" + dir.string() + "' && " + cmd + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(full.c_str()), 0) << "command failed: " << cmd;
}

std::vector<uint8_t> le16v(uint32_t v) { return {uint8_t(v), uint8_t(v >> 8)}; }

// A minimal little-endian DNG: IFD0 is an 8-bit JPEG preview (NewSubfileType 1) with DNGVersion,
// Make, Model and Orientation; its SubIFD is the raw data, a 16-bit RGGB mosaic of `rgb`.
std::vector<uint8_t> make_dng(const cv::Mat& rgb, const std::vector<uint8_t>& preview_jpeg, int pw, int ph,
                              int orientation) {
  struct Entry {
    uint16_t tag, type;
    uint32_t count;
    std::vector<uint8_t> value;  // raw bytes; > 4 bytes go to the data area
  };
  const auto u16 = [](std::initializer_list<uint32_t> vs) {
    std::vector<uint8_t> o;
    for (uint32_t v : vs)
      for (int k = 0; k < 2; ++k) o.push_back(uint8_t(v >> (8 * k)));
    return o;
  };
  const auto u32 = [](std::initializer_list<uint32_t> vs) {
    std::vector<uint8_t> o;
    for (uint32_t v : vs)
      for (int k = 0; k < 4; ++k) o.push_back(uint8_t(v >> (8 * k)));
    return o;
  };
  const auto ascii = [](const std::string& s) {
    std::vector<uint8_t> o(s.begin(), s.end());
    o.push_back(0);
    return o;
  };
  const int w = rgb.cols, h = rgb.rows;
  std::vector<uint8_t> mosaic(size_t(w) * h * 2);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const cv::Vec3b p = rgb.at<cv::Vec3b>(y, x);
      const int c = (y % 2 == 0) ? (x % 2 == 0 ? 0 : 1) : (x % 2 == 0 ? 1 : 2);  // RGGB
      // LibRaw applies a display gamma: store linear light so the result looks like the source.
      const double lin = std::pow(p[c] / 255.0, 2.2);
      const uint32_t v = uint32_t(lin * 65535.0 + 0.5);
      mosaic[(size_t(y) * w + x) * 2] = uint8_t(v);
      mosaic[(size_t(y) * w + x) * 2 + 1] = uint8_t(v >> 8);
    }
  // Layout: header (8), IFD0, raw IFD, data area (values, preview, mosaic).
  std::vector<Entry> ifd0 = {
      {254, 4, 1, u32({1})},
      {256, 4, 1, u32({uint32_t(pw)})},
      {257, 4, 1, u32({uint32_t(ph)})},
      {258, 3, 3, u16({8, 8, 8})},
      {259, 3, 1, u16({7})},
      {262, 3, 1, u16({6})},
      {271, 2, 6, ascii("Irbis")},
      {272, 2, 5, ascii("Test")},
      {273, 4, 1, u32({0})},  // preview offset, patched below
      {274, 3, 1, u16({uint32_t(orientation)})},
      {277, 3, 1, u16({3})},
      {279, 4, 1, u32({uint32_t(preview_jpeg.size())})},
      {330, 4, 1, u32({0})},  // SubIFD offset, patched below
      {50706, 1, 4, {1, 4, 0, 0}},
      {50708, 2, 11, ascii("Irbis Test")},
  };
  std::vector<Entry> raw = {
      {254, 4, 1, u32({0})},
      {256, 4, 1, u32({uint32_t(w)})},
      {257, 4, 1, u32({uint32_t(h)})},
      {258, 3, 1, u16({16})},
      {259, 3, 1, u16({1})},
      {262, 3, 1, u16({32803})},
      {273, 4, 1, u32({0})},  // mosaic offset, patched below
      {277, 3, 1, u16({1})},
      {278, 4, 1, u32({uint32_t(h)})},
      {279, 4, 1, u32({uint32_t(mosaic.size())})},
      {33421, 3, 2, u16({2, 2})},
      {33422, 1, 4, {0, 1, 1, 2}},
      {50717, 4, 1, u32({65535})},
      {50721, 10, 9, {}},  // ColorMatrix1: identity (SRATIONAL), filled below
      {50728, 5, 3, u32({1, 1, 1, 1, 1, 1})},  // AsShotNeutral 1,1,1
  };
  std::vector<uint8_t> cm;
  for (int i = 0; i < 9; ++i) {
    const auto v = u32({i % 4 == 0 ? 1u : 0u, 1u});
    cm.insert(cm.end(), v.begin(), v.end());
  }
  raw[13].value = cm;
  const size_t ifd0_at = 8, raw_at = ifd0_at + 2 + ifd0.size() * 12 + 4;
  size_t data_at = raw_at + 2 + raw.size() * 12 + 4;
  std::vector<uint8_t> out = {'I', 'I', 42, 0, uint8_t(ifd0_at), 0, 0, 0};
  std::vector<uint8_t> data;
  const auto put_ifd = [&](std::vector<Entry>& ifd) {
    const auto c = le16v(uint32_t(ifd.size()));
    out.insert(out.end(), c.begin(), c.end());
    for (Entry& e : ifd) {
      const auto t = le16v(e.tag), ty = le16v(e.type);
      out.insert(out.end(), t.begin(), t.end());
      out.insert(out.end(), ty.begin(), ty.end());
      const auto n = u32({e.count});
      out.insert(out.end(), n.begin(), n.end());
      if (e.value.size() <= 4) {
        std::vector<uint8_t> v = e.value;
        v.resize(4);
        out.insert(out.end(), v.begin(), v.end());
      } else {
        const auto off = u32({uint32_t(data_at + data.size())});
        out.insert(out.end(), off.begin(), off.end());
        data.insert(data.end(), e.value.begin(), e.value.end());
        if (data.size() % 2) data.push_back(0);
      }
    }
    out.insert(out.end(), {0, 0, 0, 0});
  };
  // Offsets of the preview and the mosaic: after the other data, computed in a first pass.
  size_t values = 0;
  for (auto* ifd : {&ifd0, &raw})
    for (const Entry& e : *ifd)
      if (e.value.size() > 4) values += e.value.size() + e.value.size() % 2;
  const uint32_t preview_at = uint32_t(data_at + values), mosaic_at = uint32_t(preview_at + preview_jpeg.size());
  ifd0[8].value = u32({preview_at});
  ifd0[12].value = u32({uint32_t(raw_at)});
  raw[6].value = u32({mosaic_at});
  put_ifd(ifd0);
  put_ifd(raw);
  out.insert(out.end(), data.begin(), data.end());
  out.insert(out.end(), preview_jpeg.begin(), preview_jpeg.end());
  out.insert(out.end(), mosaic.begin(), mosaic.end());
  return out;
}

// A JPEG with an APP2 "MPF" segment after SOI and a second JPEG appended, as cameras write MPO.
std::vector<uint8_t> make_mpo(const std::vector<uint8_t>& first, const std::vector<uint8_t>& second) {
  const std::vector<uint8_t> mpf = {'M', 'P', 'F', 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const size_t len = mpf.size() + 2;
  std::vector<uint8_t> app2 = {0xFF, 0xE2, uint8_t(len >> 8), uint8_t(len)};
  app2.insert(app2.end(), mpf.begin(), mpf.end());
  std::vector<uint8_t> out = first;
  out.insert(out.begin() + 2, app2.begin(), app2.end());  // after SOI
  out.insert(out.end(), second.begin(), second.end());
  return out;
}

// Every file is encoded once for the whole suite (the encoders are slow on a shared machine).
class Formats : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("formats");
    const std::string photo = "/usr/share/doc/opencv-doc/examples/data/fruits.jpg";
    cv::Mat bgr = cv::imread(photo, cv::IMREAD_COLOR);
    ASSERT_FALSE(bgr.empty()) << "missing " << photo << " (Debian package opencv-doc)";
    cv::Mat small;
    cv::resize(bgr, small, cv::Size(240, 160), 0, 0, cv::INTER_AREA);  // not square: orientation shows
    cv::cvtColor(small, src_rgb_, cv::COLOR_BGR2RGB);
    jpeg_ = test::encode(src_rgb_, ".jpg", 95);
    test::write_file(*dir_ / "src.jpg", jpeg_);
    test::write_file(*dir_ / "src.png", test::encode(src_rgb_, ".png"));
    ref_ = decode_image(sp(jpeg_)).rgb;
    // A second photo for multi-image files, and a half-transparent copy for alpha.
    cv::Mat other;
    cv::flip(src_rgb_, other, 0);
    test::write_file(*dir_ / "other.jpg", test::encode(other, ".jpg", 95));
    cv::Mat rgba;
    cv::cvtColor(src_rgb_, rgba, cv::COLOR_RGB2BGRA);
    rgba(cv::Rect(0, 0, 120, 160)).setTo(cv::Scalar(0, 0, 0, 0));  // left half fully transparent
    cv::imwrite((*dir_ / "alpha.png").string(), rgba);

    const fs::path d = dir_->path();
    run(d, "heif-enc -q 90 -o a.heic src.jpg");
    run(d, "heif-enc -q 90 -t 128 -o thumb.heic src.jpg");
    run(d, "heif-enc -q 90 -o two.heic src.jpg other.jpg");
    run(d, "heif-enc -q 90 -o alpha.heic alpha.png");
    run(d, "avifenc -s 8 --min 0 --max 10 -j 1 src.jpg a.avif");
    run(d, "avifenc -s 8 --min 0 --max 10 -j 1 --irot 1 src.jpg irot.avif");  // 90 degrees anticlockwise
    run(d, "avifenc -s 8 --min 0 --max 10 -j 1 --imir 1 src.jpg imir.avif");  // left and right exchanged
    run(d, "avifenc -s 8 --min 0 --max 10 -j 1 alpha.png alpha.avif");
    run(d, "cjxl src.jpg recompressed.jxl");                   // lossless JPEG recompression
    run(d, "cjxl src.png pixels.jxl -d 0.5 --num_threads 0");  // VarDCT from pixels
    run(d, "cjxl alpha.png alpha.jxl -d 0.5 --num_threads 0");
    run(d, "convert src.png a.ppm");                    // P6
    run(d, "convert src.png -compress none plain.ppm"); // P3
    run(d, "convert src.png -depth 16 deep.ppm");       // P6 with 16-bit samples
    run(d, "convert src.png -colorspace gray a.pgm");   // P5
    run(d, "convert src.png -threshold 50% a.pbm");     // P4
    run(d, "convert alpha.png alpha.pam");              // P7 RGB_ALPHA
  }
  static void TearDownTestSuite() { dir_.reset(); }

  static std::vector<uint8_t> file(const std::string& name) { return test::read_file(*dir_ / name); }
  static cv::Mat rotated(const cv::Mat& m, int orientation) {
    cv::Mat r = m.clone();
    io::apply_orientation(r, orientation);
    return r;
  }

  static std::unique_ptr<TempDir> dir_;
  static cv::Mat src_rgb_, ref_;
  static std::vector<uint8_t> jpeg_;
};
std::unique_ptr<TempDir> Formats::dir_;
cv::Mat Formats::src_rgb_, Formats::ref_;
std::vector<uint8_t> Formats::jpeg_;

TEST_F(Formats, SniffedByBytesWithStoredSize) {
  const std::vector<std::pair<std::string, ImageFormat>> cases = {
      {"a.heic", ImageFormat::heif},   {"a.avif", ImageFormat::avif}, {"recompressed.jxl", ImageFormat::jxl},
      {"pixels.jxl", ImageFormat::jxl}, {"a.ppm", ImageFormat::netpbm}, {"plain.ppm", ImageFormat::netpbm},
      {"a.pgm", ImageFormat::netpbm},   {"a.pbm", ImageFormat::netpbm}, {"alpha.pam", ImageFormat::netpbm}};
  for (const auto& [name, fmt] : cases) {
    const std::vector<uint8_t> b = file(name);
    EXPECT_EQ(sniff_format(sp(b)), fmt) << name;
    const ImageHeader h = read_header(sp(b));
    EXPECT_EQ(h.format, fmt) << name;
    EXPECT_EQ(h.width, 240) << name;
    EXPECT_EQ(h.height, 160) << name;
  }
  EXPECT_EQ(format_name(ImageFormat::heif), std::string("heif"));
  EXPECT_EQ(format_name(ImageFormat::netpbm), std::string("netpbm"));
  // Text that merely starts like a Netpbm magic is not an image.
  const std::string text = "P1 is the first item of this list\n";
  EXPECT_EQ(sniff_format({reinterpret_cast<const uint8_t*>(text.data()), text.size()}), ImageFormat::unknown);
}

TEST_F(Formats, EachDecodesCloseToTheJpegSource) {
  // Lossy re-encodings of the JPEG: mean absolute error per channel, in 0..255.
  // HEIC and AVIF were made from the JPEG, the others from the PNG of the same pixels.
  const std::vector<std::tuple<std::string, double, cv::Mat>> cases = {
      {"a.heic", 6.0, ref_},        {"a.avif", 6.0, ref_},          {"pixels.jxl", 4.0, src_rgb_},
      {"a.ppm", 0.01, src_rgb_},    {"plain.ppm", 0.01, src_rgb_},  {"deep.ppm", 0.01, src_rgb_}};
  for (const auto& [name, tol, want] : cases) {
    const DecodedImage d = decode_image(sp(file(name)));
    ASSERT_EQ(d.rgb.type(), CV_8UC3) << name;
    EXPECT_LT(mean_abs_diff(d.rgb, want), tol) << name;
    EXPECT_EQ(d.orientation, 1) << name;
  }
  // A recompressed JPEG is reconstructed bit-exactly, so it decodes to the JPEG's own pixels.
  EXPECT_EQ(mean_abs_diff(decode_image(sp(file("recompressed.jxl"))).rgb, ref_), 0.0);
  // Gray and bilevel Netpbm become RGB with equal channels.
  cv::Mat gray;
  cv::cvtColor(src_rgb_, gray, cv::COLOR_RGB2GRAY);
  cv::cvtColor(gray, gray, cv::COLOR_GRAY2RGB);
  EXPECT_LT(mean_abs_diff(decode_image(sp(file("a.pgm"))).rgb, gray), 2.0);
  const cv::Mat bw = decode_image(sp(file("a.pbm"))).rgb;
  EXPECT_EQ(cv::countNonZero((bw.reshape(1) != 0) & (bw.reshape(1) != 255)), 0) << "PBM is black and white";
}

TEST_F(Formats, NetpbmSmallMaxvalIsStretched) {
  // P2 with maxval 15: 15 is white, 0 black (OpenCV returns the samples unscaled).
  const std::string pgm = "P2\n# comment\n2 1\n15\n0 15\n";
  const DecodedImage d = decode_image({reinterpret_cast<const uint8_t*>(pgm.data()), pgm.size()});
  EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 255, 255));
}

// What dav1d (under libavif), libjxl and libpng would print on stderr goes into the file's DecodeError
// instead (src/io/library_messages.h): stderr is captured around each decode and must stay empty.
TEST_F(Formats, LibraryMessagesGoIntoTheErrorNotStderr) {
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    DecodeOptions opts;
    const char* said;
  };
  std::vector<uint8_t> avif = file("a.avif");  // a 240x160 frame in a container that says 24x16
  const char tag[4] = {'i', 's', 'p', 'e'};
  const size_t at = size_t(std::search(avif.begin(), avif.end(), tag, tag + 4) - avif.begin()) + 8;
  ASSERT_LT(at + 8, avif.size());
  const uint8_t small_ispe[8] = {0, 0, 0, 24, 0, 0, 0, 16};
  std::copy(small_ispe, small_ispe + 8, avif.begin() + long(at));
  DecodeOptions limit;
  limit.max_pixels = 1000;
  std::vector<uint8_t> jxl = file("pixels.jxl");
  jxl[4] = 0xFF;  // bits per sample 3 in its image header
  std::vector<uint8_t> png = test::encode(src_rgb_, ".png");
  const char idat[4] = {'I', 'D', 'A', 'T'};
  const size_t data = size_t(std::search(png.begin(), png.end(), idat, idat + 4) - png.begin()) + 4;
  ASSERT_LT(data + 30, png.size());
  for (size_t k = 10; k < 30; ++k) png[data + k] ^= 0xA5;  // scrambled compressed data: CRC error
  const std::vector<Case> cases = {
      {"AVIF frame over the limit", avif, limit, "(dav1d: Frame size 240x160 exceeds limit 1000)"},
      {"JPEG XL header changed", jxl, {}, "(libjxl: Invalid bits_per_sample: 3)"},
      {"PNG data scrambled", png, {}, "corrupt or truncated PNG data (could not be decoded: IDAT: "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir tmp("stderr");
    const fs::path captured = tmp.path() / "stderr.txt";
    std::fflush(stderr);
    const int saved = ::dup(2);
    const int fd = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ::dup2(fd, 2);
    ::close(fd);
    std::string error;
    try {
      decode_image(sp(c.bytes), c.opts);
    } catch (const DecodeError& e) {
      error = e.what();
    }
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    const std::vector<uint8_t> printed = test::read_file(captured);
    EXPECT_EQ(std::string(printed.begin(), printed.end()), "") << "a library printed on stderr";
    EXPECT_NE(error.find(c.said), std::string::npos) << error;
  }
}

// F11 (fuzz_decode, a 13 s slow unit under ASan): a HEIC grid item whose ispe says 32x24 and whose
// grid box declares an 8192x6144 canvas (one 32x24 tile). libheif allocated and filled the whole
// canvas (1.1 s, ~200 MB in a Release build) before the decoded size was found to disagree; now
// libheif's side limit follows the declared size and it is refused before anything is decoded. The
// file is the fuzzer's input cut to its boxes, kept in fuzz/regressions/ (also a seed: scripts/fuzz_seeds.py).
TEST_F(Formats, HeifCanvasLargerThanItsDeclaredSizeIsRefusedBeforeDecoding) {
  const std::vector<uint8_t> grid = test::read_file(fs::path(IRBIS_SOURCE_DIR) / "fuzz/regressions/grid_canvas_over_ispe.heic");
  ASSERT_EQ(grid.size(), 730u);
  EXPECT_EQ(read_header(grid).width, 32);
  const std::string error = decode_error(grid, {});
  // (libheif reads the grid's 8 bytes from idat offset 1, one byte past the box's payload: 8192x6144.)
  EXPECT_NE(error.find("grid canvas is 8192x6144 pixels, more than the 32x24 the file declares"), std::string::npos) << error;

  // The HEVC frame of a plain image likewise (libde265 decodes it at the size its SPS declares): a
  // 1280x720 frame in a container that says 32x24 is refused before it is decoded.
  TempDir tmp("heifframe");
  test::write_file(tmp.path() / "wide.png", test::encode(test::synthetic_photo(1280, 720, 5), ".png"));
  run(tmp.path(), "heif-enc -q 30 -o wide.heic wide.png");
  std::vector<uint8_t> heic = test::read_file(tmp.path() / "wide.heic");
  const char tag[4] = {'i', 's', 'p', 'e'};
  const size_t at = size_t(std::search(heic.begin(), heic.end(), tag, tag + 4) - heic.begin()) + 8;
  ASSERT_LT(at + 8, heic.size());
  EXPECT_EQ(decode_image(heic).rgb.cols, 1280);  // as written
  const uint8_t small_ispe[8] = {0, 0, 0, 32, 0, 0, 0, 24};
  std::copy(small_ispe, small_ispe + 8, heic.begin() + long(at));
  const std::string frame_error = decode_error(heic, {});
  EXPECT_NE(frame_error.find("Coded image size 1280x720 exceeds the maximum image size"), std::string::npos) << frame_error;
}

// F11 by area: libheif's limit is per side, so a declared size of 32 x (long side) let a canvas or
// frame of (long side) squared be allocated and decoded before the size was found to differ. Now
// every canvas and HEVC frame the primary image can decode must fit in its declared area (with
// coding padding, at least 1 MP), checked by irbis before libheif decodes.
// Rewrites the nth `ispe` box of a HEIF file to declare w x h.
void set_ispe(std::vector<uint8_t>& heic, size_t nth, uint32_t w, uint32_t h) {
  const char tag[4] = {'i', 's', 'p', 'e'};
  auto at = heic.begin();
  for (size_t k = 0; k <= nth; ++k) {
    at = std::search(k == 0 ? heic.begin() : at + 4, heic.end(), tag, tag + 4);
    ASSERT_NE(at, heic.end()) << "ispe " << nth;
  }
  const size_t pos = size_t(at - heic.begin()) + 8;  // after the tag, version and flags
  for (int i = 0; i < 4; ++i) {
    heic[pos + size_t(i)] = uint8_t(w >> (24 - 8 * i));
    heic[pos + 4 + size_t(i)] = uint8_t(h >> (24 - 8 * i));
  }
}

// Offset of the 4-character box type `tag` (its size is the 4 bytes before); npos when absent.
size_t find_tag(const std::vector<uint8_t>& b, const char* tag) {
  const auto at = std::search(b.begin(), b.end(), tag, tag + 4);
  return at == b.end() ? std::string::npos : size_t(at - b.begin());
}

void put_be32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + size_t(i)] = uint8_t(v >> (24 - 8 * i));
}

// heif-enc -A writes an AV1 image item as an AVIF file (read by libavif); with its brands made HEIF's
// the same boxes are read by libheif and decoded by its AV1 plugin.
std::vector<uint8_t> avif_branded_heif(std::vector<uint8_t> b) {
  const size_t ftyp = io::be32(b.data());
  for (size_t pos = 8; pos + 4 <= ftyp && pos + 4 <= b.size(); pos += 4)
    if (std::memcmp(b.data() + pos, "avif", 4) == 0) std::memcpy(b.data() + pos, "mif1", 4);
  return b;
}

// heif-enc's single-item AV1 file with its item's sequence header OBU copied into av1C's configOBUs
// and the item's own turned into a padding OBU (which decoders skip): the decoder can only take the
// sequence header from av1C, which libheif hands it before the item's data.
std::vector<uint8_t> sequence_header_only_in_av1c(const std::vector<uint8_t>& in) {
  std::vector<uint8_t> b = in;
  const size_t iloc = find_tag(b, "iloc"), av1c = find_tag(b, "av1C");
  EXPECT_NE(iloc, std::string::npos);
  EXPECT_NE(av1c, std::string::npos);
  if (iloc == std::string::npos || av1c == std::string::npos) return {};
  // iloc version 0 with 4-byte offsets, lengths and base offset (as heif-enc writes it), one item of
  // one extent: the data is at base + offset.
  EXPECT_EQ(b[iloc + 4], 0);
  EXPECT_EQ(b[iloc + 8], 0x44);
  EXPECT_EQ(b[iloc + 9], 0x40);
  const size_t base_at = iloc + 4 + 4 + 2 + 2 + 2 + 2;  // version/flags, sizes, count, id, dref
  const size_t data = size_t(io::be32(b.data() + base_at)) + io::be32(b.data() + base_at + 4 + 2);
  // The item's OBUs: a temporal delimiter, then the sequence header (both with size fields).
  size_t obu = data;
  while (obu + 2 < b.size() && ((b[obu] >> 3) & 15) != 1) obu += 2 + b[obu + 1];
  EXPECT_EQ((b[obu] >> 3) & 15, 1) << "no sequence header OBU in the item";
  EXPECT_EQ(b[obu] & 6, 2) << "a sequence header with a size field and no extension";
  const std::vector<uint8_t> header(b.begin() + long(obu), b.begin() + long(obu + 2 + b[obu + 1]));
  b[obu] = uint8_t((b[obu] & ~0x78) | 15 << 3);  // OBU_PADDING
  const uint32_t n = uint32_t(header.size());
  const size_t av1c_end = av1c - 4 + io::be32(b.data() + av1c - 4);
  for (const char* box : {"meta", "iprp", "ipco", "av1C"}) {
    const size_t at = find_tag(b, box) - 4;
    put_be32(b, at, io::be32(b.data() + at) + n);
  }
  put_be32(b, base_at, io::be32(b.data() + base_at) + n);
  b.insert(b.begin() + long(av1c_end), header.begin(), header.end());
  return b;
}

TEST_F(Formats, HeifCanvasOverItsDeclaredAreaIsRefusedBeforeDecoding) {
  // The F11 grid (an 8192x6144 canvas of one 64x64 tile) under an elongated 32x8192: its long side
  // admits the canvas per side (the limit was 8256), its area does not.
  std::vector<uint8_t> grid = test::read_file(fs::path(IRBIS_SOURCE_DIR) / "fuzz/regressions/grid_canvas_over_ispe.heic");
  set_ispe(grid, 1, 32, 8192);  // the grid item's ispe (the first is its tile's, 64x64)
  EXPECT_EQ(grid, test::read_file(fs::path(IRBIS_SOURCE_DIR) / "fuzz/regressions/grid_canvas_over_elongated_ispe.heic"));
  EXPECT_EQ(read_header(grid).height, 8192);
  EXPECT_EQ(decode_error(grid, {}), "malformed HEIF: item 2's grid canvas is 8192x6144 pixels, more than the 32x8192 the file declares");

  // An HEVC frame of 1600x900 (1.44 MP) under an ispe of 32x1600: refused from its parameter set.
  TempDir tmp("heifarea");
  test::write_file(tmp.path() / "wide.png", test::encode(test::synthetic_photo(1600, 900, 7), ".png"));
  test::write_file(tmp.path() / "long.png", test::encode(test::synthetic_photo(2048, 64, 8), ".png"));
  run(tmp.path(), "heif-enc -q 30 -o wide.heic wide.png && heif-enc -q 30 -o long.heic long.png");
  std::vector<uint8_t> frame = test::read_file(tmp.path() / "wide.heic");
  EXPECT_EQ(decode_image(frame).rgb.cols, 1600);  // as written
  set_ispe(frame, 0, 32, 1600);
  EXPECT_EQ(decode_error(frame, {}), "malformed HEIF: item 1's HEVC frame is 1600x904 pixels, more than the 32x1600 the file declares");
  // A real elongated image is within its own area.
  const DecodedImage long_image = decode_image(test::read_file(tmp.path() / "long.heic"));
  EXPECT_EQ(long_image.rgb.cols, 2048);
  EXPECT_EQ(long_image.rgb.rows, 64);
}

// A HEIF file whose items are AV1 (`av01`) is libheif's to decode (with dav1d, Debian's libheif 1.15
// links it and libaom; plain AVIF goes through libavif and its own area limit): its AV1 frames must
// fit the declared area like HEVC's, sized from the sequence headers libheif hands the decoder
// (av1C's configOBUs, then the item's data) before anything is decoded. Before, the frame was decoded
// and then refused for its size (F8's check).
TEST_F(Formats, HeifAv1FrameOverItsDeclaredAreaIsRefusedBeforeDecoding) {
  TempDir tmp("heifav1");
  test::write_file(tmp.path() / "wide.png", test::encode(test::synthetic_photo(1600, 900, 7), ".png"));
  test::write_file(tmp.path() / "long.png", test::encode(test::synthetic_photo(2048, 64, 8), ".png"));
  run(tmp.path(), "heif-enc -A -q 30 -o wide.avif wide.png && heif-enc -A -q 30 -o long.avif long.png");
  const std::vector<uint8_t> wide = avif_branded_heif(test::read_file(tmp.path() / "wide.avif"));
  ASSERT_EQ(sniff_format(sp(wide)), ImageFormat::heif);
  EXPECT_EQ(decode_image(wide).rgb.cols, 1600);  // libheif's AV1 plugin decodes it as written
  const std::string refused = "malformed HEIF: item 1's AV1 frames are up to 1600x900 pixels, more than the 32x1600 the file declares";
  std::vector<uint8_t> frame = wide;
  set_ispe(frame, 0, 32, 1600);
  EXPECT_EQ(decode_error(frame, {}), refused);  // the sequence header in the item's data

  std::vector<uint8_t> in_config = sequence_header_only_in_av1c(wide);
  const DecodedImage from_config = decode_image(in_config);
  EXPECT_EQ(from_config.rgb.cols, 1600);  // dav1d took av1C's sequence header
  EXPECT_EQ(from_config.rgb.rows, 900);
  set_ispe(in_config, 0, 32, 1600);
  EXPECT_EQ(decode_error(in_config, {}), refused);  // the sequence header only in av1C

  // A real elongated AV1 image is within its own area.
  const DecodedImage long_image = decode_image(avif_branded_heif(test::read_file(tmp.path() / "long.avif")));
  EXPECT_EQ(long_image.rgb.cols, 2048);
  EXPECT_EQ(long_image.rgb.rows, 64);
}

// F12 (fuzz_decode, after 870,989 executions): an `iden` item derived from an item of type 'hvc2',
// which libheif 1.15 does not know as an image: its decode asserted ("Assertion `imginfo' failed")
// and aborted the process. Refused before libheif decodes (fuzz/regressions/, also a seed).
TEST_F(Formats, HeifDerivedFromANonImageItemIsRefused) {
  const std::vector<uint8_t> bad = test::read_file(fs::path(IRBIS_SOURCE_DIR) / "fuzz/regressions/iden_of_a_non_image.heic");
  EXPECT_EQ(decode_error(bad, {}), "malformed HEIF: item 2 is derived from item 1, which is not an image");
  // F13 (fuzz_server_upload, after 815,982 executions): the same file with its dimg box's size
  // wrong (0x0040000e). libheif ignores that size and still follows the reference, so a reader
  // skipping by box size missed it and the upload aborted the process again.
  const std::vector<uint8_t> bad_size =
      test::read_file(fs::path(IRBIS_SOURCE_DIR) / "fuzz/regressions/iden_of_a_non_image_ref_size_wrong.heic");
  EXPECT_EQ(decode_error(bad_size, {}), "malformed HEIF: item 2 is derived from item 1, which is not an image");
  // Real files still decode: derived items of real images are images (heif-enc's grid-free files
  // have none; the F11 grid's tile is an hvc1 item and is refused for its canvas, not its derivation).
  EXPECT_EQ(decode_image(file("a.heic")).rgb.cols, 240);
  EXPECT_EQ(decode_error(test::read_file(fs::path(IRBIS_SOURCE_DIR) / "fuzz/regressions/grid_canvas_over_ispe.heic"), {})
                .find("derived from"),
            std::string::npos);
}

TEST_F(Formats, JxlSideOverAnIntIsRefused) {
  // F10 (fuzz_header): a codestream whose SizeHeader declares ysize 2^30 at the 2:1 ratio, so
  // xsize 2^31; read_header returned a width of -2147483648. Bits LSB first after FF 0A: small 0,
  // ysize selector 3 + 30 bits of 2^30 - 1, ratio 7, all_default metadata.
  std::vector<uint8_t> b = {0xFF, 0x0A, 0xFE, 0xFF, 0xFF, 0xFF, 0x1F};
  b.resize(23, 0);
  ASSERT_EQ(sniff_format(b), ImageFormat::jxl);
  try {
    const ImageHeader h = read_header(b);
    ADD_FAILURE() << "read as " << h.width << "x" << h.height;
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("2147483648x1073741824"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode_image(b), DecodeError);
}

TEST_F(Formats, NetpbmCommentTouchingANumberIsRefused) {
  // F9 (fuzz_decode): OpenCV reads "4#2..." as width 4, height 2; Netpbm's rule reads a comment.
  // Whichever size were checked against the pixel limit, the other would be decoded: refused.
  for (const std::string& pbm : {std::string("P4\n4#2\n32\n") + std::string(4, '\xff'),
                                std::string("P4\n4 2#9\n") + std::string(2, '\xff')}) {
    // The weak P4 magic needs a header that parses, so such a file is not taken for Netpbm at all.
    EXPECT_THROW(decode_image({reinterpret_cast<const uint8_t*>(pbm.data()), pbm.size()}), DecodeError);
  }
  // A comment after whitespace stays fine (NetpbmSmallMaxvalIsStretched has one on its own line).
  const std::string ok = "P2 # size next\n2 1\n15\n0 15\n";
  EXPECT_EQ(decode_image({reinterpret_cast<const uint8_t*>(ok.data()), ok.size()}).rgb.cols, 2);
}

TEST_F(Formats, AlphaIsCompositedOnWhite) {
  for (const std::string name : {"alpha.heic", "alpha.avif", "alpha.jxl", "alpha.pam"}) {
    const cv::Mat m = decode_image(sp(file(name))).rgb;
    ASSERT_EQ(m.size(), ref_.size()) << name;
    const cv::Scalar left = cv::mean(m(cv::Rect(4, 4, 100, 150)));
    for (int c = 0; c < 3; ++c) EXPECT_GT(left[c], 245) << name << ": transparent half is white";
    EXPECT_LT(mean_abs_diff(m(cv::Rect(130, 0, 110, 160)), src_rgb_(cv::Rect(130, 0, 110, 160))), 6.0) << name;
  }
}

TEST_F(Formats, HeifWithSeveralImagesGivesThePrimary) {
  const cv::Mat m = decode_image(sp(file("two.heic"))).rgb;
  EXPECT_LT(mean_abs_diff(m, ref_), 6.0);
}

TEST_F(Formats, HeifThumbnailIsUsedWhenLargeEnough) {
  const std::vector<uint8_t> b = file("thumb.heic");
  DecodeOptions o;
  o.min_side = 80;  // the 128x85 thumbnail is large enough
  const DecodedImage small = decode_image(sp(b), o);
  EXPECT_EQ(small.header.width, 240);  // the file's own size
  EXPECT_LE(small.rgb.cols, 128);
  EXPECT_GE(std::min(small.rgb.cols, small.rgb.rows), 80);
  cv::Mat want;
  cv::resize(ref_, want, small.rgb.size(), 0, 0, cv::INTER_AREA);
  EXPECT_LT(mean_abs_diff(small.rgb, want), 12.0);  // the thumbnail is a separate, smaller encode
  o.min_side = 100;  // too large for the thumbnail: the primary image, shrunk like a JPEG would be
  EXPECT_EQ(decode_image(sp(b), o).rgb.size(), cv::Size(240, 160));
}

TEST_F(Formats, AvifIrotAndImirAreApplied) {
  const DecodedImage r = decode_image(sp(file("irot.avif")));
  EXPECT_EQ(r.orientation, 8);  // a quarter turn anticlockwise
  EXPECT_EQ(r.header.width, 240);
  EXPECT_EQ(oriented_header(r.header, r.orientation).width, 160);
  EXPECT_LT(mean_abs_diff(r.rgb, rotated(ref_, 8)), 6.0);
  const DecodedImage m = decode_image(sp(file("imir.avif")));
  EXPECT_EQ(m.orientation, 2);
  EXPECT_LT(mean_abs_diff(m.rgb, rotated(ref_, 2)), 6.0);
  // libheif reads AVIF too: its irot path (ISOBMFF properties parsed by irbis) agrees.
  const io::StoredImage h = io::decode_heif(sp(file("irot.avif")), {});
  EXPECT_EQ(h.orientation, 8);
  EXPECT_TRUE(h.oriented);
  EXPECT_LT(mean_abs_diff(h.rgb, rotated(ref_, 8)), 6.0);
}

TEST_F(Formats, IrotImirMatchExifOrientations) {
  EXPECT_EQ(io::orientation_from_irot_imir(0, -1), 1);
  EXPECT_EQ(io::orientation_from_irot_imir(1, -1), 8);
  EXPECT_EQ(io::orientation_from_irot_imir(2, -1), 3);
  EXPECT_EQ(io::orientation_from_irot_imir(3, -1), 6);
  EXPECT_EQ(io::orientation_from_irot_imir(0, 1), 2);
  EXPECT_EQ(io::orientation_from_irot_imir(0, 0), 4);
}

TEST_F(Formats, JxlOfJpegWithExifOrientationIsRotated) {
  // A JPEG with Exif orientation 6, recompressed by cjxl: the orientation survives into the
  // JPEG XL file and is applied.
  const std::vector<uint8_t> tiff = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
  std::vector<uint8_t> app1 = {0xFF, 0xE1, 0, uint8_t(tiff.size() + 8), 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  std::vector<uint8_t> o6 = jpeg_;
  o6.insert(o6.begin() + 2, app1.begin(), app1.end());  // after SOI
  test::write_file(*dir_ / "o6.jpg", o6);
  run(dir_->path(), "cjxl o6.jpg o6.jxl");
  const DecodedImage j = decode_image(sp(o6));
  ASSERT_EQ(j.orientation, 6);
  const DecodedImage x = decode_image(sp(file("o6.jxl")));
  EXPECT_EQ(x.orientation, 6);
  EXPECT_EQ(x.rgb.size(), cv::Size(160, 240));
  EXPECT_EQ(mean_abs_diff(x.rgb, j.rgb), 0.0);
}

TEST_F(Formats, JxlRecompressedJpegDecodesDctScaled) {
  DecodeOptions o;
  o.min_side = 32;
  const DecodedImage x = decode_image(sp(file("recompressed.jxl")), o);
  const DecodedImage j = decode_image(sp(jpeg_), o);
  EXPECT_EQ(x.rgb.size(), j.rgb.size());
  EXPECT_EQ(x.rgb.size(), cv::Size(60, 40));  // 1/4 scale, as the JPEG
  EXPECT_EQ(mean_abs_diff(x.rgb, j.rgb), 0.0);
  EXPECT_EQ(x.header.format, ImageFormat::jxl);
}

TEST_F(Formats, MpoDecodesItsFirstImage) {
  const std::vector<uint8_t> mpo = make_mpo(jpeg_, file("other.jpg"));
  EXPECT_EQ(sniff_format(sp(mpo)), ImageFormat::mpo);
  EXPECT_EQ(read_header(sp(mpo)).format, ImageFormat::mpo);
  const DecodedImage d = decode_image(sp(mpo));
  EXPECT_EQ(d.header.format, ImageFormat::mpo);
  EXPECT_EQ(mean_abs_diff(d.rgb, ref_), 0.0);
  // A plain JPEG is not an MPO.
  EXPECT_EQ(sniff_format(sp(jpeg_)), ImageFormat::jpeg);
}

TEST_F(Formats, DngPreviewOrRawData) {
  cv::Mat half;
  cv::resize(src_rgb_, half, cv::Size(120, 80), 0, 0, cv::INTER_AREA);
  const std::vector<uint8_t> preview = test::encode(half, ".jpg", 95);
  const std::vector<uint8_t> dng = make_dng(src_rgb_, preview, 120, 80, 6);
  test::write_file(*dir_ / "a.dng", dng);
  EXPECT_EQ(sniff_format(sp(dng)), ImageFormat::raw);
  const ImageHeader h = read_header(sp(dng));
  EXPECT_EQ(h.width, 240);
  EXPECT_EQ(h.height, 160);

  // Features at >= 64 px: the 120x80 preview is enough, decoded as the JPEG it is, then rotated.
  DecodeOptions o;
  o.min_side = 64;
  const DecodedImage p = decode_image(sp(dng), o);
  EXPECT_EQ(p.orientation, 6);
  EXPECT_EQ(oriented_header(p.header, p.orientation).width, 160);
  EXPECT_LT(mean_abs_diff(p.rgb, rotated(decode_image(sp(preview), o).rgb, 6)), 0.01);  // DCT-scaled too

  // Full size: the raw mosaic, demosaiced by LibRaw and rotated; it looks like the photo.
  const DecodedImage r = decode_image(sp(dng));
  ASSERT_EQ(r.rgb.size(), cv::Size(160, 240));
  cv::Mat a, b;
  cv::cvtColor(r.rgb, a, cv::COLOR_RGB2GRAY);
  cv::cvtColor(rotated(ref_, 6), b, cv::COLOR_RGB2GRAY);
  a.convertTo(a, CV_32F);
  b.convertTo(b, CV_32F);
  cv::Mat corr;
  cv::matchTemplate(a, b, corr, cv::TM_CCOEFF_NORMED);
  EXPECT_GT(corr.at<float>(0, 0), 0.9) << "raw decode does not look like the photo";
  // Larger than the preview but half the sensor is still enough: half-size raw decode.
  o.min_side = 80;
  EXPECT_EQ(decode_image(sp(dng), o).rgb.size(), cv::Size(80, 120));
}

TEST_F(Formats, TruncatedAndCorruptFilesFailWithAReason) {
  cv::Mat half;
  cv::resize(src_rgb_, half, cv::Size(120, 80), 0, 0, cv::INTER_AREA);
  const std::vector<uint8_t> dng = make_dng(src_rgb_, test::encode(half, ".jpg", 95), 120, 80, 1);
  test::write_file(*dir_ / "t.dng", dng);
  for (const std::string name :
       {"a.heic", "a.avif", "recompressed.jxl", "pixels.jxl", "a.ppm", "a.pgm", "a.pbm", "alpha.pam", "t.dng"}) {
    std::vector<uint8_t> b = file(name);
    const ImageFormat fmt = sniff_format(sp(b));
    b.resize(b.size() * 6 / 10);
    const std::string err = decode_error(b);
    EXPECT_FALSE(err.empty()) << name << " cut to 60% decoded";
    EXPECT_TRUE(err.find("truncated") != std::string::npos || err.find("corrupt") != std::string::npos) << name << ": " << err;
    // Cut inside the header: still a reason, never a crash.
    b.resize(std::min<size_t>(b.size(), 40));
    if (sniff_format(sp(b)) == fmt) {
      EXPECT_FALSE(decode_error(b).empty()) << name << " cut to 40 bytes";
    }
    // Bytes flipped in the middle of the data.
    std::vector<uint8_t> c = file(name);
    for (size_t i = c.size() / 2; i < c.size() / 2 + 64 && i < c.size(); ++i) c[i] ^= 0x5A;
    try {
      decode_image(sp(c));  // some codecs decode damaged data to damaged pixels: fine, no crash
    } catch (const DecodeError&) {
    }
  }
}

TEST_F(Formats, DeclaredSizeIsCheckedBeforeDecoding) {
  DecodeOptions o;
  o.max_pixels = 240 * 160 - 1;
  cv::Mat half;
  cv::resize(src_rgb_, half, cv::Size(120, 80), 0, 0, cv::INTER_AREA);
  const std::vector<uint8_t> dng = make_dng(src_rgb_, test::encode(half, ".jpg", 95), 120, 80, 1);
  test::write_file(*dir_ / "m.dng", dng);
  for (const std::string name : {"a.heic", "a.avif", "recompressed.jxl", "pixels.jxl", "a.ppm", "plain.ppm", "m.dng"}) {
    EXPECT_NE(decode_error(file(name), o).find("image declares 240x160 pixels, over the limit of 38399"), std::string::npos)
        << name << ": " << decode_error(file(name), o);
  }
  o.max_pixels = 240 * 160;
  EXPECT_EQ(decode_error(file("a.heic"), o), "");
}

// F8 (found by fuzz_decode): the pixel limit is checked on the size the container declares (the
// ispe box), while the codec decodes the frame at the size its own bitstream declares. libheif
// returned that frame as it was: a HEIF whose ispe says 24x16 around a 240x160 frame passed a
// 1,000-pixel limit and came back 240x160 (an image of another size than its header). Refused now;
// libavif scales the frame to the ispe size, and the frame itself is now bounded by max_pixels too.
TEST_F(Formats, FrameOfAnotherSizeThanItsContainerIsRefusedOrBounded) {
  const auto with_ispe = [](std::vector<uint8_t> b, uint32_t w, uint32_t h) {
    const char tag[4] = {'i', 's', 'p', 'e'};
    auto it = std::search(b.begin(), b.end(), tag, tag + 4);
    EXPECT_NE(it, b.end());
    const size_t at = size_t(it - b.begin()) + 8;  // after the tag, version and flags
    for (int k = 0; k < 4; ++k) {
      b[at + size_t(k)] = uint8_t(w >> (24 - 8 * k));
      b[at + 4 + size_t(k)] = uint8_t(h >> (24 - 8 * k));
    }
    return b;
  };
  DecodeOptions limit;
  limit.max_pixels = 1000;
  for (const std::string name : {"a.heic", "a.avif"}) {
    const auto small = with_ispe(file(name), 24, 16), large = with_ispe(file(name), 2400, 1600);
    EXPECT_EQ(read_header(small).width, 24) << name;
    EXPECT_NE(decode_error(small, limit), "") << name << ": a 240x160 frame under a 1,000-pixel limit";
    for (const auto& b : {small, large}) {
      try {
        const DecodedImage d = decode_image(b);
        EXPECT_EQ(d.rgb.cols, d.header.width) << name;  // libavif: scaled to the declared size
        EXPECT_EQ(d.rgb.rows, d.header.height) << name;
      } catch (const DecodeError& e) {  // libheif: refused with both sizes
        EXPECT_NE(std::string(e.what()).find("the decoded image is 240x160 pixels, the file declares"), std::string::npos)
            << name << ": " << e.what();
      }
    }
    EXPECT_EQ(decode_error(file(name), {}), "") << name;
  }
  EXPECT_NE(decode_error(with_ispe(file("a.heic"), 24, 16), {}).find("the file declares 24x16"), std::string::npos);
}

TEST_F(Formats, RecognisedButUnsupportedFormatsAreNamed) {
  const std::vector<uint8_t> jp2 = {0, 0, 0, 12, 'j', 'P', ' ', ' ', '\r', '\n', 0x87, '\n', 0, 0, 0, 20, 'f', 't', 'y', 'p'};
  EXPECT_STREQ(unsupported_image_format(sp(jp2)), "JPEG 2000");
  EXPECT_EQ(decode_error(jp2), "unsupported format: JPEG 2000");
  const std::vector<uint8_t> psd = {'8', 'B', 'P', 'S', 0, 1, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(decode_error(psd), "unsupported format: Photoshop PSD");
  EXPECT_EQ(unsupported_image_format(sp(jpeg_)), nullptr);
  const std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(decode_error(text), "not an image (unknown format)");
}

TEST_F(Formats, SeveralSizesFromOneDecode) {
  for (const std::string name : {"a.heic", "a.avif", "pixels.jxl", "a.ppm"}) {
    const std::vector<uint8_t> b = file(name);
    const std::vector<DecodedImage> v = decode_image_sizes(sp(b), {}, {32, 0});
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[1].rgb.size(), cv::Size(240, 160)) << name;
    EXPECT_EQ(v[0].rgb.size(), cv::Size(60, 40)) << name;  // shrunk as a 1/4 DCT-scaled JPEG
  }
}

}  // namespace
}  // namespace irbis
