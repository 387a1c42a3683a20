// The views of a collection (report.h): one ReportSection per analysis, rendered by both the
// static report (write_report) and the server. A section whose analysis cannot run on a
// collection (no embeddings, too few images) still renders, saying why.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "irbis/classifier.h"
#include "irbis/errors.h"
#include "irbis/replace_file.h"
#include "irbis/report.h"
#include "irbis/results.h"
#include "irbis/scan.h"
#include "irbis/text.h"

namespace irbis {

namespace fs = std::filesystem;

namespace {

std::string num(double v, int digits = 3) { return fixed(v, digits); }
std::string human_size(double n) { return human_bytes(n, ByteUnits::decimal); }
std::string card(const std::string& value, const std::string& label, const std::string& key) {
  return "<div class=\"card\" data-key=\"" + key + "\"><div class=\"v\">" + html_escape(value) +
         "</div><div class=\"l\">" + html_escape(label) + "</div></div>";
}
std::string csv_link(const ViewContext& ctx, const std::string& file) {
  const std::string u = ctx.csv_url ? ctx.csv_url(file) : "";
  return u.empty() ? "" : "<a class=\"csv\" href=\"" + html_escape(u) + "\">" + html_escape(file) + "</a>";
}
std::string table_html(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                       size_t max_rows, const std::string& cls, const std::vector<bool>& numeric = {}) {
  std::string o = "<table class=\"" + cls + "\"><thead><tr>";
  for (size_t i = 0; i < header.size(); ++i)
    o += std::string("<th") + (i < numeric.size() && numeric[i] ? " class=\"num\"" : "") + ">" +
         html_escape(header[i]) + "</th>";
  o += "</tr></thead><tbody>";
  for (size_t r = 0; r < rows.size() && r < max_rows; ++r) {
    o += "<tr>";
    for (size_t i = 0; i < rows[r].size(); ++i)
      o += std::string("<td") + (i < numeric.size() && numeric[i] ? " class=\"num\"" : "") + ">" +
           html_escape(display_path(rows[r][i])) + "</td>";
    o += "</tr>";
  }
  o += "</tbody></table>";
  if (rows.size() > max_rows)
    o += "<p class=\"mut\">showing " + std::to_string(max_rows) + " of " + std::to_string(rows.size()) +
         " rows; the CSV has all of them.</p>";
  return o;
}
// Page range of a paginated view: [first, last) of `total` items.
std::pair<size_t, size_t> page_range(const ViewContext& ctx, size_t total, size_t static_cap) {
  if (ctx.page_size <= 0) return {0, std::min(total, static_cap)};
  const size_t first = std::min(total, size_t(std::max(0, ctx.page)) * size_t(ctx.page_size));
  return {first, std::min(total, first + size_t(ctx.page_size))};
}
std::string pager(const ViewContext& ctx, size_t total) {
  if (ctx.page_size <= 0 || total <= size_t(ctx.page_size)) return "";
  const size_t pages = (total + size_t(ctx.page_size) - 1) / size_t(ctx.page_size);
  std::string o = "<div class=\"pager\">";
  if (ctx.page > 0) o += "<a class=\"prev\" href=\"?page=" + std::to_string(ctx.page - 1) + "\">&larr; previous</a>";
  o += "<span>page " + std::to_string(ctx.page + 1) + " of " + std::to_string(pages) + "</span>";
  if (size_t(ctx.page) + 1 < pages)
    o += "<a class=\"next\" href=\"?page=" + std::to_string(ctx.page + 1) + "\">next &rarr;</a>";
  return o + "</div>";
}

// ---------------------------------------------------------------------------------------------
// Overview
std::vector<CsvTable> overview_tables(ReportData& d) {
  const CollectionSummary& o = d.overview();
  CsvTable summary{"overview.csv", {"metric", "value"}, {}};
  summary.rows = {{"images", std::to_string(o.ok)},     {"failed", std::to_string(o.failed)},
                  {"removed", std::to_string(o.removed)}, {"older_versions", std::to_string(o.retired)},
                  {"bytes", std::to_string(o.bytes)},   {"megapixels", num(double(o.pixels) / 1e6, 2)}};
  CsvTable formats{"formats.csv", {"format", "images"}, {}};
  for (const auto& [f, n] : o.formats) formats.rows.push_back({f, std::to_string(n)});
  CsvTable sizes{"sizes.csv", {"file_size", "images"}, {}};
  const auto bins = size_bins();
  const auto hist = size_histogram(d.live());
  for (size_t i = 0; i < bins.size(); ++i) sizes.rows.push_back({bins[i].first, std::to_string(hist[i])});
  CsvTable failures{"failures.csv", {"path", "reason"}, {}};
  for (const auto& r : o.failures) failures.rows.push_back({r.path, r.reason});
  for (const auto& p : o.scan_problems) failures.rows.push_back({p.path, p.reason});
  return {summary, formats, sizes, failures};
}

std::string overview_html(ReportData& d, const ViewContext& ctx) {
  const CollectionSummary& o = d.overview();
  const auto t = overview_tables(d);
  std::string h = "<section id=\"overview\" data-images=\"" + std::to_string(o.ok) + "\" data-failed=\"" +
                  std::to_string(o.failed) + "\"><h2>Overview</h2><p class=\"mut\">" +
                  html_escape(display_path(d.collection().dir().string())) + "</p><div class=\"cards\">";
  h += card(std::to_string(o.ok), "images", "images");
  h += card(std::to_string(o.failed), "failed", "failed");
  h += card(std::to_string(o.removed), "removed", "removed");
  h += card(human_size(double(o.bytes)), "total size", "bytes");
  h += card(o.ok ? human_size(double(o.bytes) / double(o.ok)) : "-", "mean file", "mean");
  h += card(num(double(o.pixels) / 1e6, 1), "megapixels", "megapixels");
  h += "</div><div class=\"grid\"><div><h3>Formats" + csv_link(ctx, "formats.csv") + "</h3>";
  std::vector<std::pair<std::string, int64_t>> fb(o.formats.begin(), o.formats.end());
  h += svg_bars(fb, "images") + table_html(t[1].header, t[1].rows, 100, "formats", {false, true});
  h += "</div><div><h3>File sizes" + csv_link(ctx, "sizes.csv") + "</h3>";
  std::vector<std::pair<std::string, int64_t>> sb;
  const auto bins = size_bins();
  const auto hist = size_histogram(d.live());
  for (size_t i = 0; i < bins.size(); ++i) sb.push_back({bins[i].first, hist[i]});
  h += svg_bars(sb, "images") + "</div></div>";
  h += "<h3>Failures (" + std::to_string(t[3].rows.size()) + ")" + csv_link(ctx, "failures.csv") + "</h3>";
  if (t[3].rows.empty()) h += "<p class=\"mut\">none: every file found was read and decoded.</p>";
  else h += table_html(t[3].header, t[3].rows, size_t(d.options().html_max_rows), "failures");
  h += "<p class=\"mut\">features: ";
  for (const auto& f : o.features) h += html_escape(f.spec.name + "[" + std::to_string(f.spec.dim) + "]") + " ";
  return h + "</p>" + csv_link(ctx, "overview.csv") + "</section>";
}

// ---------------------------------------------------------------------------------------------
// Duplicates
std::vector<CsvTable> dupes_tables(ReportData& d) { return {CsvTable("dupes.csv", dupes_table(d.dupes(), false))}; }

std::string dupes_html(ReportData& d, const ViewContext& ctx) {
  const CollectionDupes& r = d.dupes();
  std::string h = "<section id=\"dupes\" data-groups=\"" + std::to_string(r.groups.size()) + "\" data-duplicates=\"" +
                  std::to_string(r.duplicates()) + "\"><h2>Duplicates" + csv_link(ctx, "dupes.csv") + "</h2>";
  h += "<p><b class=\"count\">" + std::to_string(r.groups.size()) + "</b> groups, <b>" + std::to_string(r.duplicates()) +
       "</b> duplicates among " + std::to_string(r.records.size()) + " images (exact = same bytes, near = pHash " +
       "distance &le; " + std::to_string(d.options().dupes_threshold) +
       (r.variants > 0 ? ", the mirror included" : "") +
       (r.verify_max_distance ? "; up to " + std::to_string(*r.verify_max_distance) +
                                    (r.verify_max_dhash_distance
                                         ? " with dHash distance &le; " + std::to_string(*r.verify_max_dhash_distance)
                                         : std::string()) +
                                    " when geometric verification " +
                                    "confirms the pair: verified, with its keypoint inliers"
                              : std::string()) +
       "). Each duplicate matches the image its group keeps (green) directly: most pixels; of equal pixels the earliest modified, then a JPEG over a re-encode "
       "of it, then the largest file; its card says which rule chose it. Nothing is deleted.</p>";
  const auto [first, last] = page_range(ctx, r.groups.size(), size_t(d.options().html_max_groups));
  if (ctx.page_size <= 0 && last < r.groups.size())
    h += "<p class=\"mut\">showing the first " + std::to_string(last) + " groups; dupes.csv lists all.</p>";
  h += pager(ctx, r.groups.size());
  for (size_t g = first; g < last; ++g) {
    const auto& grp = r.groups[g];
    h += "<div class=\"group\" data-group=\"" + std::to_string(g + 1) + "\" data-size=\"" +
         std::to_string(grp.duplicates.size() + 1) + "\"><h3>group " + std::to_string(g + 1) + "</h3><div class=\"grid\">";
    const auto& k = r.records[grp.keep];
    // Enough of each path to tell the group's files apart (*/screenshot.png libraries).
    std::vector<std::string> paths{k.path};
    for (const auto& m : grp.duplicates) paths.push_back(r.records[m.index].path);
    const std::vector<std::string> names = shortest_unique_suffixes(paths);
    h += thumb_html(ctx, k,
                    "<b>keep</b> " + dimensions_html(k.width, k.height) + "<br><span class=\"why\">" +
                        html_escape(keep_reason_text(grp.keep_reason)) + "</span>",
                    "keep", d.palette(k.id), names[0]);
    for (size_t i = 0; i < grp.duplicates.size(); ++i) {
      const auto& m = grp.duplicates[i];
      const auto& x = r.records[m.index];
      h += thumb_html(ctx, x, html_escape(dupe_evidence_text(m)) + ", " + dimensions_html(x.width, x.height), "dup",
                      d.palette(x.id), names[i + 1]);
    }
    h += "</div></div>";
  }
  if (r.groups.empty()) h += "<p class=\"mut\">no duplicates.</p>";
  return h + pager(ctx, r.groups.size()) + "</section>";
}

std::vector<int64_t> dupes_images(ReportData& d, const ViewContext& ctx) {
  const CollectionDupes& r = d.dupes();
  std::vector<int64_t> ids;
  const auto [first, last] = page_range(ctx, r.groups.size(), size_t(d.options().html_max_groups));
  for (size_t g = first; g < last; ++g) {
    ids.push_back(r.records[r.groups[g].keep].id);
    for (const auto& m : r.groups[g].duplicates) ids.push_back(r.records[m.index].id);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Clusters
std::string cluster_color(int c) {
  static const char* tab10[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  if (c >= 0 && c < 10) return tab10[c];
  char b[32];
  std::snprintf(b, sizeof b, "hsl(%d,65%%,%d%%)", int(std::fmod(c * 137.508, 360.0)), c % 2 ? 42 : 30);
  return b;
}

std::vector<CsvTable> clusters_tables(ReportData& d) {
  const ClustersResult* c = d.clusters();
  if (!c) return {};
  const ClusterReport& r = c->report;
  CsvTable pts{"clusters.csv", {"id", "path", "cluster", "x", "y", "distance_to_centroid"}, {}};
  for (size_t i = 0; i < c->records.size(); ++i)
    pts.rows.push_back({std::to_string(c->records[i].id), c->records[i].path, std::to_string(r.kmeans.labels[i]),
                        num(r.map.size() > 2 * i ? r.map[2 * i] : 0, 4),
                        num(r.map.size() > 2 * i + 1 ? r.map[2 * i + 1] : 0, 4), num(r.kmeans.distances[i], 4)});
  CsvTable sil{"silhouette.csv", {"k", "silhouette", "inertia", "chosen", "elbow"}, {}};
  for (const auto& s : r.table)
    sil.rows.push_back({std::to_string(s.k), num(s.silhouette, 4), num(s.inertia, 2), s.k == r.k ? "yes" : "",
                        s.k == r.elbow_k ? "yes" : ""});
  CsvTable sizes{"cluster_sizes.csv", {"cluster", "size", "mean_distance", "medoid_id", "medoid_path"}, {}};
  for (const auto& s : r.clusters) {
    const auto& m = c->records[size_t(std::max<int64_t>(0, s.medoid))];
    sizes.rows.push_back({std::to_string(s.cluster), std::to_string(s.size), num(s.mean_distance, 4),
                          std::to_string(m.id), m.path});
  }
  return {pts, sil, sizes};
}

std::string clusters_html(ReportData& d, const ViewContext& ctx) {
  const ClustersResult* c = d.clusters();
  if (!c)
    return "<section id=\"clusters\" data-k=\"0\"><h2>Clusters</h2><p class=\"mut\">" +
           html_escape(d.clusters_error()) + "</p></section>";
  const ClusterReport& r = c->report;
  const size_t n = c->records.size();
  std::string h = "<section id=\"clusters\" data-k=\"" + std::to_string(r.k) + "\" data-points=\"" +
                  std::to_string(n) + "\"><h2>Clusters" + csv_link(ctx, "clusters.csv") + "</h2>";
  h += "<p><b>k = " + std::to_string(r.k) + "</b> (" + (r.auto_k ? "chosen by silhouette" : "fixed") + ") over " +
       std::to_string(n) + " images, features " + html_escape(c->features) + ", map " + html_escape(r.map_method) +
       ". Best silhouette " + num(r.best_silhouette) + " vs " + num(r.null_silhouette) + " for data without clusters: " +
       (r.clear_structure ? "clear cluster structure." : "no clear cluster structure.") + "</p>";
  // The map: thumbnails (small collections) or points, coloured by cluster.
  if (r.map_method != "none" && r.map.size() >= 2 * n) {
    const int W = 1000, H = 640, P = 30;
    float x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < n; ++i)
      x0 = std::min(x0, r.map[2 * i]), x1 = std::max(x1, r.map[2 * i]), y0 = std::min(y0, r.map[2 * i + 1]),
      y1 = std::max(y1, r.map[2 * i + 1]);
    if (!(x1 > x0)) x1 = x0 + 1;
    if (!(y1 > y0)) y1 = y0 + 1;
    const bool thumbs = n <= size_t(d.options().map_thumbs_max);
    const double ts = n <= 100 ? 44 : n <= 250 ? 34 : 26;
    auto px = [&](float v) { return P + (W - 2 * P - ts) * (v - x0) / (x1 - x0); };
    auto py = [&](float v) { return P + (H - 2 * P - ts) * (1 - (v - y0) / (y1 - y0)); };
    std::ostringstream s;
    s << "<svg id=\"cluster-map\" class=\"chart map\" xmlns=\"http://www.w3.org/2000/svg\" "
         "xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"100%\" viewBox=\"0 0 "
      << W << ' ' << H << "\" style=\"max-width:" << W << "px;background:#fbfcfd;border:1px solid #e5e7eb\">";
    for (size_t i = 0; i < n; ++i) {
      const auto& rec = c->records[i];
      const int lab = r.kmeans.labels[i];
      const std::string col = cluster_color(lab);
      const std::string title = "<title>" + html_escape(display_path(rec.path)) + " (cluster " + std::to_string(lab) +
                                ")</title>";
      const std::string link = ctx.link_url ? ctx.link_url(rec.id) : "";
      std::ostringstream e;
      const double x = px(r.map[2 * i]), y = py(r.map[2 * i + 1]);
      if (thumbs) {
        e << "<g class=\"pt\" data-id=\"" << rec.id << "\" data-cluster=\"" << lab << "\">" << title << "<rect x=\""
          << x - 2 << "\" y=\"" << y - 2 << "\" width=\"" << ts + 4 << "\" height=\"" << ts + 4 << "\" fill=\"" << col
          << "\"/><image href=\"" << html_escape(ctx.thumb_url(rec.id)) << "\" x=\"" << x << "\" y=\"" << y
          << "\" width=\"" << ts << "\" height=\"" << ts << "\" preserveAspectRatio=\"xMidYMid slice\"/></g>";
      } else {
        e << "<circle class=\"pt\" data-id=\"" << rec.id << "\" data-cluster=\"" << lab << "\" cx=\"" << x + ts / 2
          << "\" cy=\"" << y + ts / 2 << "\" r=\"3\" fill=\"" << col << "\" fill-opacity=\"0.75\">" << title
          << "</circle>";
      }
      s << (link.empty() ? e.str() : "<a href=\"" + html_escape(link) + "\">" + e.str() + "</a>");
    }
    s << "</svg>";
    h += s.str();
  }
  h += "<div class=\"grid\"><div><h3>Silhouette by k" + csv_link(ctx, "silhouette.csv") +
       "</h3><table class=\"silhouette\"><thead><tr><th class=\"num\">k</th><th class=\"num\">silhouette</th>"
       "<th class=\"num\">inertia</th><th></th></tr></thead><tbody>";
  for (const auto& s : r.table)
    h += std::string("<tr") + (s.k == r.k ? " class=\"chosen\"" : "") + "><td class=\"num\">" + std::to_string(s.k) +
         "</td><td class=\"num\">" + num(s.silhouette) + "</td><td class=\"num\">" + num(s.inertia, 1) + "</td><td>" +
         (s.k == r.k ? "chosen " : "") + (s.k == r.elbow_k && r.auto_k ? "elbow" : "") + "</td></tr>";
  h += "</tbody></table></div><div style=\"flex:1;min-width:420px\"><h3>Clusters" + csv_link(ctx, "cluster_sizes.csv") +
       "</h3><table class=\"cluster-sizes\"><thead><tr><th>cluster</th><th class=\"num\">size</th><th>most central "
       "images</th></tr></thead><tbody>";
  for (const auto& cl : r.clusters) {
    h += "<tr data-cluster=\"" + std::to_string(cl.cluster) + "\"><td><span style=\"display:inline-block;width:12px;"
         "height:12px;background:" + cluster_color(cl.cluster) + "\"></span> " + std::to_string(cl.cluster) +
         "</td><td class=\"num\">" + std::to_string(cl.size) + "</td><td><div class=\"grid\">";
    for (size_t j = 0; j < cl.most_central.size() && j < 4; ++j)
      h += thumb_html(ctx, c->records[size_t(cl.most_central[j])], "", "", d.palette(c->records[size_t(cl.most_central[j])].id));
    h += "</div></td></tr>";
  }
  return h + "</tbody></table></div></div></section>";
}

std::vector<int64_t> clusters_images(ReportData& d, const ViewContext&) {
  const ClustersResult* c = d.clusters();
  std::vector<int64_t> ids;
  if (!c) return ids;
  if (c->records.size() <= size_t(d.options().map_thumbs_max))
    for (const auto& r : c->records) ids.push_back(r.id);
  for (const auto& cl : c->report.clusters)
    for (size_t j = 0; j < cl.most_central.size() && j < 4; ++j) ids.push_back(c->records[size_t(cl.most_central[j])].id);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Unique: rank_unique (search.h) over the collection's index, each image beside its nearest
// neighbour that is not an exact copy, and the distance distribution as a boxplot.
std::vector<CsvTable> unique_tables(ReportData& d) {
  const UniqueResult* u = d.unique();
  if (!u) return {};
  return {CsvTable("unique.csv", unique_table(*d.search(), *u))};
}

std::string unique_html(ReportData& d, const ViewContext& ctx) {
  const UniqueResult* u = d.unique();
  if (!u)
    return "<section id=\"unique\" data-ranked=\"0\" data-shown=\"0\"><h2>Most unique images</h2><p class=\"mut\">"
           "not available: " + html_escape(display_path(d.unique_error())) + "</p></section>";
  const VectorSearch& vs = *d.search();
  const BoxSummary& s = u->summary;
  const auto [first, last] = page_range(ctx, u->rows.size(), size_t(d.options().unique_top));
  std::string h = "<section id=\"unique\" data-images=\"" + std::to_string(vs.size()) + "\" data-ranked=\"" +
                  std::to_string(s.n) + "\" data-shown=\"" + std::to_string(last - first) + "\" data-index=\"" +
                  index_kind_name(vs.status().kind) + "\"><h2>Most unique images" + csv_link(ctx, "unique.csv") + "</h2>";
  h += "<p>Each image beside its nearest neighbour that is not an exact copy, by the distance between them (1 &minus; "
       "cosine similarity of the " + html_escape(vs.card().name) + " embeddings; 0 = the same picture, higher = more "
       "unique). " + std::to_string(s.n) + " of " + std::to_string(vs.size()) + " images ranked with the " +
       index_kind_name(vs.status().kind) + " index" +
       (vs.status().kind == IndexKind::hnsw ? std::string(u->top_exact ? "; the top ranks are checked exactly" : "") : "") +
       ". unique.csv lists every image with its distance and density (mean distance to its 5 nearest).</p>";
  if (s.n < vs.size())
    h += "<p class=\"mut\">" + std::to_string(vs.size() - s.n) +
         " images have no neighbour that is not an exact copy of them (listed last).</p>";
  h += pager(ctx, u->rows.size()) + "<div class=\"pairs\">";
  for (size_t i = first; i < last; ++i) {
    const UniqueRow& r = u->rows[i];
    const ImageRecord& rec = vs.records()[size_t(r.row)];
    const std::string side = outlier_side(s, r);
    h += "<div class=\"pair\" data-rank=\"" + std::to_string(i + 1) + "\" data-id=\"" + std::to_string(rec.id) +
         "\" data-neighbor=\"" + (r.neighbor >= 0 ? std::to_string(vs.ids()[size_t(r.neighbor)]) : "") +
         "\" data-distance=\"" + (r.neighbor >= 0 ? num(r.distance, 6) : "") + "\">";
    if (r.neighbor < 0) {
      h += thumb_html(ctx, rec, "<b>#" + std::to_string(i + 1) + "</b> no neighbour that is not a copy", "uniq", d.palette(rec.id));
    } else {
      h += thumb_html(ctx, rec,
                      "<b>#" + std::to_string(i + 1) + "</b> distance " + num(r.distance, 4) +
                          (side[0] == 'h' ? "<br>outlier" : side[0] == 'l' ? "<br>low outlier" : "") + (r.exact ? "" : " (approx.)"),
                      "uniq", d.palette(rec.id));
      h += thumb_html(ctx, vs.records()[size_t(r.neighbor)], "nearest neighbour", "nb",
                      d.palette(vs.records()[size_t(r.neighbor)].id));
    }
    h += "</div>";
  }
  h += "</div>" + pager(ctx, u->rows.size());
  if (s.n > 0) {
    std::vector<double> outliers;
    for (const auto& r : u->rows)
      if (outlier_side(s, r)[0]) outliers.push_back(r.distance);
    h += "<h3>Distance to the nearest neighbour, " + std::to_string(s.n) + " images</h3>" +
         svg_boxplot({{"all images", s, outliers}}, "distance to the nearest other image (1 - cosine)");
    const std::vector<std::vector<std::string>> rows = {
        {"min", num(s.min, 4)},           {"lower whisker", num(s.lower_whisker, 4)},
        {"Q1", num(s.q1, 4)},             {"median", num(s.median, 4)},
        {"Q3", num(s.q3, 4)},             {"upper whisker", num(s.upper_whisker, 4)},
        {"max", num(s.max, 4)},           {"mean", num(s.mean, 4)},
        {"high outliers (> Q3 + 1.5 IQR)", std::to_string(s.high_outliers)},
        {"low outliers (< Q1 - 1.5 IQR)", std::to_string(s.low_outliers)}};
    h += table_html({"statistic", "distance"}, rows, rows.size(), "unique-summary", {false, true});
  }
  return h + "</section>";
}

std::vector<int64_t> unique_images(ReportData& d, const ViewContext& ctx) {
  const UniqueResult* u = d.unique();
  std::vector<int64_t> ids;
  if (!u) return ids;
  const VectorSearch& vs = *d.search();
  const auto [first, last] = page_range(ctx, u->rows.size(), size_t(d.options().unique_top));
  for (size_t i = first; i < last; ++i) {
    ids.push_back(vs.ids()[size_t(u->rows[i].row)]);
    if (u->rows[i].neighbor >= 0) ids.push_back(vs.ids()[size_t(u->rows[i].neighbor)]);
  }
  return ids;
}

// Issues: what `irbis issues` lists (find_collection_issues), the summary per issue and, per
// issue, the worst images as thumbnails with the reason; issues.csv has every row.
std::vector<CsvTable> issues_tables(ReportData& d) {
  const CollectionIssues* c = d.issues();
  if (!c) return {};
  return {CsvTable("issues.csv", issues_table(*c))};
}

// The first images of each issue the static report shows (the served view pages the same list).
constexpr size_t kIssueThumbs = 12;

// Rows [first, last) of each issue kind within c.issues (which is ordered by kind).
std::vector<std::pair<size_t, size_t>> issue_ranges(const CollectionIssues& c) {
  std::vector<std::pair<size_t, size_t>> out;
  for (IssueKind k : all_issue_kinds()) {
    size_t first = c.issues.size(), last = first;
    for (size_t i = 0; i < c.issues.size(); ++i)
      if (c.issues[i].kind == k) {
        if (first == c.issues.size()) first = i;
        last = i + 1;
      }
    out.push_back(first == c.issues.size() ? std::pair<size_t, size_t>{0, 0} : std::pair<size_t, size_t>{first, last});
  }
  return out;
}

std::string issues_html(ReportData& d, const ViewContext& ctx) {
  const CollectionIssues* c = d.issues();
  if (!c)
    return "<section id=\"issues\" data-total=\"0\"><h2>Issues</h2><p class=\"mut\">not available: " +
           html_escape(display_path(d.issues_error())) + "</p></section>";
  std::string h = "<section id=\"issues\" data-total=\"" + std::to_string(c->issues.size()) + "\"><h2>Issues" +
                  csv_link(ctx, "issues.csv") + "</h2>";
  h += "<p>What <code>irbis issues</code> lists: one row per (image, issue), thresholds from this collection's own "
       "distribution within absolute limits (docs/issues.md). " + std::to_string(c->records.size()) +
       " images checked" + (c->used_embeddings ? "; odd ones out use the CNN neighbourhood" : "") + ".</p>";
  const Table sum = issues_summary_table(*c);
  h += table_html(sum.header, sum.rows, sum.rows.size(), "issues-summary", {false, true, true, false});
  const auto ranges = issue_ranges(*c);
  for (size_t k = 0; k < ranges.size(); ++k) {
    const auto [first, last] = ranges[k];
    if (first == last) continue;
    const std::string name = issue_name(all_issue_kinds()[k]);
    const size_t shown = std::min(last - first, ctx.page_size > 0 ? size_t(ctx.page_size) : kIssueThumbs);
    h += "<div class=\"issue\" data-issue=\"" + name + "\" data-images=\"" + std::to_string(last - first) +
         "\" data-shown=\"" + std::to_string(shown) + "\"><h3>" + html_escape(name) + " (" + std::to_string(last - first) +
         ")</h3><div class=\"grid\">";
    for (size_t i = first; i < first + shown; ++i) {
      const ImageIssue& is = c->issues[i];
      const ImageRecord& rec = c->records[is.image];
      h += thumb_html(ctx, rec, "<b>" + num(is.score, 3) + "</b> " + html_escape(is.reason), "issue", d.palette(rec.id));
    }
    h += "</div>";
    if (shown < last - first)
      h += "<p class=\"mut\">showing the worst " + std::to_string(shown) + " of " + std::to_string(last - first) +
           "; issues.csv has all of them.</p>";
    h += "</div>";
  }
  if (c->issues.empty()) h += "<p class=\"mut\">no issues found.</p>";
  return h + "</section>";
}

std::vector<int64_t> issues_images(ReportData& d, const ViewContext& ctx) {
  std::vector<int64_t> ids;
  const CollectionIssues* c = d.issues();
  if (!c) return ids;
  for (const auto& [first, last] : issue_ranges(*c)) {
    const size_t shown = std::min(last - first, ctx.page_size > 0 ? size_t(ctx.page_size) : kIssueThumbs);
    for (size_t i = first; i < first + shown; ++i) ids.push_back(c->records[c->issues[i].image].id);
  }
  return ids;
}

// Classifier (--classifier FILE): the training report stored in the .clf (irbis train) —
// accuracies, the confusion matrices (SVG, confusion_svg) and per-class scores.
struct StoredReport {
  const Classifier* clf = nullptr;
  std::vector<std::pair<std::string, Evaluation>> splits;  // "test" (when held out), "train"
  std::string error;
};
StoredReport stored_report(ReportData& d) {
  StoredReport r;
  r.clf = d.classifier();
  if (!r.clf) {
    r.error = d.classifier_error();
    return r;
  }
  try {
    for (const char* split : {"test", "train"})
      if (r.clf->report.contains(split)) r.splits.push_back({split, evaluation_from_json(r.clf->report[split], r.clf->classes)});
    if (r.splits.empty()) throw ModelError("no accuracies stored");
  } catch (const Error& e) {
    r.error = d.options().classifier + ": the classifier's training report is unreadable (" + e.what() + ")";
    r.clf = nullptr;
  }
  return r;
}
std::string report_value(const nlohmann::json& rep, const char* key) {
  if (!rep.contains(key)) return "";
  const auto& v = rep[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return general(v.get<double>());
  return v.dump();
}

std::vector<CsvTable> classifier_tables(ReportData& d) {
  const StoredReport r = stored_report(d);
  if (!r.clf) return {};
  const Classifier& c = *r.clf;
  CsvTable sum{"classifier.csv", {"metric", "value"}, {}};
  sum.rows = {{"file", d.options().classifier},
              {"embedding_model", c.embedding_models_text()},
              {"input", c.inputs_text()},
              {"classes", std::to_string(c.classes.size())}};
  for (const char* k : {"train_images", "test_images", "unlabelled_images", "l2", "l2_chosen_by", "class_weights",
                        "seed", "test_fraction", "iterations", "collection", "labels"})
    if (c.report.contains(k)) sum.rows.push_back({k, report_value(c.report, k)});
  for (const auto& [split, e] : r.splits) {
    sum.rows.push_back({split + "_accuracy", num(e.accuracy, 4)});
    sum.rows.push_back({split + "_balanced_accuracy", num(e.balanced_accuracy, 4)});
  }
  // One table per split from the one serializer, stacked with a leading split column.
  auto stacked = [&](const char* file, auto table_of) {
    CsvTable t{file, {}, {}};
    for (const auto& [split, e] : r.splits) {
      Table one = table_of(e);
      if (t.header.empty()) {
        t.header = {"split"};
        t.header.insert(t.header.end(), one.header.begin(), one.header.end());
      }
      for (auto& row : one.rows) {
        row.insert(row.begin(), split);
        t.rows.push_back(std::move(row));
      }
    }
    return t;
  };
  CsvTable scores = stacked("classifier_scores.csv", [&](const Evaluation& e) { return class_scores_table(e, c.classes); });
  CsvTable confusion = stacked("classifier_confusion.csv", [&](const Evaluation& e) { return confusion_table(e, c.classes); });
  std::vector<CsvTable> out{sum, scores, confusion};
  if (c.report.contains("cv_accuracy") && c.report["cv_accuracy"].is_array() && !c.report["cv_accuracy"].empty()) {
    CsvTable cv{"classifier_cv.csv", {"l2", "mean_heldout_accuracy"}, {}};
    for (const auto& x : c.report["cv_accuracy"])
      cv.rows.push_back({report_value(x, "l2"), num(x.value("accuracy", 0.0), 4)});
    out.push_back(cv);
  }
  return out;
}

std::string classifier_html(ReportData& d, const ViewContext& ctx) {
  const StoredReport r = stored_report(d);
  if (!r.clf)
    return "<section id=\"classifier\" data-classes=\"0\"><h2>Classifier</h2><p class=\"err\">" +
           html_escape(display_path(r.error)) + "</p></section>";
  const Classifier& c = *r.clf;
  const auto t = classifier_tables(d);
  std::string h = "<section id=\"classifier\" data-classes=\"" + std::to_string(c.classes.size()) + "\"";
  for (const auto& [split, e] : r.splits) h += " data-" + split + "-accuracy=\"" + num(e.accuracy, 4) + "\"";
  h += "><h2>Classifier" + csv_link(ctx, "classifier.csv") + "</h2><p class=\"mut\">" +
       html_escape(display_path(d.options().classifier)) + ": " + html_escape(report_value(c.report, "solver")) +
       " on " + html_escape(c.embedding_models_text()) + " (" + c.inputs_text() + " input" +
       (c.heads.size() > 1 ? ", probabilities averaged" : "") + "), trained on " +
       html_escape(display_path(report_value(c.report, "collection"))) + " with labels " +
       html_escape(display_path(report_value(c.report, "labels"))) + "; L2 " + html_escape(report_value(c.report, "l2")) +
       " (" + html_escape(report_value(c.report, "l2_chosen_by")) + "), seed " + html_escape(report_value(c.report, "seed")) +
       ". The scores are those measured when it was trained (stored in the file).</p><div class=\"cards\">";
  h += card(std::to_string(c.classes.size()), "classes", "classes");
  h += card(report_value(c.report, "train_images"), "train images", "train_images");
  h += card(c.report.contains("test_images") ? report_value(c.report, "test_images") : "0", "test images", "test_images");
  for (auto it = r.splits.rbegin(); it != r.splits.rend(); ++it) {  // train, then test
    const auto& [split, e] = *it;
    h += card(num(e.accuracy, 3), split + " accuracy", split + "_accuracy");
    if (split == "test") h += card(num(e.balanced_accuracy, 3), "test balanced accuracy", "test_balanced_accuracy");
  }
  h += "</div><div class=\"grid\">";
  for (const auto& [split, e] : r.splits) {
    int n = 0;
    for (const auto& s : e.per_class) n += s.support;
    h += "<div class=\"confusion-matrix\" data-split=\"" + split + "\" style=\"overflow:auto;max-width:100%\"><h3>Confusion, " +
         split + " (" + std::to_string(n) + " images)" + csv_link(ctx, "classifier_confusion.csv") + "</h3>" +
         confusion_svg(e.confusion, c.classes, split + " accuracy " + num(e.accuracy, 3)) + "</div>";
  }
  h += "</div>";
  for (const auto& [split, e] : r.splits) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : t[1].rows)
      if (row[0] == split) rows.push_back({row.begin() + 1, row.end()});
    h += "<div class=\"class-scores\" data-split=\"" + split + "\"><h3>Per class, " + split +
         csv_link(ctx, "classifier_scores.csv") + "</h3>" +
         table_html({"class", "precision", "recall", "f1", "support"}, rows, rows.size(), "class-scores",
                    {false, true, true, true, true}) + "</div>";
  }
  return h + "</section>";
}

}  // namespace

std::vector<ReportSection> report_sections(const ReportOptions& opts) {
  std::vector<ReportSection> v;
  auto always = [](ReportData&) { return true; };
  auto none = [](ReportData&, const ViewContext&) { return std::vector<int64_t>{}; };
  v.push_back({"overview", "Overview", always, overview_html, overview_tables, none});
  v.push_back({"dupes", "Duplicates", always, dupes_html, dupes_tables, dupes_images});
  v.push_back({"unique", "Unique", always, unique_html, unique_tables, unique_images});
  v.push_back({"clusters", "Clusters", always, clusters_html, clusters_tables, clusters_images});
  v.push_back({"issues", "Issues", always, issues_html, issues_tables, issues_images});
  if (!opts.classifier.empty())
    v.push_back({"classifier", "Classifier", always, classifier_html, classifier_tables, none});
  return v;
}

ReportSummary write_report(const Collection& coll, const ReportOptions& opts, const fs::path& out_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  ReportData data(coll, opts);
  ReportSummary sum;
  std::error_code ec;
  fs::create_directories(out_dir / "thumbs", ec);
  if (ec) throw IoError(out_dir.string() + ": cannot create: " + ec.message());
  ViewContext ctx;
  ctx.live = false;
  ctx.thumb_url = [](int64_t id) { return "thumbs/" + std::to_string(id) + ".jpg"; };
  ctx.link_url = ctx.thumb_url;  // a click opens the larger thumbnail
  ctx.csv_url = [](const std::string& f) { return f; };

  std::vector<ReportSection> sections;
  for (auto& s : report_sections(opts))
    if (s.available(data)) sections.push_back(std::move(s));
  // Thumbnails the pages show: made in the collection's cache, then copied next to the HTML.
  std::vector<int64_t> ids;
  for (auto& s : sections) {
    auto v = s.images(data, ctx);
    ids.insert(ids.end(), v.begin(), v.end());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<ImageRecord> recs;
  for (int64_t id : ids)
    if (const ImageRecord* r = data.by_id(id)) recs.push_back(*r);
  ensure_thumbnails(coll, recs);
  // Every file of the report replaces its old version whole (replace_file.h): a full or read-only
  // folder ends in an IoError naming the file and the reason, with no part-written file left.
  for (const auto& r : recs) {
    const fs::path src = thumb_path(coll, r.id), dst = out_dir / "thumbs" / src.filename();
    if (!fs::exists(src, ec)) continue;  // not made (the image could not be read again)
    fs::remove(dst, ec);
    fs::create_hard_link(src, dst, ec);
    if (ec) {  // another file system, or no links there: a copy
      const std::vector<uint8_t> jpg = read_file_bytes(src.string(), uint64_t(1) << 26);
      replace_file(dst, std::string_view(reinterpret_cast<const char*>(jpg.data()), jpg.size()));
    }
    ++sum.thumbnails;
  }

  std::string nav, body;
  for (auto& s : sections) {
    nav += "<a href=\"#" + s.id + "\">" + html_escape(s.title) + "</a>";
    body += s.html(data, ctx) + "\n";
    for (const CsvTable& t : s.tables(data)) {
      replace_file(out_dir / t.file, csv_text(t));
      sum.csv_files.push_back(t.file);
    }
    sum.sections.push_back(s.id);
  }
  const std::string title = "irbis report: " + display_path(coll.dir().filename().string());
  const fs::path index = out_dir / "index.html";
  replace_file(index, page_html(title, nav, "<h1 style=\"font-size:22px\">" + html_escape(title) + "</h1>" + body));
  sum.index_html = index;
  sum.images = data.live().size();
  sum.dupe_groups = data.dupes().groups.size();
  if (const ClustersResult* c = data.clusters()) {
    sum.cluster_k = c->report.k;
    if (c->report.auto_k && c->report.table.size() > 1) {
      sum.cluster_k_min = c->report.table.front().k;
      sum.cluster_k_max = c->report.table.back().k;
    }
  }
  if (const UniqueResult* u = data.unique()) {
    sum.unique_ranked = u->summary.n;
    if (!u->rows.empty() && u->rows[0].neighbor >= 0) {
      sum.most_unique = data.search()->records()[size_t(u->rows[0].row)].path;
      sum.most_unique_distance = u->rows[0].distance;
    }
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace irbis
