#include "irbis/collection_analysis.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <tuple>

#include <nlohmann/json.hpp>

#include "irbis/embeddings.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/collection_layout.h"
#include "irbis/image.h"
#include "irbis/scan.h"
#include "irbis/verify.h"
#include "irbis/pipeline.h"
#include "irbis/text.h"

namespace irbis {

CollectionSummary summarize_collection(const Collection& coll) {
  CollectionSummary s;
  for (auto& r : coll.records()) {
    switch (r.status) {
      case ImageStatus::ok:
        ++s.ok;
        s.formats[format_name(r.format)]++;
        s.bytes += r.size;
        s.pixels += int64_t(r.width) * r.height;
        break;
      case ImageStatus::failed:
        ++s.failed;
        s.failures.push_back(std::move(r));
        break;
      case ImageStatus::removed: ++s.removed; break;
      case ImageStatus::retired: ++s.retired; break;
    }
  }
  for (const auto& f : coll.feature_specs()) s.features.push_back({f, coll.feature_rows(f.name)});
  s.scan_problems = load_scan_problems(coll);
  return s;
}

size_t CollectionDupes::duplicates() const {
  size_t n = 0;
  for (const auto& g : groups) n += g.duplicates.size();
  return n;
}

FeatureView perceptual_hashes(const Collection& coll) {
  const std::string dir = coll.dir().string();
  if (!coll.has_feature(kHashesFeature))
    throw UsageError(dir + ": collection has no perceptual hashes; run `irbis index FOLDER --into " + dir +
                     " --features hashes`");
  return coll.view(kHashesFeature, "u64", 3);
}

CollectionDupes find_collection_dupes(const Collection& coll, const DupesParams& params_in, const CnnDupesOptions& cnn) {
  const std::string dir = coll.dir().string();
  const FeatureView hashes = perceptual_hashes(coll);
  const bool have_color = coll.has_feature(kColorFeature);
  const FeatureView color = have_color ? coll.view(kColorFeature, "f32", kColorStatsDim) : FeatureView{};
  // The variant hashes `index` stores (mirror, rotations); a collection indexed before them has
  // none until the next index run back-fills them, and then matches without variants.
  const bool have_variants = params_in.variants_used > 0 && coll.has_feature(kPhashVariantsFeature);
  const FeatureView variants = have_variants ? coll.view(kPhashVariantsFeature, "u64", kHashVariants - 1) : FeatureView{};
  CollectionDupes out;
  out.variants = have_variants ? std::min(params_in.variants_used, kHashVariants - 1) : 0;
  std::vector<DupeItem> items;
  for (auto& r : coll.records(ImageStatus::ok)) {
    if (r.id >= hashes.rows()) continue;  // hashes not computed for this row
    DupeItem it;
    it.hash = hashes.row_u64(r.id)[0];
    it.dhash = hashes.row_u64(r.id)[1];
    if (have_variants && r.id < variants.rows()) {
      const uint64_t* v = variants.row_u64(r.id);
      it.variants.assign(v, v + std::min(params_in.variants_used, kHashVariants - 1));
    }
    it.content = r.content_hash;
    it.pixels = int64_t(r.width) * r.height;
    it.file_size = r.size;
    it.mtime_ns = r.mtime_ns;
    it.jpeg = r.format == ImageFormat::jpeg;
    it.path = r.path;
    if (have_color && r.id < color.rows()) {
      const float* std = color.row_f32(r.id) + kColorHistBins + 3;
      it.low_detail = std::max({std[0], std[1], std[2]}) < kLowDetailStd;
    }
    if (it.variants.empty()) out.variants = 0;
    items.push_back(std::move(it));
    out.records.push_back(std::move(r));
  }
  // gray: grey levels only (a JPEG's luma plane, its chroma never decoded), for the first test.
  auto decode = [&](uint32_t i, int min_side, bool gray = false) {
    const auto bytes = read_file_bytes(out.records[i].path, uint64_t(1) << 31);
    DecodeOptions o;
    o.min_side = min_side;
    return gray ? decode_gray(bytes, o) : decode_image(bytes, o).rgb;
  };
  // Pairs in the uncertain band are confirmed by geometric verification on bounded-size decodes.
  DupesParams params = params_in;
  std::shared_ptr<PairVerifier> verifier;
  // Every item has a dHash (the hashes feature holds it), so the hash band is the two-hash one
  // (HashAgreement); it is on unless it adds nothing to the sure rule.
  const HashAgreement& ag = params.agreement;
  const bool hash_band = ag.max_band_phash > params.max_distance || ag.max_band_dhash > ag.max_sure_dhash ||
                         (params.variants_used > 1 && params.band.max_hash_distance > params.max_distance);
  const bool band = hash_band || (cnn.enabled && params.band.max_extra_distance > float(1.0 - cnn.min_similarity));
  if (band) {
    if (hash_band) {
      out.verify_max_distance = std::max(params.max_distance, ag.max_band_phash);
      out.verify_max_dhash_distance = ag.max_band_dhash;
    }
    if (cnn.enabled && params.band.max_extra_distance > float(1.0 - cnn.min_similarity))
      out.verify_min_similarity = 1.0 - double(params.band.max_extra_distance);
  }
  if (band && !params.band.verify) {
    const VerifyParams vp = params.verify;
    verifier = std::make_shared<PairVerifier>([&, vp](uint32_t i) { return decode(i, vp.work_side); }, vp);
    verifier->set_first_test_loader([&, vp](uint32_t i) { return decode(i, vp.first_test_side, true); });
    params.band.verify = [verifier](uint32_t keep, uint32_t cand) {
      const GeometricMatch g = verifier->verify(keep, cand);
      return PairCheck{g.same, g.inliers};
    };
    params.band.verify_all = [verifier](const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
      verifier->verify_all(pairs);
    };
    params.band.check = [verifier](uint32_t keep, uint32_t cand) { return verifier->check(keep, cand); };
    params.band.check_all = [verifier](const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
      verifier->check_all(pairs);
    };
  }
  auto finish = [&](std::vector<DupeGroup> groups) {
    out.groups = std::move(groups);
    if (verifier) {
      out.pairs_verified = verifier->pairs_verified();
      out.verify_seconds = verifier->seconds();
      out.pairs_checked = verifier->pairs_checked();
      out.check_seconds = verifier->check_seconds();
    }
    return out;
  };
  if (!cnn.enabled) return finish(group_duplicates(items, params));
  IndexOptions index = cnn.index;
  // The self-join (self_knn) and the rows are all dupes asks of the index: its HNSW graph is then
  // neither loaded nor built (~0.5 s at 100 000 when saved, minutes when it is not).
  if (index.self_join) index.open_graph = false;
  const auto vs = VectorSearch::open(coll, cnn.model, index);
  std::vector<int64_t> row_of_item;  // VectorSearch row per item, -1 = no embedding
  row_of_item.reserve(out.records.size());
  for (const auto& r : out.records) row_of_item.push_back(vs->row_of_id(r.id));
  std::vector<int64_t> item_of_row(size_t(vs->size()), -1);
  for (size_t i = 0; i < row_of_item.size(); ++i)
    if (row_of_item[i] >= 0) item_of_row[size_t(row_of_item[i])] = int64_t(i);
  ExtraLinkage extra;
  extra.max_distance = float(1.0 - cnn.min_similarity);
  // Down to the band's edge, and by the stand-out margin beyond it: those neighbours can only be
  // rivals of a band pair (VerifyPolicy::cnn_stand_out), never matches.
  const double band_edge = 1.0 - std::max(double(extra.max_distance), double(params.band.max_extra_distance));
  const double min_pair_similarity = band_edge - (band ? std::max(0.0, stand_out_margin(band_edge, params.policy)) : 0.0);
  const auto knn = vs->self_knn(cnn.neighbours);
  // Neighbour lists are not symmetric: b may be among a's nearest while a is not among b's (a crop
  // next to a photo with many copies: the photo's list holds only its copies). Every listed pair
  // counts, once.
  for (int64_t r = 0; r < vs->size(); ++r)
    for (const auto& nb : knn[size_t(r)]) {
      const int64_t a = item_of_row[size_t(r)], b = item_of_row[size_t(nb.row)];
      if (r != nb.row && nb.similarity >= min_pair_similarity && a >= 0 && b >= 0)
        extra.pairs.push_back({uint32_t(std::min(a, b)), uint32_t(std::max(a, b)), 1.f - nb.similarity});
    }
  std::sort(extra.pairs.begin(), extra.pairs.end(), [](const ExtraLinkage::Pair& x, const ExtraLinkage::Pair& y) {
    return std::tie(x.i, x.j, x.distance) < std::tie(y.i, y.j, y.distance);
  });
  extra.pairs.erase(std::unique(extra.pairs.begin(), extra.pairs.end(),
                                [](const ExtraLinkage::Pair& x, const ExtraLinkage::Pair& y) { return x.i == y.i && x.j == y.j; }),
                    extra.pairs.end());
  const cv::Mat& data = vs->data();
  extra.distance = [&](uint32_t a, uint32_t b) {
    const int64_t ra = row_of_item[a], rb = row_of_item[b];
    if (ra < 0 || rb < 0) return 1e30f;
    return float(1.0 - data.row(int(ra)).dot(data.row(int(rb))));
  };
  extra.distance_thread_safe = true;  // reads only
  return finish(group_duplicates(items, params, extra));
}

FeatureRows::FeatureRows(const Collection& coll, const std::string& features, const std::string& model) {
  int64_t rows = 0;
  if (features == "cnn-semantic" || features == "cnn-full") {
    cnn_.emplace(coll, model, features == "cnn-full" ? EmbeddingView::full : EmbeddingView::semantic);
    dim_ = cnn_->dim();
    rows = cnn_->rows();
  } else {
    color_ = features == "color";
    if (!color_ && features != "hash")
      throw UsageError("unknown features '" + features + "' (expected cnn-semantic, cnn-full, color or hash)");
    const std::string name = color_ ? kColorFeature : kHashesFeature;
    const std::string dir = coll.dir().string();
    if (!coll.has_feature(name))
      throw UsageError(dir + ": no " + name + " feature; run `irbis index FOLDER --into " + dir + " --features hashes`");
    view_ = color_ ? coll.view(name, "f32", kColorStatsDim) : coll.view(name, "u64", 3);
    dim_ = color_ ? kColorStatsDim : 64;
    rows = view_.rows();
  }
  for (auto& r : coll.records(ImageStatus::ok))
    if (r.id < rows) records_.push_back(std::move(r));
}

void FeatureRows::read(int64_t first, int64_t count, float* out) const {
  IRBIS_THROW_IF_NOT(first >= 0 && count >= 0 && first + count <= size(), UsageError,
                     "feature rows " + std::to_string(first) + "+" + std::to_string(count) + " out of range");
  for (int64_t i = first; i < first + count; ++i, out += dim_) {
    const int64_t id = records_[size_t(i)].id;
    if (cnn_) {
      cnn_->read(id, out);
    } else if (color_) {
      std::copy_n(view_.row_f32(id), dim_, out);
    } else {
      const uint64_t h = view_.row_u64(id)[0];
      for (int b = 0; b < 64; ++b) out[b] = float((h >> (63 - b)) & 1);
    }
  }
}

FeatureMatrix load_feature_matrix(const Collection& coll, const std::string& features, const std::string& model) {
  FeatureRows rows(coll, features, model);
  FeatureMatrix in;
  in.data.create(int(rows.size()), rows.dim(), CV_32F);
  if (rows.size() > 0) rows.read(0, rows.size(), in.data.ptr<float>());
  in.records = rows.take_records();
  return in;
}

std::vector<ImagePalette> load_palettes(const Collection& coll) {
  const std::string dir = coll.dir().string();
  if (!coll.has_feature(kPaletteFeature) || coll.feature_rows(kPaletteFeature) == 0)
    throw UsageError(dir + ": no dominant colours (palette feature); run `irbis index FOLDER --into " + dir +
                     "` (they are computed with the hashes and back-filled into older collections)");
  const FeatureView pal = coll.view(kPaletteFeature, "f32", kPaletteDim);
  const bool with_hist = coll.has_feature(kColorFeature);
  std::optional<FeatureView> hist;
  if (with_hist) hist.emplace(coll.view(kColorFeature, "f32", kColorStatsDim));
  std::vector<ImagePalette> out;
  for (auto& r : coll.records(ImageStatus::ok)) {
    if (r.id >= pal.rows()) continue;
    ImagePalette p;
    p.colors = palette_colors(pal.row_f32(r.id));
    if (hist && r.id < hist->rows()) p.histogram.assign(hist->row_f32(r.id), hist->row_f32(r.id) + kColorHistBins);
    p.record = std::move(r);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<ImagePalette> rank_palettes(const std::vector<ImagePalette>& palettes, const std::vector<LabColor>& query, int k) {
  std::vector<double> match(palettes.size());
  for (size_t i = 0; i < palettes.size(); ++i) match[i] = palette_match(palettes[i].colors, query);
  std::vector<size_t> order(palettes.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t keep = std::min(order.size(), size_t(std::max(0, k)));
  std::partial_sort(order.begin(), order.begin() + long(keep), order.end(), [&](size_t a, size_t b) {
    return match[a] != match[b] ? match[a] > match[b] : palettes[a].record.id < palettes[b].record.id;
  });
  std::vector<ImagePalette> out;
  for (size_t j = 0; j < keep; ++j) {
    out.push_back(palettes[order[j]]);
    out.back().match = match[order[j]];
  }
  return out;
}

std::vector<ImagePalette> search_collection_colors(const Collection& coll, const std::vector<LabColor>& query, int k) {
  return rank_palettes(load_palettes(coll), query, k);
}

ColorSearch color_search(const std::vector<LabColor>& query, const std::vector<ImagePalette>& palettes, int k) {
  ColorSearch out;
  for (const LabColor& c : query) out.query.push_back(hex_color(c));
  out.hits = rank_palettes(palettes, query, k);
  return out;
}

ColorSearch search_collection_colors(const Collection& coll, const std::string& colors, int k) {
  const std::vector<LabColor> query = parse_hex_colors(colors);  // before any read: a bad colour is the caller's
  return color_search(query, load_palettes(coll), k);
}

EmbeddingMatrix load_classifier_input(const Collection& coll, const std::string& model, ClassifierInput input) {
  EmbeddingMatrix m = load_embeddings(coll, model, reads_blocks(input) ? EmbeddingView::blocks : EmbeddingView::full);
  if (reads_blocks(input)) m.data = classifier_features_from_blocks(m.card, input, m.data);
  return m;
}

ClassifierInputs load_classifier_inputs(const Collection& coll, const std::string& model,
                                        std::vector<ClassifierInput> inputs) {
  if (inputs.empty()) {
    inputs = default_classifier_inputs();
    // A collection without the pooled blocks (older, or indexed elsewhere) still trains on its descriptor.
    if (!coll.has_feature(blocks_feature(model)) || coll.feature_rows(blocks_feature(model)) == 0)
      inputs = {ClassifierInput::full};
  }
  const bool need_full = std::any_of(inputs.begin(), inputs.end(), [](ClassifierInput v) { return !reads_blocks(v); });
  const bool need_blocks = std::any_of(inputs.begin(), inputs.end(), reads_blocks);
  EmbeddingMatrix desc, blocks;
  if (need_full) desc = load_embeddings(coll, model, EmbeddingView::full);
  if (need_blocks) blocks = load_embeddings(coll, model, EmbeddingView::blocks);
  if (need_full && need_blocks && desc.records.size() != blocks.records.size()) {
    // Keep the images that have both rows (both lists are in id order).
    std::vector<int> keep_d, keep_b;
    for (size_t i = 0, j = 0; i < desc.records.size() && j < blocks.records.size();) {
      if (desc.records[i].id < blocks.records[j].id) {
        ++i;
      } else if (blocks.records[j].id < desc.records[i].id) {
        ++j;
      } else {
        keep_d.push_back(int(i++));
        keep_b.push_back(int(j++));
      }
    }
    auto take = [](EmbeddingMatrix& m, const std::vector<int>& keep) {
      std::vector<ImageRecord> records;
      cv::Mat data(int(keep.size()), m.data.cols, CV_32F);
      for (size_t k = 0; k < keep.size(); ++k) {
        records.push_back(std::move(m.records[size_t(keep[k])]));
        m.data.row(keep[k]).copyTo(data.row(int(k)));
      }
      m.records = std::move(records);
      m.data = data;
    };
    take(desc, keep_d);
    take(blocks, keep_b);
  }
  ClassifierInputs out;
  out.card = need_full ? desc.card : blocks.card;
  cv::Mat sqrt_rows;  // blocks-sqrt, shared by the random-feature candidate
  for (ClassifierInput in : inputs) {
    if (in == ClassifierInput::blocks_sqrt_rff) {
      if (sqrt_rows.empty())
        sqrt_rows = classifier_features_from_blocks(blocks.card, ClassifierInput::blocks_sqrt, blocks.data);
      out.candidates.push_back(random_feature_candidate(sqrt_rows));
      continue;
    }
    out.candidates.push_back({in, reads_blocks(in) ? classifier_features_from_blocks(blocks.card, in, blocks.data)
                                                   : desc.data, {}});
    if (in == ClassifierInput::blocks_sqrt) sqrt_rows = out.candidates.back().X;
  }
  out.records = std::move(need_full ? desc.records : blocks.records);
  return out;
}

std::vector<std::string> classifier_models(const Collection& coll) {
  std::vector<std::string> out;
  for (const auto& m : embedding_models(coll.feature_specs()))
    if (coll.feature_rows(embedding_feature(m)) > 0) out.push_back(m);
  const auto def = std::find(out.begin(), out.end(), std::string(kDefaultModel));
  if (def != out.end()) std::rotate(out.begin(), def, def + 1);
  if (out.empty()) out.push_back(kDefaultModel);
  return out;
}

std::vector<std::string> parse_model_list(const std::string& models) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = models.find(',', start);
    const std::string name = models.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (name.empty()) throw UsageError("--model: empty model name in '" + models + "' (e.g. mobilenet_v2_mid,inception_v3)");
    if (std::find(out.begin(), out.end(), name) != out.end())
      throw UsageError("--model: model '" + name + "' given twice");
    out.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

namespace {

// Row indices, per list, of the ids every list has (each list in id order).
std::vector<std::vector<int>> common_rows(const std::vector<const std::vector<ImageRecord>*>& lists) {
  std::vector<std::vector<int>> keep(lists.size());
  std::vector<size_t> at(lists.size(), 0);
  while (true) {
    int64_t hi = INT64_MIN;
    for (size_t l = 0; l < lists.size(); ++l) {
      if (at[l] >= lists[l]->size()) return keep;
      hi = std::max(hi, (*lists[l])[at[l]].id);
    }
    bool all = true;
    for (size_t l = 0; l < lists.size(); ++l) {
      while (at[l] < lists[l]->size() && (*lists[l])[at[l]].id < hi) ++at[l];
      if (at[l] >= lists[l]->size()) return keep;
      all = all && (*lists[l])[at[l]].id == hi;
    }
    if (!all) continue;
    for (size_t l = 0; l < lists.size(); ++l) keep[l].push_back(int(at[l]++));
  }
}

cv::Mat take_rows(const cv::Mat& X, const std::vector<int>& rows) {
  if (int(rows.size()) == X.rows) return X;  // ids in order and all kept: the same rows
  cv::Mat out(int(rows.size()), X.cols, X.type());
  for (size_t i = 0; i < rows.size(); ++i) X.row(rows[i]).copyTo(out.row(int(i)));
  return out;
}

// One head's rows of the collection (its model's stored embeddings through its input), checked
// against the head: the model must be there and computed with the head's weights.
EmbeddingMatrix head_rows(const ClassifierHead& head, const ModelCard& card, const Collection& coll) {
  head.check_embedder(card);
  const std::string feat = head.input == ClassifierInput::full ? embedding_feature(card.name) : blocks_feature(card.name);
  if (!coll.has_feature(feat) || coll.feature_rows(feat) == 0) {
    // Name what the collection does have: the usual mistake is a collection indexed with another model.
    std::string have;
    for (const auto& m : embedding_models(coll.feature_specs())) have += (have.empty() ? "" : ", ") + m;
    const std::string dir = display_path(coll.dir().string());
    throw UsageError(dir + ": the classifier needs embeddings of model '" + card.name + "' but the collection has " +
                     (have.empty() ? "none" : "only: " + have) + "; run `irbis index FOLDER --into " + dir +
                     " --model " + card.name + "`");
  }
  // Same model name is not enough: the stored rows must come from the weights it was trained on.
  const std::string stored = coll.meta(model_weights_key(card.name));
  if (!stored.empty() && !head.embedding_sha256.empty() && stored != head.embedding_sha256)
    throw UsageError(display_path(coll.dir().string()) + ": its embeddings of model '" + card.name +
                     "' were computed with other weights (ONNX sha256 " + stored.substr(0, 12) +
                     "…) than the classifier was trained on (" + head.embedding_sha256.substr(0, 12) +
                     "…); re-index the collection with those weights or retrain");
  const bool random_features = head.input == ClassifierInput::blocks_sqrt_rff;
  EmbeddingMatrix m = load_classifier_input(coll, card.name, random_features ? ClassifierInput::blocks_sqrt : head.input);
  if (random_features) m.data = head.rff.map(m.data);
  return m;
}

}  // namespace

ClassifierHeadInputs load_classifier_head_inputs(const Collection& coll, const std::vector<std::string>& models,
                                                 const std::vector<ClassifierInput>& inputs) {
  IRBIS_THROW_IF_NOT(!models.empty(), UsageError, "train: no embedding model");
  std::vector<ClassifierInputs> per;
  for (const auto& m : models) per.push_back(load_classifier_inputs(coll, m, inputs));
  std::vector<const std::vector<ImageRecord>*> lists;
  for (const auto& p : per) lists.push_back(&p.records);
  const auto keep = common_rows(lists);
  ClassifierHeadInputs out;
  for (size_t h = 0; h < per.size(); ++h) {
    out.cards.push_back(per[h].card);
    for (auto& c : per[h].candidates) c.X = take_rows(c.X, keep[h]);
    out.heads.push_back(std::move(per[h].candidates));
  }
  for (int r : keep[0]) out.records.push_back(per[0].records[size_t(r)]);
  return out;
}

CollectionPredictions predict_collection(const Classifier& clf, const std::vector<ModelCard>& cards,
                                         const Collection& coll) {
  IRBIS_THROW_IF_NOT(cards.size() == clf.heads.size(), UsageError, "predict: one model card per classifier head");
  std::vector<EmbeddingMatrix> rows;
  for (size_t h = 0; h < cards.size(); ++h) rows.push_back(head_rows(clf.heads[h], cards[h], coll));
  std::vector<const std::vector<ImageRecord>*> lists;
  for (const auto& r : rows) lists.push_back(&r.records);
  const auto keep = common_rows(lists);
  std::vector<cv::Mat> features;
  for (size_t h = 0; h < rows.size(); ++h) features.push_back(take_rows(rows[h].data, keep[h]));
  CollectionPredictions out;
  out.proba = clf.predict_proba(features);
  for (int r : keep[0]) out.records.push_back(std::move(rows[0].records[size_t(r)]));
  return out;
}

}  // namespace irbis
