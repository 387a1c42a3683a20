// ReportData: the analyses behind the report and the web UI, computed once on first use.
#include <algorithm>

#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/pipeline.h"
#include "irbis/report.h"
#include "irbis/collection_analysis.h"
#include "irbis/text.h"

namespace irbis {

std::vector<std::pair<std::string, int64_t>> size_bins() {
  return {{"<100 KB", 100'000},   {"100 KB-1 MB", 1'000'000}, {"1-3 MB", 3'000'000},
          {"3-10 MB", 10'000'000}, {"10-30 MB", 30'000'000},   {">30 MB", INT64_MAX}};
}

std::vector<int64_t> size_histogram(const std::vector<ImageRecord>& live) {
  const auto bins = size_bins();
  std::vector<int64_t> hist(bins.size(), 0);
  for (const auto& r : live) {
    size_t b = 0;
    while (b + 1 < bins.size() && r.size >= bins[b].second) ++b;
    hist[b]++;
  }
  return hist;
}

ReportData::ReportData(const Collection& coll, ReportOptions opts) : coll_(coll), opts_(std::move(opts)) {}

void ReportData::load_records_locked() {
  if (all_) return;
  all_ = coll_.records();
  live_.emplace();
  for (size_t i = 0; i < all_->size(); ++i) {
    by_id_[(*all_)[i].id] = i;
    if ((*all_)[i].status == ImageStatus::ok) live_->push_back((*all_)[i]);
  }
}

const std::vector<ImageRecord>& ReportData::live() {
  std::lock_guard lk(mu_);
  load_records_locked();
  return *live_;
}

const ImageRecord* ReportData::by_id(int64_t id) {
  std::lock_guard lk(mu_);
  load_records_locked();
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &(*all_)[it->second];
}

const CollectionSummary& ReportData::overview() {
  std::lock_guard lk(overview_mu_);
  if (!overview_) overview_ = summarize_collection(coll_);
  return *overview_;
}

const CollectionDupes& ReportData::dupes() {
  std::lock_guard lk(dupes_mu_);
  if (dupes_) return *dupes_;
  if (coll_.has_feature(kHashesFeature)) {
    DupesParams p;
    p.max_distance = opts_.dupes_threshold;
    dupes_ = find_collection_dupes(coll_, p);  // exactly what `irbis dupes` groups
  } else {
    dupes_.emplace();
  }
  return *dupes_;
}

const VectorSearch* ReportData::search() {
  std::lock_guard lk(search_mu_);
  if (!search_) {
    try {
      search_ = VectorSearch::open(coll_, opts_.model, opts_.index);
    } catch (const Error& e) {  // no embeddings of the model (e.g. hashes-only): the views say why
      search_error_ = e.what();
      search_ = std::unique_ptr<VectorSearch>();
    }
  }
  return search_->get();
}

std::string ReportData::search_error() {
  search();
  std::lock_guard lk(search_mu_);
  return search_error_;
}

int64_t ReportData::search_row(int64_t id) {
  const VectorSearch* vs = search();
  return vs ? vs->row_of_id(id) : -1;
}

const UniqueResult* ReportData::unique() {
  std::lock_guard lk(unique_mu_);
  if (unique_) return unique_->get();
  std::unique_ptr<UniqueResult> res;
  if (const VectorSearch* vs = search(); !vs) {
    unique_error_ = search_error();
  } else if (vs->size() < 2) {
    unique_error_ = "too few images with embeddings to compare (" + std::to_string(vs->size()) + ")";
  } else {
    std::vector<ContentHash> content;  // same content hash = an exact copy, never "the nearest other image"
    for (const auto& r : vs->records()) content.push_back(r.content_hash);
    const int top = int(std::min<int64_t>(std::max(1, opts_.unique_top), vs->size()));
    try {
      res = std::make_unique<UniqueResult>(rank_unique(*vs, content, top));
    } catch (const Error& e) {
      unique_error_ = e.what();
    }
  }
  unique_ = std::move(res);
  return unique_->get();
}

const CollectionIssues* ReportData::issues() {
  std::lock_guard lk(issues_mu_);
  if (issues_) return issues_->get();
  std::unique_ptr<CollectionIssues> res;
  try {
    IssueParams p;
    p.model = opts_.model;
    p.dupes.max_distance = opts_.dupes_threshold;
    res = std::make_unique<CollectionIssues>(find_collection_issues(coll_, p));
  } catch (const Error& e) {
    issues_error_ = e.what();
  }
  issues_ = std::move(res);
  return issues_->get();
}

const std::vector<ImagePalette>& ReportData::palettes_locked() {
  if (!palettes_) {
    palettes_.emplace();
    try {
      *palettes_ = load_palettes(coll_);
    } catch (const UsageError& e) {
      // No palette feature: cards show no palette, a colour search says why.
      palettes_error_ = e.what();
    }
  }
  return *palettes_;
}

const std::vector<PaletteColor>* ReportData::palette(int64_t id) {
  std::lock_guard lk(palettes_mu_);
  const std::vector<ImagePalette>& all = palettes_locked();
  const auto it = std::lower_bound(all.begin(), all.end(), id, [](const ImagePalette& p, int64_t v) { return p.record.id < v; });
  return it == all.end() || it->record.id != id || it->colors.empty() ? nullptr : &it->colors;
}

ColorSearch ReportData::color_search(const std::string& colors, int k) {
  const std::vector<LabColor> query = parse_hex_colors(colors);  // a bad colour is named before anything is read
  std::lock_guard lk(palettes_mu_);
  const std::vector<ImagePalette>& all = palettes_locked();
  if (!palettes_error_.empty()) throw UsageError(palettes_error_);
  return irbis::color_search(query, all, k);
}

std::string ReportData::issues_error() {
  issues();
  std::lock_guard lk(issues_mu_);
  return issues_error_;
}

std::string ReportData::unique_error() {
  unique();
  std::lock_guard lk(unique_mu_);
  return unique_error_;
}

const Classifier* ReportData::classifier() {
  std::lock_guard lk(classifier_mu_);
  if (!classifier_) {
    classifier_ = std::unique_ptr<Classifier>();
    if (opts_.classifier.empty()) {
      classifier_error_ = "no --classifier given";
    } else {
      try {
        classifier_ = std::make_unique<Classifier>(Classifier::load(opts_.classifier));
      } catch (const Error& e) {  // ModelError / IoError name the file and the reason
        classifier_error_ = e.what();
      }
    }
  }
  return classifier_->get();
}

std::string ReportData::classifier_error() {
  classifier();
  std::lock_guard lk(classifier_mu_);
  return classifier_error_;
}

std::string ReportData::clusters_error() {
  clusters();
  std::lock_guard lk(clusters_mu_);
  return clusters_error_;
}

const ClustersResult* ReportData::clusters() {
  std::lock_guard lk(clusters_mu_);
  if (clusters_) return clusters_->get();
  live();
  auto res = std::make_unique<ClustersResult>();
  cv::Mat x;
  try {
    auto m = load_embeddings(coll_, opts_.model, EmbeddingView::semantic);
    res->features = "cnn-semantic";
    res->records = std::move(m.records);
    x = m.data;
  } catch (const Error&) {
    if (coll_.has_feature(kColorFeature)) {  // hashes-only collections: colour statistics
      const FeatureView v = coll_.view(kColorFeature, "f32", kColorStatsDim);
      res->features = "color";
      for (const auto& r : *live_)
        if (r.id < v.rows()) res->records.push_back(r);
      x.create(int(res->records.size()), kColorStatsDim, CV_32F);
      for (size_t i = 0; i < res->records.size(); ++i)
        std::copy_n(v.row_f32(res->records[i].id), kColorStatsDim, x.ptr<float>(int(i)));
    }
  }
  const int64_t n = x.rows;
  if (n < 3) {
    clusters_error_ = n == 0 ? "no embeddings or colour features to cluster (run irbis index)"
                             : "too few images to cluster";
    clusters_ = std::unique_ptr<ClustersResult>();
    return nullptr;
  }
  ClusterParams p;
  p.seed = opts_.seed;
  p.tsne.seed = opts_.seed;
  // Large collections: PCA map (t-SNE is exact, O(n^2), up to kTsneExactMax) and fewer restarts.
  p.map = opts_.map == "auto" ? (n <= kTsneExactMax ? "tsne" : "pca") : opts_.map;
  if (n > kTsneExactMax) p.restarts = 2;
  if (opts_.cluster_k > 0) {
    p.k = int(std::min<int64_t>(opts_.cluster_k, n));
  } else {
    p.auto_k = true;
    p.k_min = opts_.k_min;
    p.k_max = int(std::min<int64_t>(opts_.k_max, n - 1));
    if (p.k_max <= p.k_min) { p.auto_k = false; p.k = 2; }
  }
  try {
    res->report = analyze_clusters(MatrixView(x), p);
  } catch (const Error& e) {
    clusters_error_ = e.what();
    clusters_ = std::unique_ptr<ClustersResult>();
    return nullptr;
  }
  clusters_ = std::move(res);
  return clusters_->get();
}

}  // namespace irbis
