// HTML, CSV and SVG helpers shared by the static report and the web UI (report.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "irbis/report.h"
#include "irbis/text.h"

namespace irbis {

std::string csv_text(const CsvTable& t) {
  std::string o = csv_row(t.header);
  for (const auto& r : t.rows) o += csv_row(r);
  return o;
}

static const char* kCss = R"CSS(
:root{--fg:#1d2330;--mut:#667085;--bg:#f6f7f9;--card:#fff;--line:#e3e6ea;--acc:#2563eb;--keep:#16a34a}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{position:sticky;top:0;z-index:5;background:#111827;color:#fff;padding:10px 24px;display:flex;gap:20px;align-items:center;flex-wrap:wrap}
header b{font-size:17px;letter-spacing:.5px}header a{color:#cbd5e1;text-decoration:none}header a:hover{color:#fff}
main{max-width:1240px;margin:0 auto;padding:16px 24px 60px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:18px 0}
h2{margin:0 0 10px;font-size:20px}h3{font-size:15px;margin:16px 0 6px}.mut{color:var(--mut)}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:120px}
.card .v{font-size:22px;font-weight:600}.card .l{color:var(--mut);font-size:12px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f1f3f6}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}tr.chosen td{background:#eef4ff;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
figure.thumb{margin:0;width:150px;background:#fafafa;border:2px solid var(--line);border-radius:8px;overflow:hidden}
figure.thumb img{display:block;width:100%;height:120px;object-fit:contain;background:#eceff3}
figure.thumb figcaption{padding:3px 6px;font-size:11px;word-break:break-all;max-height:4.6em;overflow:hidden}
.pal{display:flex;height:8px}.pal span{display:block;height:100%}
.dims{white-space:nowrap}figure.keep{border-color:var(--keep)}figure.keep figcaption b{color:var(--keep)}
.group{border-top:1px solid var(--line);padding:10px 0}.group h3{margin:0 0 6px}
.pairs{display:flex;flex-wrap:wrap;gap:12px}.pair{display:flex;gap:6px;border:1px solid var(--line);border-radius:8px;padding:6px}
figure.uniq{border-color:#b45309}
.pager{margin:10px 0;display:flex;gap:12px}.pager a{color:var(--acc)}
svg text{font:11px system-ui,sans-serif;fill:#374151}a.csv{font-size:12px;color:var(--acc);margin-left:8px}
#drop{border:2px dashed #94a3b8;border-radius:10px;padding:26px;text-align:center;color:var(--mut);margin-bottom:12px}
#drop.over{border-color:var(--acc);background:#eef4ff}.err{color:#b91c1c;font-weight:600}
)CSS";

std::string page_html(const std::string& title, const std::string& nav, const std::string& body,
                      const std::string& script) {
  std::string o = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                  "<title>" + html_escape(title) + "</title><style>" + kCss + "</style></head>\n<body>"
                  "<header><b>irbis</b>" + nav + "</header>\n<main>" + body + "</main>\n";
  if (!script.empty()) o += "<script>" + script + "</script>\n";
  return o + "</body></html>\n";
}

static std::string base_name(const std::string& path) {
  const auto s = path.find_last_of('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

std::vector<std::string> shortest_unique_suffixes(const std::vector<std::string>& paths) {
  // The suffix of the last `n` components of a path ('/' separated), whole when it has fewer.
  const auto suffix = [](const std::string& p, size_t n) {
    size_t pos = p.size();
    for (size_t k = 0; k < n; ++k) {
      const size_t s = pos == 0 ? std::string::npos : p.find_last_of('/', pos - 1);
      if (s == std::string::npos) return p;
      pos = s;
    }
    return p.substr(pos + 1);
  };
  std::vector<std::string> out;
  for (size_t i = 0; i < paths.size(); ++i) {
    std::string s;
    for (size_t n = 1;; ++n) {
      s = suffix(paths[i], n);
      bool unique = true;
      for (size_t j = 0; j < paths.size() && unique; ++j)
        if (j != i && paths[j] != paths[i] && (paths[j] == s || paths[j].ends_with("/" + s))) unique = false;
      if (unique || s == paths[i]) break;
    }
    out.push_back(s);
  }
  return out;
}

std::string dimensions_html(int64_t width, int64_t height) {
  return "<span class=\"dims\">" + std::to_string(width) + "&times;" + std::to_string(height) + "</span>";
}

std::string thumb_html(const ViewContext& ctx, const ImageRecord& r, const std::string& caption,
                       const std::string& css_class, const std::vector<PaletteColor>* palette,
                       const std::string& shown_name) {
  const std::string name = html_escape(display_path(shown_name.empty() ? base_name(r.path) : shown_name));
  const std::string full = html_escape(display_path(r.path));
  std::string img = "<img loading=\"lazy\" src=\"" + html_escape(ctx.thumb_url(r.id)) + "\" alt=\"" + name + "\">";
  const std::string link = ctx.link_url ? ctx.link_url(r.id) : "";
  if (!link.empty()) img = "<a href=\"" + html_escape(link) + "\" title=\"more like this\">" + img + "</a>";
  if (palette && !palette->empty()) {
    img += "<div class=\"pal\">";
    for (const PaletteColor& c : *palette) {
      const std::string hex = hex_color(c.lab);
      img += "<span style=\"background:" + hex + ";width:" + fixed(100 * c.weight, 1) + "%\" title=\"" + hex + " " +
             fixed(100 * c.weight, 0) + " %\"></span>";
    }
    img += "</div>";
  }
  return "<figure class=\"thumb " + css_class + "\" data-id=\"" + std::to_string(r.id) + "\" title=\"" + full +
         "\">" + img + "<figcaption>" + caption + (caption.empty() ? "" : "<br>") + "<span class=\"name\">" +
         name + "</span></figcaption></figure>";
}

std::string svg_bars(const std::vector<std::pair<std::string, int64_t>>& bars, const std::string& axis_label) {
  const int W = 520, H = 220, L = 50, B = 40, T = 12;
  int64_t mx = 1;
  for (const auto& b : bars) mx = std::max(mx, b.second);
  std::ostringstream s;
  s << "<svg class=\"chart bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << ' ' << H << "\">";
  s << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - 10 << "\" y2=\"" << H - B
    << "\" stroke=\"#9ca3af\"/>";
  const double bw = double(W - L - 20) / std::max<size_t>(1, bars.size());
  for (size_t i = 0; i < bars.size(); ++i) {
    const double h = double(H - B - T) * double(bars[i].second) / double(mx);
    const double x = L + i * bw + bw * 0.15;
    s << "<rect x=\"" << x << "\" y=\"" << H - B - h << "\" width=\"" << bw * 0.7 << "\" height=\"" << h
      << "\" fill=\"#3b82f6\"><title>" << html_escape(bars[i].first) << ": " << bars[i].second << "</title></rect>";
    s << "<text x=\"" << x + bw * 0.35 << "\" y=\"" << H - B - h - 3 << "\" text-anchor=\"middle\">" << bars[i].second
      << "</text>";
    s << "<text x=\"" << x + bw * 0.35 << "\" y=\"" << H - B + 14 << "\" text-anchor=\"middle\">"
      << html_escape(bars[i].first) << "</text>";
  }
  s << "<text x=\"12\" y=\"" << (H - B) / 2 << "\" transform=\"rotate(-90 12 " << (H - B) / 2
    << ")\" text-anchor=\"middle\">" << html_escape(axis_label) << "</text></svg>";
  return s.str();
}

std::string svg_boxplot(const std::vector<BoxplotSeries>& series, const std::string& axis_label) {
  const int W = 640, row = 40, L = 150, R = 20, T = 10, B = 36;
  const int H = T + B + row * int(std::max<size_t>(1, series.size()));
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& sr : series)
    if (sr.box.n > 0) lo = std::min(lo, sr.box.min), hi = std::max(hi, sr.box.max);
  if (!(lo < hi)) lo = std::isfinite(lo) ? lo - 0.5 : 0, hi = lo + 1;
  auto px = [&](double v) { return L + (W - L - R) * (v - lo) / (hi - lo); };
  std::ostringstream s;
  s << "<svg class=\"chart boxplot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << ' ' << H << "\">";
  for (size_t i = 0; i < series.size(); ++i) {
    const BoxSummary& b = series[i].box;
    if (b.n == 0) continue;
    const double y = T + row * double(i) + row / 2.0;
    s << "<g class=\"box\" data-n=\"" << b.n << "\" data-outliers=\"" << series[i].outliers.size() << "\"><title>"
      << html_escape(series[i].name) << ": n " << b.n << ", min " << general(b.min, 3) << ", whiskers " << general(b.lower_whisker, 3)
      << "-" << general(b.upper_whisker, 3) << ", q1 " << general(b.q1, 3) << ", median " << general(b.median, 3) << ", q3 " << general(b.q3, 3)
      << ", max " << general(b.max, 3) << ", mean " << general(b.mean, 3) << ", outliers " << b.low_outliers + b.high_outliers
      << "</title>";
    s << "<text x=\"" << L - 8 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << html_escape(series[i].name)
      << "</text>";
    // Whiskers with end caps, then the box over them, the median and the mean.
    for (const auto& [from, to] : {std::pair{b.lower_whisker, b.q1}, std::pair{b.q3, b.upper_whisker}}) {
      s << "<line class=\"whisker\" x1=\"" << px(from) << "\" y1=\"" << y << "\" x2=\"" << px(to) << "\" y2=\"" << y
        << "\" stroke=\"#6b7280\"/>";
    }
    for (double w : {b.lower_whisker, b.upper_whisker})
      s << "<line x1=\"" << px(w) << "\" y1=\"" << y - 6 << "\" x2=\"" << px(w) << "\" y2=\"" << y + 6
        << "\" stroke=\"#6b7280\"/>";
    s << "<rect x=\"" << px(b.q1) << "\" y=\"" << y - 10 << "\" width=\"" << std::max(1.0, px(b.q3) - px(b.q1))
      << "\" height=\"20\" fill=\"#bfdbfe\" stroke=\"#2563eb\"/>";
    s << "<line class=\"median\" x1=\"" << px(b.median) << "\" y1=\"" << y - 10 << "\" x2=\"" << px(b.median)
      << "\" y2=\"" << y + 10 << "\" stroke=\"#1e3a8a\" stroke-width=\"2\"/>";
    s << "<circle class=\"mean\" cx=\"" << px(b.mean) << "\" cy=\"" << y << "\" r=\"3\" fill=\"#dc2626\"/>";
    for (double o : series[i].outliers)
      s << "<circle class=\"outlier\" cx=\"" << px(o) << "\" cy=\"" << y << "\" r=\"3.5\" fill=\"none\" "
        << "stroke=\"#b45309\"><title>" << general(o, 4) << "</title></circle>";
    s << "</g>";
  }
  const int ya = H - B + 6;
  s << "<line x1=\"" << L << "\" y1=\"" << ya << "\" x2=\"" << W - R << "\" y2=\"" << ya << "\" stroke=\"#9ca3af\"/>";
  // Tick labels with the same number of decimals, enough to tell neighbouring ticks apart.
  const int decimals = std::clamp(1 - int(std::floor(std::log10((hi - lo) / 4))), 0, 8);
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4.0;
    s << "<text x=\"" << px(v) << "\" y=\"" << ya + 14 << "\" text-anchor=\"middle\">" << fixed(v, decimals) << "</text>";
  }
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 2 << "\" text-anchor=\"middle\">" << html_escape(axis_label)
    << "</text></svg>";
  return s.str();
}

}  // namespace irbis
