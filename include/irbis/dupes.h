// Near-duplicate detection over 64-bit perceptual hashes and grouping of duplicates.
// Definitions, complexity and the chaining rule are in docs/dupes.md. Nothing here touches files.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "irbis/verify.h"

namespace irbis {

// 16-byte content hash of a file's bytes (same type as ContentHash in collection.h).
using ContentHash = std::array<uint8_t, 16>;

// What group_duplicates asks of an uncertain pair (see VerifyBand): whether the pixels of the two
// images correspond under one geometric transform (irbis/verify.h gives the usual answer).
struct PairCheck {
  bool same = false;  // true: a copy (the pair is accepted)
  int inliers = 0;    // evidence: keypoint matches consistent with the transform
};

// Pairs a little beyond the sure thresholds are kept only when `verify` confirms them. The band is
// off when verify is empty or the band limits equal the sure thresholds.
struct VerifyBand {
  // Hash pairs with max_distance < distance <= max_hash_distance (over the variants too) are
  // verified when one of the two items has no dHash; with two hashes, HashAgreement decides.
  int max_hash_distance = 0;
  // Extra-scale pairs (ExtraLinkage) with extra.max_distance < distance <= this are verified.
  float max_extra_distance = 0;
  // (keep, candidate) item indices. Called only for pairs in the band, at most once per pair,
  // and only while the candidate has no sure match to a kept item.
  std::function<PairCheck(uint32_t keep, uint32_t candidate)> verify;
  // Optional: verifies (keep, candidate) pairs together (in parallel), so that verify answers them
  // from a cache. Called before the decisions, once per dry pass of the grouping that lists pairs
  // it has not handed over yet (at most 8), until a pass lists none: then the decisions ask
  // verify only about pairs handed over. Dry passes call verify for handed-over pairs too.
  std::function<void(const std::vector<std::pair<uint32_t, uint32_t>>& pairs)> verify_all;
  // Optional: the pixel check of a sure pair (VerifyPolicy::check_sure_pixels; irbis/verify.h's
  // compare_pixels gives the usual answer). A pair whose pixels do not agree is verified instead of
  // accepted; one that could not be compared (PixelCheck::reason) stays sure. check_all, like
  // verify_all, runs the pairs the dry passes list together.
  std::function<PixelCheck(uint32_t keep, uint32_t candidate)> check;
  std::function<void(const std::vector<std::pair<uint32_t, uint32_t>>& pairs)> check_all;
};

// The second hash (dHash) a pair's pHash must agree with, when both items have one (DupeItem::dhash).
// Two independent hashes both close are far rarer by chance than one (docs/dupes.md, "Two hashes
// agree"; calibration in docs/calibration.md, "Two hashes agree"). Compared for the same transform:
// the pHash distance of the identity with the dHash distance of the identity, the mirror variant's
// with the mirrored dHash (dhash_mirrored); pHash variants beyond the mirror have no dHash and
// follow the pHash-only rule (DupesParams::max_distance sure, VerifyBand::max_hash_distance band).
struct HashAgreement {
  // A pHash pair within DupesParams::max_distance is sure only when the dHash distance is <= this;
  // otherwise it is verified (a static-camera frame or a mirrored render agrees in pHash only).
  int max_sure_dhash = 8;
  // Band pairs (verified): pHash distance <= max_band_phash and dHash distance <= max_band_dhash.
  // Replaces VerifyBand::max_hash_distance for pairs with two hashes: wider in pHash (captions,
  // logos, small rotations move the pHash), far narrower by chance.
  int max_band_phash = 16;
  int max_band_dhash = 12;
};

// Which pairs geometric verification decides before they count, one policy for `irbis dupes` and
// `irbis match` (docs/dupes.md, "Which pairs are verified"). It applies when a verifier is on;
// without one the thresholds decide alone.
struct VerifyPolicy {
  // A CNN pair at or above the sure similarity but below this one is verified before it counts:
  // another frame of one scene, a stereo partner or a look-alike object reaches cosine 0.92-0.97
  // (docs/calibration.md, "irbis match"). No effect while the sure similarity is >= this (the
  // default 0.99); it matters when --cnn-threshold is lowered.
  double verify_similarity_below = 0.97;
  // A sure hash match that holds only through a variant hash (the mirror: the plain hashes are
  // far apart) is verified: a mirrored render, or another frame of a scene seen mirrored, agrees
  // in both hashes by chance far more often than a plain pair does.
  bool verify_variant_only = true;
  // Verifications per candidate (dupes: per item; match: per query), strongest pair first; dupes
  // takes the first confirmed pair, match the confirmed pair with the most inliers of its first
  // batch that has one. 0 = none is verified.
  int max_verified_per_item = 5;
  // A pair that is in the uncertain band by its CNN similarity s alone (no hash evidence) is
  // verified only when it stands out from the candidate's neighbourhood: no rival neighbour is at
  // similarity >= s - this. A rival is a CNN neighbour of the candidate that belongs elsewhere
  // (dupes: already visited and not in the kept item's group; match: a collection image closer to
  // the query than to the kept image). Real photos are dense (5 % of unrelated pairs reach 0.80),
  // so in a crowd of look-alikes no neighbour stands out and nothing is verified, while a copy is
  // nearer its original than anything unrelated (docs/dupes.md, "Which pairs are verified").
  // Negative = off (every band pair is verified, up to max_verified_per_item).
  double cnn_stand_out = 0.02;
  // The margin grows as the pair's similarity falls deeper into the band: by this much per unit of
  // similarity below cnn_stand_out_from (stand_out_margin). Copies sit mostly at >= 0.87 (only 30 %
  // crops lower), while a chance neighbour of a dense collection sits at the band's edge among others
  // about as close; a deep pair must stand out further. 0 = one margin over the whole band.
  double cnn_stand_out_growth = 0.5;
  double cnn_stand_out_from = 0.90;
  // dupes: neighbours not visited yet count as rivals too (match counts every neighbour), when they
  // are closer to the candidate than to the kept image and below the band with it (a sibling copy
  // of the kept image visited later could still join it). false: only visited neighbours are rivals.
  bool cnn_unvisited_rivals = true;
  // A sure hash or CNN pair (not byte-identical) counts only when the two images agree pixel for
  // pixel at a small size (compare_pixels, cheap: no keypoints); otherwise it is verified like a
  // band pair. Near-identical hashes and descriptors are what two frames of a static camera have
  // too (the background identical, a person moved): the pixels tell them from a copy, which
  // differs everywhere a little or nowhere. Pairs that differ (captions, logos, rotations, strong
  // re-encodes, 25 % resizes: ~16 % of the sure copies of the calibration set) pay a verification.
  bool check_sure_pixels = true;
};

// The margin by which a CNN band pair at this similarity must stand out from its neighbourhood:
// cnn_stand_out, plus cnn_stand_out_growth per unit of similarity below cnn_stand_out_from. Negative
// when the rule is off.
double stand_out_margin(double similarity, const VerifyPolicy& policy);

// Whether a sure pair stays sure after its pixel check: the pixels agree, or they could not be
// compared (a file gone or unreadable since indexing: the stored evidence decides, as without a check).
inline bool stays_sure(const PixelCheck& c) { return c.agree || !c.reason.empty(); }

struct DupesParams {
  // Largest hamming distance between two 64-bit hashes (over the compared variants) that counts as
  // a near duplicate without verification (with a dHash, only when it agrees: `agreement`). 4 of
  // 64 bits for pHash, with band pairs verified: the best pair precision on the Copydays-style set
  // (docs/calibration.md, "Calibrated defaults").
  int max_distance = 4;
  HashAgreement agreement;
  // Which of DupeItem::variants are compared with the other item's hash (a mirrored copy is
  // found when variants hold the mirrored pHash). 0 = none, 1 = mirror only, 7 = all eight
  // dihedral transforms; each compared variant adds about one more chance pair per 64 bits.
  int variants_used = 1;
  // Worker threads for the pair search; 0 = std::thread::hardware_concurrency().
  int threads = 0;
  // Uncertain band and its verifier. find_collection_dupes fills band.verify with a PairVerifier
  // (settings below) when the band is wider than the sure thresholds and no verify is given.
  VerifyBand band{.max_hash_distance = 12, .max_extra_distance = 0.20f, .verify = {}, .verify_all = {}, .check = {}, .check_all = {}};
  VerifyParams verify;
  VerifyPolicy policy;  // which pairs the verifier decides (sure-but-weak ones too), and how many
};

// One near pair: i < j, distance = hamming(hash[i], hash[j]) <= max_distance.
struct NearPair {
  uint32_t i = 0;
  uint32_t j = 0;
  int distance = 0;
  friend bool operator==(const NearPair&, const NearPair&) = default;
};

// All pairs (i < j) of `hashes` within max_distance (0..64), each once, sorted by (i, j).
// Identical hash values are collapsed before the search, so the search cost depends on the
// distinct values; the output itself has every pair of items, so k identical hashes yield
// k(k-1)/2 pairs. Throws irbis::Error for max_distance outside 0..64 or more than 2^32-1 items.
std::vector<NearPair> find_near_pairs(std::span<const uint64_t> hashes, int max_distance,
                                      int threads = 0);

// Near pairs between two sets (`irbis match`: new images against a collection's hashes): every
// (query, item) with hamming(queries[q], items[i]) <= max_distance, sorted by (query, item).
// Multi-index hashing over `items` (four 16-bit chunk tables, chunk c probed with every value within
// r_c bits of the query's, sum(r_c + 1) = max_distance + 1: 3,2,2,2 for 12), so the cost grows with the candidates, not with
// queries x items; small inputs and max_distance >= 20 use a plain scan. Throws irbis::Error for
// max_distance outside 0..64.
struct QueryNearPair {
  uint32_t query = 0;
  uint32_t item = 0;
  int distance = 0;
  friend bool operator==(const QueryNearPair&, const QueryNearPair&) = default;
};
std::vector<QueryNearPair> find_near_query_pairs(std::span<const uint64_t> items, std::span<const uint64_t> queries,
                                                 int max_distance);

// Same search over values that are already distinct (duplicates allowed, they are reported at
// distance 0): the multi-index hashing core. Pairs index into `values`, sorted by (i, j).
std::vector<NearPair> find_near_value_pairs(std::span<const uint64_t> values, int max_distance,
                                            int threads = 0);

struct DupeItem {
  uint64_t hash = 0;        // perceptual hash (e.g. phash)
  // Hashes of the item's transformed versions (phash_variants()[1..]: mirror, vertical flip,
  // rotations...), optional. The first DupesParams::variants_used are compared.
  std::vector<uint64_t> variants;
  // dHash of the image (hashes.h), optional: with one on both items the pHash must agree with it
  // (DupesParams::agreement); without, the pHash-only rule applies.
  std::optional<uint64_t> dhash;
  ContentHash content{};    // equal content => exact duplicates; all zero = unknown, never equal
  int64_t pixels = 0;       // width * height, to pick the item to keep
  int64_t file_size = 0;    // bytes
  int64_t mtime_ns = 0;     // modification time (0 = unknown): with equal pixels, the oldest is kept
  bool jpeg = false;        // with equal pixels and times, a JPEG is kept over a lossless re-encode of it
  std::string path;         // final tie-break (smallest wins) and group order
  // Nearly flat images (a sky, a black frame): their pHash is decided by noise, so they would
  // match each other at any threshold. They join groups only as exact (same content) duplicates.
  bool low_detail = false;
};

// Which evidence made an image a duplicate of its group's kept image: exact = same bytes,
// near = hash (or a variant hash) within the threshold, cnn = CNN similarity above the sure
// threshold, verified = a pair in the uncertain band confirmed by geometric verification.
enum class DupeKind { exact, near, cnn, verified };
const char* dupe_kind_name(DupeKind k);  // "exact" | "near" | "cnn" | "verified"

// One duplicate and the evidence tying it to the kept image (always measured against the kept
// image itself, never through another duplicate).
struct DupeMember {
  size_t index = 0;                // into the items given to group_duplicates
  DupeKind kind = DupeKind::near;  // the evidence that matched (see DupeKind)
  int distance = 0;                // hamming distance of the two hashes (0 for exact)
  // Smallest hamming distance between a variant hash of one item (mirror, rotations; see
  // DupeItem::variants) and the other's hash; -1 = no variants compared. `variant` = its index
  // in DupeItem::variants plus 1 (HashVariant numbering: 1 = mirror), 0 when none.
  int variant_distance = -1;
  int variant = 0;
  // dHash distance for the transform of the best pHash distance (identity, or the mirrored dHash
  // for the mirror variant); -1 = not compared (an item without dHash, or a rotation variant).
  int dhash_distance = -1;
  double similarity = -2;          // extra-scale similarity (1 - extra distance) to the kept item; -2 = none
  int inliers = -1;                // geometric verification inliers; -1 = not verified
  bool has_similarity() const { return similarity >= -1.5; }  // false: linked by hashes alone
  bool verified() const { return inliers >= 0; }
  // The hash distance that matched: min(distance, variant_distance when known).
  int best_distance() const { return variant_distance >= 0 && variant_distance < distance ? variant_distance : distance; }
};

// The rule that chose a group's kept item (the rules in order: most pixels; of equal pixel counts
// the earliest modified, the most likely original; then a JPEG over a lossless re-encode of it;
// then the largest file; then the first path), against the duplicate that came closest to it
// (byte copies of the kept file only when the group holds nothing else).
enum class KeepReason { most_pixels, earliest_modified, jpeg_original, largest_file, first_path };
const char* keep_reason_text(KeepReason r);  // "most pixels", "earliest modified of equal pixels", ...

struct DupeGroup {
  size_t keep = 0;                     // by the keep rules (KeepReason)
  KeepReason keep_reason = KeepReason::most_pixels;
  std::vector<DupeMember> duplicates;  // the others, sorted by (kind, best distance, path, index)
};

// What the hashes alone say of a pair (the rule of docs/dupes.md, "Two hashes agree"): sure (a
// duplicate), band (a duplicate only if geometric verification confirms it; only when
// band_on), or none. Fills m.distance, variant_distance, variant and dhash_distance, and
// `strength` (smaller = stronger: the best pHash distance over max_distance). Low-detail items
// are never hash matches. `irbis dupes` and `irbis match` both decide with it.
// `identity`, when given, receives the verdict of the plain hashes alone (no variant): a sure
// verdict with a weaker identity one is a match through a variant only (VerifyPolicy).
enum class HashMatch { none, band, sure };
HashMatch judge_hash_pair(const DupeItem& a, const DupeItem& b, const DupesParams& p, bool band_on, DupeMember& m,
                          double& strength, HashMatch* identity = nullptr);

// The evidence of one pair (a kept item or collection image, and a candidate or query) that
// judge_pair decides on.
struct PairEvidence {
  bool exact = false;                 // same non-zero content hash
  HashMatch hash = HashMatch::none;   // judge_hash_pair's verdict
  double hash_strength = 1e30;        // and its strength
  bool hash_variant_only = false;     // a sure hash verdict that holds only through a variant
  double cnn_distance = 1e30;         // 1 - cosine of the embeddings; >= 1e29 = none
  bool detailed = true;               // false: one of the two is nearly flat (content only)
  // false: a rival neighbour is as close as this pair (VerifyPolicy::cnn_stand_out), so its CNN
  // similarity alone does not send it to verification (sure CNN pairs are not affected).
  bool cnn_stands_out = true;
};
// What to do with a pair: accept it (sure evidence the policy does not send to verification),
// verify it (the uncertain band, and sure-but-weak pairs: VerifyPolicy), or nothing.
enum class PairAction { none, accept, verify };
struct PairJudgement {
  PairAction action = PairAction::none;
  DupeKind kind = DupeKind::near;  // what tied it: exact/near/cnn when accepted, verified otherwise
  double strength = 1e30;          // smaller = stronger; sure evidence <= 1, the band above
};
// The one decision rule of `dupes` and `match` (docs/dupes.md, "Which pairs are verified").
// cnn_sure: the sure CNN distance (1 - sure similarity); cnn_band: the largest CNN distance
// verified (the band's edge). band_on: a verifier is there (without one nothing is verified:
// the band is off and sure pairs are accepted).
PairJudgement judge_pair(const PairEvidence& e, const DupesParams& p, double cnn_sure, double cnn_band, bool band_on);
// Which of a candidate's (or query's) judged pairs go to the verifier, in order: none when any
// pair is accepted (a sure match decides, as in the grouping); otherwise the pairs to verify,
// strongest first (ties in input order), at most policy.max_verified_per_item of them. The caller
// takes the first one confirmed.
std::vector<size_t> verification_order(std::span<const PairJudgement> pairs, const VerifyPolicy& policy);

// Keep-centred duplicate groups (docs/dupes.md, "Grouping"): items are visited best-to-keep first
// (by the KeepReason rules, then index); an item with a direct match
// to an already kept item becomes a duplicate of the kept item it matches best, otherwise it is
// kept itself. A match is the same non-zero content hash, or a hash distance (smallest over the
// compared variants) <= max_distance, or a pair in the band confirmed by params.band.verify.
// Candidates come from multi-index hashing, never an all-pairs loop. Only groups with at least
// two items are returned, sorted by the kept item's path (then index). Nothing is deleted or moved.
std::vector<DupeGroup> group_duplicates(std::span<const DupeItem> items,
                                        const DupesParams& params = {});

// Pairs found on a second distance scale (e.g. 1 - cosine of CNN embeddings) that join the
// grouping next to the hash pairs. See docs/search.md ("dupes --cnn").
struct ExtraLinkage {
  struct Pair {
    uint32_t i = 0, j = 0;
    float distance = 0;  // on this scale; pairs beyond max (and beyond the band) are ignored
  };
  std::vector<Pair> pairs;
  float max_distance = 0;  // sure threshold on this scale
  // Distance of any two items on this scale (fills DupeMember::similarity of every duplicate).
  std::function<float(uint32_t, uint32_t)> distance;
  // true: distance may be called from several threads at once (DupesParams::threads), and the
  // grouping computes the distances of the listed pairs ahead, in parallel, instead of one at a
  // time when a pass first asks them (the same values: each is the callback's own answer).
  bool distance_thread_safe = false;
};

// group_duplicates with extra pairs as further candidates: a pair within extra.max_distance is a
// sure match, one in (extra.max_distance, params.band.max_extra_distance] an uncertain one.
// Matches are ranked by strength = distance / threshold of their scale (exact = 0); a candidate
// goes to the kept item of its strongest match.
std::vector<DupeGroup> group_duplicates(std::span<const DupeItem> items, const DupesParams& params,
                                        const ExtraLinkage& extra);

}  // namespace irbis
