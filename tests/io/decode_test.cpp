// Decoding tests. Every fixture is generated here, at test time.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <gif_lib.h>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <set>
#include <turbojpeg.h>

#include "irbis/errors.h"
#include "irbis/image.h"
#include "irbis/scan.h"
#include "test_util.h"

namespace irbis {
namespace {

using test::encode;
using test::synthetic_photo;
using test::TempDir;
using test::decode_error;
using test::mean_abs_diff;

std::span<const uint8_t> sp(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

cv::Vec3b px(const cv::Mat& m, int x, int y) { return m.at<cv::Vec3b>(y, x); }

void expect_near_color(cv::Vec3b got, cv::Vec3b want, int tol, const std::string& what) {
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(int(got[c]), int(want[c]), tol) << what << " channel " << c << " got (" << int(got[0]) << ","
                                                << int(got[1]) << "," << int(got[2]) << ")";
  }
}

// Offset of the SOF0/SOF2 segment's marker in a JPEG, walking the marker segments.
size_t find_sof(const std::vector<uint8_t>& j) {
  size_t pos = 2;
  while (pos + 4 <= j.size()) {
    const uint8_t m = j[pos + 1];
    if (m == 0xC0 || m == 0xC1 || m == 0xC2) return pos;
    pos += 2 + (size_t(j[pos + 2]) << 8 | j[pos + 3]);
  }
  ADD_FAILURE() << "no SOF marker";
  return 0;
}

// Exif data as stored in files: a big-endian TIFF header and an IFD0 holding only Orientation.
std::vector<uint8_t> exif_tiff(int orientation) {
  return {'M', 'M', 0, 42, 0, 0, 0, 8,                                    // header, IFD0 at 8
          0, 1,                                                           // one entry
          0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, uint8_t(orientation), 0, 0,   // 274 SHORT 1
          0, 0, 0, 0};                                                    // no next IFD
}

// A JPEG with an APP1 Exif segment after SOI.
std::vector<uint8_t> with_exif_orientation(const std::vector<uint8_t>& jpeg, int orientation) {
  const std::vector<uint8_t> tiff = exif_tiff(orientation);
  std::vector<uint8_t> payload = {'E', 'x', 'i', 'f', 0, 0};
  payload.insert(payload.end(), tiff.begin(), tiff.end());
  const size_t len = payload.size() + 2;
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);  // SOI
  out.insert(out.end(), {0xFF, 0xE1, uint8_t(len >> 8), uint8_t(len & 0xFF)});
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

// --- sniffing and headers ----------------------------------------------------------------------

TEST(Sniff, MagicBytes) {
  const cv::Mat img = synthetic_photo(40, 30, 1);
  EXPECT_EQ(sniff_format(sp(encode(img, ".jpg"))), ImageFormat::jpeg);
  EXPECT_EQ(sniff_format(sp(encode(img, ".png"))), ImageFormat::png);
  EXPECT_EQ(sniff_format(sp(encode(img, ".webp"))), ImageFormat::webp);
  EXPECT_EQ(sniff_format(sp(encode(img, ".bmp"))), ImageFormat::bmp);
  EXPECT_EQ(sniff_format(sp(encode(img, ".tiff"))), ImageFormat::tiff);
  const std::vector<uint8_t> mm = {'M', 'M', 0, '*', 0, 0, 0, 8};
  EXPECT_EQ(sniff_format(sp(mm)), ImageFormat::tiff);
  const std::vector<uint8_t> gif87 = {'G', 'I', 'F', '8', '7', 'a', 1, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(sniff_format(sp(gif87)), ImageFormat::gif);
  const std::vector<uint8_t> text = {'B', 'M', 'W', ' ', 'c', 'a', 'r', 's', ' ', 'a', 'r', 'e', ' ', 'f', 'a', 's', 't', '!'};
  EXPECT_EQ(sniff_format(sp(text)), ImageFormat::unknown);
  EXPECT_EQ(sniff_format({}), ImageFormat::unknown);
  EXPECT_STREQ(format_name(ImageFormat::webp), "webp");
}

TEST(Header, EveryFormatGivesStoredSize) {
  const cv::Mat img = synthetic_photo(123, 45, 2);
  for (const char* ext : {".jpg", ".png", ".webp", ".bmp", ".tiff"}) {
    const ImageHeader h = read_header(sp(encode(img, ext)));
    EXPECT_EQ(h.width, 123) << ext;
    EXPECT_EQ(h.height, 45) << ext;
  }
}

TEST(Header, BigEndianTiffWithLongAndShortFields) {
  const std::vector<uint8_t> t = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 2,
                                  0x01, 0x00, 0, 3, 0, 0, 0, 1, 0x01, 0x2C, 0, 0,  // width SHORT 300
                                  0x01, 0x01, 0, 4, 0, 0, 0, 1, 0, 0, 0, 200,      // length LONG 200
                                  0, 0, 0, 0};
  const ImageHeader h = read_header(sp(t));
  EXPECT_EQ(h.format, ImageFormat::tiff);
  EXPECT_EQ(h.width, 300);
  EXPECT_EQ(h.height, 200);
}

TEST(Header, MalformedHeadersSayWhy) {
  const std::vector<uint8_t> png_sig_only = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
  EXPECT_THROW(read_header(sp(png_sig_only)), DecodeError);
  EXPECT_NE(decode_error(png_sig_only).find("malformed PNG header"), std::string::npos) << decode_error(png_sig_only);
  const std::vector<uint8_t> tiff_bad_ifd = {'I', 'I', 42, 0, 0xFF, 0xFF, 0, 0};
  EXPECT_NE(decode_error(tiff_bad_ifd).find("malformed TIFF header"), std::string::npos) << decode_error(tiff_bad_ifd);
  const std::vector<uint8_t> gif_short = {'G', 'I', 'F', '8', '9', 'a', 1, 0};
  EXPECT_NE(decode_error(gif_short).find("malformed GIF header"), std::string::npos) << decode_error(gif_short);
  const std::vector<uint8_t> jpeg_soi_only = {0xFF, 0xD8, 0xFF, 0xD9};
  EXPECT_NE(decode_error(jpeg_soi_only).find("malformed JPEG header"), std::string::npos) << decode_error(jpeg_soi_only);
  const std::vector<uint8_t> webp_short = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'};
  EXPECT_NE(decode_error(webp_short).find("malformed WebP header"), std::string::npos) << decode_error(webp_short);
}

TEST(Header, OrientedHeaderSwapsFor5To8) {
  const ImageHeader h{ImageFormat::jpeg, 40, 30};
  for (int o = 1; o <= 8; ++o) {
    const ImageHeader r = oriented_header(h, o);
    EXPECT_EQ(r.width, o >= 5 ? 30 : 40) << o;
    EXPECT_EQ(r.height, o >= 5 ? 40 : 30) << o;
  }
}

// --- errors ------------------------------------------------------------------------------------

TEST(Decode, EmptyFile) {
  TempDir dir("decode-empty");
  test::write_file(dir / "empty.jpg", {});
  const std::vector<uint8_t> bytes = read_file_bytes((dir / "empty.jpg").string(), 1 << 20);
  EXPECT_TRUE(bytes.empty());
  EXPECT_EQ(decode_error(bytes), "empty file");
  EXPECT_THROW(read_header(sp(bytes)), DecodeError);
}

TEST(Decode, TruncatedJpeg) {
  std::vector<uint8_t> j = encode(synthetic_photo(400, 300, 3), ".jpg");
  j.resize(j.size() / 2);
  EXPECT_EQ(decode_error(j), "truncated JPEG data");
  DecodeOptions small;
  small.min_side = 32;  // the DCT-scaled path must refuse it too
  EXPECT_EQ(decode_error(j, small), "truncated JPEG data");
}

TEST(Decode, JpegWithBenignWarningIsKept) {
  // Junk before EOI makes libjpeg warn "Corrupt JPEG data: 3 extraneous bytes before marker 0xd9";
  // the image itself is complete, so it is kept.
  const cv::Mat img = synthetic_photo(160, 120, 3);
  std::vector<uint8_t> j = encode(img, ".jpg");
  ASSERT_EQ(j[j.size() - 2], 0xFF);
  j.insert(j.end() - 2, {0x12, 0x34, 0x56});
  const DecodedImage d = decode_image(sp(j));
  EXPECT_LT(mean_abs_diff(d.rgb, img), 3.0);
}

TEST(Decode, ProgressiveJpegScaledAndTruncated) {
  const cv::Mat img = synthetic_photo(800, 600, 3);
  cv::Mat bgr;
  cv::cvtColor(img, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> j;
  ASSERT_TRUE(cv::imencode(".jpg", bgr, j, {cv::IMWRITE_JPEG_PROGRESSIVE, 1, cv::IMWRITE_JPEG_QUALITY, 92}));
  DecodeOptions o;
  o.min_side = 100;
  const DecodedImage d = decode_image(sp(j), o);
  EXPECT_EQ(d.rgb.size(), cv::Size(200, 150));
  cv::Mat small;
  cv::resize(img, small, d.rgb.size(), 0, 0, cv::INTER_AREA);
  EXPECT_LT(mean_abs_diff(d.rgb, small), 4.0);
  j.resize(j.size() * 2 / 3);
  EXPECT_EQ(decode_error(j, o), "truncated JPEG data");
}

TEST(Decode, JpegCutInsideHeaderIsMalformed) {
  std::vector<uint8_t> j = encode(synthetic_photo(400, 300, 3), ".jpg");
  j.resize(100);
  EXPECT_NE(decode_error(j).find("malformed JPEG header"), std::string::npos) << decode_error(j);
}

TEST(Decode, TruncatedPng) {
  std::vector<uint8_t> p = encode(synthetic_photo(400, 300, 4), ".png");
  p.resize(p.size() / 2);
  EXPECT_EQ(decode_error(p), "truncated PNG");
}

TEST(Decode, TruncatedBmpAndWebp) {
  std::vector<uint8_t> b = encode(synthetic_photo(100, 80, 4), ".bmp");
  b.resize(b.size() - 100);
  EXPECT_EQ(decode_error(b), "truncated BMP");
  std::vector<uint8_t> png_in_bmp = encode(synthetic_photo(100, 80, 4), ".bmp");
  png_in_bmp[30] = 5;  // BI_PNG
  EXPECT_EQ(decode_error(png_in_bmp), "unsupported BMP compression type 5");
  std::vector<uint8_t> w = encode(synthetic_photo(100, 80, 4), ".webp");
  w.resize(w.size() / 2);
  EXPECT_EQ(decode_error(w), "truncated WebP");
}

TEST(Decode, RandomBytesNamedJpg) {
  TempDir dir("decode-random");
  std::mt19937 rng(7);
  std::vector<uint8_t> junk(5000);
  for (auto& b : junk) b = uint8_t(rng());
  junk[0] = 'x';  // never a magic number by chance
  test::write_file(dir / "photo.jpg", junk);
  const std::vector<uint8_t> bytes = read_file_bytes((dir / "photo.jpg").string(), 1 << 20);
  EXPECT_EQ(sniff_format(sp(bytes)), ImageFormat::unknown);
  EXPECT_EQ(decode_error(bytes), "not an image (unknown format)");
}

TEST(Decode, PngNamedJpgDecodesAsPng) {
  TempDir dir("decode-png-as-jpg");
  const cv::Mat img = synthetic_photo(64, 48, 5);
  test::write_file(dir / "photo.jpg", encode(img, ".png"));
  const std::vector<uint8_t> bytes = read_file_bytes((dir / "photo.jpg").string(), 1 << 20);
  const DecodedImage d = decode_image(sp(bytes));
  EXPECT_EQ(d.header.format, ImageFormat::png);
  EXPECT_EQ(mean_abs_diff(d.rgb, img), 0.0);
}

TEST(Decode, HugeDeclaredPngRefusedFast) {
  // Signature + IHDR declaring 60000x60000 RGB, then nothing: must be refused from the header.
  std::vector<uint8_t> p = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                            0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60, 8, 2, 0, 0, 0, 0, 0, 0, 0};
  const ImageHeader h = read_header(sp(p));
  EXPECT_EQ(h.width, 60000);
  EXPECT_EQ(h.height, 60000);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(decode_error(p), "image declares 60000x60000 pixels, over the limit of 134217728");
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 50.0);
}

TEST(Decode, HugeDeclaredJpegRefusedFast) {
  // A real JPEG whose SOF says 60000x60000; even DCT scaling would not make it small enough.
  std::vector<uint8_t> j = encode(synthetic_photo(64, 48, 6), ".jpg");
  const size_t sof = find_sof(j);
  j[sof + 5] = 0xEA; j[sof + 6] = 0x60;  // height
  j[sof + 7] = 0xEA; j[sof + 8] = 0x60;  // width
  EXPECT_EQ(read_header(sp(j)).width, 60000);
  for (int min_side : {0, 224}) {
    DecodeOptions o;
    o.min_side = min_side;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(decode_error(j, o), "image declares 60000x60000 pixels, over the limit of 134217728");
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(ms, 50.0);
  }
}

TEST(Decode, MaxPixelsOptionIsHonoured) {
  const std::vector<uint8_t> p = encode(synthetic_photo(100, 100, 6), ".png");
  DecodeOptions o;
  o.max_pixels = 9999;
  EXPECT_EQ(decode_error(p, o), "image declares 100x100 pixels, over the limit of 9999");
  o.max_pixels = 10000;
  EXPECT_EQ(decode_error(p, o), "");
}

// --- formats -----------------------------------------------------------------------------------

TEST(Decode, OnePixelImages) {
  cv::Mat one(1, 1, CV_8UC3, cv::Scalar(200, 100, 50));
  for (const char* ext : {".png", ".jpg", ".bmp", ".tiff", ".webp"}) {
    for (int min_side : {0, 224}) {
      DecodeOptions o;
      o.min_side = min_side;
      const DecodedImage d = decode_image(sp(encode(one, ext)), o);
      ASSERT_EQ(d.rgb.size(), cv::Size(1, 1)) << ext;
      EXPECT_EQ(d.header.width, 1);
      expect_near_color(px(d.rgb, 0, 0), {200, 100, 50}, 8, ext);
    }
  }
}

TEST(Decode, SixteenBitPngKeepsHighByte) {
  cv::Mat bgr16(20, 30, CV_16UC3);
  for (int y = 0; y < bgr16.rows; ++y)
    for (int x = 0; x < bgr16.cols; ++x)
      bgr16.at<cv::Vec3w>(y, x) = cv::Vec3w(uint16_t(x * 2000 + 255), uint16_t(y * 3000), 0xFFFF);
  std::vector<uint8_t> p;
  ASSERT_TRUE(cv::imencode(".png", bgr16, p));
  const DecodedImage d = decode_image(sp(p));
  ASSERT_EQ(d.rgb.type(), CV_8UC3);
  for (int y = 0; y < 20; y += 7)
    for (int x = 0; x < 30; x += 5) {
      const cv::Vec3b v = px(d.rgb, x, y);
      EXPECT_EQ(v[0], 255);                      // R (stored BGR: R is the third sample)
      EXPECT_EQ(v[1], (y * 3000) >> 8);          // G
      EXPECT_EQ(v[2], (x * 2000 + 255) >> 8);    // B
    }
}

TEST(Decode, GrayPngBecomesRgb) {
  cv::Mat gray(16, 16, CV_8UC1);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) gray.at<uint8_t>(y, x) = uint8_t(x * 16 + y);
  std::vector<uint8_t> p;
  ASSERT_TRUE(cv::imencode(".png", gray, p));
  const DecodedImage d = decode_image(sp(p));
  ASSERT_EQ(d.rgb.type(), CV_8UC3);
  EXPECT_EQ(px(d.rgb, 5, 3), cv::Vec3b(83, 83, 83));
}

TEST(Decode, GrayJpegBecomesRgb) {
  cv::Mat gray(64, 64, CV_8UC1, cv::Scalar(90));
  std::vector<uint8_t> j;
  ASSERT_TRUE(cv::imencode(".jpg", gray, j));
  const DecodedImage d = decode_image(sp(j));
  ASSERT_EQ(d.rgb.type(), CV_8UC3);
  expect_near_color(px(d.rgb, 10, 10), {90, 90, 90}, 2, "gray jpeg");
}

TEST(Decode, RgbaPngCompositedOnWhite) {
  cv::Mat bgra(10, 30, CV_8UC4);
  bgra.colRange(0, 10).setTo(cv::Scalar(0, 0, 255, 255));   // opaque red
  bgra.colRange(10, 20).setTo(cv::Scalar(0, 0, 255, 128));  // half-transparent red
  bgra.colRange(20, 30).setTo(cv::Scalar(0, 0, 0, 0));      // fully transparent black
  std::vector<uint8_t> p;
  ASSERT_TRUE(cv::imencode(".png", bgra, p));
  const DecodedImage d = decode_image(sp(p));
  ASSERT_EQ(d.rgb.type(), CV_8UC3);
  EXPECT_EQ(px(d.rgb, 5, 5), cv::Vec3b(255, 0, 0));
  expect_near_color(px(d.rgb, 15, 5), {255, 127, 127}, 1, "half alpha");
  EXPECT_EQ(px(d.rgb, 25, 5), cv::Vec3b(255, 255, 255));
}

TEST(Decode, BmpTiffWebp) {
  const cv::Mat img = synthetic_photo(97, 61, 8);
  for (const char* ext : {".bmp", ".tiff", ".webp"}) {
    const DecodedImage d = decode_image(sp(encode(img, ext)));
    EXPECT_EQ(d.header.width, 97) << ext;
    EXPECT_EQ(d.header.height, 61) << ext;
    EXPECT_LT(mean_abs_diff(d.rgb, img), std::string(ext) == ".webp" ? 3.0 : 0.001) << ext;
  }
  EXPECT_EQ(decode_image(sp(encode(img, ".webp"))).header.format, ImageFormat::webp);
}

TEST(Decode, TopDownBmpWithNegativeHeight) {
  const cv::Mat img = synthetic_photo(20, 10, 9);
  std::vector<uint8_t> b = encode(img, ".bmp");  // OpenCV writes bottom-up rows
  const int32_t h = -10;
  std::memcpy(&b[22], &h, 4);  // little-endian host: now the same rows read top-down
  const DecodedImage d = decode_image(sp(b));
  EXPECT_EQ(d.header.height, 10);
  cv::Mat flipped;
  cv::flip(img, flipped, 0);
  EXPECT_EQ(mean_abs_diff(d.rgb, flipped), 0.0);
}

// Writes a GIF in memory with giflib.
struct GifWriter {
  std::vector<uint8_t> bytes;
  static int write(GifFileType* g, const GifByteType* buf, int len) {
    auto* self = static_cast<GifWriter*>(g->UserData);
    self->bytes.insert(self->bytes.end(), buf, buf + len);
    return len;
  }
};

// A 20x10 GIF: global palette {black, green, blue, magenta}, background index 1 (green).
// Frame 1: 8x4 at (5, 3), local palette {red, white, yellow, cyan}, rows alternate red/yellow,
// pixel (0, 0) of the frame uses index `transparent` when >= 0. Frame 2 covers all in blue.
std::vector<uint8_t> make_gif(int transparent, bool interlace) {
  GifWriter w;
  int err = 0;
  GifFileType* g = EGifOpen(&w, GifWriter::write, &err);
  EXPECT_NE(g, nullptr);
  EGifSetGifVersion(g, true);
  const GifColorType global[4] = {{0, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 0, 255}};
  const GifColorType local[4] = {{255, 0, 0}, {255, 255, 255}, {255, 255, 0}, {0, 255, 255}};
  ColorMapObject* gmap = GifMakeMapObject(4, global);
  ColorMapObject* lmap = GifMakeMapObject(4, local);
  EXPECT_EQ(EGifPutScreenDesc(g, 20, 10, 2, 1, gmap), GIF_OK);
  if (transparent >= 0) {
    GraphicsControlBlock gcb{DISPOSAL_UNSPECIFIED, false, 10, transparent};
    GifByteType ext[4];
    const size_t n = EGifGCBToExtension(&gcb, ext);
    EXPECT_EQ(EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, int(n), ext), GIF_OK);
  }
  EXPECT_EQ(EGifPutImageDesc(g, 5, 3, 8, 4, interlace, lmap), GIF_OK);
  // With interlace, giflib expects rows in interlaced order: 0, then 2, then 1, 3 for 4 rows.
  const int order_plain[] = {0, 1, 2, 3}, order_interlaced[] = {0, 2, 1, 3};
  for (int i = 0; i < 4; ++i) {
    const int row = interlace ? order_interlaced[i] : order_plain[i];
    GifPixelType line[8];
    for (int x = 0; x < 8; ++x) line[x] = GifPixelType(row % 2 ? 2 : 0);
    if (row == 0 && transparent >= 0) line[0] = GifPixelType(transparent);
    EXPECT_EQ(EGifPutLine(g, line, 8), GIF_OK);
  }
  // giflib 5.2 drops (leaks) the previous frame's local map when the next frame has none.
  GifFreeMapObject(g->Image.ColorMap);
  g->Image.ColorMap = nullptr;
  EXPECT_EQ(EGifPutImageDesc(g, 0, 0, 20, 10, false, nullptr), GIF_OK);
  std::vector<GifPixelType> blue(20, 2);
  for (int y = 0; y < 10; ++y) EXPECT_EQ(EGifPutLine(g, blue.data(), 20), GIF_OK);
  EXPECT_EQ(EGifCloseFile(g, &err), GIF_OK);
  GifFreeMapObject(gmap);
  GifFreeMapObject(lmap);
  return w.bytes;
}

TEST(Decode, GifFirstFrameOnBackground) {
  for (bool interlace : {false, true}) {
    const std::vector<uint8_t> gif = make_gif(-1, interlace);
    ASSERT_EQ(sniff_format(sp(gif)), ImageFormat::gif);
    const DecodedImage d = decode_image(sp(gif));
    EXPECT_EQ(d.header.format, ImageFormat::gif);
    ASSERT_EQ(d.rgb.size(), cv::Size(20, 10));
    EXPECT_EQ(px(d.rgb, 0, 0), cv::Vec3b(0, 255, 0)) << "background colour outside the frame";
    EXPECT_EQ(px(d.rgb, 19, 9), cv::Vec3b(0, 255, 0));
    EXPECT_EQ(px(d.rgb, 5, 3), cv::Vec3b(255, 0, 0)) << "frame row 0, local palette";
    EXPECT_EQ(px(d.rgb, 12, 4), cv::Vec3b(255, 255, 0)) << "frame row 1";
    EXPECT_EQ(px(d.rgb, 12, 6), cv::Vec3b(255, 255, 0)) << "frame row 3";
    EXPECT_EQ(px(d.rgb, 13, 3), cv::Vec3b(0, 255, 0)) << "right of the frame";
  }
}

TEST(Decode, GifTransparencyShowsWhite) {
  const DecodedImage d = decode_image(sp(make_gif(3, false)));
  EXPECT_EQ(px(d.rgb, 5, 3), cv::Vec3b(255, 255, 255)) << "transparent pixel";
  EXPECT_EQ(px(d.rgb, 6, 3), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(px(d.rgb, 0, 0), cv::Vec3b(255, 255, 255)) << "outside the frame of a transparent GIF";
}

TEST(Decode, TruncatedGif) {
  std::vector<uint8_t> gif = make_gif(-1, false);
  gif.resize(40);
  const std::string err = decode_error(gif);
  EXPECT_FALSE(err.empty());
  EXPECT_TRUE(err.find("GIF") != std::string::npos) << err;
}

// Compresses CMYK samples with TurboJPEG (which writes a YCCK JPEG with an Adobe marker).
std::vector<uint8_t> tj_cmyk_jpeg(const cv::Mat& cmyk) {
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(tj, cmyk.data, cmyk.cols, int(cmyk.step), cmyk.rows, TJPF_CMYK, &buf, &size,
                        TJSAMP_444, 95, 0), 0) << tjGetErrorStr2(tj);
  std::vector<uint8_t> out(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  return out;
}

TEST(Decode, CmykJpegAdobeInverted) {
  // Photoshop convention: samples are 255 - ink. Quadrants: red, green, blue, 50% gray.
  auto inv = [](int c, int m, int y, int k) { return cv::Scalar(255 - c, 255 - m, 255 - y, 255 - k); };
  cv::Mat cmyk(32, 32, CV_8UC4);
  cmyk(cv::Rect(0, 0, 16, 16)).setTo(inv(0, 255, 255, 0));
  cmyk(cv::Rect(16, 0, 16, 16)).setTo(inv(255, 0, 255, 0));
  cmyk(cv::Rect(0, 16, 16, 16)).setTo(inv(255, 255, 0, 0));
  cmyk(cv::Rect(16, 16, 16, 16)).setTo(inv(0, 0, 0, 128));
  const std::vector<uint8_t> j = tj_cmyk_jpeg(cmyk);
  const DecodedImage d = decode_image(sp(j));
  ASSERT_EQ(d.rgb.type(), CV_8UC3);
  expect_near_color(px(d.rgb, 8, 8), {255, 0, 0}, 6, "red");
  expect_near_color(px(d.rgb, 24, 8), {0, 255, 0}, 6, "green");
  expect_near_color(px(d.rgb, 8, 24), {0, 0, 255}, 6, "blue");
  expect_near_color(px(d.rgb, 24, 24), {127, 127, 127}, 6, "gray");
}

TEST(Decode, CmykJpegFromImageMagick) {
  // A CMYK JPEG as a real producer writes it, when ImageMagick is installed.
  if (std::system("command -v convert >/dev/null 2>&1") != 0) GTEST_SKIP() << "ImageMagick convert not installed";
  TempDir dir("decode-cmyk-im");
  cv::Mat bgr(32, 32, CV_8UC3, cv::Scalar(0, 0, 255));  // red
  bgr(cv::Rect(16, 0, 16, 32)).setTo(cv::Scalar(255, 0, 0));  // blue right half
  cv::imwrite((dir / "in.png").string(), bgr);
  const std::string cmd = "convert '" + (dir / "in.png").string() + "' -colorspace CMYK -quality 95 '" +
                          (dir / "out.jpg").string() + "' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "convert failed";
  const DecodedImage d = decode_image(sp(test::read_file(dir / "out.jpg")));
  expect_near_color(px(d.rgb, 8, 16), {255, 0, 0}, 12, "red");
  expect_near_color(px(d.rgb, 24, 16), {0, 0, 255}, 12, "blue");
}

// --- JPEG DCT scaling --------------------------------------------------------------------------

TEST(Decode, JpegDctScaling) {
  const std::vector<uint8_t> j = encode(synthetic_photo(2000, 1500, 10), ".jpg");
  struct Case { int min_side, w, h; };
  // The smallest of TurboJPEG's factors (1/8, 1/4, 3/8, ...) with both sides >= min_side:
  // 224 needs 1/4 (500x375), since 1/8 gives 250x188 and 188 < 224; 1000 needs 3/4 (5/8 gives 938).
  for (const Case c : {Case{0, 2000, 1500}, Case{32, 250, 188}, Case{188, 250, 188}, Case{189, 500, 375},
                       Case{224, 500, 375}, Case{1000, 1500, 1125}, Case{1500, 2000, 1500}, Case{1501, 2000, 1500}}) {
    DecodeOptions o;
    o.min_side = c.min_side;
    const DecodedImage d = decode_image(sp(j), o);
    EXPECT_EQ(d.rgb.cols, c.w) << "min_side " << c.min_side;
    EXPECT_EQ(d.rgb.rows, c.h) << "min_side " << c.min_side;
    EXPECT_EQ(d.header.width, 2000);
    EXPECT_EQ(d.header.height, 1500);
  }
}

TEST(Decode, NonJpegShrinksLikeJpegWhenMuchLarger) {
  const cv::Mat img = synthetic_photo(800, 600, 11);
  const std::vector<uint8_t> p = encode(img, ".png"), j = encode(img, ".jpg", 95);
  for (int min_side : {32, 100, 300, 400}) {
    DecodeOptions o;
    o.min_side = min_side;
    const DecodedImage dp = decode_image(sp(p), o), dj = decode_image(sp(j), o);
    if (min_side <= 300) {
      EXPECT_EQ(dp.rgb.size(), dj.rgb.size()) << min_side;  // shrunk to the DCT size (factor <= 1/2)
    } else {
      EXPECT_EQ(dp.rgb.size(), cv::Size(800, 600)) << min_side;  // 5/8 would do: kept at full size
    }
    EXPECT_GE(std::min(dp.rgb.cols, dp.rgb.rows), min_side);
  }
}

TEST(Decode, JpegAndPngOfSamePhotoAgree) {
  const cv::Mat img = synthetic_photo(640, 480, 12);
  const DecodedImage dj = decode_image(sp(encode(img, ".jpg", 92)));
  const DecodedImage dp = decode_image(sp(encode(img, ".png")));
  EXPECT_EQ(dj.header.format, ImageFormat::jpeg);
  EXPECT_EQ(dp.header.format, ImageFormat::png);
  EXPECT_LT(mean_abs_diff(dj.rgb, dp.rgb), 3.0);
  // Scaled: JPEG at 1/4 DCT scale, PNG area-shrunk to the same size.
  DecodeOptions o;
  o.min_side = 100;
  const DecodedImage sj = decode_image(sp(encode(img, ".jpg", 92)), o);
  const DecodedImage spng = decode_image(sp(encode(img, ".png")), o);
  EXPECT_EQ(sj.rgb.size(), cv::Size(160, 120));
  EXPECT_LT(mean_abs_diff(sj.rgb, spng.rgb), 4.0);
}

// --- EXIF orientation --------------------------------------------------------------------------

// A 64x48 gray image with a red 12x12 marker in the stored top-left corner.
cv::Mat marker_image() {
  cv::Mat img(48, 64, CV_8UC3, cv::Scalar(128, 128, 128));
  img(cv::Rect(0, 0, 12, 12)).setTo(cv::Scalar(255, 0, 0));
  return img;
}

TEST(Decode, ExifOrientation6RotatesClockwise) {
  const std::vector<uint8_t> j = with_exif_orientation(encode(marker_image(), ".jpg", 95), 6);
  const DecodedImage d = decode_image(sp(j));
  EXPECT_EQ(d.orientation, 6);
  EXPECT_EQ(d.header.width, 64);  // as stored
  EXPECT_EQ(d.header.height, 48);
  ASSERT_EQ(d.rgb.cols, 48);      // displayed: rotated 90 degrees clockwise
  ASSERT_EQ(d.rgb.rows, 64);
  expect_near_color(px(d.rgb, 47 - 5, 5), {255, 0, 0}, 20, "marker now top-right");
  expect_near_color(px(d.rgb, 5, 5), {128, 128, 128}, 20, "top-left is background");
  EXPECT_EQ(oriented_header(d.header, d.orientation).width, d.rgb.cols);
}

TEST(Decode, AllEightExifOrientations) {
  // Where the stored top-left marker ends up: 0 TL, 1 TR, 2 BR, 3 BL.
  const int corner[9] = {0, 0, 1, 2, 3, 0, 1, 2, 3};
  const std::vector<uint8_t> plain = encode(marker_image(), ".jpg", 95);
  for (int o = 1; o <= 8; ++o) {
    DecodeOptions opts;
    opts.min_side = o % 2 ? 0 : 20;  // also with DCT scaling
    const DecodedImage d = decode_image(sp(with_exif_orientation(plain, o)), opts);
    EXPECT_EQ(d.orientation, o);
    const int W = d.rgb.cols, H = d.rgb.rows;
    EXPECT_EQ(W > H, o < 5) << o;
    const int m = 2;
    const cv::Point pts[4] = {{m, m}, {W - 1 - m, m}, {W - 1 - m, H - 1 - m}, {m, H - 1 - m}};
    for (int c = 0; c < 4; ++c) {
      const cv::Vec3b want = c == corner[o] ? cv::Vec3b(255, 0, 0) : cv::Vec3b(128, 128, 128);
      expect_near_color(px(d.rgb, pts[c].x, pts[c].y), want, 30,
                        "orientation " + std::to_string(o) + " corner " + std::to_string(c));
    }
  }
}

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}
void put_le(std::vector<uint8_t>& v, uint32_t x, int bytes) {
  for (int i = 0; i < bytes; ++i) v.push_back(uint8_t(x >> (8 * i)));
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFF;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320 & (0u - (c & 1)));
  }
  return c ^ 0xFFFFFFFF;
}

// Checks that the red marker of marker_image() shows in the expected corner (0 TL, 1 TR, 2 BR, 3 BL).
void expect_marker_corner(const cv::Mat& rgb, int corner, const std::string& what) {
  const int W = rgb.cols, H = rgb.rows, m = 2;
  const cv::Point pts[4] = {{m, m}, {W - 1 - m, m}, {W - 1 - m, H - 1 - m}, {m, H - 1 - m}};
  for (int c = 0; c < 4; ++c) {
    const cv::Vec3b want = c == corner ? cv::Vec3b(255, 0, 0) : cv::Vec3b(128, 128, 128);
    expect_near_color(px(rgb, pts[c].x, pts[c].y), want, 30, what + " corner " + std::to_string(c));
  }
}

// An uncompressed little-endian RGB TIFF written by hand, with the given Orientation tag.
std::vector<uint8_t> handmade_tiff(const cv::Mat& img, int orientation) {
  const uint32_t W = uint32_t(img.cols), H = uint32_t(img.rows), data_at = 8 + 2 + 10 * 12 + 4 + 8;
  std::vector<uint8_t> t = {'I', 'I', 42, 0, 8, 0, 0, 0};
  put_le(t, 10, 2);
  const auto entry = [&](uint32_t tag, uint32_t type, uint32_t count, uint32_t value) {
    put_le(t, tag, 2), put_le(t, type, 2), put_le(t, count, 4), put_le(t, value, 4);
  };
  entry(256, 3, 1, W);
  entry(257, 3, 1, H);
  entry(258, 3, 3, 8 + 2 + 10 * 12 + 4);  // BitsPerSample 8,8,8 stored after the IFD
  entry(259, 3, 1, 1);                    // no compression
  entry(262, 3, 1, 2);                    // RGB
  entry(273, 4, 1, data_at);              // StripOffsets
  entry(274, 3, 1, uint32_t(orientation));
  entry(277, 3, 1, 3);                    // SamplesPerPixel
  entry(278, 3, 1, H);                    // RowsPerStrip
  entry(279, 4, 1, W * H * 3);            // StripByteCounts
  put_le(t, 0, 4);
  put_le(t, 8, 2), put_le(t, 8, 2), put_le(t, 8, 2), put_le(t, 0, 2);
  EXPECT_EQ(t.size(), data_at);
  t.insert(t.end(), img.data, img.data + img.total() * 3);
  return t;
}

TEST(Decode, TiffOrientationTagIsApplied) {
  // OpenCV's TIFF decoder rotates by itself; we must record the tag and not rotate twice.
  const int corner[9] = {0, 0, 1, 2, 3, 0, 1, 2, 3};
  for (int o = 1; o <= 8; ++o) {
    const std::vector<uint8_t> t = handmade_tiff(marker_image(), o);
    const ImageHeader h = read_header(sp(t));
    EXPECT_EQ(h.width, 64);  // as stored
    const DecodedImage d = decode_image(sp(t));
    EXPECT_EQ(d.orientation, o);
    ASSERT_EQ(d.rgb.size(), o >= 5 ? cv::Size(48, 64) : cv::Size(64, 48)) << o;
    expect_marker_corner(d.rgb, corner[o], "tiff orientation " + std::to_string(o));
  }
}

// A PNG with an eXIf chunk holding the orientation, inserted right after IHDR (8 + 25 bytes).
std::vector<uint8_t> png_with_exif_orientation(const std::vector<uint8_t>& png, int orientation) {
  const std::vector<uint8_t> exif = exif_tiff(orientation);
  std::vector<uint8_t> chunk;
  put_be32(chunk, uint32_t(exif.size()));
  chunk.insert(chunk.end(), {'e', 'X', 'I', 'f'});
  chunk.insert(chunk.end(), exif.begin(), exif.end());
  put_be32(chunk, crc32(chunk.data() + 4, chunk.size() - 4));
  std::vector<uint8_t> p = png;
  p.insert(p.begin() + 33, chunk.begin(), chunk.end());
  return p;
}

TEST(Decode, PngExifChunkOrientation) {
  const DecodedImage d = decode_image(sp(png_with_exif_orientation(encode(marker_image(), ".png"), 8)));
  EXPECT_EQ(d.orientation, 8);
  ASSERT_EQ(d.rgb.size(), cv::Size(48, 64));
  expect_marker_corner(d.rgb, 3, "png orientation 8");
}

TEST(Decode, WebpExifChunkOrientation) {
  // Wraps OpenCV's simple-format WebP into an extended (VP8X) one with an EXIF chunk.
  const cv::Mat img = marker_image();
  cv::Mat bgr;
  cv::cvtColor(img, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> simple;
  ASSERT_TRUE(cv::imencode(".webp", bgr, simple, {cv::IMWRITE_WEBP_QUALITY, 101}));  // lossless
  ASSERT_GE(simple.size(), 20u);
  const std::vector<uint8_t> image_chunk(simple.begin() + 12, simple.end());
  const std::vector<uint8_t> exif = exif_tiff(3);
  std::vector<uint8_t> body = {'W', 'E', 'B', 'P', 'V', 'P', '8', 'X'};
  put_le(body, 10, 4);
  put_le(body, 0x08, 4);  // flags: EXIF present
  put_le(body, uint32_t(img.cols - 1), 3);
  put_le(body, uint32_t(img.rows - 1), 3);
  body.insert(body.end(), image_chunk.begin(), image_chunk.end());
  body.insert(body.end(), {'E', 'X', 'I', 'F'});
  put_le(body, uint32_t(exif.size()), 4);
  body.insert(body.end(), exif.begin(), exif.end());
  std::vector<uint8_t> w = {'R', 'I', 'F', 'F'};
  put_le(w, uint32_t(body.size()), 4);
  w.insert(w.end(), body.begin(), body.end());
  EXPECT_EQ(read_header(sp(w)).width, 64);
  const DecodedImage d = decode_image(sp(w));
  EXPECT_EQ(d.orientation, 3);
  ASSERT_EQ(d.rgb.size(), cv::Size(64, 48));
  expect_marker_corner(d.rgb, 2, "webp orientation 3");
}

// decode_image_sizes gives for each size exactly what decode_image gives for it alone: `index`
// relies on it so that the hashes do not depend on whether a CNN runs in the same pass.
TEST(Decode, SeveralSizesEqualSingleDecodes) {
  const cv::Mat photo = synthetic_photo(1000, 750, 13);
  // A rotated JPEG (scales shared or not), a PNG (one decode shrunk per size), and a small PNG
  // mirrored by its Exif (cv::flip works in place: sizes that are not shrunk must not share it).
  const std::vector<std::vector<uint8_t>> files = {with_exif_orientation(encode(photo, ".jpg", 90), 6),
                                                   encode(photo, ".png"),
                                                   png_with_exif_orientation(encode(marker_image(), ".png"), 2)};
  const std::vector<int> sides = {32, 224, 0, 30, 40, 20};
  for (size_t f = 0; f < files.size(); ++f) {
    const std::vector<DecodedImage> all = decode_image_sizes(sp(files[f]), {}, sides);
    ASSERT_EQ(all.size(), sides.size());
    for (size_t i = 0; i < sides.size(); ++i) {
      DecodeOptions o;
      o.min_side = sides[i];
      const DecodedImage one = decode_image(sp(files[f]), o);
      const std::string what = "file " + std::to_string(f) + " min_side " + std::to_string(sides[i]);
      EXPECT_EQ(all[i].orientation, one.orientation) << what;
      EXPECT_EQ(all[i].header.width, one.header.width) << what;
      ASSERT_EQ(all[i].rgb.size(), one.rgb.size()) << what;
      EXPECT_EQ(cv::norm(all[i].rgb, one.rgb, cv::NORM_INF), 0) << what;
    }
    std::set<std::pair<int, int>> distinct;
    for (const auto& d : all) distinct.insert({d.rgb.cols, d.rgb.rows});
    EXPECT_GE(distinct.size(), 2u) << "file " << f << ": the sizes must differ to test anything";
  }
  const auto mirrored = decode_image_sizes(sp(files[2]), {}, sides);
  expect_marker_corner(mirrored[2].rgb, 1, "mirrored, full size");
  expect_marker_corner(mirrored[4].rgb, 1, "mirrored, same pixels as full size");
}

// --- grey decode -------------------------------------------------------------------------------

cv::Mat gray_of(const cv::Mat& rgb) {
  cv::Mat g;
  cv::cvtColor(rgb, g, cv::COLOR_RGB2GRAY);
  return g;
}

double mean_abs_gray_diff(const cv::Mat& a, const cv::Mat& b) { return cv::norm(a, b, cv::NORM_L1) / double(a.total()); }

TEST(DecodeGray, JpegLumaIsTheGreyOfItsRgbDecode) {
  // 4:2:0 and 4:4:4, full size and DCT-scaled, Exif-rotated: the same size as decode_image and
  // grey levels within a level or two of its RGB converted (the RGB passes through clamping).
  const cv::Mat photo = synthetic_photo(640, 480, 21);
  for (const int quality : {75, 95}) {
    for (const int orientation : {1, 6}) {
      const std::vector<uint8_t> j = with_exif_orientation(encode(photo, ".jpg", quality), orientation);
      for (const int side : {0, 256, 100}) {
        DecodeOptions o;
        o.min_side = side;
        SCOPED_TRACE(testing::Message() << "q" << quality << " orientation " << orientation << " min_side " << side);
        const cv::Mat g = decode_gray(sp(j), o);
        const cv::Mat want = gray_of(decode_image(sp(j), o).rgb);
        ASSERT_EQ(g.type(), CV_8UC1);
        ASSERT_EQ(g.size(), want.size());
        EXPECT_LT(mean_abs_gray_diff(g, want), 1.0);
      }
    }
  }
}

TEST(DecodeGray, IsTheLumaPlaneNotTheClampedRgb) {
  // Luma 128 with both chroma samples at 255 lies outside the RGB cube: the RGB decode clamps it
  // to magenta (255, 0, 255), whose grey is ~105; the luma plane keeps 128.
  const int side = 16;
  std::vector<uint8_t> yuv(size_t(side) * side * 3);
  std::fill(yuv.begin(), yuv.begin() + side * side, uint8_t(128));
  std::fill(yuv.begin() + side * side, yuv.end(), uint8_t(255));
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = tjCompressFromYUV(tj, yuv.data(), side, 1, side, TJSAMP_444, &buf, &size, 100, 0);
  const std::string error = tjGetErrorStr2(tj);
  const std::vector<uint8_t> j(buf, buf + (rc == 0 ? size : 0));
  tjFree(buf);
  tjDestroy(tj);
  ASSERT_EQ(rc, 0) << error;
  const cv::Mat g = decode_gray(sp(j));
  const cv::Mat rgb = decode_image(sp(j)).rgb;
  expect_near_color(px(rgb, 8, 8), {255, 0, 255}, 2, "the RGB decode clamps");
  EXPECT_NEAR(int(g.at<uint8_t>(8, 8)), 128, 1);
  EXPECT_NEAR(int(gray_of(rgb).at<uint8_t>(8, 8)), 105, 2);
}

TEST(DecodeGray, ExifOrientationIsApplied) {
  const std::vector<uint8_t> plain = encode(marker_image(), ".jpg", 95);
  for (int o = 1; o <= 8; ++o) {
    const std::vector<uint8_t> j = with_exif_orientation(plain, o);
    const cv::Mat g = decode_gray(sp(j));
    const cv::Mat want = gray_of(decode_image(sp(j)).rgb);
    ASSERT_EQ(g.size(), want.size()) << "orientation " << o;
    EXPECT_LT(mean_abs_gray_diff(g, want), 1.0) << "orientation " << o;
  }
}

TEST(DecodeGray, OtherFormatsAndCmykAreTheirRgbConverted) {
  cv::Mat cmyk(32, 32, CV_8UC4, cv::Scalar(200, 40, 90, 230));
  cmyk(cv::Rect(0, 0, 16, 32)).setTo(cv::Scalar(10, 240, 120, 200));
  const cv::Mat photo = synthetic_photo(300, 200, 22);
  for (const auto& file : {tj_cmyk_jpeg(cmyk), encode(photo, ".png"), encode(photo, ".webp"), make_gif(3, true),
                           png_with_exif_orientation(encode(marker_image(), ".png"), 6)}) {
    DecodeOptions o;
    o.min_side = 40;
    const cv::Mat g = decode_gray(sp(file), o);
    ASSERT_EQ(g.type(), CV_8UC1);
    EXPECT_EQ(cv::norm(g, gray_of(decode_image(sp(file), o).rgb), cv::NORM_INF), 0) << format_name(sniff_format(sp(file)));
  }
}

TEST(DecodeGray, RefusesWhatDecodeImageRefuses) {
  std::vector<uint8_t> truncated = encode(synthetic_photo(400, 300, 3), ".jpg");
  truncated.resize(truncated.size() / 2);
  DecodeOptions tiny;
  tiny.max_pixels = 1000;
  const std::vector<uint8_t> photo = encode(synthetic_photo(400, 300, 3), ".jpg");
  for (const auto& [bytes, opts] : {std::pair{std::vector<uint8_t>{}, DecodeOptions{}}, std::pair{truncated, DecodeOptions{}},
                                    std::pair{std::vector<uint8_t>{'n', 'o', 't'}, DecodeOptions{}}, std::pair{photo, tiny}}) {
    const std::string want = decode_error(bytes, opts);
    ASSERT_FALSE(want.empty());
    try {
      decode_gray(sp(bytes), opts);
      ADD_FAILURE() << "decoded what decode_image refuses: " << want;
    } catch (const DecodeError& e) {
      EXPECT_EQ(e.what(), want);
    }
  }
}

TEST(Decode, JpegWithoutExifHasOrientation1) {
  EXPECT_EQ(decode_image(sp(encode(marker_image(), ".jpg"))).orientation, 1);
}

// --- speed -------------------------------------------------------------------------------------

TEST(Decode, MegapixelJpegAtSmallScaleIsFast) {
  const std::vector<uint8_t> j = encode(synthetic_photo(1200, 900, 13), ".jpg");
  DecodeOptions o;
  o.min_side = 32;
  decode_image(sp(j), o);  // warm up
  const int n = 20;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) decode_image(sp(j), o);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
  RecordProperty("ms_per_decode", std::to_string(ms));
  std::printf("1.08 MP JPEG at 1/8 scale: %.2f ms per decode\n", ms);
  EXPECT_LT(ms, 25.0);  // ~1-2 ms on an idle core; generous for a shared CI machine
}

}  // namespace
}  // namespace irbis

namespace irbis {
namespace {

// Damaged files of every format: each must decode or throw DecodeError, never crash or throw
// anything else.
TEST(Decode, DamagedFilesNeverCrash) {
  const cv::Mat img = synthetic_photo(64, 48, 14);
  std::vector<std::vector<uint8_t>> files;
  for (const char* ext : {".jpg", ".png", ".webp", ".bmp", ".tiff"}) files.push_back(encode(img, ext));
  files.push_back(make_gif(3, true));
  files.push_back(with_exif_orientation(encode(img, ".jpg"), 6));
  std::mt19937 rng(15);
  int decoded = 0, refused = 0;
  for (const std::vector<uint8_t>& f : files) {
    std::vector<std::vector<uint8_t>> variants;
    for (size_t cut = 1; cut < f.size(); cut += std::max<size_t>(1, f.size() / 40)) {
      variants.emplace_back(f.begin(), f.begin() + long(cut));
    }
    for (int i = 0; i < 40; ++i) {
      std::vector<uint8_t> v = f;
      const size_t at = std::uniform_int_distribution<size_t>(0, std::min<size_t>(v.size() - 1, 200))(rng);
      v[at] ^= uint8_t(1 + rng() % 255);  // damage the headers most
      variants.push_back(std::move(v));
    }
    for (const auto& v : variants) {
      for (int min_side : {0, 16}) {
        DecodeOptions o;
        o.min_side = min_side;
        try {
          const DecodedImage d = decode_image(sp(v), o);
          EXPECT_EQ(d.rgb.type(), CV_8UC3);
          EXPECT_FALSE(d.rgb.empty());
          ++decoded;
        } catch (const DecodeError&) {
          ++refused;
        }
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace irbis
