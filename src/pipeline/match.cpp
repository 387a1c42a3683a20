// `irbis match`: new images against a collection, with the evidence rules of `irbis dupes`
// (docs/dupes.md, "Matching new images"). The query goes through index's own code: the hash-size
// decode and phash_variants for the hashes, the model producer of the feature registry for the
// embedding, so a file already in the collection gets exactly its stored rows.
#include <algorithm>
#include <bit>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "irbis/collection_analysis.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/pipeline.h"
#include "irbis/scan.h"
#include "irbis/verify.h"
#include "io/parallel_indices.h"
#include "pipeline/impl/feature_producer.h"
#include "pipeline/impl/opencv_threads.h"
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

  // One image: its features as index computes them (on the network `run` holds, leased on first
  // use), then decide() with the geometric verifier. Safe on several threads, each with its own run.
  MatchedQuery match_bytes(const std::string& name, std::span<const uint8_t> bytes,
                           std::unique_ptr<indexing::FeatureProducer::Computation>& run) const;
  // Candidates, the decision and the verification of one query. Safe on several threads.
  MatchedQuery decide(const MatchQuery& query, const QueryVerifier& verify, const QueryPixelCheck& check) const;
};

namespace {

int worker_count(int threads, size_t jobs) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  return int(std::clamp<size_t>(size_t(threads > 0 ? threads : cores), 1, std::max<size_t>(1, jobs)));
}

}  // namespace

CollectionMatcher::CollectionMatcher(const Collection& coll, const MatchOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.o = options;
  // Queries run on several threads at once: each exact search on one (same answers either way).
  if (worker_count(options.threads, SIZE_MAX) > 1) m.o.index.single_thread_queries = true;
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
  return impl_->match_bytes(name, bytes, impl_->run);
}

MatchedQuery CollectionMatcher::Impl::match_bytes(const std::string& name, std::span<const uint8_t> bytes,
                                                  std::unique_ptr<indexing::FeatureProducer::Computation>& run) const {
  const Impl& m = *this;
  const MatchOptions& o = m.o;
  MatchedQuery q;
  q.path = name;
  MatchQuery query;
  query.path = name;
  try {
    const DecodedImage small = decode_image(bytes, with_min_side(o.decode, kHashMinSide));
    q.format = small.header.format;
    const ImageHeader shown = oriented_header(small.header, small.orientation);
    q.width = shown.width;
    q.height = shown.height;
    query.phash_variants = phash_variants(small.rgb);
    query.dhash = image_hashes(small.rgb).dhash;  // as index computes it from the same decode
    query.low_detail = low_detail_stats(color_stats(small.rgb).data());
    if (m.cnn) {
      // The model producer of `index` (decode at the model's side, forward pass, descriptor).
      if (!run) run = m.producers[0]->begin();
      indexing::ProduceContext ctx{m.producers, with_min_side(o.decode, 0)};
      indexing::ImageRows rows;
      std::vector<std::unique_ptr<indexing::FeatureProducer::Computation>> runs;
      runs.push_back(std::move(run));
      try {
        indexing::compute_rows(bytes, ctx, {true}, runs, rows);
      } catch (...) {
        run = std::move(runs[0]);
        throw;
      }
      run = std::move(runs[0]);
      const auto& row = rows.rows[0][0];  // model_features()[0]: the descriptor
      query.embedding.resize(row.size() / sizeof(float));
      std::memcpy(query.embedding.data(), row.data(), row.size());
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
  query.content = indexing::content_hash(bytes);
  // The query is decoded at the verifier's size only when a pair is checked or verified.
  cv::Mat query_img;
  bool decoded = false;
  const auto decode_query = [&] {
    if (!decoded) {
      decoded = true;
      try {
        query_img = decode_image(bytes, with_min_side(o.decode, o.verify_params.work_side)).rgb;
      } catch (const std::exception&) {
      }
    }
    return !query_img.empty();
  };
  const QueryVerifier verify = [&](const std::vector<uint32_t>& items) {
    std::vector<PairCheck> out(items.size());
    if (!decode_query()) return out;  // refused
    const std::vector<GeometricMatch> got = m.verifier->verify_image(query_img, items);
    for (size_t k = 0; k < items.size(); ++k) out[k] = {got[k].same, got[k].inliers};
    return out;
  };
  const QueryPixelCheck check = [&](const std::vector<uint32_t>& items) {
    std::vector<PixelCheck> out(items.size());
    if (!decode_query()) {
      for (auto& c : out) c.reason = "cannot decode";
      return out;
    }
    return m.verifier->check_image(query_img, items);
  };
  MatchedQuery answer = decide(query, verify, check);
  answer.format = q.format;
  answer.width = q.width;
  answer.height = q.height;
  return answer;
}

MatchedQuery CollectionMatcher::match(const MatchQuery& query, const QueryVerifier& verify, const QueryPixelCheck& check) {
  return impl_->decide(query, verify, check);
}

std::vector<MatchedQuery> CollectionMatcher::match(std::span<const MatchQuery> queries, const BatchQueryVerifier& verify,
                                                   const BatchQueryPixelCheck& check) {
  std::vector<MatchedQuery> out(queries.size());
  parallel_indices(queries.size(), worker_count(impl_->o.threads, queries.size()), [&](int, size_t k) {
    const QueryVerifier v = [&](const std::vector<uint32_t>& items) { return verify(k, items); };
    QueryPixelCheck c;
    if (check) c = [&](const std::vector<uint32_t>& items) { return check(k, items); };
    out[k] = impl_->decide(queries[k], v, c);
  });
  return out;
}

MatchedQuery CollectionMatcher::Impl::decide(const MatchQuery& query, const QueryVerifier& verify, const QueryPixelCheck& check) const {
  const Impl& m = *this;
  const MatchOptions& o = m.o;
  MatchedQuery q;
  q.path = query.path;
  const auto& variants = query.phash_variants;
  const ContentHash& content = query.content;
  cv::Mat embedding;  // 1 x dim, L2-normalised
  if (m.cnn && !query.embedding.empty()) {
    embedding = cv::Mat(1, int(query.embedding.size()), CV_32F, const_cast<float*>(query.embedding.data())).clone();
    cv::normalize(embedding, embedding);
  }

  // Candidates: same bytes, hash (and variant) pairs within the band, the vector index's neighbours.
  // The hash evidence is judged by the rule of dupes (judge_hash_pair): the query as one item, each
  // collection image as the other (its variants are not compared: the query's are).
  DupesParams rule;
  rule.max_distance = o.max_distance;
  rule.variants_used = o.variants_used;
  rule.agreement = o.agreement;
  rule.band.max_hash_distance = o.band.max_hash_distance;
  rule.policy = o.policy;
  DupeItem query_item;
  query_item.hash = variants[0];
  query_item.variants.assign(variants.begin() + 1, variants.end());
  query_item.dhash = query.dhash;
  query_item.low_detail = query.low_detail;
  DupeItem coll_item;
  struct Candidate {
    DupeMember m;
    PairEvidence ev;
  };
  std::map<uint32_t, Candidate> cand;
  auto member = [&](uint32_t i) -> DupeMember& {
    auto [it, fresh] = cand.try_emplace(i);
    if (fresh) {
      Candidate& c = it->second;
      c.m.index = i;
      coll_item.hash = m.hashes[i];
      coll_item.dhash = m.dhashes[i];
      coll_item.low_detail = m.low_detail[i];
      HashMatch identity = HashMatch::none;
      c.ev.hash = judge_hash_pair(query_item, coll_item, rule, o.verify, c.m, c.ev.hash_strength, &identity);
      c.ev.hash_variant_only = c.ev.hash == HashMatch::sure && identity != HashMatch::sure;
      c.ev.exact = content != ContentHash{} && m.records[i].content_hash == content;
      c.ev.detailed = !(query.low_detail || m.low_detail[i]);
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
    std::vector<uint64_t> dprobes{query.dhash};
    if (o.variants_used >= 1) dprobes.push_back(dhash_mirrored(query.dhash));
    for (const QueryNearPair& p : find_near_query_pairs(m.dhashes, dprobes, o.agreement.max_band_dhash)) member(p.item);
  }
  std::vector<Neighbor> neighbours;
  if (!embedding.empty()) {
    const double min_sim = std::min(o.min_similarity, o.verify ? 1.0 - o.band.max_extra_distance : 2.0);
    neighbours = m.vs->search(embedding.ptr<float>(0), o.neighbours);
    for (const Neighbor& nb : neighbours) {
      const int64_t i = m.record_of_row[size_t(nb.row)];
      if (i >= 0 && nb.similarity >= min_sim) member(uint32_t(i)).similarity = nb.similarity;
    }
    for (auto& [i, c] : cand)
      if (!c.m.has_similarity()) {
        const int64_t row = m.vs->row_of_id(m.records[i].id);
        if (row >= 0) c.m.similarity = embedding.dot(m.vs->data().row(int(row)));
      }
  }

  // Decide with the rule of dupes (judge_pair): accepted evidence, else the pairs to verify
  // (verification_order: only without an accepted match, strongest first, capped), the strongest
  // confirmed one being the match.
  const double cnn_sure = 1.0 - o.min_similarity;
  const double cnn_band = o.verify ? double(o.band.max_extra_distance) : cnn_sure;
  std::vector<DupeMember> members;
  std::vector<PairJudgement> judged;
  // Does a CNN pair stand out from the query's neighbourhood (VerifyPolicy::cnn_stand_out)? A
  // rival is a neighbour at least about as similar to the query that is closer to the query than
  // to the candidate (so not a copy of the candidate inside the collection).
  const auto stands_out = [&](uint32_t i, double s) {
    const double margin = stand_out_margin(s, o.policy);
    if (margin < 0) return true;
    const int64_t ri = m.vs->row_of_id(m.records[i].id);
    for (const Neighbor& nb : neighbours) {
      if (nb.similarity < s - margin - 1e-7) continue;
      if (nb.row == ri || ri < 0) continue;
      if (m.vs->data().row(int(nb.row)).dot(m.vs->data().row(int(ri))) < nb.similarity) return false;
    }
    return true;
  };
  for (auto& [i, c] : cand) {
    if (c.m.has_similarity()) c.ev.cnn_distance = 1.0 - c.m.similarity;
    if (c.m.has_similarity() && o.verify && c.m.similarity < o.min_similarity) c.ev.cnn_stands_out = stands_out(i, c.m.similarity);
    const PairJudgement j = judge_pair(c.ev, rule, cnn_sure, cnn_band, o.verify);
    if (j.action == PairAction::none) continue;
    c.m.kind = j.kind;
    if (j.kind == DupeKind::exact) c.m.distance = 0;
    members.push_back(c.m);
    judged.push_back(j);
  }
  // Sure pairs are accepted only when the pixels agree (VerifyPolicy::check_sure_pixels, the rule of
  // dupes); the others are verified like band pairs, and only when no sure pair is left (another
  // frame of a static scene next to the copy's own original is then simply not listed).
  if (o.verify && o.policy.check_sure_pixels && check) {
    std::vector<size_t> sure;
    std::vector<uint32_t> items;
    for (size_t e = 0; e < judged.size(); ++e)
      if (judged[e].action == PairAction::accept && members[e].kind != DupeKind::exact)
        sure.push_back(e), items.push_back(members[e].index);
    if (!items.empty()) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::vector<PixelCheck> got = check(items);
      q.checked_pairs += int(items.size());
      for (size_t k = 0; k < sure.size() && k < got.size(); ++k)
        if (!stays_sure(got[k])) judged[sure[k]].action = PairAction::verify, judged[sure[k]].kind = members[sure[k]].kind = DupeKind::verified;
      q.check_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  for (size_t e = 0; e < judged.size(); ++e)
    if (judged[e].action == PairAction::accept) q.matches.push_back(members[e]);
  const std::vector<size_t> order = q.matches.empty() ? verification_order(judged, o.policy) : std::vector<size_t>{};
  if (!order.empty()) {
    const auto t0 = std::chrono::steady_clock::now();
    // In batches (verified in parallel), strongest first; a batch takes in every pair as strong as
    // its last one. After the first batch with a confirmed pair, the confirmed pair with the most
    // inliers is the match (ties: the stronger): another frame of a static scene is confirmed
    // too, at the same hash distance, but fewer of its keypoints correspond than the copy's.
    const size_t batch = size_t(std::max(1, o.verify_batch));
    const DupeMember* best = nullptr;
    int best_inliers = -1;
    for (size_t first = 0; first < order.size() && !best;) {
      size_t last = std::min(order.size(), first + batch);
      while (last < order.size() && judged[order[last]].strength == judged[order[last - 1]].strength) ++last;
      std::vector<uint32_t> items;
      for (size_t k = first; k < last; ++k) items.push_back(members[order[k]].index);
      const std::vector<PairCheck> got = verify(items);
      q.verified_pairs += int(items.size());  // an image changed or gone since indexing is refused
      for (size_t k = 0; k < items.size() && k < got.size(); ++k)
        if (got[k].same && got[k].inliers > best_inliers) {
          best = &members[order[first + k]];
          best_inliers = got[k].inliers;
        }
      first = last;
    }
    if (best) {
      DupeMember d = *best;
      d.inliers = best_inliers;
      q.matches.push_back(d);
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
  for (const MatchedQuery& q : r.queries) {
    r.verified_pairs += size_t(q.verified_pairs), r.verify_seconds += q.verify_seconds;
    r.checked_pairs += size_t(q.checked_pairs), r.check_seconds += q.check_seconds;
  }
  return r;
}

MatchResult match_images(const Collection& coll, const std::vector<std::string>& paths, const MatchOptions& options) {
  CollectionMatcher matcher(coll, options);
  // The queries in answer order: per given path, what its scan could not read, then its files.
  struct Job {
    std::string path;
    std::string reason;  // a scan problem: the query fails with it
    bool in_folder = false;
  };
  std::vector<Job> jobs;
  for (const std::string& root : paths) {
    std::error_code ec;
    const bool folder = std::filesystem::is_directory(root, ec);
    const ScanResult found = scan({root});
    for (const ScanProblem& p : found.problems) jobs.push_back({p.path, p.reason, false});
    for (const ScanEntry& e : found.files) jobs.push_back({e.path, "", folder});
  }
  // Whole queries on per-core workers, each with its own network (as index runs them) and its
  // verifications on its own core; answers in job order.
  std::vector<std::optional<MatchedQuery>> got(jobs.size());
  CollectionMatcher::Impl& m = *matcher.impl_;
  const int workers = worker_count(options.threads, jobs.size());
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const indexing::OpenCvThreads cv_threads(cores, workers);
  if (m.cnn) m.producers[0]->prepare(workers);
  parallel_indices(jobs.size(), workers, [&](int, size_t k) {
    std::unique_ptr<indexing::FeatureProducer::Computation> run;  // a network of the pool, given back after
    const Job& job = jobs[k];
    MatchedQuery q;
    q.path = job.path;
    if (!job.reason.empty()) {
      q.reason = job.reason;
      got[k] = std::move(q);
      return;
    }
    std::vector<uint8_t> bytes;
    try {
      bytes = read_file_bytes(job.path, uint64_t(1) << 30);
    } catch (const Error& err) {
      q.reason = err.what();
      got[k] = std::move(q);
      return;
    }
    // Inside a folder, files that are neither images nor named like one are not queries.
    if (job.in_folder && sniff_format(bytes) == ImageFormat::unknown && !has_image_extension(job.path)) return;
    got[k] = m.match_bytes(job.path, bytes, run);
  });
  std::vector<MatchedQuery> queries;
  for (auto& q : got)
    if (q) queries.push_back(std::move(*q));
  return matcher.result(std::move(queries));
}

}  // namespace irbis
