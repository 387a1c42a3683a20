// Near-pair search (multi-index hashing, see impl/mih.h) and duplicate grouping with bounded
// chaining. See docs/dupes.md.
#include "irbis/dupes.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <numeric>
#include <string>
#include <tuple>

#include "analysis/impl/mih.h"
#include "irbis/errors.h"

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

// Union-find over items. With bounded chaining every root also carries the sorted distinct hash
// values of its set, plus a center and radius for the capped fallback test.
class Linkage {
 public:
  Linkage(std::span<const DupeItem> items, const DupesParams& p)
      : p_(p), parent_(items.size()), size_(items.size(), 1) {
    std::iota(parent_.begin(), parent_.end(), 0u);
    if (p_.bound_chaining) {
      vals_.resize(items.size());
      center_.resize(items.size());
      radius_.assign(items.size(), 0);
      for (size_t i = 0; i < items.size(); ++i) {
        vals_[i] = {items[i].hash};
        center_[i] = items[i].hash;
      }
    }
  }

  uint32_t find(uint32_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }

  // Merges the sets of a and b; with `checked` (and bound_chaining) only when every pair of
  // values across them is within max_distance. Returns whether they are now one set.
  bool merge(uint32_t a, uint32_t b, bool checked) {
    a = find(a);
    b = find(b);
    if (a == b) return true;
    if (checked && p_.bound_chaining && !compatible(a, b)) return false;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
    if (p_.bound_chaining) {
      int rad = radius_[a];
      for (uint64_t v : vals_[b]) rad = std::max(rad, std::popcount(v ^ center_[a]));
      radius_[a] = rad;
      std::vector<uint64_t> merged;
      merged.reserve(vals_[a].size() + vals_[b].size());
      std::set_union(vals_[a].begin(), vals_[a].end(), vals_[b].begin(), vals_[b].end(),
                     std::back_inserter(merged));
      vals_[a] = std::move(merged);
      std::vector<uint64_t>().swap(vals_[b]);
    }
    return true;
  }

  int64_t fallback_checks() const { return fallbacks_; }

 private:
  bool compatible(uint32_t a, uint32_t b) {
    const auto& va = vals_[a];
    const auto& vb = vals_[b];
    const int t = p_.max_distance;
    if (int64_t(va.size()) * int64_t(vb.size()) <= p_.max_linkage_checks) {
      for (uint64_t x : va)
        for (uint64_t y : vb)
          if (std::popcount(x ^ y) > t) return false;
      return true;
    }
    // Fallback: every value of A is within radius_[a] of center_[a] (same for B), so by the
    // triangle inequality all cross distances are <= ra + d(ca, cb) + rb. Sufficient, not
    // necessary: it may refuse a merge the full check would allow, never the reverse.
    ++fallbacks_;
    return radius_[a] + std::popcount(center_[a] ^ center_[b]) + radius_[b] <= t;
  }

  const DupesParams& p_;
  std::vector<uint32_t> parent_, size_;
  std::vector<std::vector<uint64_t>> vals_;
  std::vector<uint64_t> center_;
  std::vector<int> radius_;
  int64_t fallbacks_ = 0;
};

// True when item a should be kept rather than item b.
bool better_keep(const DupeItem& a, size_t ia, const DupeItem& b, size_t ib) {
  if (a.pixels != b.pixels) return a.pixels > b.pixels;
  if (a.file_size != b.file_size) return a.file_size > b.file_size;
  if (a.path != b.path) return a.path < b.path;
  return ia < ib;
}

// Turns sets of linked items (any order; sets of one are skipped) into groups: the best item is
// kept, the others are listed by kind, distance and path. extra_distance, when given, fills
// DupeMember::similarity and marks members linked by neither content nor hash as `cnn`.
std::vector<DupeGroup> make_groups(std::span<const DupeItem> items, const std::vector<std::vector<uint32_t>>& sets,
                                   int max_distance, const std::function<float(uint32_t, uint32_t)>& extra_distance) {
  std::vector<DupeGroup> groups;
  for (const auto& m : sets) {
    if (m.size() < 2) continue;
    size_t keep = m[0];
    for (uint32_t i : m)
      if (better_keep(items[i], i, items[keep], keep)) keep = i;
    const DupeItem& k = items[keep];
    DupeGroup g;
    g.keep = keep;
    for (uint32_t i : m) {
      if (i == keep) continue;
      DupeMember d;
      d.index = i;
      const bool exact = !is_zero(k.content) && items[i].content == k.content;
      d.distance = exact ? 0 : std::popcount(items[i].hash ^ k.hash);
      d.kind = exact ? DupeKind::exact : (d.distance <= max_distance || !extra_distance) ? DupeKind::near : DupeKind::cnn;
      if (extra_distance) d.similarity = 1.0 - double(extra_distance(i, uint32_t(keep)));
      g.duplicates.push_back(d);
    }
    std::sort(g.duplicates.begin(), g.duplicates.end(), [&](const DupeMember& a, const DupeMember& b) {
      return std::tie(a.kind, a.distance, items[a.index].path, a.index) <
             std::tie(b.kind, b.distance, items[b.index].path, b.index);
    });
    groups.push_back(std::move(g));
  }
  std::sort(groups.begin(), groups.end(), [&](const DupeGroup& a, const DupeGroup& b) {
    return std::tie(items[a.keep].path, a.keep) < std::tie(items[b.keep].path, b.keep);
  });
  return groups;
}

}  // namespace

const char* dupe_kind_name(DupeKind k) {
  switch (k) {
    case DupeKind::exact: return "exact";
    case DupeKind::near: return "near";
    case DupeKind::cnn: return "cnn";
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

std::vector<DupeGroup> group_duplicates(std::span<const DupeItem> items, const DupesParams& params) {
  const size_t n = items.size();
  check_args(n, params.max_distance);
  std::vector<uint64_t> hashes(n);
  for (size_t i = 0; i < n; ++i) hashes[i] = items[i].hash;
  const Collapsed c = collapse(hashes);

  Linkage link(items, params);
  // (1) Exact duplicates: equal (non-zero) content hash, always merged.
  {
    std::vector<uint32_t> order;
    for (size_t i = 0; i < n; ++i)
      if (!is_zero(items[i].content)) order.push_back(uint32_t(i));
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return items[a].content != items[b].content ? items[a].content < items[b].content : a < b;
    });
    for (size_t k = 1; k < order.size(); ++k)
      if (items[order[k]].content == items[order[k - 1]].content)
        link.merge(order[k - 1], order[k], /*checked=*/false);
  }
  // (2) Identical perceptual hashes (distance 0), then (3) near pairs of distinct values in
  // ascending distance: complete linkage, each merge checked against every pair across.
  // Low-detail items take no part: each value's representative is its first detailed item.
  std::vector<int64_t> rep(c.values.size(), -1);
  for (size_t v = 0; v + 1 < c.start.size(); ++v)
    for (uint32_t p = c.start[v]; p < c.start[v + 1]; ++p) {
      const uint32_t item = c.items[p];
      if (items[item].low_detail) continue;
      if (rep[v] < 0) rep[v] = item;
      else link.merge(uint32_t(rep[v]), item, /*checked=*/true);
    }
  std::vector<NearPair> vp = find_near_value_pairs(c.values, params.max_distance, params.threads);
  std::stable_sort(vp.begin(), vp.end(),
                   [](const NearPair& a, const NearPair& b) { return a.distance < b.distance; });
  for (const NearPair& e : vp)
    if (rep[e.i] >= 0 && rep[e.j] >= 0) link.merge(uint32_t(rep[e.i]), uint32_t(rep[e.j]), /*checked=*/true);

  // Collect sets of two or more items.
  std::vector<std::vector<uint32_t>> members(n);
  for (size_t i = 0; i < n; ++i) members[link.find(uint32_t(i))].push_back(uint32_t(i));
  return make_groups(items, members, params.max_distance, {});
}

std::vector<DupeGroup> group_duplicates(std::span<const DupeItem> items, const DupesParams& params,
                                        const ExtraLinkage& extra) {
  const size_t n = items.size();
  check_args(n, params.max_distance);
  const int t = params.max_distance;
  auto same_content = [&](size_t a, size_t b) {
    return !is_zero(items[a].content) && items[a].content == items[b].content;
  };
  auto extra_distance = [&](size_t a, size_t b) {
    return extra.distance ? double(extra.distance(uint32_t(a), uint32_t(b))) : 1e30;
  };
  // Low-detail items link by content only (see DupeItem::low_detail), on either scale.
  auto linked = [&](size_t a, size_t b) {
    if (same_content(a, b)) return true;
    if (items[a].low_detail || items[b].low_detail) return false;
    return std::popcount(items[a].hash ^ items[b].hash) <= t || extra_distance(a, b) <= double(extra.max_distance) + 1e-7;
  };
  std::vector<uint32_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0u);
  std::vector<std::vector<uint32_t>> members(n);
  for (size_t i = 0; i < n; ++i) members[i] = {uint32_t(i)};
  auto find = [&](uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  auto merge = [&](uint32_t a, uint32_t b, bool checked) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (checked && params.bound_chaining) {
      if (int64_t(members[a].size()) * int64_t(members[b].size()) > params.max_linkage_checks) return;
      for (uint32_t x : members[a])
        for (uint32_t y : members[b])
          if (!linked(x, y)) return;
    }
    if (members[a].size() < members[b].size()) std::swap(a, b);
    parent[b] = a;
    members[a].insert(members[a].end(), members[b].begin(), members[b].end());
    std::vector<uint32_t>().swap(members[b]);
  };
  // (1) exact duplicates
  {
    std::vector<uint32_t> order;
    for (size_t i = 0; i < n; ++i)
      if (!is_zero(items[i].content)) order.push_back(uint32_t(i));
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return items[a].content != items[b].content ? items[a].content < items[b].content : a < b;
    });
    for (size_t k = 1; k < order.size(); ++k)
      if (items[order[k]].content == items[order[k - 1]].content) merge(order[k - 1], order[k], false);
  }
  // (2) hash pairs and extra pairs, ascending by distance / threshold
  struct Edge {
    double key;
    uint32_t i, j;
  };
  std::vector<Edge> edges;
  {
    std::vector<uint64_t> hashes(n);
    for (size_t i = 0; i < n; ++i) hashes[i] = items[i].hash;
    for (const NearPair& p : find_near_pairs(hashes, t, params.threads))
      if (!items[p.i].low_detail && !items[p.j].low_detail) edges.push_back({t > 0 ? double(p.distance) / t : 0.0, p.i, p.j});
  }
  for (const auto& p : extra.pairs) {
    if (p.i >= n || p.j >= n || p.i == p.j || items[p.i].low_detail || items[p.j].low_detail) continue;
    const double key = extra.max_distance > 0 ? double(p.distance) / double(extra.max_distance) : 0.0;
    edges.push_back({key, std::min(p.i, p.j), std::max(p.i, p.j)});
  }
  std::stable_sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) {
    return std::tie(a.key, a.i, a.j) < std::tie(b.key, b.i, b.j);
  });
  for (const Edge& e : edges) merge(e.i, e.j, true);

  return make_groups(items, members, t, extra.distance);  // merged-away sets were emptied
}

}  // namespace irbis
