// Near-pair search (multi-index hashing, see impl/mih.h) and keep-centred duplicate grouping.
// See docs/dupes.md.
#include "irbis/dupes.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "analysis/impl/mih.h"
#include "analysis/impl/two_hash_join.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"

namespace irbis {
namespace {

void check_args(size_t n, int max_distance) {
  IRBIS_THROW_IF_NOT(max_distance >= 0 && max_distance <= 64, Error,
                     "max_distance must be in 0..64, got " + std::to_string(max_distance));
  IRBIS_THROW_IF_NOT(n < (size_t(1) << 32), Error, "too many items for duplicate search");
}

bool pair_less(const NearPair& a, const NearPair& b) {
  return std::tie(a.i, a.j) < std::tie(b.i, b.j);
}

// Distinct values of `hashes` (sorted) and, per item, the index of its value.
struct Collapsed {
  std::vector<uint64_t> values;
  std::vector<uint32_t> value_of;     // per item
  std::vector<uint32_t> start, items; // CSR: items of value v are items[start[v] .. start[v+1])
};

Collapsed collapse(std::span<const uint64_t> hashes) {
  Collapsed c;
  const size_t n = hashes.size();
  c.items.resize(n);
  std::iota(c.items.begin(), c.items.end(), 0u);
  std::sort(c.items.begin(), c.items.end(), [&](uint32_t a, uint32_t b) {
    return hashes[a] != hashes[b] ? hashes[a] < hashes[b] : a < b;
  });
  c.value_of.resize(n);
  for (size_t k = 0; k < n; ++k) {
    const uint64_t h = hashes[c.items[k]];
    if (c.values.empty() || c.values.back() != h) {
      c.values.push_back(h);
      c.start.push_back(uint32_t(k));
    }
    c.value_of[c.items[k]] = uint32_t(c.values.size() - 1);
  }
  c.start.push_back(uint32_t(n));
  return c;
}

bool is_zero(const ContentHash& h) {
  return std::all_of(h.begin(), h.end(), [](uint8_t b) { return b == 0; });
}

// The first keep rule that tells a and b apart (first_path also when nothing does).
KeepReason deciding_rule(const DupeItem& a, const DupeItem& b) {
  if (a.pixels != b.pixels) return KeepReason::most_pixels;
  // Same pixel count: the earliest-modified file is most likely the original (a lossless PNG
  // re-encode of a JPEG is larger but not the original); with equal or unknown times the JPEG
  // (a re-encode of a JPEG's pixels is lossless, a JPEG of a PNG would not have the same pixels).
  if (a.mtime_ns > 0 && b.mtime_ns > 0 && a.mtime_ns != b.mtime_ns) return KeepReason::earliest_modified;
  if (a.jpeg != b.jpeg) return KeepReason::jpeg_original;
  if (a.file_size != b.file_size) return KeepReason::largest_file;
  return KeepReason::first_path;
}

// True when item a should be kept rather than item b.
bool better_keep(const DupeItem& a, size_t ia, const DupeItem& b, size_t ib) {
  switch (deciding_rule(a, b)) {
    case KeepReason::most_pixels: return a.pixels > b.pixels;
    case KeepReason::earliest_modified: return a.mtime_ns < b.mtime_ns;
    case KeepReason::jpeg_original: return a.jpeg;
    case KeepReason::largest_file: return a.file_size > b.file_size;
    case KeepReason::first_path: break;
  }
  if (a.path != b.path) return a.path < b.path;
  return ia < ib;
}

int variants_compared(const DupeItem& it, const DupesParams& p) {
  return std::clamp(std::min(p.variants_used, int(it.variants.size())), 0, 64);
}

// Smallest distance between a variant hash of one item and the other's hash (either direction),
// and which variant (index + 1); {-1, 0} when neither has compared variants.
std::pair<int, int> variant_distance(const DupeItem& a, const DupeItem& b, const DupesParams& p) {
  int best = -1, which = 0;
  auto consider = [&](const DupeItem& x, const DupeItem& y) {
    for (int k = 0; k < variants_compared(x, p); ++k) {
      const int d = std::popcount(x.variants[size_t(k)] ^ y.hash);
      if (best < 0 || d < best) best = d, which = k + 1;
    }
  };
  consider(a, b);
  consider(b, a);
  return {best, which};
}

// Hash entries (value, item) collapsed to distinct values; value pairs within `radius` (MIH) give
// the candidate pairs of items. Flat arrays (CSR), so that a grouping pass allocates nothing per item.
struct HashCandidates {
  size_t value_count = 0;
  std::vector<uint32_t> nb_start;           // CSR over values: neighbour values within radius
  std::vector<uint32_t> nb;
  std::vector<uint32_t> item_start;         // CSR over items: the values of item x
  std::vector<uint32_t> item_values;

  explicit HashCandidates(size_t n) : item_start(n + 1, 0) {}
  HashCandidates(size_t n, std::vector<std::pair<uint64_t, uint32_t>> entries, int radius, int threads) {
    std::sort(entries.begin(), entries.end());
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    std::vector<uint64_t> values;
    std::vector<std::pair<uint32_t, uint32_t>> item_value;  // (item, value index)
    item_value.reserve(entries.size());
    for (const auto& [value, item] : entries) {
      if (values.empty() || values.back() != value) values.push_back(value);
      item_value.emplace_back(item, uint32_t(values.size() - 1));
    }
    set_item_values(n, std::move(item_value));
    const std::vector<NearPair> vp = find_near_value_pairs(values, radius, threads);
    std::vector<std::pair<uint32_t, uint32_t>> links(vp.size());
    for (size_t k = 0; k < vp.size(); ++k) links[k] = {vp[k].i, vp[k].j};
    link(values.size(), links);
  }
  std::span<const uint32_t> values_of(uint32_t x) const {
    return {item_values.data() + item_start[x], item_values.data() + item_start[x + 1]};
  }
  void set_item_values(size_t n, std::vector<std::pair<uint32_t, uint32_t>> item_value) {
    std::sort(item_value.begin(), item_value.end());
    item_start.assign(n + 1, 0);
    for (const auto& iv : item_value) ++item_start[iv.first + 1];
    for (size_t x = 0; x < n; ++x) item_start[x + 1] += item_start[x];
    item_values.resize(item_value.size());
    for (size_t k = 0; k < item_value.size(); ++k) item_values[k] = item_value[k].second;
  }
  // Neighbour lists (CSR) from value pairs.
  void link(size_t values, const std::vector<std::pair<uint32_t, uint32_t>>& vp) {
    value_count = values;
    std::vector<uint32_t> deg(values + 1, 0);
    for (const auto& [i, j] : vp) ++deg[i], ++deg[j];
    nb_start.assign(values + 1, 0);
    for (size_t v = 0; v < values; ++v) nb_start[v + 1] = nb_start[v] + deg[v];
    nb.resize(nb_start.back());
    std::vector<uint32_t> fill(nb_start.begin(), nb_start.end() - 1);
    for (const auto& [i, j] : vp) nb[fill[i]++] = j, nb[fill[j]++] = i;
  }
};

// The kept items at each value of a HashCandidates, in the order they were kept. Most values get at
// most one, so the first is stored flat and only further ones in a list: no allocation per item.
class KeptAtValue {
 public:
  explicit KeptAtValue(size_t values) : first_(values, kNone) {}
  void add(uint32_t v, uint32_t item) {
    if (first_[v] == kNone) first_[v] = item;
    else more_[v].push_back(item);
  }
  template <class Fn>
  void each(uint32_t v, Fn&& fn) const {
    if (first_[v] == kNone) return;
    fn(first_[v]);
    if (more_.empty()) return;
    if (const auto f = more_.find(v); f != more_.end())
      for (uint32_t c : f->second) fn(c);
  }
  // Takes back the last item added at v (a walk's rewind, latest first).
  void remove_last(uint32_t v, uint32_t item) {
    if (!more_.empty())
      if (const auto f = more_.find(v); f != more_.end()) {
        if (f->second.back() == item) {
          f->second.pop_back();
          if (f->second.empty()) more_.erase(f);
          return;
        }
      }
    if (first_[v] == item) first_[v] = kNone;
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  std::vector<uint32_t> first_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> more_;
};

// The band candidates of the items with two hashes (docs/dupes.md, "Two hashes agree"): items
// collapsed to distinct (pHash, dHash, mirror pHash) keys, and the key pairs whose pHash and dHash
// are both within the band for the identity or the mirror (impl::two_hash_pairs).
HashCandidates two_hash_candidates(std::span<const DupeItem> items, const DupesParams& p) {
  HashCandidates c(items.size());
  std::vector<std::pair<impl::TwoHashKey, uint32_t>> entries;
  for (size_t i = 0; i < items.size(); ++i) {
    const DupeItem& it = items[i];
    if (it.low_detail || !it.dhash) continue;
    impl::TwoHashKey key{.phash = it.hash, .dhash = *it.dhash, .mirror_phash = 0, .has_mirror = variants_compared(it, p) >= 1};
    if (key.has_mirror) key.mirror_phash = it.variants[0];
    entries.push_back({key, uint32_t(i)});
  }
  std::sort(entries.begin(), entries.end());
  std::vector<impl::TwoHashKey> keys;
  std::vector<std::pair<uint32_t, uint32_t>> item_value;
  item_value.reserve(entries.size());
  for (const auto& [key, item] : entries) {
    if (keys.empty() || keys.back() != key) keys.push_back(key);
    item_value.emplace_back(item, uint32_t(keys.size() - 1));
  }
  c.set_item_values(items.size(), std::move(item_value));
  const impl::TwoHashReach reach{.phash = p.agreement.max_band_phash, .dhash = p.agreement.max_band_dhash,
                                 .mirror = p.variants_used >= 1};
  c.link(keys.size(), impl::two_hash_pairs(keys, reach, p.threads));
  return c;
}

// pHash entries of the detailed items: their own hash and the compared variants.
std::vector<std::pair<uint64_t, uint32_t>> phash_entries(std::span<const DupeItem> items, const DupesParams& p) {
  std::vector<std::pair<uint64_t, uint32_t>> entries;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].low_detail) continue;
    entries.push_back({items[i].hash, uint32_t(i)});
    for (int k = 0; k < variants_compared(items[i], p); ++k) entries.push_back({items[i].variants[size_t(k)], uint32_t(i)});
  }
  return entries;
}

// dHash entries of the detailed items that have one: the dHash and, when the mirror variant is
// compared, the mirrored dHash.
std::vector<std::pair<uint64_t, uint32_t>> dhash_entries(std::span<const DupeItem> items, const DupesParams& p) {
  std::vector<std::pair<uint64_t, uint32_t>> entries;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].low_detail || !items[i].dhash) continue;
    entries.push_back({*items[i].dhash, uint32_t(i)});
    if (p.variants_used >= 1) entries.push_back({dhash_mirrored(*items[i].dhash), uint32_t(i)});
  }
  return entries;
}

// What every pass of a grouping shares: the visiting order (best to keep first) and the hash
// candidates (the pHash search and, with the band on, the two-hash band search). Made once per
// group_duplicates call, for its dry passes and the real one.
struct HashSearch {
  HashCandidates hc, dc;
  std::vector<uint32_t> order, rank;
  HashSearch(std::span<const DupeItem> items, const DupesParams& p) : hc(items.size()), dc(items.size()) {
    const size_t n = items.size();
    order.resize(n);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return better_keep(items[a], a, items[b], b); });
    rank.resize(n);
    for (size_t r = 0; r < n; ++r) rank[order[r]] = uint32_t(r);
    const int t = p.max_distance;
    const bool band_on = bool(p.band.verify);
    // pHash candidates reach the pHash-only band when an item has no dHash or rotation variants are
    // compared (they have no dHash); pairs with two hashes are found through the two-hash search.
    const bool all_two_hashes = std::all_of(items.begin(), items.end(), [](const DupeItem& it) { return it.low_detail || it.dhash; });
    const int phash_radius = band_on && (!all_two_hashes || p.variants_used > 1) ? std::max(t, p.band.max_hash_distance) : t;
    const int dhash_radius = p.agreement.max_band_dhash;  // searched only with the band on
    check_args(n, phash_radius);
    check_args(n, dhash_radius);
    hc = HashCandidates(n, phash_entries(items, p), phash_radius, p.threads);
    if (band_on)
      dc = impl::two_hash_join_enabled() ? two_hash_candidates(items, p)
                                         : HashCandidates(n, dhash_entries(items, p), dhash_radius, p.threads);
  }
};

// Whether PairEvidence::cnn_stands_out can change judge_pair's verdict (its cnn_reach): only for a
// CNN distance beyond the sure one and within the band's edge. Elsewhere the grouping does not run
// the stand-out test (its distance look-ups were most of a pass).
bool stand_out_decides(double cnn_distance, double cnn_sure, double cnn_band) {
  return !(cnn_distance <= cnn_sure + 1e-7) && cnn_distance <= std::max(cnn_sure, cnn_band) + 1e-7;
}

// The accepted pair that decides (the strongest; ties: the earlier, i.e. the better keep), after
// the pixel check of sure pairs (VerifyPolicy::check_sure_pixels): a pair whose pixels do not agree
// becomes a pair to verify and the next accepted one is looked at. js.size() when none is left.
size_t first_sure_match(std::vector<PairJudgement>& js, std::span<DupeMember> ms,
                        const std::function<PixelCheck(size_t)>& check, bool check_pixels) {
  std::vector<size_t> accepted;
  for (size_t e = 0; e < js.size(); ++e)
    if (js[e].action == PairAction::accept) accepted.push_back(e);
  std::stable_sort(accepted.begin(), accepted.end(), [&](size_t a, size_t b) { return js[a].strength < js[b].strength; });
  for (size_t e : accepted) {
    if (!check_pixels || ms[e].kind == DupeKind::exact) return e;
    const PixelCheck c = check(e);
    if (stays_sure(c)) return e;
    js[e].action = PairAction::verify, js[e].kind = ms[e].kind = DupeKind::verified;
  }
  return js.size();
}

// Distances on the extra scale asked so far, by (a, b) as asked. The passes of one grouping ask
// mostly the same pairs, and the callback (CNN: a 2 696-d dot product over rows spread across
// 1 GB at 100 000 images) costs far more than a lookup. The value kept is the callback's own, so
// every pass sees bitwise the distances it saw before.
class DistanceMemo {
 public:
  explicit DistanceMemo(const std::function<float(uint32_t, uint32_t)>& fn) : fn_(fn) {}
  static uint64_t key(uint32_t a, uint32_t b) { return (uint64_t(a) << 32) | b; }
  float operator()(uint32_t a, uint32_t b) {
    const uint64_t k = key(a, b);
    const size_t i = find(k);
    if (keys_[i] == k) return values_[i];
    const float d = fn_(a, b);
    keys_[i] = k, values_[i] = d, ++size_;
    return d;
  }
  // Distances computed ahead (by the same callback), by key().
  void put(uint64_t k, float d) {
    const size_t i = find(k);
    if (keys_[i] != k) keys_[i] = k, values_[i] = d, ++size_;
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;  // no item index is UINT32_MAX (check_args)
  size_t slot(uint64_t k) const { return size_t((k * 0x9E3779B97F4A7C15ull) >> shift_); }
  // The slot of key k, or the empty slot where it goes (grown first so that one is left).
  size_t find(uint64_t k) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    size_t i = slot(k);
    while (keys_[i] != kEmpty && keys_[i] != k) i = (i + 1) & (keys_.size() - 1);
    return i;
  }
  void grow() {
    const std::vector<uint64_t> keys = std::move(keys_);
    const std::vector<float> values = std::move(values_);
    const size_t cap = std::max<size_t>(4096, 2 * keys.size());
    keys_.assign(cap, kEmpty);
    values_.assign(cap, 0.f);
    shift_ = 64 - std::countr_zero(cap);
    for (size_t k = 0; k < keys.size(); ++k) {
      if (keys[k] == kEmpty) continue;
      size_t i = slot(keys[k]);
      while (keys_[i] != kEmpty) i = (i + 1) & (cap - 1);
      keys_[i] = keys[k], values_[i] = values[k];
    }
  }
  const std::function<float(uint32_t, uint32_t)>& fn_;
  std::vector<uint64_t> keys_;
  std::vector<float> values_;
  size_t size_ = 0;
  int shift_ = 64;
};

constexpr uint32_t kNotDecided = UINT32_MAX;

// What every pass of one grouping shares, made once per group_duplicates call: the hash searches
// and the visiting order, the extra pairs of each item, the content classes (items with the same
// non-zero content hash), the thresholds, and the extra distances asked so far.
struct GroupingPlan {
  std::span<const DupeItem> items;
  const DupesParams& p;  // thresholds and policy; the walks get their verify and check callbacks apart
  const ExtraLinkage* extra;
  HashSearch search;
  bool band_on, check_pixels;
  float extra_sure, extra_band, extra_reach;
  std::vector<uint32_t> extra_start;  // CSR: the extra pairs of item x, both directions, within reach
  std::vector<std::pair<uint32_t, float>> extra_nb;
  std::vector<uint32_t> content_class;  // per item; kNotDecided = no content hash (all zero)
  uint32_t content_classes = 0;
  std::optional<DistanceMemo> distance;  // extra->distance, memoized; empty without one

  GroupingPlan(std::span<const DupeItem> items_, const DupesParams& p_, const ExtraLinkage* extra_)
      : items(items_), p(p_), extra(extra_), search(items_, p_) {
    const size_t n = items.size();
    band_on = bool(p.band.verify);
    check_pixels = band_on && p.policy.check_sure_pixels && bool(p.band.check);
    extra_sure = extra ? extra->max_distance : 0.f;
    extra_band = extra ? (band_on ? std::max(extra_sure, p.band.max_extra_distance) : extra_sure) : 0.f;
    // Neighbours a little beyond the band count as rivals of a band pair (VerifyPolicy::cnn_stand_out):
    // a pair at the band's edge stands out only if nothing else is about as close, in the band or not.
    extra_reach = extra_band + (band_on ? float(std::max(0.0, stand_out_margin(1.0 - extra_band, p.policy))) : 0.f);
    if (extra) {
      const auto within = [&](const ExtraLinkage::Pair& e) {
        return e.i < n && e.j < n && e.i != e.j && !items[e.i].low_detail && !items[e.j].low_detail &&
               e.distance <= extra_reach + 1e-7f;
      };
      extra_start.assign(n + 1, 0);
      for (const auto& e : extra->pairs)
        if (within(e)) ++extra_start[e.i + 1], ++extra_start[e.j + 1];
      for (size_t x = 0; x < n; ++x) extra_start[x + 1] += extra_start[x];
      extra_nb.resize(extra_start[n]);
      std::vector<uint32_t> fill(extra_start.begin(), extra_start.end() - 1);
      for (const auto& e : extra->pairs)  // in the pairs' order, as each item's list always was
        if (within(e)) extra_nb[fill[e.i]++] = {e.j, e.distance}, extra_nb[fill[e.j]++] = {e.i, e.distance};
      if (extra->distance) distance.emplace(extra->distance);
      if (extra->distance && extra->distance_thread_safe) prefetch_distances();
    }
    content_class.assign(n, kNotDecided);
    std::vector<uint32_t> with_content;
    for (size_t x = 0; x < n; ++x)
      if (!is_zero(items[x].content)) with_content.push_back(uint32_t(x));
    std::sort(with_content.begin(), with_content.end(),
              [&](uint32_t a, uint32_t b) { return items[a].content < items[b].content; });
    for (size_t k = 0; k < with_content.size(); ++k) {
      if (k > 0 && items[with_content[k]].content != items[with_content[k - 1]].content) ++content_classes;
      content_class[with_content[k]] = content_classes;
    }
    if (!with_content.empty()) ++content_classes;
  }
  // The distance of each listed pair from the item visited later to the one visited first: what
  // a pass asks of every kept CNN neighbour (most of its look-ups), computed on all threads
  // before the first pass instead of one at a time in it.
  void prefetch_distances() {
    const size_t n = items.size();
    const std::vector<uint32_t>& rank = search.rank;
    const auto ahead = impl::parallel_blocks<std::pair<uint64_t, float>>(
        n, 256, impl::resolve_threads(p.threads), [&](size_t lo, size_t hi, std::vector<std::pair<uint64_t, float>>& out) {
          std::vector<uint32_t> first;  // x's neighbours visited before it, each once (a pair may be listed twice)
          for (size_t x = lo; x < hi; ++x) {
            first.clear();
            for (const auto& [c, d] : extra_of(uint32_t(x)))
              if (rank[c] < rank[x]) first.push_back(c);
            std::sort(first.begin(), first.end());
            first.erase(std::unique(first.begin(), first.end()), first.end());
            for (uint32_t c : first) out.push_back({DistanceMemo::key(uint32_t(x), c), extra->distance(uint32_t(x), c)});
          }
        });
    for (const auto& [k, d] : ahead) distance->put(k, d);
  }
  std::span<const std::pair<uint32_t, float>> extra_of(uint32_t x) const {
    if (!extra) return {};
    return {extra_nb.data() + extra_start[x], extra_nb.data() + extra_start[x + 1]};
  }
};

using VerifyFn = std::function<PairCheck(uint32_t keep, uint32_t candidate)>;
using CheckFn = std::function<PixelCheck(uint32_t keep, uint32_t candidate)>;

// One walk of the grouping along the visiting order (docs/dupes.md, "Grouping": each item joins
// the kept item it matches best, sure evidence first, then band pairs confirmed by verify, or is
// kept itself), resumable: run() decides the items from next() to the end, rewind(pos) takes back
// the decisions of the items at positions >= pos, so that a later pass goes on from there with the
// state an earlier pass left.
class GroupingWalk {
 public:
  explicit GroupingWalk(GroupingPlan& plan)
      : plan_(plan), n_(plan.items.size()), kept_content_(plan.content_classes, kNotDecided),
        kept_at_value_(plan.search.hc.value_count), kept_at_dvalue_(plan.search.dc.value_count),
        is_kept_(n_, 0), kept_of_(n_, kNotDecided), member_at_(n_, 0), group_of_(n_),
        record_keep_(n_, kNotDecided), record_(n_), item_mark_(n_, 0), class_mark_(plan.content_classes, 0),
        value_mark_(plan.search.hc.value_count, 0), dvalue_mark_(plan.search.dc.value_count, 0) {}

  size_t next() const { return next_; }

  // Decides the items from next() on. An item decided by an earlier run whose inputs did not
  // change takes its recorded decision again (replay): what decide reads of the state is the
  // kept items at its hash values and their neighbour values, the kept item of its content class,
  // and its CNN neighbours' decisions; when a decided item's decision differs from its record,
  // those who read it are marked. An item redecide() names (its answer was only taken) decides again.
  void run(const VerifyFn& verify, const CheckFn& check) {
    ++epoch_;
    for (; next_ < n_; ++next_) {
      const uint32_t x = plan_.search.order[next_];
      const uint32_t recorded = record_keep_[x];
      if (recorded != kNotDecided && !dirty(x)) {
        apply(x, recorded, record_[x]);
        continue;
      }
      decide(x, verify, check);
      if (recorded != kNotDecided && record_keep_[x] != recorded) changed(x);
    }
  }
  // x decides again in the next run (its decision rested on an answer that was only taken).
  void redecide(uint32_t x) { item_mark_[x] = epoch_ + 1; }

  void rewind(size_t pos) {
    const HashSearch& s = plan_.search;
    for (; next_ > pos; --next_) {
      const uint32_t x = s.order[next_ - 1];
      if (kept_of_[x] != kNotDecided) {  // the last duplicate its kept item got
        group_of_[kept_of_[x]].duplicates.pop_back();
        kept_of_[x] = kNotDecided;
        continue;
      }
      is_kept_[x] = 0;
      group_of_[x].keep = 0;
      const uint32_t cls = plan_.content_class[x];
      if (cls != kNotDecided && kept_content_[cls] == x) kept_content_[cls] = kNotDecided;
      for (uint32_t v : s.hc.values_of(x)) kept_at_value_.remove_last(v, x);
      for (uint32_t v : s.dc.values_of(x)) kept_at_dvalue_.remove_last(v, x);
    }
  }

  // The evidence of a duplicate's pair with its kept item: the inliers of its verification.
  void set_inliers(uint32_t x, int inliers) {
    if (kept_of_[x] == kNotDecided) return;
    group_of_[kept_of_[x]].duplicates[member_at_[x]].inliers = inliers;
    record_[x].inliers = inliers;
  }
  uint32_t kept_of(uint32_t x) const { return kept_of_[x]; }

  std::vector<DupeGroup> groups() &&;

 private:
  void decide(uint32_t x, const VerifyFn& verify, const CheckFn& check);
  // x's decision into the state and its record: a duplicate of `keep` with evidence m, or kept (keep == x).
  void apply(uint32_t x, uint32_t keep, const DupeMember& m) {
    record_keep_[x] = keep;
    if (keep != x) {
      record_[x] = m;
      member_at_[x] = uint32_t(group_of_[keep].duplicates.size());
      group_of_[keep].duplicates.push_back(m);
      kept_of_[x] = keep;
      return;
    }
    // Kept: later items are compared with it.
    is_kept_[x] = 1;
    group_of_[x].keep = x;
    const uint32_t cls = plan_.content_class[x];
    if (cls != kNotDecided && kept_content_[cls] == kNotDecided) kept_content_[cls] = x;
    for (uint32_t v : plan_.search.hc.values_of(x)) kept_at_value_.add(v, x);
    for (uint32_t v : plan_.search.dc.values_of(x)) kept_at_dvalue_.add(v, x);
  }
  bool dirty(uint32_t x) const {
    if (item_mark_[x] == epoch_) return true;
    const uint32_t cls = plan_.content_class[x];
    if (cls != kNotDecided && class_mark_[cls] == epoch_) return true;
    for (const auto& [c_, mark] : {std::pair{&plan_.search.hc, &value_mark_}, std::pair{&plan_.search.dc, &dvalue_mark_}})
      for (uint32_t v : c_->values_of(x)) {
        if ((*mark)[v] == epoch_) return true;
        for (uint32_t k = c_->nb_start[v]; k < c_->nb_start[v + 1]; ++k)
          if ((*mark)[c_->nb[k]] == epoch_) return true;
      }
    return false;
  }
  // x's decision differs from its record: marks whoever reads it (see run).
  void changed(uint32_t x) {
    for (const auto& [y, d] : plan_.extra_of(x)) item_mark_[y] = epoch_;
    if (const uint32_t cls = plan_.content_class[x]; cls != kNotDecided) class_mark_[cls] = epoch_;
    for (uint32_t v : plan_.search.hc.values_of(x)) value_mark_[v] = epoch_;
    for (uint32_t v : plan_.search.dc.values_of(x)) dvalue_mark_[v] = epoch_;
  }

  GroupingPlan& plan_;
  size_t n_;
  size_t next_ = 0;
  // Kept items so far: the first of each content class, and at each hash value (an entry of theirs
  // at that value).
  std::vector<uint32_t> kept_content_;
  KeptAtValue kept_at_value_, kept_at_dvalue_;
  std::vector<char> is_kept_;
  std::vector<uint32_t> kept_of_;   // a duplicate's kept item, once decided
  std::vector<uint32_t> member_at_; // a duplicate's place in its kept item's duplicates
  std::vector<DupeGroup> group_of_;
  // The last decision of each item (kept item, itself when kept; kNotDecided before its first)
  // and its evidence, kept across rewinds; marks of the run (epoch_) that changed what items read.
  std::vector<uint32_t> record_keep_;
  std::vector<DupeMember> record_;
  uint32_t epoch_ = 0;
  std::vector<uint32_t> item_mark_, class_mark_, value_mark_, dvalue_mark_;
  // Per item scratch, reused.
  std::vector<uint32_t> cand_;
  std::vector<DupeMember> ms_;
  std::vector<PairJudgement> js_;
  std::vector<uint32_t> keeps_;
};

void GroupingWalk::decide(uint32_t x, const VerifyFn& verify, const CheckFn& check) {
  const GroupingPlan& g = plan_;
  const DupesParams& p = g.p;
  const DupeItem& it = g.items[x];
  const ExtraLinkage* extra = g.extra;
  const HashCandidates& hc = g.search.hc;
  const HashCandidates& dc = g.search.dc;
  const std::vector<uint32_t>& rank = g.search.rank;
  std::vector<uint32_t>& cand = cand_;
  cand.clear();
  const bool has_content = g.content_class[x] != kNotDecided;
  if (has_content && kept_content_[g.content_class[x]] != kNotDecided) cand.push_back(kept_content_[g.content_class[x]]);
  const auto add_cand = [&](uint32_t c) { cand.push_back(c); };
  for (const auto& [c_, kept] : {std::pair{&hc, &kept_at_value_}, std::pair{&dc, &kept_at_dvalue_}})
    for (uint32_t v : c_->values_of(x)) {
      kept->each(v, add_cand);
      for (uint32_t k = c_->nb_start[v]; k < c_->nb_start[v + 1]; ++k) kept->each(c_->nb[k], add_cand);
    }
  // CNN candidates: a kept neighbour, and the kept item of a neighbour that is already a
  // duplicate. The second matters when a photo has many copies: they crowd the k nearest
  // neighbours of a crop of it, and the photo itself falls out of that list (on the
  // Copydays-style set, half of the lost 50 % crops). Only the candidate comes through the
  // neighbour: the evidence is measured against the kept item itself (extra->distance), so this
  // cannot chain.
  const auto neighbours = g.extra_of(x);
  for (const auto& [y, d] : neighbours) {
    if (is_kept_[y]) cand.push_back(y);
    else if (kept_of_[y] != kNotDecided && g.distance) cand.push_back(kept_of_[y]);
  }
  std::sort(cand.begin(), cand.end(), [&](uint32_t a, uint32_t b) { return rank[a] < rank[b]; });
  cand.erase(std::unique(cand.begin(), cand.end()), cand.end());

  // Does the pair (x, kept c) at CNN distance d stand out from x's neighbourhood
  // (VerifyPolicy::cnn_stand_out, stand_out_margin)? A rival is a CNN neighbour y of x at least
  // about as close as c that belongs elsewhere: not in c's group (kept itself, a duplicate of
  // another kept item, or, with cnn_unvisited_rivals, not visited yet and below the band with c,
  // so no copy of c by its CNN similarity), and closer to x than to c (a sibling copy of c,
  // another frame or the stereo partner of c is nearer c and is no rival).
  const auto stands_out = [&](uint32_t c, double d) {
    const double margin = stand_out_margin(1.0 - d, p.policy);
    if (margin < 0) return true;
    for (const auto& [y, dy] : neighbours) {
      if (y == c || double(dy) > d + margin + 1e-7) continue;
      const bool visited = is_kept_[y] || kept_of_[y] != kNotDecided;
      if (visited ? !is_kept_[y] && kept_of_[y] == c : !p.policy.cnn_unvisited_rivals) continue;
      const float dyc = g.distance ? (*plan_.distance)(y, c) : 1e30f;
      // Not visited yet: a rival only if its CNN similarity cannot make it one of c's copies.
      if (!visited && dyc <= g.extra_band + 1e-7f) continue;
      if (dyc > dy) return false;
    }
    return true;
  };
  const double cnn_sure = extra ? double(g.extra_sure) : -1.0, cnn_band = extra ? double(g.extra_band) : -1.0;
  // Evidence against each kept candidate, judged by the rule match uses too (judge_pair): the
  // strongest accepted match wins (ties: better keep); without one, the pairs to verify in
  // verification_order until one is confirmed.
  ms_.clear(), js_.clear(), keeps_.clear();
  for (uint32_t c : cand) {
    const DupeItem& k = g.items[c];
    DupeMember m;
    m.index = x;
    PairEvidence ev;
    ev.exact = has_content && k.content == it.content;
    HashMatch identity = HashMatch::none;
    ev.hash = judge_hash_pair(it, k, p, g.band_on, m, ev.hash_strength, &identity);
    ev.hash_variant_only = ev.hash == HashMatch::sure && identity != HashMatch::sure;
    if (extra) {
      double ed = 1e30;
      for (const auto& [y, d] : neighbours)
        if (y == c) ed = std::min(ed, double(d));
      if (g.distance) ed = std::min(ed, double((*plan_.distance)(x, c)));
      if (ed < 1e29) m.similarity = 1.0 - ed, ev.cnn_distance = ed;
      // Only where it can change judge_pair's verdict (the rest of the band's reach).
      if (ed < 1e29 && g.band_on && stand_out_decides(ed, cnn_sure, cnn_band)) ev.cnn_stands_out = stands_out(c, ed);
    }
    // Low-detail items match by content only (their hash is noise), on every scale.
    ev.detailed = !(it.low_detail || k.low_detail);
    const PairJudgement j = judge_pair(ev, p, cnn_sure, cnn_band, g.band_on);
    if (j.action == PairAction::none) continue;
    m.kind = j.kind;
    if (m.kind == DupeKind::exact) m.distance = 0;
    ms_.push_back(m), js_.push_back(j), keeps_.push_back(c);
  }
  const DupeMember* chosen_m = nullptr;
  uint32_t chosen_keep = 0;
  const size_t best_accept = first_sure_match(js_, ms_, [&](size_t e) { return check(keeps_[e], x); }, g.check_pixels);
  if (best_accept < js_.size()) {
    chosen_m = &ms_[best_accept], chosen_keep = keeps_[best_accept];
  } else {
    for (size_t e : verification_order(js_, p.policy)) {
      const PairCheck c = verify(keeps_[e], x);
      if (!c.same) continue;
      ms_[e].inliers = c.inliers;
      chosen_m = &ms_[e], chosen_keep = keeps_[e];
      break;
    }
  }
  if (chosen_m) apply(x, chosen_keep, *chosen_m);
  else apply(x, x, DupeMember{});
}

std::vector<DupeGroup> GroupingWalk::groups() && {
  const std::span<const DupeItem> items = plan_.items;
  std::vector<DupeGroup> groups;
  for (size_t i = 0; i < n_; ++i) {
    if (!is_kept_[i] || group_of_[i].duplicates.empty()) continue;
    DupeGroup g = std::move(group_of_[i]);
    // The rule that beat the closest contender; byte copies of the kept file (which one of them is
    // kept says nothing) count only when the group has nothing else.
    const bool only_copies = std::all_of(g.duplicates.begin(), g.duplicates.end(),
                                         [](const DupeMember& m) { return m.kind == DupeKind::exact; });
    for (const DupeMember& m : g.duplicates)
      if (only_copies || m.kind != DupeKind::exact)
        g.keep_reason = std::max(g.keep_reason, deciding_rule(items[g.keep], items[m.index]));
    std::sort(g.duplicates.begin(), g.duplicates.end(), [&](const DupeMember& a, const DupeMember& b) {
      return std::make_tuple(a.kind, a.best_distance(), std::cref(items[a.index].path), a.index) <
             std::make_tuple(b.kind, b.best_distance(), std::cref(items[b.index].path), b.index);
    });
    groups.push_back(std::move(g));
  }
  std::sort(groups.begin(), groups.end(), [&](const DupeGroup& a, const DupeGroup& b) {
    return std::tie(items[a.keep].path, a.keep) < std::tie(items[b.keep].path, b.keep);
  });
  return groups;
}

std::vector<DupeGroup> keep_centred_groups(std::span<const DupeItem> items, const DupesParams& p,
                                           const ExtraLinkage* extra) {
  GroupingPlan plan(items, p, extra);
  GroupingWalk walk(plan);
  if (p.band.verify && p.band.verify_all) {
    // Dry passes find the pairs the decisions will ask about, so that they can be verified in
    // parallel: a pair already verified answers with its result (from the verifier's cache), an
    // unknown one is taken as confirmed (what most band pairs of a real collection are) and
    // listed. The listed pairs are verified together, and the next pass sees their results.
    // When a pass lists nothing new, it made exactly the decisions of the real pass, so every
    // pair that pass asks about is cached. At most kMaxDryPasses; later pairs are then verified
    // one at a time when asked. A pass decides each item at most once: the decisions before the
    // first listed pair whose answer is not the one taken are those the next pass would make
    // (the same state, the same answers), so the next pass goes on from that item (rewind), and
    // the inliers of the confirmed pairs before it are filled in (docs/dupes.md, "Dry passes").
    constexpr int kMaxDryPasses = 8;
    // Pixel checks of sure pairs (band.check) are listed and run together the same way.
    const bool batch_checks = p.band.check && p.band.check_all;
    const auto key = [](uint32_t a, uint32_t b) { return (uint64_t(a) << 32) | b; };
    std::unordered_set<uint64_t> known, known_checks;
    struct Asked {
      uint32_t keep, cand;
      bool check;  // a pixel check (else a verification)
    };
    std::vector<Asked> asked;  // in the order the walk asked them: at most one per item
    const VerifyFn dry_verify = [&](uint32_t keep, uint32_t cand) {
      if (known.count(key(keep, cand))) return p.band.verify(keep, cand);
      asked.push_back({keep, cand, false});
      return PairCheck{true, 0};
    };
    CheckFn dry_check = p.band.check;
    if (batch_checks)
      dry_check = [&](uint32_t keep, uint32_t cand) {
        if (known_checks.count(key(keep, cand))) return p.band.check(keep, cand);
        asked.push_back({keep, cand, true});
        PixelCheck agree;
        agree.agree = true;
        return agree;
      };
    for (int pass = 0; pass < kMaxDryPasses; ++pass) {
      asked.clear();
      walk.run(dry_verify, dry_check);
      if (asked.empty()) break;
      std::vector<std::pair<uint32_t, uint32_t>> verifies, checks;
      for (const Asked& a : asked) (a.check ? checks : verifies).emplace_back(a.keep, a.cand);
      if (!checks.empty()) p.band.check_all(checks);
      if (!verifies.empty()) p.band.verify_all(verifies);
      for (const Asked& a : asked) (a.check ? known_checks : known).insert(key(a.keep, a.cand));
      size_t resume = items.size();
      for (const Asked& a : asked) {
        if (a.check) {
          if (stays_sure(p.band.check(a.keep, a.cand))) continue;
        } else if (const PairCheck c = p.band.verify(a.keep, a.cand); c.same) {
          walk.set_inliers(a.cand, c.inliers);
          continue;
        }
        resume = plan.search.rank[a.cand];
        break;
      }
      walk.rewind(resume);
      for (const Asked& a : asked) walk.redecide(a.cand);
    }
  }
  walk.run(p.band.verify, p.band.check);
  return std::move(walk).groups();
}
}  // namespace

HashMatch judge_hash_pair(const DupeItem& a, const DupeItem& b, const DupesParams& p, bool band_on, DupeMember& m,
                          double& strength, HashMatch* identity) {
  m.distance = std::popcount(a.hash ^ b.hash);
  std::tie(m.variant_distance, m.variant) = variant_distance(a, b, p);
  m.dhash_distance = -1;
  strength = 1e30;
  if (identity) *identity = HashMatch::none;
  if (a.low_detail || b.low_detail) return HashMatch::none;
  const int t = p.max_distance;
  const HashAgreement& ag = p.agreement;
  const bool two_hashes = a.dhash && b.dhash;
  HashMatch best = HashMatch::none;
  int best_pd = 65, best_dd = -1;
  // One transform: its pHash distance pd and dHash distance dd (-1 = no dHash for it).
  auto consider = [&](int pd, int dd) {
    HashMatch r = HashMatch::none;
    if (dd >= 0) {
      if (pd <= t && dd <= ag.max_sure_dhash) r = HashMatch::sure;
      else if (band_on && (pd <= t || (pd <= ag.max_band_phash && dd <= ag.max_band_dhash))) r = HashMatch::band;
    } else if (pd <= t) {
      r = HashMatch::sure;
    } else if (band_on && pd <= p.band.max_hash_distance) {
      r = HashMatch::band;
    }
    if (r > best || (r == best && r != HashMatch::none && pd < best_pd)) best = r, best_pd = pd, best_dd = dd;
  };
  consider(m.distance, two_hashes ? std::popcount(*a.dhash ^ *b.dhash) : -1);
  if (identity) *identity = best;
  const int nv = std::max(variants_compared(a, p), variants_compared(b, p));
  for (int k = 0; k < nv; ++k) {
    int pd = 65;
    if (k < variants_compared(a, p)) pd = std::min(pd, std::popcount(a.variants[size_t(k)] ^ b.hash));
    if (k < variants_compared(b, p)) pd = std::min(pd, std::popcount(b.variants[size_t(k)] ^ a.hash));
    const bool mirror = k + 1 == int(HashVariant::mirror);
    consider(pd, two_hashes && mirror ? std::popcount(dhash_mirrored(*a.dhash) ^ *b.dhash) : -1);
  }
  if (best != HashMatch::none) {
    m.dhash_distance = best_dd;
    strength = double(best_pd) / std::max(t, 1);
  }
  return best;
}

PairJudgement judge_pair(const PairEvidence& e, const DupesParams& p, double cnn_sure, double cnn_band, bool band_on) {
  PairJudgement j;
  if (e.exact) {
    j.action = PairAction::accept, j.kind = DupeKind::exact, j.strength = 0;
    return j;
  }
  if (!e.detailed) return j;  // nearly flat: content only
  const VerifyPolicy& pol = p.policy;
  const bool has_cnn = e.cnn_distance < 1e29;
  const bool hash_sure = e.hash == HashMatch::sure;
  const bool cnn_sure_match = has_cnn && e.cnn_distance <= cnn_sure + 1e-7;
  const double cnn_strength = has_cnn ? (cnn_sure > 0 ? e.cnn_distance / cnn_sure : (e.cnn_distance > 0 ? 1e6 : 0.0)) : 1e30;
  // Sure evidence the policy still wants confirmed: a hash match through a variant only, a CNN
  // pair below verify_similarity_below. Only with a verifier: without one the thresholds decide.
  const bool hash_accept = hash_sure && !(band_on && pol.verify_variant_only && e.hash_variant_only);
  const bool cnn_accept = cnn_sure_match && !(band_on && e.cnn_distance > 1.0 - pol.verify_similarity_below + 1e-7);
  if (hash_accept || cnn_accept) {
    j.action = PairAction::accept;
    j.kind = hash_accept ? DupeKind::near : DupeKind::cnn;
    j.strength = std::min(hash_accept ? e.hash_strength : 1e30, cnn_accept ? cnn_strength : 1e30);
    return j;
  }
  if (!band_on) return j;
  // Everything else within reach is verified: sure-but-weak first (strength <= 1), then the band.
  double s = 1e30;
  if (hash_sure || e.hash == HashMatch::band) s = e.hash_strength;
  const bool cnn_reach = e.cnn_distance <= (e.cnn_stands_out ? std::max(cnn_sure, cnn_band) : cnn_sure) + 1e-7;
  if (has_cnn && cnn_reach) s = std::min(s, cnn_strength);
  if (s < 1e29) j.action = PairAction::verify, j.kind = DupeKind::verified, j.strength = s;
  return j;
}

std::vector<size_t> verification_order(std::span<const PairJudgement> pairs, const VerifyPolicy& policy) {
  std::vector<size_t> order;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].action == PairAction::accept) return {};
    if (pairs[i].action == PairAction::verify) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pairs[a].strength < pairs[b].strength; });
  order.resize(std::min(order.size(), size_t(std::max(0, policy.max_verified_per_item))));
  return order;
}

double stand_out_margin(double similarity, const VerifyPolicy& policy) {
  if (policy.cnn_stand_out < 0) return policy.cnn_stand_out;
  return policy.cnn_stand_out + std::max(0.0, policy.cnn_stand_out_growth) * std::max(0.0, policy.cnn_stand_out_from - similarity);
}

const char* dupe_kind_name(DupeKind k) {
  switch (k) {
    case DupeKind::exact: return "exact";
    case DupeKind::near: return "near";
    case DupeKind::cnn: return "cnn";
    case DupeKind::verified: return "verified";
  }
  return "?";
}

std::vector<NearPair> find_near_value_pairs(std::span<const uint64_t> values, int max_distance,
                                            int threads) {
  check_args(values.size(), max_distance);
  const impl::MihPlan plan = impl::choose_plan(values.size(), max_distance);
  std::vector<NearPair> pairs = impl::self_join(values, max_distance, plan, threads);
  std::sort(pairs.begin(), pairs.end(), pair_less);
  return pairs;
}

std::vector<NearPair> find_near_pairs(std::span<const uint64_t> hashes, int max_distance,
                                      int threads) {
  check_args(hashes.size(), max_distance);
  const Collapsed c = collapse(hashes);
  const std::vector<NearPair> vp = find_near_value_pairs(c.values, max_distance, threads);
  std::vector<NearPair> out;
  // Items sharing one value: every pair at distance 0.
  for (size_t v = 0; v + 1 < c.start.size(); ++v)
    for (uint32_t p = c.start[v]; p < c.start[v + 1]; ++p)
      for (uint32_t q = p + 1; q < c.start[v + 1]; ++q)
        out.push_back({std::min(c.items[p], c.items[q]), std::max(c.items[p], c.items[q]), 0});
  for (const NearPair& e : vp)
    for (uint32_t p = c.start[e.i]; p < c.start[e.i + 1]; ++p)
      for (uint32_t q = c.start[e.j]; q < c.start[e.j + 1]; ++q)
        out.push_back({std::min(c.items[p], c.items[q]), std::max(c.items[p], c.items[q]),
                       e.distance});
  std::sort(out.begin(), out.end(), pair_less);
  return out;
}

const char* keep_reason_text(KeepReason r) {
  switch (r) {
    case KeepReason::most_pixels: return "most pixels";
    case KeepReason::earliest_modified: return "earliest modified of equal pixels";
    case KeepReason::jpeg_original: return "the JPEG of equal pixels (the others re-encode it)";
    case KeepReason::largest_file: return "largest file of equal pixels";
    case KeepReason::first_path: return "first path of equal files";
  }
  return "";
}

std::vector<DupeGroup> group_duplicates(std::span<const DupeItem> items, const DupesParams& params) {
  return keep_centred_groups(items, params, nullptr);
}

std::vector<DupeGroup> group_duplicates(std::span<const DupeItem> items, const DupesParams& params,
                                        const ExtraLinkage& extra) {
  return keep_centred_groups(items, params, &extra);
}

}  // namespace irbis
