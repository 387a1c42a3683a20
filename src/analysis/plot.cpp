// Plots without external libraries: one drawing routine per figure over a tiny canvas interface,
// with an SVG backend (text) and a PNG backend (OpenCV drawing, cv::imwrite).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include <opencv2/imgcodecs.hpp>  // the IMREAD_ / IMWRITE_ constants
#include <opencv2/imgproc.hpp>

#include "io/opencv_codecs.h"
#include "irbis/cluster.h"
#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis {
namespace {

struct Rgb { int r, g, b; };

Rgb cluster_color(int c) {
  static const Rgb tab10[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                              {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  if (c >= 0 && c < 10) return tab10[c];
  // Beyond ten: golden-angle hues at two lightness levels.
  const double h = std::fmod(c * 137.508, 360.0) / 60.0, s = 0.65, v = (c % 2) ? 0.75 : 0.55;
  const int i = static_cast<int>(h);
  const double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (i % 6) {
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    case 5: r = v; g = p; b = q; break;
    default: break;
  }
  return {static_cast<int>(r * 255), static_cast<int>(g * 255), static_cast<int>(b * 255)};
}

enum class Anchor { start, middle, end };

class Canvas {
 public:
  virtual ~Canvas() = default;
  virtual void line(double x1, double y1, double x2, double y2, Rgb c, double w, bool dashed = false) = 0;
  virtual void circle(double x, double y, double r, Rgb fill, double opacity) = 0;
  virtual void rect(double x, double y, double w, double h, Rgb fill, bool stroke = false) = 0;
  virtual void text(double x, double y, const std::string& s, double size, Rgb c, Anchor a, bool vertical = false) = 0;
  virtual void save(const std::filesystem::path& file) = 0;
};

std::string col(Rgb c) {
  char b[16];
  std::snprintf(b, sizeof b, "#%02x%02x%02x", c.r, c.g, c.b);
  return b;
}

class SvgCanvas : public Canvas {
 public:
  SvgCanvas(int w, int h) {
    o_ << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
       << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << ' ' << h
       << "\" font-family=\"Helvetica, Arial, sans-serif\">\n<rect x=\"0\" y=\"0\" width=\"" << w << "\" height=\""
       << h << "\" fill=\"#ffffff\"/>\n";
  }
  void line(double x1, double y1, double x2, double y2, Rgb c, double w, bool dashed) override {
    o_ << "<line x1=\"" << x1 << "\" y1=\"" << y1 << "\" x2=\"" << x2 << "\" y2=\"" << y2 << "\" stroke=\"" << col(c)
       << "\" stroke-width=\"" << w << '"' << (dashed ? " stroke-dasharray=\"6,4\"" : "") << "/>\n";
  }
  void circle(double x, double y, double r, Rgb fill, double opacity) override {
    char b[160];
    std::snprintf(b, sizeof b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\" fill-opacity=\"%.2f\"/>\n", x, y,
                  r, col(fill).c_str(), opacity);
    o_ << b;
  }
  void rect(double x, double y, double w, double h, Rgb fill, bool stroke) override {
    o_ << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w << "\" height=\"" << h << "\" fill=\""
       << (stroke ? std::string("none") : col(fill)) << '"'
       << (stroke ? " stroke=\"" + col(fill) + "\" stroke-width=\"1\"" : std::string()) << "/>\n";
  }
  void text(double x, double y, const std::string& s, double size, Rgb c, Anchor a, bool vertical) override {
    const char* an = a == Anchor::start ? "start" : a == Anchor::middle ? "middle" : "end";
    o_ << "<text x=\"" << x << "\" y=\"" << y << "\" font-size=\"" << size << "\" fill=\"" << col(c)
       << "\" text-anchor=\"" << an << '"';
    if (vertical) o_ << " transform=\"rotate(-90 " << x << ' ' << y << ")\"";
    o_ << '>' << html_escape(s) << "</text>\n";
  }
  void save(const std::filesystem::path& file) override {
    o_ << "</svg>\n";
    std::ofstream f(file, std::ios::binary);
    f << o_.str();
    f.close();
    if (!f) throw IoError("cannot write " + file.string());
  }

 private:
  std::ostringstream o_;
};

class PngCanvas : public Canvas {
 public:
  PngCanvas(int w, int h) : img_(h, w, CV_8UC3, cv::Scalar(255, 255, 255)) {}
  static cv::Scalar bgr(Rgb c) { return cv::Scalar(c.b, c.g, c.r); }
  static cv::Point pt(double x, double y) { return cv::Point(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y))); }
  void line(double x1, double y1, double x2, double y2, Rgb c, double w, bool dashed) override {
    const int th = std::max(1, static_cast<int>(std::lround(w)));
    if (!dashed) { cv::line(img_, pt(x1, y1), pt(x2, y2), bgr(c), th, cv::LINE_AA); return; }
    const double len = std::hypot(x2 - x1, y2 - y1);
    for (double t = 0; t < len; t += 10) {
      const double t2 = std::min(len, t + 6);
      cv::line(img_, pt(x1 + (x2 - x1) * t / len, y1 + (y2 - y1) * t / len),
               pt(x1 + (x2 - x1) * t2 / len, y1 + (y2 - y1) * t2 / len), bgr(c), th, cv::LINE_AA);
    }
  }
  void circle(double x, double y, double r, Rgb fill, double opacity) override {
    if (opacity >= 0.99) { cv::circle(img_, pt(x, y), std::max(1, static_cast<int>(std::lround(r))), bgr(fill), cv::FILLED, cv::LINE_AA); return; }
    const int rr = std::max(1, static_cast<int>(std::ceil(r)));
    const cv::Rect box = cv::Rect(pt(x, y).x - rr, pt(x, y).y - rr, 2 * rr + 1, 2 * rr + 1) & cv::Rect(0, 0, img_.cols, img_.rows);
    if (box.empty()) return;
    cv::Mat roi = img_(box), over = roi.clone();
    cv::circle(over, pt(x - box.x, y - box.y), std::max(1, static_cast<int>(std::lround(r))), bgr(fill), cv::FILLED, cv::LINE_AA);
    cv::addWeighted(over, opacity, roi, 1 - opacity, 0, roi);
  }
  void rect(double x, double y, double w, double h, Rgb fill, bool stroke) override {
    cv::rectangle(img_, pt(x, y), pt(x + w, y + h), bgr(fill), stroke ? 1 : cv::FILLED, cv::LINE_AA);
  }
  void text(double x, double y, const std::string& s, double size, Rgb c, Anchor a, bool vertical) override {
    const double scale = size / 30.0;
    const int th = size >= 15 ? 2 : 1;
    int base = 0;
    const cv::Size ts = cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, th, &base);
    const double shift = a == Anchor::start ? 0 : a == Anchor::middle ? ts.width / 2.0 : ts.width;
    if (!vertical) {
      cv::putText(img_, s, pt(x - shift, y), cv::FONT_HERSHEY_SIMPLEX, scale, bgr(c), th, cv::LINE_AA);
      return;
    }
    cv::Mat t(ts.height + base + 2, ts.width + 2, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(t, s, cv::Point(1, ts.height + 1), cv::FONT_HERSHEY_SIMPLEX, scale, bgr(c), th, cv::LINE_AA);
    cv::rotate(t, t, cv::ROTATE_90_COUNTERCLOCKWISE);
    // The baseline point (x, y) becomes the right edge's reference; text runs upwards from y + shift.
    const int left = static_cast<int>(std::lround(x)) - t.cols + base;
    const int top = static_cast<int>(std::lround(y - (ts.width - shift)));
    const cv::Rect dst = cv::Rect(left, top, t.cols, t.rows) & cv::Rect(0, 0, img_.cols, img_.rows);
    if (dst.empty()) return;
    cv::Mat gray, mask;
    cv::cvtColor(t, gray, cv::COLOR_BGR2GRAY);
    mask = gray < 250;
    t(cv::Rect(dst.x - left, dst.y - top, dst.width, dst.height)).copyTo(img_(dst), mask(cv::Rect(dst.x - left, dst.y - top, dst.width, dst.height)));
  }
  void save(const std::filesystem::path& file) override {
    bool ok = false;
    try {
      ok = opencv_codecs::imwrite(file.string(), img_);
    } catch (const cv::Exception&) {
      ok = false;
    }
    if (!ok) throw IoError("cannot write " + file.string());
  }

 private:
  cv::Mat img_;
};

std::unique_ptr<Canvas> make_canvas(const std::filesystem::path& file, int w, int h) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  // The format follows the extension; any other is refused rather than written as SVG text.
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") return std::make_unique<PngCanvas>(w, h);
  if (ext == ".svg") return std::make_unique<SvgCanvas>(w, h);
  throw UsageError(file.string() + ": a plot is written as .png, .jpg or .svg (by its extension)");
}

// "Nice" tick positions covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 6) {
  std::vector<double> t;
  if (!(hi > lo)) { t.push_back(lo); return t; }
  const double raw = (hi - lo) / target, mag = std::pow(10.0, std::floor(std::log10(raw))), f = raw / mag;
  const double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

std::string num(double v) {
  char b[32];
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) std::snprintf(b, sizeof b, "%.3g", v);
  else std::snprintf(b, sizeof b, "%g", std::round(v * 1e4) / 1e4);
  return b;
}

const Rgb kInk{40, 40, 40}, kGrid{225, 225, 225}, kRed{200, 30, 30}, kGray{120, 120, 120};

// Axes frame with ticks and labels; returns the data->pixel mapping via the lambdas' captures.
struct Frame {
  double x0, y0, x1, y1;      // pixel box (y0 top)
  double lo_x, hi_x, lo_y, hi_y;
  double px(double v) const { return x0 + (v - lo_x) / (hi_x - lo_x) * (x1 - x0); }
  double py(double v) const { return y1 - (v - lo_y) / (hi_y - lo_y) * (y1 - y0); }
  void draw(Canvas& c, const std::string& xl, const std::string& yl, bool integer_x = false) const {
    for (double t : ticks(lo_y, hi_y)) {
      c.line(x0, py(t), x1, py(t), kGrid, 1);
      c.text(x0 - 8, py(t) + 5, num(t), 13, kInk, Anchor::end);
    }
    std::vector<double> tx = ticks(lo_x, hi_x, integer_x ? 10 : 6);
    for (double t : tx) {
      if (integer_x && std::fabs(t - std::round(t)) > 1e-9) continue;
      c.line(px(t), y0, px(t), y1, kGrid, 1);
      c.text(px(t), y1 + 20, num(t), 13, kInk, Anchor::middle);
    }
    c.rect(x0, y0, x1 - x0, y1 - y0, kInk, true);
    c.text(0.5 * (x0 + x1), y1 + 44, xl, 16, kInk, Anchor::middle);
    c.text(x0 - 66, 0.5 * (y0 + y1), yl, 16, kInk, Anchor::middle, true);
  }
};

void pad(double& lo, double& hi, double frac) {
  if (!(hi > lo)) { lo -= 1; hi += 1; return; }
  const double p = (hi - lo) * frac;
  lo -= p;
  hi += p;
}

}  // namespace

void plot_map(const std::filesystem::path& file, std::span<const float> xy, std::span<const int> labels, int k,
              const std::string& title, const std::string& axis_name) {
  IRBIS_THROW_IF_NOT(xy.size() == 2 * labels.size(), UsageError, "the map needs two coordinates per label");
  const int64_t n = static_cast<int64_t>(labels.size());
  const int W = 1000, H = 760;
  auto c = make_canvas(file, W, H);
  std::vector<int64_t> sizes(std::max(k, 1), 0);
  for (int l : labels) if (l >= 0 && l < k) ++sizes[l];
  double lx = 0, hx = 0, ly = 0, hy = 0;
  bool first = true;
  for (int64_t i = 0; i < n; ++i) {
    const double a = xy[2 * i], b = xy[2 * i + 1];
    if (!std::isfinite(a) || !std::isfinite(b)) continue;
    if (first) { lx = hx = a; ly = hy = b; first = false; }
    lx = std::min(lx, a); hx = std::max(hx, a); ly = std::min(ly, b); hy = std::max(hy, b);
  }
  pad(lx, hx, 0.04);
  pad(ly, hy, 0.04);
  const Frame f{90, 60, 760, 680, lx, hx, ly, hy};
  f.draw(*c, axis_name + " 1", axis_name + " 2");
  c->text(W / 2.0, 35, title.empty() ? axis_name + " map, " + std::to_string(n) + " items, k = " + std::to_string(k) : title,
          20, kInk, Anchor::middle);
  const double r = n > 20000 ? 1.5 : n > 5000 ? 2.2 : n > 500 ? 3.0 : 4.5;
  const double op = n > 5000 ? 0.6 : 0.85;
  for (int64_t i = 0; i < n; ++i) {
    double a = xy[2 * i], b = xy[2 * i + 1];
    if (!std::isfinite(a) || !std::isfinite(b)) a = b = 0;
    c->circle(f.px(a), f.py(b), r, cluster_color(labels[i]), op);
  }
  // Legend (swatches are squares so the circles stay one per item).
  c->text(785, 75, "cluster (items)", 15, kInk, Anchor::start);
  const int shown = std::min(k, 30);
  for (int l = 0; l < shown; ++l) {
    const double y = 95 + l * 21;
    c->rect(785, y - 11, 13, 13, cluster_color(l));
    c->text(805, y, std::to_string(l) + " (" + std::to_string(sizes[l]) + ")", 14, kInk, Anchor::start);
  }
  if (k > shown) {
    std::string more = std::to_string(k - shown);
    more.append(" more");
    c->text(785, 95 + shown * 21, more, 14, kGray, Anchor::start);
  }
  c->save(file);
}

void plot_k_curves(const std::filesystem::path& file, const std::vector<KScore>& table, int chosen_k, int elbow_k) {
  IRBIS_THROW_IF_NOT(!table.empty(), UsageError, "no scores to plot");
  const int W = 900, H = 780;
  auto c = make_canvas(file, W, H);
  double kl = table.front().k, kh = table.front().k, sl = 0, sh = 0, il = table.front().inertia, ih = il;
  for (const auto& s : table) {
    kl = std::min<double>(kl, s.k); kh = std::max<double>(kh, s.k);
    sl = std::min(sl, s.silhouette); sh = std::max(sh, s.silhouette);
    il = std::min(il, s.inertia); ih = std::max(ih, s.inertia);
  }
  sh = std::max(sh, kNoStructureSilhouette);
  pad(kl, kh, 0.04);
  pad(sl, sh, 0.08);
  pad(il, ih, 0.08);
  const Frame top{100, 60, 860, 340, kl, kh, sl, sh}, bottom{100, 440, 860, 700, kl, kh, il, ih};
  c->text(W / 2.0, 35, "Choosing k: silhouette (higher is better) and inertia (elbow)", 19, kInk, Anchor::middle);
  top.draw(*c, "k (number of clusters)", "silhouette", true);
  bottom.draw(*c, "k (number of clusters)", "inertia", true);
  c->line(top.x0, top.py(kNoStructureSilhouette), top.x1, top.py(kNoStructureSilhouette), kGray, 1, true);
  c->text(top.x1 - 6, top.py(kNoStructureSilhouette) - 6, "structure threshold " + num(kNoStructureSilhouette), 12,
          kGray, Anchor::end);
  for (const Frame* f : {&top, &bottom}) {
    if (elbow_k > 0 && elbow_k != chosen_k) c->line(f->px(elbow_k), f->y0, f->px(elbow_k), f->y1, kGray, 1.5, true);
    if (chosen_k > 0) c->line(f->px(chosen_k), f->y0, f->px(chosen_k), f->y1, kRed, 2, true);
  }
  const Rgb blue{31, 119, 180}, orange{255, 127, 14};
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) {
      c->line(top.px(table[i - 1].k), top.py(table[i - 1].silhouette), top.px(table[i].k), top.py(table[i].silhouette), blue, 2);
      c->line(bottom.px(table[i - 1].k), bottom.py(table[i - 1].inertia), bottom.px(table[i].k), bottom.py(table[i].inertia), orange, 2);
    }
  }
  for (const auto& s : table) {
    c->circle(top.px(s.k), top.py(s.silhouette), 4, blue, 1.0);
    c->circle(bottom.px(s.k), bottom.py(s.inertia), 4, orange, 1.0);
  }
  if (chosen_k > 0) c->text(top.px(chosen_k) + 6, top.y0 + 18, "chosen k = " + std::to_string(chosen_k), 14, kRed, Anchor::start);
  if (elbow_k > 0)
    c->text(bottom.px(elbow_k) + 6, bottom.y0 + 18, "elbow k = " + std::to_string(elbow_k), 14,
            elbow_k == chosen_k ? kRed : kGray, Anchor::start);
  c->save(file);
}

}  // namespace irbis
