// Near-pair search (multi-index hashing, see impl/mih.h) and keep-centred duplicate grouping.
// See docs/dupes.md.
#include "irbis/dupes.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

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

// The grouping of docs/dupes.md ("Grouping"): best-to-keep order, each item joins the kept item it
// matches best (sure evidence first, then band pairs confirmed by verify), or is kept itself.
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

std::vector<DupeGroup> keep_centred_groups(std::span<const DupeItem> items, const DupesParams& p,
                                           const ExtraLinkage* extra, const HashSearch* search = nullptr) {
  std::optional<HashSearch> own_search;
  if (!search) search = &own_search.emplace(items, p);
  if (p.band.verify && p.band.verify_all) {
    // Dry passes find the pairs the decisions will ask about, so that they can be verified in
    // parallel: a pair already verified answers with its result (from the verifier's cache), an
    // unknown one is taken as confirmed (what most band pairs of a real collection are) and
    // listed. The listed pairs are verified together, and the next pass sees their results.
    // When a pass lists nothing new, it made exactly the decisions of the real pass below, so
    // every pair that pass asks about is cached. At most kMaxDryPasses; later pairs are then
    // verified one at a time when asked.
    constexpr int kMaxDryPasses = 8;
    // Pixel checks of sure pairs (band.check) are listed and run together the same way.
    std::set<std::pair<uint32_t, uint32_t>> known, known_checks;
    const bool batch_checks = p.band.check && p.band.check_all;
    for (int pass = 0; pass < kMaxDryPasses; ++pass) {
      DupesParams dry = p;
      std::vector<std::pair<uint32_t, uint32_t>> asked, asked_checks;
      dry.band.verify = [&](uint32_t keep, uint32_t cand) {
        if (known.count({keep, cand})) return p.band.verify(keep, cand);
        asked.emplace_back(keep, cand);
        return PairCheck{true, 0};
      };
      dry.band.verify_all = {};
      if (batch_checks) {
        dry.band.check = [&](uint32_t keep, uint32_t cand) {
          if (known_checks.count({keep, cand})) return p.band.check(keep, cand);
          asked_checks.emplace_back(keep, cand);
          PixelCheck agree;
          agree.agree = true;
          return agree;
        };
        dry.band.check_all = {};
      }
      keep_centred_groups(items, dry, extra, search);
      if (asked.empty() && asked_checks.empty()) break;
      if (!asked_checks.empty()) p.band.check_all(asked_checks);
      if (!asked.empty()) p.band.verify_all(asked);
      known.insert(asked.begin(), asked.end());
      known_checks.insert(asked_checks.begin(), asked_checks.end());
    }
  }
  const size_t n = items.size();
  const bool band_on = bool(p.band.verify);
  const bool check_pixels = band_on && p.policy.check_sure_pixels && bool(p.band.check);
  const float extra_sure = extra ? extra->max_distance : 0.f;
  const float extra_band = extra ? (band_on ? std::max(extra_sure, p.band.max_extra_distance) : extra_sure) : 0.f;
  // Neighbours a little beyond the band count as rivals of a band pair (VerifyPolicy::cnn_stand_out):
  // a pair at the band's edge stands out only if nothing else is about as close, in the band or not.
  const float extra_reach = extra_band + (band_on ? float(std::max(0.0, stand_out_margin(1.0 - extra_band, p.policy))) : 0.f);
  const HashCandidates& hc = search->hc;
  const HashCandidates& dc = search->dc;
  // Extra pairs per item (both directions), within the band.
  std::vector<std::vector<std::pair<uint32_t, float>>> extra_of(extra ? n : 0);
  if (extra)
    for (const auto& e : extra->pairs)
      if (e.i < n && e.j < n && e.i != e.j && !items[e.i].low_detail && !items[e.j].low_detail &&
          e.distance <= extra_reach + 1e-7f) {
        extra_of[e.i].push_back({e.j, e.distance});
        extra_of[e.j].push_back({e.i, e.distance});
      }

  const std::vector<uint32_t>& order = search->order;
  const std::vector<uint32_t>& rank = search->rank;

  // Kept items so far: by content hash and by hash value (an entry of theirs at that value).
  std::map<ContentHash, uint32_t> kept_content;
  KeptAtValue kept_at_value(hc.value_count), kept_at_dvalue(dc.value_count);
  std::vector<char> is_kept(n, 0);
  constexpr uint32_t kNotDecided = UINT32_MAX;
  std::vector<uint32_t> kept_of(n, kNotDecided);  // a duplicate's kept item, once decided
  std::vector<DupeGroup> group_of(n);
  std::vector<uint32_t> cand;

  for (const uint32_t x : order) {
    const DupeItem& it = items[x];
    cand.clear();
    const bool has_content = !is_zero(it.content);
    if (has_content) {
      const auto f = kept_content.find(it.content);
      if (f != kept_content.end()) cand.push_back(f->second);
    }
    const auto add_cand = [&](uint32_t c) { cand.push_back(c); };
    for (const auto& [c_, kept] : {std::pair{&hc, &kept_at_value}, std::pair{&dc, &kept_at_dvalue}})
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
    if (extra)
      for (const auto& [y, d] : extra_of[x]) {
        if (is_kept[y]) cand.push_back(y);
        else if (kept_of[y] != kNotDecided && extra->distance) cand.push_back(kept_of[y]);
      }
    std::sort(cand.begin(), cand.end(), [&](uint32_t a, uint32_t b) { return rank[a] < rank[b]; });
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());

    // Does the pair (x, kept c) at CNN distance d stand out from x's neighbourhood
    // (VerifyPolicy::cnn_stand_out, stand_out_margin)? A rival is a CNN neighbour y of x at least
    // about as close as c that belongs elsewhere: not in c's group (kept itself, a duplicate of
    // another kept item, or, with cnn_unvisited_rivals, not visited yet and below the band with c,
    // so no copy of c by its CNN similarity), and closer to x than to c (a sibling copy of c,
    // another frame or the stereo partner of c is nearer c and is no rival).
    const auto stands_out = [&](uint32_t x_, uint32_t c, double d) {
      const double margin = stand_out_margin(1.0 - d, p.policy);
      if (margin < 0) return true;
      for (const auto& [y, dy] : extra_of[x_]) {
        if (y == c || double(dy) > d + margin + 1e-7) continue;
        const bool visited = is_kept[y] || kept_of[y] != kNotDecided;
        if (visited ? !is_kept[y] && kept_of[y] == c : !p.policy.cnn_unvisited_rivals) continue;
        const float dyc = extra->distance ? extra->distance(y, c) : 1e30f;
        // Not visited yet: a rival only if its CNN similarity cannot make it one of c's copies.
        if (!visited && dyc <= extra_band + 1e-7f) continue;
        if (dyc > dy) return false;
      }
      return true;
    };
    // Evidence against each kept candidate, judged by the rule match uses too (judge_pair): the
    // strongest accepted match wins (ties: better keep); without one, the pairs to verify in
    // verification_order until one is confirmed.
    std::vector<DupeMember> ms;
    std::vector<PairJudgement> js;
    std::vector<uint32_t> keeps;
    for (uint32_t c : cand) {
      const DupeItem& k = items[c];
      DupeMember m;
      m.index = x;
      PairEvidence ev;
      ev.exact = has_content && k.content == it.content;
      HashMatch identity = HashMatch::none;
      ev.hash = judge_hash_pair(it, k, p, band_on, m, ev.hash_strength, &identity);
      ev.hash_variant_only = ev.hash == HashMatch::sure && identity != HashMatch::sure;
      if (extra) {
        double ed = 1e30;
        for (const auto& [y, d] : extra_of[x])
          if (y == c) ed = std::min(ed, double(d));
        if (extra->distance) ed = std::min(ed, double(extra->distance(x, c)));
        if (ed < 1e29) m.similarity = 1.0 - ed, ev.cnn_distance = ed;
        if (ed < 1e29 && band_on) ev.cnn_stands_out = stands_out(x, c, ed);
      }
      // Low-detail items match by content only (their hash is noise), on every scale.
      ev.detailed = !(it.low_detail || k.low_detail);
      const PairJudgement j = judge_pair(ev, p, extra ? double(extra_sure) : -1.0, extra ? double(extra_band) : -1.0, band_on);
      if (j.action == PairAction::none) continue;
      m.kind = j.kind;
      if (m.kind == DupeKind::exact) m.distance = 0;
      ms.push_back(m), js.push_back(j), keeps.push_back(c);
    }
    const DupeMember* chosen_m = nullptr;
    uint32_t chosen_keep = 0;
    const size_t best_accept = first_sure_match(js, ms, [&](size_t e) { return p.band.check(keeps[e], x); }, check_pixels);
    if (best_accept < js.size()) {
      chosen_m = &ms[best_accept], chosen_keep = keeps[best_accept];
    } else {
      for (size_t e : verification_order(js, p.policy)) {
        const PairCheck check = p.band.verify(keeps[e], x);
        if (!check.same) continue;
        ms[e].inliers = check.inliers;
        chosen_m = &ms[e], chosen_keep = keeps[e];
        break;
      }
    }
    if (chosen_m) {
      group_of[chosen_keep].duplicates.push_back(*chosen_m);
      kept_of[x] = chosen_keep;
      continue;
    }
    // Kept: later items are compared with it.
    is_kept[x] = 1;
    group_of[x].keep = x;
    if (has_content) kept_content.emplace(it.content, x);
    for (uint32_t v : hc.values_of(x)) kept_at_value.add(v, x);
    for (uint32_t v : dc.values_of(x)) kept_at_dvalue.add(v, x);
  }

  std::vector<DupeGroup> groups;
  for (size_t i = 0; i < n; ++i) {
    if (!is_kept[i] || group_of[i].duplicates.empty()) continue;
    DupeGroup g = std::move(group_of[i]);
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
