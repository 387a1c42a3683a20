// `irbis match`: new images against a collection, with the evidence rules of `irbis dupes`
// (docs/dupes.md, "Matching new images"). The query goes through index's own code: the hash-size
// decode and phash_variants for the hashes, the model producer of the feature registry for the
// embedding, so a file already in the collection gets exactly its stored rows.
#include <algorithm>
#include <bit>
#include <chrono>
#include <map>

#include "irbis/collection_analysis.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/pipeline.h"
#include "irbis/scan.h"
#include "irbis/verify.h"
#include "pipeline/impl/feature_producer.h"
#include "pipeline/impl/produce.h"

namespace irbis {

namespace {

bool low_detail_stats(const float* stats) {
  const float* sd = stats + kColorHistBins + 3;
  return std::max({sd[0], sd[1], sd[2]}) < kLowDetailStd;
}

// Ranking inside a kind: exact 0, otherwise the matched distance over its threshold.
double strength(const DupeMember& m, const MatchOptions& o) {
  switch (m.kind) {
    case DupeKind::exact: return 0;
    case DupeKind::near: return double(m.best_distance()) / std::max(1, o.max_distance);
    case DupeKind::cnn: return (1.0 - m.similarity) / std::max(1e-9, 1.0 - o.min_similarity);
    case DupeKind::verified: return -double(m.inliers);
  }
  return 0;
}

DecodeOptions with_min_side(DecodeOptions d, int min_side) {
  d.min_side = min_side;
  return d;
}

}  // namespace

size_t MatchResult::matched() const {
  return size_t(std::count_if(queries.begin(), queries.end(), [](const MatchedQuery& q) { return !q.matches.empty(); }));
}
size_t MatchResult::failed() const {
  return size_t(std::count_if(queries.begin(), queries.end(), [](const MatchedQuery& q) { return q.failed(); }));
}

struct CollectionMatcher::Impl {
  MatchOptions o;
  std::vector<ImageRecord> records;
  std::vector<uint64_t> hashes;   // phash per record
  std::vector<uint64_t> dhashes;  // dhash per record
  std::vector<bool> low_detail;
  std::multimap<ContentHash, uint32_t> by_content;
  bool cnn = false;
  std::string note;
  std::unique_ptr<VectorSearch> vs;
  std::vector<int64_t> record_of_row;
  std::vector<std::unique_ptr<indexing::FeatureProducer>> producers;  // the model's, when cnn
  std::unique_ptr<indexing::FeatureProducer::Computation> run;
  // Keypoints of collection images, computed once and kept across queries (bounded cache).
  std::unique_ptr<PairVerifier> verifier;
};

CollectionMatcher::CollectionMatcher(const Collection& coll, const MatchOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.o = options;
  const std::string dir = coll.dir().string();
  const FeatureView hv = perceptual_hashes(coll);
  const bool have_color = coll.has_feature(kColorFeature);
  const FeatureView color = have_color ? coll.view(kColorFeature, "f32", kColorStatsDim) : FeatureView{};
  std::map<int64_t, uint32_t> record_of_id;
  for (auto& r : coll.records(ImageStatus::ok)) {
    if (r.id >= hv.rows()) continue;
    const auto i = uint32_t(m.records.size());
    m.hashes.push_back(hv.row_u64(r.id)[0]);
    m.dhashes.push_back(hv.row_u64(r.id)[1]);
    m.low_detail.push_back(have_color && r.id < color.rows() && low_detail_stats(color.row_f32(r.id)));
    if (r.content_hash != ContentHash{}) m.by_content.emplace(r.content_hash, i);
    record_of_id[r.id] = i;
    m.records.push_back(std::move(r));
  }
  if (m.o.cnn) {
    if (!coll.has_feature(embedding_feature(m.o.model))) {
      m.note = "hashes only: the collection has no " + m.o.model + " embeddings; run `irbis index FOLDER --into " +
               dir + " --model " + m.o.model + "` to add them (crops, rotations and overlays are then found)";
    } else {
      m.vs = VectorSearch::open(coll, m.o.model, m.o.index);
      m.record_of_row.assign(size_t(m.vs->size()), -1);
      for (int64_t row = 0; row < m.vs->size(); ++row) {
        const auto it = record_of_id.find(m.vs->ids()[size_t(row)]);
        if (it != record_of_id.end()) m.record_of_row[size_t(row)] = it->second;
      }
      m.producers.push_back(indexing::make_model_producer(std::make_unique<Embedder>(m.vs->card())));
      m.cnn = true;
    }
  }
  const DecodeOptions verify_decode = with_min_side(m.o.decode, m.o.verify_params.work_side);
  m.verifier = std::make_unique<PairVerifier>(
      [&m, verify_decode](uint32_t i) {
        return decode_image(read_file_bytes(m.records[i].path, uint64_t(1) << 31), verify_decode).rgb;
      },
      m.o.verify_params);
}

CollectionMatcher::~CollectionMatcher() = default;

MatchedQuery CollectionMatcher::match(const std::string& name, std::span<const uint8_t> bytes) {
  Impl& m = *impl_;
  const MatchOptions& o = m.o;
  MatchedQuery q;
  q.path = name;
  std::array<uint64_t, kHashVariants> variants{};
  uint64_t query_dhash = 0;
  cv::Mat embedding;  // 1 x dim, L2-normalised
  bool query_low_detail = false;
  try {
    const DecodedImage small = decode_image(bytes, with_min_side(o.decode, kHashMinSide));
    q.format = small.header.format;
    const ImageHeader shown = oriented_header(small.header, small.orientation);
    q.width = shown.width;
    q.height = shown.height;
    variants = phash_variants(small.rgb);
    query_dhash = image_hashes(small.rgb).dhash;  // as index computes it from the same decode
    query_low_detail = low_detail_stats(color_stats(small.rgb).data());
    if (m.cnn) {
      // The model producer of `index` (decode at the model's side, forward pass, descriptor).
      if (!m.run) m.run = m.producers[0]->begin();
      indexing::ProduceContext ctx{m.producers, with_min_side(o.decode, 0)};
      indexing::ImageRows rows;
      std::vector<std::unique_ptr<indexing::FeatureProducer::Computation>> runs;
      runs.push_back(std::move(m.run));
      try {
        indexing::compute_rows(bytes, ctx, {true}, runs, rows);
      } catch (...) {
        m.run = std::move(runs[0]);
        throw;
      }
      m.run = std::move(runs[0]);
      const auto& row = rows.rows[0][0];  // model_features()[0]: the descriptor
      embedding = cv::Mat(1, int(row.size() / sizeof(float)), CV_32F);
      std::memcpy(embedding.data, row.data(), row.size());
      cv::normalize(embedding, embedding);
    }
  } catch (const Error& e) {
    q.reason = e.what();
    return q;
  } catch (const cv::Exception& e) {
    q.reason = std::string("decoder error: ") + e.what();
    return q;
  } catch (const std::bad_alloc&) {
    q.reason = "out of memory while decoding";
    return q;
  }
  const ContentHash content = indexing::content_hash(bytes);

  // Candidates: same bytes, hash (and variant) pairs within the band, the vector index's neighbours.
  // The hash evidence is judged by the rule of dupes (judge_hash_pair): the query as one item, each
  // collection image as the other (its variants are not compared: the query's are).
  DupesParams rule;
  rule.max_distance = o.max_distance;
  rule.variants_used = o.variants_used;
  rule.agreement = o.agreement;
  rule.band.max_hash_distance = o.band.max_hash_distance;
  DupeItem query_item;
  query_item.hash = variants[0];
  query_item.variants.assign(variants.begin() + 1, variants.end());
  query_item.dhash = query_dhash;
  query_item.low_detail = query_low_detail;
  DupeItem coll_item;
  struct Candidate {
    DupeMember m;
    HashMatch hash = HashMatch::none;
  };
  std::map<uint32_t, Candidate> cand;
  auto member = [&](uint32_t i) -> DupeMember& {
    auto [it, fresh] = cand.try_emplace(i);
    if (fresh) {
      it->second.m.index = i;
      coll_item.hash = m.hashes[i];
      coll_item.dhash = m.dhashes[i];
      coll_item.low_detail = m.low_detail[i];
      double unused = 0;
      it->second.hash = judge_hash_pair(query_item, coll_item, rule, o.verify, it->second.m, unused);
    }
    return it->second.m;
  };
  for (auto [it, end] = m.by_content.equal_range(content); it != end; ++it) member(it->second);
  // pHash candidates reach the pHash-only band only for rotation variants (no dHash for them); the
  // band of two agreeing hashes is found through the dHash (and the mirrored dHash).
  const int hash_reach = std::max(o.max_distance, o.verify && o.variants_used > 1 ? o.band.max_hash_distance : 0);
  std::vector<uint64_t> probes(variants.begin(), variants.begin() + 1 + std::clamp(o.variants_used, 0, kHashVariants - 1));
  for (const QueryNearPair& p : find_near_query_pairs(m.hashes, probes, hash_reach)) member(p.item);
  if (o.verify) {
    std::vector<uint64_t> dprobes{query_dhash};
    if (o.variants_used >= 1) dprobes.push_back(dhash_mirrored(query_dhash));
    for (const QueryNearPair& p : find_near_query_pairs(m.dhashes, dprobes, o.agreement.max_band_dhash)) member(p.item);
  }
  if (m.cnn) {
    const double min_sim = std::min(o.min_similarity, o.verify ? 1.0 - o.band.max_extra_distance : 2.0);
    for (const Neighbor& nb : m.vs->search(embedding.ptr<float>(0), o.neighbours)) {
      const int64_t i = m.record_of_row[size_t(nb.row)];
      if (i >= 0 && nb.similarity >= min_sim) member(uint32_t(i)).similarity = nb.similarity;
    }
    for (auto& [i, c] : cand)
      if (!c.m.has_similarity()) {
        const int64_t row = m.vs->row_of_id(m.records[i].id);
        if (row >= 0) c.m.similarity = embedding.dot(m.vs->data().row(int(row)));
      }
  }

  // Decide with the rules of dupes: sure evidence, else the band through verification.
  std::vector<DupeMember> band;
  for (auto& [i, c] : cand) {
    DupeMember& d = c.m;
    if (content != ContentHash{} && m.records[i].content_hash == content) {
      d.kind = DupeKind::exact;
      q.matches.push_back(d);
    } else if (c.hash == HashMatch::sure) {
      d.kind = DupeKind::near;
      q.matches.push_back(d);
    } else if (d.has_similarity() && d.similarity >= o.min_similarity) {
      d.kind = DupeKind::cnn;
      q.matches.push_back(d);
    } else if (o.verify && (c.hash == HashMatch::band ||
                            (d.has_similarity() && d.similarity >= 1.0 - o.band.max_extra_distance))) {
      band.push_back(d);
    }
  }
  // As in dupes, the band is verified only when there is no sure match.
  if (!band.empty() && q.matches.empty()) {
    // Strongest first: the smaller of the two distances relative to their band limits.
    auto band_rank = [&](const DupeMember& d) {
      double r = double(d.best_distance()) / std::max(1, o.band.max_hash_distance);
      if (d.has_similarity()) r = std::min(r, (1.0 - d.similarity) / std::max(1e-9, double(o.band.max_extra_distance)));
      return r;
    };
    std::stable_sort(band.begin(), band.end(), [&](const DupeMember& a, const DupeMember& b) { return band_rank(a) < band_rank(b); });
    if (band.size() > size_t(std::max(0, o.max_verified_per_query))) band.resize(size_t(std::max(0, o.max_verified_per_query)));
    const auto t0 = std::chrono::steady_clock::now();
    cv::Mat query_img;
    try {
      query_img = decode_image(bytes, with_min_side(o.decode, o.verify_params.work_side)).rgb;
    } catch (const std::exception&) {
    }
    if (!query_img.empty()) {
      std::vector<uint32_t> items;
      for (const DupeMember& d : band) items.push_back(d.index);
      const std::vector<GeometricMatch> got = m.verifier->verify_image(query_img, items);
      for (size_t k = 0; k < band.size(); ++k) {
        ++q.verified_pairs;  // an image changed or gone since indexing is refused with the reason
        if (got[k].same) {
          band[k].kind = DupeKind::verified;
          band[k].inliers = got[k].inliers;
          q.matches.push_back(band[k]);
        }
      }
    }
    q.verify_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  for (auto& d : q.matches)
    if (d.variant_distance > 64) d.variant_distance = -1, d.variant = 0;
  std::stable_sort(q.matches.begin(), q.matches.end(), [&](const DupeMember& a, const DupeMember& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    const double sa = strength(a, o), sb = strength(b, o);
    if (sa != sb) return sa < sb;
    return m.records[a.index].path < m.records[b.index].path;
  });
  return q;
}

MatchResult CollectionMatcher::result(std::vector<MatchedQuery> queries) const {
  MatchResult r;
  r.records = impl_->records;
  r.queries = std::move(queries);
  r.cnn = impl_->cnn;
  r.note = impl_->note;
  for (const MatchedQuery& q : r.queries) r.verified_pairs += size_t(q.verified_pairs), r.verify_seconds += q.verify_seconds;
  return r;
}

MatchResult match_images(const Collection& coll, const std::vector<std::string>& paths, const MatchOptions& options) {
  CollectionMatcher matcher(coll, options);
  std::vector<MatchedQuery> queries;
  for (const std::string& root : paths) {
    std::error_code ec;
    const bool folder = std::filesystem::is_directory(root, ec);
    const ScanResult found = scan({root});
    auto failed = [&](const std::string& path, const std::string& reason) {
      MatchedQuery q;
      q.path = path;
      q.reason = reason;
      queries.push_back(std::move(q));
    };
    for (const ScanProblem& p : found.problems) failed(p.path, p.reason);
    for (const ScanEntry& e : found.files) {
      std::vector<uint8_t> bytes;
      try {
        bytes = read_file_bytes(e.path, uint64_t(1) << 30);
      } catch (const Error& err) {
        failed(e.path, err.what());
        continue;
      }
      // Inside a folder, files that are neither images nor named like one are not queries.
      if (folder && sniff_format(bytes) == ImageFormat::unknown && !has_image_extension(e.path)) continue;
      queries.push_back(matcher.match(e.path, bytes));
    }
  }
  return matcher.result(std::move(queries));
}

}  // namespace irbis
