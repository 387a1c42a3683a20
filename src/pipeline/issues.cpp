// find_collection_issues: the rules of `irbis issues` (docs/issues.md).
#include "irbis/issues.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <future>
#include <map>
#include <thread>

#include "irbis/collection_layout.h"
#include "irbis/errors.h"
#include "irbis/quality.h"
#include "irbis/search.h"
#include "irbis/text.h"

namespace irbis {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string size_text(const ImageRecord& r) { return std::to_string(r.width) + "x" + std::to_string(r.height); }

double clamp_threshold(double robust, double lo, double hi) { return std::clamp(robust, lo, hi); }

std::string base_name(const std::string& p) {
  const auto s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// Above the exact threshold, about this many evenly spaced images are searched exhaustively and
// give odd_one_out's median and scale of the k-th distance (docs/issues.md).
constexpr size_t kKthStatsSample = 2000;

// Per image: the properties the odd-one-out rule compares with the rest of the collection.
struct Properties {
  std::vector<double> log_side, log_aspect, brightness;
  std::vector<bool> grey;
};

}  // namespace

const char* issue_name(IssueKind k) {
  switch (k) {
    case IssueKind::blurry: return "blurry";
    case IssueKind::dark: return "dark";
    case IssueKind::bright: return "bright";
    case IssueKind::low_information: return "low_information";
    case IssueKind::grayscale: return "grayscale";
    case IssueKind::tiny: return "tiny";
    case IssueKind::odd_aspect: return "odd_aspect";
    case IssueKind::low_jpeg_quality: return "low_jpeg_quality";
    case IssueKind::odd_one_out: return "odd_one_out";
    case IssueKind::exact_duplicate: return "exact_duplicate";
    case IssueKind::near_duplicate: return "near_duplicate";
  }
  return "?";
}

const std::vector<IssueKind>& all_issue_kinds() {
  static const std::vector<IssueKind> kinds = {
      IssueKind::blurry,     IssueKind::dark,        IssueKind::bright,          IssueKind::low_information,
      IssueKind::grayscale,  IssueKind::tiny,        IssueKind::odd_aspect,      IssueKind::low_jpeg_quality,
      IssueKind::odd_one_out,
      IssueKind::exact_duplicate, IssueKind::near_duplicate};
  return kinds;
}

RobustStats robust_stats(std::vector<double> v, double min_scale) {
  RobustStats s;
  s.scale = min_scale;
  if (v.empty()) return s;
  const auto median_of = [](std::vector<double>& x) {
    const size_t m = x.size() / 2;
    std::nth_element(x.begin(), x.begin() + long(m), x.end());
    double med = x[m];
    if (x.size() % 2 == 0) med = 0.5 * (med + *std::max_element(x.begin(), x.begin() + long(m)));
    return med;
  };
  s.median = median_of(v);
  for (double& x : v) x = std::abs(x - s.median);
  s.scale = std::max(min_scale, 1.4826 * median_of(v));
  return s;
}

RobustStats kth_distance_stats(const std::vector<double>& kth) {
  std::vector<double> have;
  for (double d : kth)
    if (d >= 0) have.push_back(d);
  return robust_stats(std::move(have), 0.02);
}

CollectionIssues find_collection_issues(const Collection& coll, const IssueParams& p) {
  const std::string dir = coll.dir().string();
  if (!coll.has_feature(kQualityFeature))
    throw UsageError(dir + ": no quality feature; run `irbis index FOLDER --into " + dir +
                     "` (it is computed with the hashes and back-filled into older collections)");
  // The duplicate groups need nothing the other rules compute: they are found on a thread of
  // their own while the rest runs (at 100 000 images they were ~1 s on one core with the other
  // idle, next to the records, the rules and the serial parts of the neighbour search). One
  // thread asked for (index.threads = 1): in turn, as before. Either way the same rows.
  std::future<CollectionDupes> dupes;
  if (coll.has_feature(kHashesFeature)) {
    const bool alongside = p.index.threads != 1 && std::thread::hardware_concurrency() > 1;
    dupes = std::async(alongside ? std::launch::async : std::launch::deferred,
                       [&coll, &p] { return find_collection_dupes(coll, p.dupes); });
  }
  CollectionIssues out;
  const FeatureView view = coll.view(kQualityFeature);
  for (auto& r : coll.records(ImageStatus::ok))
    if (r.id < view.rows()) out.records.push_back(std::move(r));
  const size_t n = out.records.size();
  std::vector<QualityRow> q(n);
  for (size_t i = 0; i < n; ++i) std::copy_n(view.row_f32(out.records[i].id), kQualityDim, q[i].begin());

  const auto column = [&](auto f) {
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = f(i);
    return v;
  };
  std::map<IssueKind, IssueSummary> summary;
  for (IssueKind k : all_issue_kinds()) summary[k].kind = k;
  const auto add = [&](size_t i, IssueKind k, double score, double threshold, std::string reason) {
    out.issues.push_back({i, k, score, threshold, std::move(reason)});
  };

  // Low side of a measure: flagged below clamp(median - z*scale, lo, hi).
  const auto low_threshold = [&](const std::vector<double>& v, double min_scale, double lo, double hi) {
    const RobustStats s = robust_stats(v, min_scale);
    return clamp_threshold(s.median - p.z * s.scale, lo, hi);
  };

  // Flat images (docs/issues.md, relative contrast): low_information, and dark or bright only
  // when nearly black or white.
  const auto relative_contrast = column([&](size_t i) {
    return double(q[i][kLumStd]) / std::max(1e-3, std::min(double(q[i][kLumMean]), 1.0 - q[i][kLumMean]));
  });
  std::vector<bool> flat(n);
  for (size_t i = 0; i < n; ++i) flat[i] = relative_contrast[i] < p.low_info_relative_contrast;
  // ---- dark: even the brightest 1 % is dim.
  {
    const auto v = column([&](size_t i) { return double(q[i][kLumP99]); });
    const double t = low_threshold(v, 0.05, p.dark_lo, p.dark_hi);
    summary[IssueKind::dark].threshold = t;
    summary[IssueKind::dark].rule = "lum_p99 < " + fmt("%.3g", t);
    for (size_t i = 0; i < n; ++i)
      if (v[i] < t && !(flat[i] && q[i][kLumMean] >= p.flat_dark_mean))
        add(i, IssueKind::dark, v[i], t, "brightest 1 % of pixels at " + fmt("%.0f", 100 * v[i]) + " % luminance");
  }
  // ---- bright: even the darkest 5 % is light.
  {
    const auto v = column([&](size_t i) { return double(q[i][kLumP05]); });
    const RobustStats s = robust_stats(v, 0.05);
    const double t = clamp_threshold(s.median + p.z * s.scale, p.bright_lo, p.bright_hi);
    summary[IssueKind::bright].threshold = t;
    summary[IssueKind::bright].rule = "lum_p05 > " + fmt("%.3g", t);
    for (size_t i = 0; i < n; ++i)
      if (v[i] > t && !(flat[i] && q[i][kLumMean] <= p.flat_bright_mean))
        add(i, IssueKind::bright, v[i], t, "darkest 5 % of pixels at " + fmt("%.0f", 100 * v[i]) + " % luminance");
  }
  // ---- low information: a narrow grey histogram or next to no contrast, when exposure does not
  // explain it (a dark or bright image is reported as that).
  {
    std::vector<bool> exposure(n, false);
    for (const ImageIssue& is : out.issues)
      if (is.kind == IssueKind::dark || is.kind == IssueKind::bright) exposure[is.image] = true;
    const auto v = column([&](size_t i) { return double(q[i][kEntropy]); });
    const double t = low_threshold(v, 0.2, p.low_info_lo, p.low_info_hi);
    summary[IssueKind::low_information].threshold = t;
    summary[IssueKind::low_information].rule =
        "lum_std / min(lum_mean, 1 - lum_mean) < " + fmt("%.3g", p.low_info_relative_contrast) + ", or entropy < " +
        fmt("%.3g", t) + " bits and neither dark nor bright";
    for (size_t i = 0; i < n; ++i)
      if (flat[i] || (v[i] < t && !exposure[i]))
        add(i, IssueKind::low_information, v[i], t,
            "grey-level entropy " + fmt("%.2f", v[i]) + " bits, contrast " + fmt("%.3f", relative_contrast[i]) +
                " of the exposure's headroom, " + fmt("%.0f", q[i][kUniqueColors]) + " distinct colours");
  }
  // ---- blurry: edges a further blur hardly softens and no fine grain anywhere, when exposure or
  // flatness does not explain it (judged after dark, bright and low_information).
  {
    std::vector<bool> explained(n, false);
    for (const ImageIssue& is : out.issues)
      if (is.kind == IssueKind::dark || is.kind == IssueKind::bright || is.kind == IssueKind::low_information)
        explained[is.image] = true;
    IssueSummary& s = summary[IssueKind::blurry];
    s.threshold = p.blurry_reblur;
    if (!coll.has_feature(kSharpnessFeature) || coll.feature_rows(kSharpnessFeature) == 0) {
      s.rule = "not judged: no sharpness feature (`irbis index FOLDER --into " + dir + "` back-fills it)";
    } else {
      s.rule = "edge_reblur > " + fmt("%.3g", p.blurry_reblur) + " and fine_noise < " + fmt("%.3g", p.blurry_noise) +
               " and neither dark, bright nor low_information";
      const FeatureView sharp = coll.view(kSharpnessFeature);
      for (size_t i = 0; i < n; ++i) {
        if (explained[i] || out.records[i].id >= sharp.rows()) continue;
        const float* v = sharp.row_f32(out.records[i].id);
        if (v[kEdgeReblur] > p.blurry_reblur && v[kFineNoise] < p.blurry_noise)
          add(i, IssueKind::blurry, v[kEdgeReblur], p.blurry_reblur,
              "a 1 px blur keeps " + fmt("%.0f", 100 * v[kEdgeReblur]) + " % of the strongest edges' slope (sharp: ~65 %), fine grain " +
                  fmt("%.2f", v[kFineNoise]) + " grey levels");
      }
    }
  }
  // ---- grayscale: (almost) no pixel has a colour.
  std::vector<bool> grey(n);
  for (size_t i = 0; i < n; ++i) grey[i] = q[i][kColorfulness] <= p.grayscale_max;
  summary[IssueKind::grayscale].threshold = p.grayscale_max;
  summary[IssueKind::grayscale].rule = "colorfulness <= " + fmt("%.3g", p.grayscale_max);
  for (size_t i = 0; i < n; ++i)
    if (grey[i])
      add(i, IssueKind::grayscale, q[i][kColorfulness], p.grayscale_max,
          "colourfulness " + fmt("%.2f", q[i][kColorfulness]) + ", " + fmt("%.1f", 100 * q[i][kColoredFraction]) +
              " % of pixels coloured");
  // ---- tiny, odd aspect (from the catalog's full dimensions).
  Properties props;
  props.grey = grey;
  props.log_side = column([&](size_t i) {
    return 0.5 * std::log(std::max(1.0, double(out.records[i].width) * std::max(1, out.records[i].height)));
  });
  props.log_aspect = column([&](size_t i) {
    const double w = std::max(1, out.records[i].width), h = std::max(1, out.records[i].height);
    return std::log(std::max(w, h) / std::min(w, h));
  });
  props.brightness = column([&](size_t i) { return double(q[i][kLumMean]); });
  const RobustStats side_stats = robust_stats(props.log_side, 0.1);
  {
    const double t = std::clamp(0.3 * std::exp(side_stats.median), p.tiny_lo, p.tiny_hi);
    summary[IssueKind::tiny].threshold = t;
    summary[IssueKind::tiny].rule = "sqrt(width x height) < " + fmt("%.0f", t) + " px";
    for (size_t i = 0; i < n; ++i) {
      const double side = std::exp(props.log_side[i]);
      if (side < t)
        add(i, IssueKind::tiny, side, t,
            size_text(out.records[i]) + " among images of ~" + fmt("%.0f", std::exp(side_stats.median)) + " px");
    }
  }
  const RobustStats aspect_stats = robust_stats(props.log_aspect, 0.05);
  {
    const double t = std::max(p.odd_aspect_min, std::exp(aspect_stats.median + p.z * aspect_stats.scale));
    summary[IssueKind::odd_aspect].threshold = t;
    summary[IssueKind::odd_aspect].rule = "long side / short side > " + fmt("%.3g", t);
    for (size_t i = 0; i < n; ++i) {
      const double a = std::exp(props.log_aspect[i]);
      if (a > t)
        add(i, IssueKind::odd_aspect, a, t,
            size_text(out.records[i]) + " (" + fmt("%.1f", a) + ":1; usual " + fmt("%.1f", std::exp(aspect_stats.median)) + ":1)");
    }
  }

  // ---- low JPEG quality: the quantisation tables of a strongly compressed JPEG (JPEGs only).
  {
    IssueSummary& s = summary[IssueKind::low_jpeg_quality];
    if (!coll.has_feature(kJpegQualityFeature) || coll.feature_rows(kJpegQualityFeature) == 0) {
      s.threshold = p.jpeg_quality_hi;
      s.rule = "not judged: no jpeg_quality feature (`irbis index FOLDER --into " + dir + "` back-fills it)";
    } else {
      const FeatureView jq = coll.view(kJpegQualityFeature, "f32", 1);
      std::vector<double> quality(n, std::nan("")), have;
      for (size_t i = 0; i < n; ++i)
        if (out.records[i].id < jq.rows() && std::isfinite(*jq.row_f32(out.records[i].id)))
          have.push_back(quality[i] = *jq.row_f32(out.records[i].id));
      const RobustStats st = robust_stats(have, 5.0);
      const double t = clamp_threshold(st.median - p.z * st.scale, p.jpeg_quality_lo, p.jpeg_quality_hi);
      s.threshold = t;
      s.rule = "JPEG quality factor <= " + fmt("%.0f", t) + " (estimated from the quantisation tables)";
      for (size_t i = 0; i < n; ++i)
        if (std::isfinite(quality[i]) && quality[i] <= t)
          add(i, IssueKind::low_jpeg_quality, quality[i], t,
              "saved at JPEG quality ~" + fmt("%.0f", quality[i]) + " (usual here " + fmt("%.0f", st.median) + ")");
    }
  }

  // ---- odd one out: far from its k-th CNN neighbour and/or unusual in measured properties.
  {
    size_t n_grey = 0;
    for (bool g : grey) n_grey += g;
    const bool grey_rare = n > 0 && double(n_grey) < 0.1 * double(n);
    const bool colour_rare = n > 0 && double(n - n_grey) < 0.1 * double(n);
    const RobustStats bright_stats = robust_stats(props.brightness, 0.03);
    const double t = p.odd_one_out;
    const auto excess = [](double z) { return std::clamp(std::abs(z) - 2.0, 0.0, 6.0); };
    // The measured properties' part of each score, and its words.
    struct Part {
      double score = 0;
      std::string what, among, why;
    };
    std::vector<Part> part(n);
    for (size_t i = 0; i < n; ++i) {
      Part& pt = part[i];
      const bool mode_odd = (grey[i] && grey_rare) || (!grey[i] && colour_rare);
      if (mode_odd) {
        pt.score += 3;
        pt.what = grey[i] ? "grayscale" : "colour";
        pt.among = grey[i] ? "colour images" : "grayscale images";
      }
      const double zs = side_stats.z(props.log_side[i]);
      if (excess(zs) > 0) {
        pt.score += excess(zs);
        pt.what += (pt.what.empty() ? "" : " ") + size_text(out.records[i]);
        pt.among += (pt.among.empty() ? "images" : "") + std::string(" of ~") + fmt("%.0f", std::exp(side_stats.median)) + " px";
      }
      const double za = aspect_stats.z(props.log_aspect[i]);
      if (excess(za) > 0) {
        pt.score += excess(za);
        pt.why += "; aspect " + fmt("%.1f", std::exp(props.log_aspect[i])) + ":1 (usual " +
                  fmt("%.1f", std::exp(aspect_stats.median)) + ":1)";
      }
      const double zb = bright_stats.z(props.brightness[i]);
      if (excess(zb) > 0) {
        pt.score += excess(zb);
        pt.why += std::string("; ") + (zb < 0 ? "darker" : "brighter") + " than the rest (mean luminance " +
                  fmt("%.2f", props.brightness[i]) + ", usual " + fmt("%.2f", bright_stats.median) + ")";
      }
    }
    // The neighbourhood part: the robust z of the distance to the k-th CNN neighbour.
    std::vector<double> kth(n, -1), sampled;  // sampled: the stats' sample (approximate neighbours only)
    int k_used = 0;
    if (!p.kth_distance.empty()) {
      if (p.kth_distance.size() != n)
        throw UsageError(dir + ": " + std::to_string(p.kth_distance.size()) + " k-th neighbour distances given for " +
                         std::to_string(n) + " images");
      kth = p.kth_distance;
      k_used = p.neighbours;
      out.used_embeddings = true;
    } else try {
      auto vs = VectorSearch::open(coll, p.model, p.index);
      k_used = int(std::min<int64_t>(p.neighbours, vs->size() - 1));
      if (k_used >= 1) {
        std::vector<int64_t> row(n);
        for (size_t i = 0; i < n; ++i) row[i] = vs->row_of_id(out.records[i].id);
        const auto kth_of = [&](const std::vector<std::vector<Neighbor>>& knn) {
          std::vector<double> d(n, -1);
          for (size_t i = 0; i < n; ++i)
            if (row[i] >= 0 && !knn[size_t(row[i])].empty()) d[i] = 1.0 - knn[size_t(row[i])].back().similarity;
          return d;
        };
        // Above 10 000 images the neighbours are approximate, and an approximate k-th distance is
        // never below the exact one: only an image whose score passes with it can be odd, and those
        // (a margin below the threshold, for the median moving when their distances shrink) get
        // their neighbours searched exhaustively, unless the distance adds nothing to their score
        // either way (z <= 0). The rest cannot pass, so the rows flagged, and their order, are the
        // exact answer's wherever the refined neighbours are exact (docs/issues.md).
        // The median and scale the z divides by come from an evenly spaced sample searched
        // exhaustively too: the images not refined keep small over-estimates (on a 100 000-image
        // mixture they widened the scale by 6 %, which reordered the first rows).
        const bool refine = p.odd_one_out_refine_margin >= 0 && !vs->self_knn_is_exact();
        const size_t step = std::max<size_t>(1, n / kKthStatsSample);
        const RowsToRefine candidates = [&](const std::vector<std::vector<Neighbor>>& knn) {
          const std::vector<double> d = kth_of(knn);
          const RobustStats st = kth_distance_stats(d);
          std::vector<int64_t> rows;
          for (size_t i = 0; i < n; ++i) {
            const double z = d[i] >= 0 ? st.z(d[i]) : 0;
            if (row[i] >= 0 && (i % step == 0 || (z > 0 && part[i].score + z > t - p.odd_one_out_refine_margin)))
              rows.push_back(row[i]);
          }
          return rows;
        };
        kth = kth_of(vs->self_knn(k_used, refine ? candidates : RowsToRefine{}));
        if (refine) {
          sampled.assign(n, -1);
          for (size_t i = 0; i < n; i += step) sampled[i] = kth[i];
          // The images that can still pass, best first, searched exactly (up to a budget): the
          // join's search of them ran in its reduced space, which can miss a far image's
          // neighbours, and these are the rows listed first.
          const RobustStats st = kth_distance_stats(sampled);
          std::vector<std::pair<double, size_t>> passing;
          for (size_t i = 0; i < n; ++i) {
            const double z = kth[i] >= 0 ? st.z(kth[i]) : 0;
            if (z > 0 && part[i].score + z > t - p.odd_one_out_refine_margin) passing.push_back({part[i].score + z, i});
          }
          std::sort(passing.begin(), passing.end(), std::greater<>());
          passing.resize(std::min(passing.size(), size_t(std::max(0, p.odd_one_out_exact_rows))));
          std::vector<int64_t> rows;
          for (const auto& pa : passing) rows.push_back(row[pa.second]);
          const auto exact = vs->knn_exact_rows(rows, k_used);
          for (size_t j = 0; j < passing.size(); ++j) {
            const size_t i = passing[j].second;
            if (!exact[j].empty()) kth[i] = 1.0 - exact[j].back().similarity;
            if (sampled[i] >= 0) sampled[i] = kth[i];
          }
        }
        out.used_embeddings = true;
      }
    } catch (const UsageError&) {
      // No embeddings of this model: the measured properties alone.
    }
    out.kth_distance = kth;
    const RobustStats knn_stats = kth_distance_stats(sampled.empty() ? kth : sampled);
    summary[IssueKind::odd_one_out].threshold = t;
    summary[IssueKind::odd_one_out].rule =
        "score > " + fmt("%.3g", t) + " (robust z of the " + std::to_string(p.neighbours) +
        "th-neighbour distance + excess z of size, aspect, brightness + 3 for a rare colour mode)";
    struct Scored {
      size_t i;
      double score;
      std::string reason;
    };
    std::vector<Scored> odd;
    for (size_t i = 0; i < n; ++i) {
      double score = part[i].score;
      const std::string& what = part[i].what;
      const std::string& among = part[i].among;
      std::string why = part[i].why;
      if (kth[i] >= 0) {
        const double zk = knn_stats.z(kth[i]);
        if (zk > 0) score += zk;
        if (zk > 2)
          why += "; far from its " + std::to_string(k_used) + " nearest neighbours in CNN space (distance " +
                 fmt("%.2f", kth[i]) + ", usual " + fmt("%.2f", knn_stats.median) + ")";
      }
      if (score <= t) continue;
      std::string reason = what.empty() ? "" : what + " among " + (among.empty() ? "the others" : among);
      if (!why.empty()) reason += reason.empty() ? why.substr(2) : why;
      odd.push_back({i, score, reason});
    }
    std::sort(odd.begin(), odd.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });
    for (auto& o : odd) add(o.i, IssueKind::odd_one_out, o.score, t, std::move(o.reason));
  }

  // ---- duplicates: every image that is not the kept one of its group.
  if (dupes.valid()) {
    const CollectionDupes d = dupes.get();
    std::map<int64_t, size_t> index_of;
    for (size_t i = 0; i < n; ++i) index_of[out.records[i].id] = i;
    summary[IssueKind::exact_duplicate].rule = "same content hash as the kept image";
    summary[IssueKind::near_duplicate].threshold = p.dupes.max_distance;
    summary[IssueKind::near_duplicate].rule = "pHash distance <= " + std::to_string(p.dupes.max_distance) + " to the kept image";
    for (const DupeGroup& g : d.groups)
      for (const DupeMember& m : g.duplicates) {
        const auto it = index_of.find(d.records[m.index].id);
        if (it == index_of.end()) continue;
        const std::string keep = display_path(base_name(d.records[g.keep].path));
        if (m.kind == DupeKind::exact)
          add(it->second, IssueKind::exact_duplicate, 0, 0, "same bytes as " + keep);
        else
          add(it->second, IssueKind::near_duplicate, m.best_distance(), p.dupes.max_distance,
              std::string(dupe_kind_name(m.kind)) + " duplicate of " + keep + " (pHash distance " +
                  std::to_string(m.best_distance()) + ")");
      }
  }

  // Order: by kind, then the worst first (low-side measures ascending, high-side descending).
  const auto high_is_worse = [](IssueKind k) {
    return k == IssueKind::blurry || k == IssueKind::bright || k == IssueKind::odd_aspect || k == IssueKind::odd_one_out;
  };
  std::stable_sort(out.issues.begin(), out.issues.end(), [&](const ImageIssue& a, const ImageIssue& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    return high_is_worse(a.kind) ? a.score > b.score : a.score < b.score;
  });
  for (const ImageIssue& is : out.issues) ++summary[is.kind].images;
  for (IssueKind k : all_issue_kinds()) out.summary.push_back(summary[k]);
  return out;
}

}  // namespace irbis
