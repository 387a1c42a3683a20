#include "pipeline/impl/commit.h"

namespace irbis::indexing {

bool CommitCadence::staged_one() {
  if (++since_commit_ < every_) return false;
  since_commit_ = 0;
  return true;
}

bool CommitCadence::due(int64_t staged) {
  const auto now = std::chrono::steady_clock::now();
  if (staged >= every_ || (max_wait_ && now - last_ > *max_wait_)) {
    last_ = now;
    return true;
  }
  return false;
}

BackfillSink::BackfillSink(Collection& coll, const std::vector<std::unique_ptr<FeatureProducer>>& producers,
                           std::vector<int64_t> starts, int commit_every)
    : coll_(coll), producers_(producers), starts_(std::move(starts)), cadence_(commit_every) {}

std::vector<bool> BackfillSink::wanted(int64_t id) const {
  std::vector<bool> want(producers_.size());
  for (size_t p = 0; p < want.size(); ++p) want[p] = id >= starts_[p];
  return want;
}

bool BackfillSink::stage(int64_t id, const ImageRows& rows) {
  bool computed = false;
  for (size_t p = 0; p < producers_.size(); ++p) {
    if (id < starts_[p]) continue;
    const auto& specs = producers_[p]->specs();
    const bool have = rows.computed(p);
    for (size_t f = 0; f < specs.size(); ++f) {
      if (coll_.feature_rows(specs[f].name) > id) continue;  // committed before an interruption
      if (have) {
        coll_.stage_feature_rows(specs[f].name, id, rows.rows[p][f]);
        computed = true;
      } else {
        const std::vector<uint8_t> zeros(specs[f].row_bytes(), 0);
        coll_.stage_feature_rows(specs[f].name, id, zeros);
      }
    }
  }
  if (cadence_.staged_one()) coll_.commit();
  return computed;
}

IngestSink::IngestSink(Collection& coll, const std::vector<std::unique_ptr<FeatureProducer>>& producers,
                       int commit_every, IndexReport& rep)
    : coll_(coll), producers_(producers), rep_(rep), cadence_(commit_every, std::chrono::seconds(2)) {}

void IngestSink::stage(ProducedImage& w, int64_t replaces) {
  if (!w.is_image) {
    ++rep_.not_images;
    if (replaces >= 0) {  // was an image, is no longer one
      coll_.stage_status(replaces, ImageStatus::removed);
      ++rep_.removed;
    }
  } else {
    if (replaces >= 0) {
      coll_.stage_status(replaces, ImageStatus::retired);
      ++rep_.changed;
    } else {
      ++rep_.added;
    }
    std::vector<std::pair<std::string, std::span<const uint8_t>>> rows;
    if (w.record.status == ImageStatus::ok)  // every producer's rows were computed
      for (size_t p = 0; p < producers_.size(); ++p) {
        const auto& specs = producers_[p]->specs();
        for (size_t f = 0; f < specs.size(); ++f) rows.emplace_back(specs[f].name, w.rows.rows[p][f]);
      }
    coll_.stage_image(w.record, rows);  // a failed image gets zero rows
    (w.record.status == ImageStatus::ok ? rep_.ok : rep_.failed)++;
  }
  if (cadence_.due(int64_t(coll_.staged_images()))) coll_.commit();
}

}  // namespace irbis::indexing
