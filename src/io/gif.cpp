// First frame of a GIF via giflib, read record by record (later frames are never decoded).
#include <algorithm>
#include <cstring>
#include <gif_lib.h>
#include <memory>
#include <vector>

#include "io/io_internal.h"
#include "irbis/errors.h"

namespace irbis::io {

namespace {

struct MemReader {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
};

int read_mem(GifFileType* gif, GifByteType* buf, int len) {
  auto* r = static_cast<MemReader*>(gif->UserData);
  const size_t n = std::min(size_t(std::max(len, 0)), r->bytes.size() - r->pos);
  std::memcpy(buf, r->bytes.data() + r->pos, n);
  r->pos += n;
  return int(n);
}

[[noreturn]] void gif_fail(int code) {
  if (code == D_GIF_ERR_READ_FAILED) throw DecodeError("truncated GIF data");
  const char* s = GifErrorString(code);
  throw DecodeError(std::string("corrupt GIF data: ") + (s ? s : "unknown giflib error"));
}

struct GifCloser {
  void operator()(GifFileType* g) const {
    int err = 0;
    DGifCloseFile(g, &err);
  }
};

}  // namespace

cv::Mat decode_gif_first_frame(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  MemReader reader{bytes, 0};
  int err = 0;
  std::unique_ptr<GifFileType, GifCloser> gif(DGifOpen(&reader, read_mem, &err));
  if (!gif) gif_fail(err);
  GifFileType* g = gif.get();
  const int W = g->SWidth, H = g->SHeight;
  if (W <= 0 || H <= 0) throw DecodeError("malformed GIF header: zero logical screen width or height");
  if (uint64_t(W) * uint64_t(H) > max_pixels) {
    throw DecodeError("image declares " + std::to_string(W) + "x" + std::to_string(H) +
                      " pixels, over the limit of " + std::to_string(max_pixels));
  }

  int transparent = -1;  // from the graphics control extension preceding the first image
  for (;;) {
    GifRecordType rt;
    if (DGifGetRecordType(g, &rt) == GIF_ERROR) gif_fail(g->Error);
    if (rt == TERMINATE_RECORD_TYPE) throw DecodeError("GIF contains no image");
    if (rt == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* ext = nullptr;
      if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) gif_fail(g->Error);
      if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 0x01)) transparent = ext[4];
      while (ext) {
        if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) gif_fail(g->Error);
      }
      continue;
    }
    if (rt != IMAGE_DESC_RECORD_TYPE) continue;

    if (DGifGetImageDesc(g) == GIF_ERROR) gif_fail(g->Error);
    const GifImageDesc& d = g->Image;
    const ColorMapObject* map = d.ColorMap ? d.ColorMap : g->SColorMap;
    if (!map || map->ColorCount <= 0) throw DecodeError("corrupt GIF data: the first frame has no color map");
    const int fw = d.Width, fh = d.Height;
    if (fw <= 0 || fh <= 0) throw DecodeError("corrupt GIF data: the first frame is empty");
    if (uint64_t(fw) * uint64_t(fh) > max_pixels) {
      throw DecodeError("image declares a " + std::to_string(fw) + "x" + std::to_string(fh) +
                        " frame, over the limit of " + std::to_string(max_pixels) + " pixels");
    }

    // The logical screen starts as the background colour, or white when the frame has
    // transparency (as browsers show it, and consistent with alpha composited on white).
    cv::Vec3b bg(255, 255, 255);
    if (transparent < 0 && g->SColorMap && g->SBackGroundColor < g->SColorMap->ColorCount) {
      const GifColorType& c = g->SColorMap->Colors[g->SBackGroundColor];
      bg = cv::Vec3b(c.Red, c.Green, c.Blue);
    }
    cv::Mat canvas(H, W, CV_8UC3, cv::Scalar(bg[0], bg[1], bg[2]));

    std::vector<GifPixelType> line(static_cast<size_t>(fw));
    const auto put_row = [&](int row) {
      const int y = d.Top + row;
      if (y < 0 || y >= H) return;
      auto* out = canvas.ptr<cv::Vec3b>(y);
      for (int x = 0; x < fw; ++x) {
        const int X = d.Left + x;
        if (X >= W) break;
        const int idx = line[size_t(x)];
        if (idx == transparent) continue;
        const GifColorType& c = map->Colors[idx < map->ColorCount ? idx : 0];
        out[X] = cv::Vec3b(c.Red, c.Green, c.Blue);
      }
    };
    if (d.Interlace) {
      static const int start[] = {0, 4, 2, 1}, step[] = {8, 8, 4, 2};
      for (int pass = 0; pass < 4; ++pass) {
        for (int row = start[pass]; row < fh; row += step[pass]) {
          if (DGifGetLine(g, line.data(), fw) == GIF_ERROR) gif_fail(g->Error);
          put_row(row);
        }
      }
    } else {
      for (int row = 0; row < fh; ++row) {
        if (DGifGetLine(g, line.data(), fw) == GIF_ERROR) gif_fail(g->Error);
        put_row(row);
      }
    }
    return canvas;
  }
}

}  // namespace irbis::io
