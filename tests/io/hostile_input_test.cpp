// Regression tests for the decoder defects of issue 16 (D1-D3) and for the pixel limit covering
// what the decoders really allocate. Every hostile file is generated here.
#include <chrono>
#include <cstring>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <turbojpeg.h>

#include "io/io_internal.h"
#include "irbis/errors.h"
#include "irbis/image.h"
#include "test_util.h"

namespace irbis {
namespace {

using test::encode;
using test::decode_error;
using test::synthetic_photo;

std::span<const uint8_t> sp(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

std::string header_error(std::span<const uint8_t> bytes) {
  try {
    read_header(bytes);
  } catch (const DecodeError& e) {
    return e.what();
  }
  return "";
}

void put_le(std::vector<uint8_t>& v, uint32_t x, int n) {
  for (int i = 0; i < n; ++i) v.push_back(uint8_t(x >> (8 * i)));
}

// Bytes placed so that they end exactly where an inaccessible page begins: any read past the end
// is a SIGSEGV even without AddressSanitizer.
class GuardedBytes {
 public:
  explicit GuardedBytes(const std::vector<uint8_t>& bytes) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    pages_ = (bytes.size() + page - 1) / page + 1;
    map_size_ = pages_ * page;
    void* m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<uint8_t*>(m);
    uint8_t* guard = base_ + map_size_ - page;
    if (mprotect(guard, page, PROT_NONE) != 0) throw std::runtime_error("mprotect failed");
    data_ = guard - bytes.size();
    if (!bytes.empty()) std::memcpy(data_, bytes.data(), bytes.size());
    size_ = bytes.size();
  }
  ~GuardedBytes() { munmap(base_, map_size_); }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  std::span<const uint8_t> span() const { return {data_, size_}; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t size_ = 0, pages_ = 0, map_size_ = 0;
};

// --- D1: TIFF with its size tags given twice ----------------------------------------------------

// A little-endian 8-bit grayscale TIFF whose IFD0 holds `size_entries` (tag, type, value) before the
// usual tags; the single pixel row of `w` bytes follows the IFD.
std::vector<uint8_t> tiff_with_entries(const std::vector<std::array<uint32_t, 3>>& size_entries, uint32_t w) {
  const uint32_t n = uint32_t(size_entries.size()) + 7, data_at = 8 + 2 + n * 12 + 4;
  std::vector<uint8_t> t = {'I', 'I', 42, 0, 8, 0, 0, 0};
  put_le(t, n, 2);
  const auto entry = [&](uint32_t tag, uint32_t type, uint32_t value) {
    put_le(t, tag, 2), put_le(t, type, 2), put_le(t, 1, 4), put_le(t, value, 4);
  };
  for (const auto& e : size_entries) entry(e[0], e[1], e[2]);
  entry(258, 3, 8);        // BitsPerSample
  entry(259, 3, 1);        // no compression
  entry(262, 3, 1);        // BlackIsZero
  entry(273, 4, data_at);  // StripOffsets
  entry(277, 3, 1);        // SamplesPerPixel
  entry(278, 4, 1);        // RowsPerStrip
  entry(279, 4, w);        // StripByteCounts
  put_le(t, 0, 4);
  t.resize(t.size() + w, 0x80);
  return t;
}

TEST(HostileTiff, RepeatedSizeTagsAreRefused) {
  // libtiff decodes the first ImageWidth/ImageLength (4000x4000 here), a last-tag-wins reader
  // would check 1x1: the file must not pass the pixel limit as a tiny image.
  const std::vector<uint8_t> t = tiff_with_entries({{256, 4, 4000}, {257, 4, 4000}, {256, 3, 1}, {257, 3, 1}}, 1);
  EXPECT_NE(header_error(sp(t)).find("repeated ImageWidth tag"), std::string::npos) << header_error(sp(t));
  DecodeOptions o;
  o.max_pixels = 1000000;
  const std::string err = decode_error(sp(t), o);
  EXPECT_NE(err.find("malformed TIFF header: repeated ImageWidth tag"), std::string::npos) << err;
  // The other order too (1x1 first): refused, not decoded as whichever tag a reader prefers.
  const std::vector<uint8_t> t2 = tiff_with_entries({{256, 3, 1}, {257, 3, 1}, {257, 4, 4000}}, 1);
  EXPECT_NE(header_error(sp(t2)).find("repeated ImageLength tag"), std::string::npos) << header_error(sp(t2));
}

TEST(HostileTiff, SizeTagOfUnreadableTypeIsRefused) {
  // ImageWidth as RATIONAL (5): libtiff and we would disagree on its value.
  const std::vector<uint8_t> t = tiff_with_entries({{256, 5, 1}, {257, 3, 1}}, 1);
  EXPECT_NE(header_error(sp(t)).find("ImageWidth tag has an unsupported type or count"), std::string::npos)
      << header_error(sp(t));
}

TEST(HostileTiff, ValidHandmadeTiffStillDecodes) {
  const std::vector<uint8_t> t = tiff_with_entries({{256, 3, 5}, {257, 1, 1}}, 5);  // ImageLength as BYTE
  const ImageHeader h = read_header(sp(t));
  EXPECT_EQ(h.width, 5);
  EXPECT_EQ(h.height, 1);
  const DecodedImage d = decode_image(sp(t));
  EXPECT_EQ(d.rgb.size(), cv::Size(5, 1));
  EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 4), cv::Vec3b(0x80, 0x80, 0x80));
}

TEST(HostileTiff, HugeTilesOrStripsOfATinyImageAreRefused) {
  // OpenCV reads a tile (or strip) at a time into a buffer of that size: 8192x8192 tiles on a 1x1
  // image would cost 256 MB; the tile must fit the pixel limit like the image.
  DecodeOptions o;
  o.max_pixels = 1000000;
  const std::vector<uint8_t> tiles = tiff_with_entries({{256, 3, 1}, {257, 3, 1}, {322, 3, 8192}, {323, 3, 8192}}, 1);
  std::string err = decode_error(sp(tiles), o);
  EXPECT_NE(err.find("8192x8192 pixel tiles or strips, over the limit"), std::string::npos) << err;
  const std::vector<uint8_t> strip = tiff_with_entries({{256, 3, 2000}, {257, 3, 1}}, 2000);
  std::vector<uint8_t> tall = strip;
  // RowsPerStrip (the 6th entry after the two size tags) = 10,000 rows of 2000 pixels.
  const size_t rps_value = 8 + 2 + (2 + 5) * 12 + 8;
  ASSERT_EQ(tall[rps_value - 8], 278 & 0xFF);
  tall[rps_value] = 0x10, tall[rps_value + 1] = 0x27;  // 10000
  err = decode_error(sp(tall), o);
  EXPECT_NE(err.find("2000x10000 pixel tiles or strips"), std::string::npos) << err;
  EXPECT_EQ(decode_error(sp(strip), o), "");  // RowsPerStrip 1: fine
}

// --- D2: progressive JPEG with thousands of scans ------------------------------------------------

// A progressive JPEG with its last scan (SOS .. EOI) repeated `extra` more times.
std::vector<uint8_t> jpeg_with_extra_scans(int extra) {
  const cv::Mat img = synthetic_photo(256, 256, 5);
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(tj, img.data, img.cols, int(img.step), img.rows, TJPF_RGB, &buf, &size, TJSAMP_420, 90,
                        TJFLAG_PROGRESSIVE),
            0);
  std::vector<uint8_t> j(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  size_t last_sos = 0;
  for (size_t i = 2; i + 1 < j.size(); ++i) {
    if (j[i] == 0xFF && j[i + 1] == 0xDA) last_sos = i;
  }
  EXPECT_GT(last_sos, 0u);
  const std::vector<uint8_t> scan(j.begin() + long(last_sos), j.end() - 2);  // without EOI
  std::vector<uint8_t> out(j.begin(), j.end() - 2);
  for (int i = 0; i < extra; ++i) out.insert(out.end(), scan.begin(), scan.end());
  out.push_back(0xFF), out.push_back(0xD9);
  return out;
}

TEST(HostileJpeg, TooManyScansAreRefused) {
  const std::vector<uint8_t> ok = jpeg_with_extra_scans(0);
  EXPECT_EQ(decode_error(sp(ok)), "");
  // Without a scan limit this decodes "fine" after 600 full passes over the coefficients.
  const std::vector<uint8_t> bomb = jpeg_with_extra_scans(600);
  for (int min_side : {0, 32}) {
    DecodeOptions o;
    o.min_side = min_side;
    const auto t0 = std::chrono::steady_clock::now();
    const std::string err = decode_error(sp(bomb), o);
    EXPECT_NE(err.find("JPEG has too many scans"), std::string::npos) << err;
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  }
  // The header alone is still readable (it stops at the first scan).
  EXPECT_EQ(read_header(sp(bomb)).width, 256);
}

// --- found by fuzz_decode: a WebP that OpenCV hands to another decoder ---------------------------

TEST(HostileWebp, BadBitstreamHeaderNeverReachesAnotherDecoder) {
  // cv::imdecode chooses by signature: when its WebP decoder declines the header, "DICM" at
  // offset 128 gives the file to GDCM, which abort()s the process on garbage (found by fuzz_decode).
  std::vector<uint8_t> w = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L'};
  put_le(w, 120, 4);
  w.push_back(0x2f);                                // VP8L signature
  put_le(w, 15u | 15u << 14 | 7u << 29, 4);         // 16x16, version 7: invalid
  while (w.size() < 128) w.push_back(uint8_t(w.size() * 37));
  w.insert(w.end(), {'D', 'I', 'C', 'M', 0x77, 0x87, 0x24});
  const uint32_t riff = uint32_t(w.size() - 8);
  std::memcpy(w.data() + 4, &riff, 4);
  EXPECT_EQ(read_header(sp(w)).width, 16);
  EXPECT_EQ(decode_error(sp(w)), "corrupt WebP data (bad bitstream header)");
}

// --- found by fuzz_decode: a PNG chunk longer than the file ----------------------------------------

TEST(HostilePng, ChunkDeclaredPastTheEndOfTheFileIsRefusedBeforeLibpng) {
  // libpng allocates an ancillary chunk's declared length before reading its data: a 700-byte PNG
  // declaring a 2 GB eXIf chunk made it allocate 2 GB (and, under ASan, take a second per file).
  const std::vector<uint8_t> png = encode(synthetic_photo(32, 24, 3), ".png");
  ASSERT_EQ(std::memcmp(png.data() + 12, "IHDR", 4), 0);
  std::vector<uint8_t> bad(png.begin(), png.begin() + 33);  // signature + IHDR chunk
  bad.insert(bad.end(), {0x7F, 0x00, 0x00, 0x00, 'e', 'X', 'I', 'f', 'M', 'M', 0x00, 0x2A});
  bad.insert(bad.end(), png.begin() + 33, png.end());  // IDAT ... IEND: the file still ends in IEND
  EXPECT_EQ(decode_error(sp(bad)), "malformed PNG: chunk eXIf at byte 33 declares 2130706432 bytes, past the end of the file");
  // Data after IEND is not a chunk: the walk ends at IEND and the file still decodes.
  std::vector<uint8_t> trailing = png;
  for (int i = 0; i < 100; ++i) trailing.push_back(uint8_t(0xFF - i));
  EXPECT_EQ(decode_error(sp(trailing)), "");
  EXPECT_EQ(decode_error(sp(png)), "");
}

// --- found by fuzz_decode: a PAM header line of a key and trailing blanks ------------------------

TEST(HostilePam, KeyFollowedByBlanksOnlyIsNotAnUncaughtException) {
  // parse_pam took the value with substr(find_first_not_of(" \t")), npos for "X " : an uncaught
  // std::out_of_range from sniff_format, which ended `irbis index` (found by fuzz_decode).
  const std::string head = "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nX \t\nENDHDR\n";
  std::vector<uint8_t> pam(head.begin(), head.end());
  pam.insert(pam.end(), {10, 20, 30});
  // A key OpenCV's PAM reader does not know is refused by name (a DecodeError, not another type).
  EXPECT_NE(header_error(sp(pam)), "");
  EXPECT_NE(decode_error(sp(pam)), "");
  const std::string good = "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE \t\nENDHDR\n";
  std::vector<uint8_t> ok(good.begin(), good.end());
  ok.insert(ok.end(), {10, 20, 30});
  EXPECT_EQ(header_error(sp(ok)), "");
  // A number key with blanks only is a clear error, not an exception of another type.
  const std::string bad = "P7\nWIDTH \nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nENDHDR\n";
  const std::vector<uint8_t> b2(bad.begin(), bad.end());
  EXPECT_NE(header_error(sp(b2)), "");
}

TEST(HostileJpeg, HeadersAfterScanLimitedDecodesStayValid) {
  // With one TurboJPEG handle reused per thread, valid JPEGs failed with "Bogus Huffman table
  // definition" once other files had been decoded on the thread (state kept by the handle; seen
  // after adding TJFLAG_LIMITSCANS). Each file now gets its own handle.
  std::vector<std::vector<uint8_t>> jpegs;
  for (int i = 0; i < 4; ++i) jpegs.push_back(jpeg_with_extra_scans(0));
  jpegs.push_back(encode(synthetic_photo(64, 48, 9), ".jpg"));
  for (int round = 0; round < 40; ++round) {
    const std::vector<uint8_t>& j = jpegs[size_t(round) % jpegs.size()];
    DecodeOptions o;
    o.min_side = round % 2 ? 16 : 0;
    EXPECT_EQ(decode_error(sp(j), o), "") << "round " << round;
    EXPECT_NO_THROW(read_header(sp(jpegs[size_t(round + 1) % jpegs.size()]))) << "round " << round;
  }
}

// --- D3: reads past the end of short files -------------------------------------------------------

TEST(HostileBmp, ThirtyToThirtyThreeByteBmpIsNotOverRead) {
  // A BITMAPINFOHEADER BMP cut inside the header: the compression field (bytes 30-33) is missing.
  std::vector<uint8_t> bmp = encode(synthetic_photo(8, 8, 1), ".bmp");
  ASSERT_GE(bmp.size(), 54u);
  for (size_t n = 26; n <= 34; ++n) {
    const GuardedBytes g(std::vector<uint8_t>(bmp.begin(), bmp.begin() + long(n)));
    EXPECT_NE(decode_error(g.span()), "") << n << " bytes";
  }
}

TEST(HostileInput, EveryPrefixOfEveryFormatStaysInBounds) {
  // Each prefix ends at an unmapped page: a header parser reading one byte too far crashes here.
  const cv::Mat img = synthetic_photo(24, 16, 7);
  for (const char* ext : {".jpg", ".png", ".webp", ".bmp", ".tiff"}) {
    const std::vector<uint8_t> f = encode(img, ext);
    for (size_t n = 0; n <= std::min<size_t>(f.size(), 160); ++n) {
      const GuardedBytes g(std::vector<uint8_t>(f.begin(), f.begin() + long(n)));
      try {
        sniff_format(g.span());
        read_header(g.span());
      } catch (const DecodeError&) {
      }
      // libwebp may decode a file a little shorter than its RIFF size; the others must refuse.
      const std::string err = decode_error(g.span());
      if (n < f.size() && std::string(ext) != ".webp") {
        EXPECT_NE(err, "") << ext << " cut at " << n;
      }
    }
  }
}

}  // namespace
}  // namespace irbis
