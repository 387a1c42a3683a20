#include "pipeline/impl/produce.h"

#include <xxhash.h>

#include <algorithm>
#include <string>

#include "irbis/errors.h"
#include "irbis/fault_hooks.h"
#include "irbis/hashes.h"
#include "irbis/pipeline.h"

namespace irbis::indexing {

namespace {

// Test hook (irbis/fault_hooks.h): tests/e2e/bad_input.sh makes a file vanish right before it is read.
void fault_vanish(const std::string& path) {
  if (const auto& hook = fault_hooks().before_read) hook(path);
}

using Runs = std::vector<std::unique_ptr<FeatureProducer::Computation>>;

// Starts a computation of each wanted producer (leases its network). Throws ModelError when a
// further copy of a network cannot be loaded: that is not the image's fault.
Runs begin_runs(const ProduceContext& ctx, const std::vector<bool>& want) {
  Runs runs(ctx.producers.size());
  for (size_t p = 0; p < runs.size(); ++p)
    if (want[p]) runs[p] = ctx.producers[p]->begin();
  return runs;
}

}  // namespace

ContentHash content_hash(std::span<const uint8_t> bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  ContentHash out{};
  for (int i = 0; i < 8; ++i) {
    out[size_t(i)] = uint8_t(h.high64 >> (56 - 8 * i));
    out[size_t(8 + i)] = uint8_t(h.low64 >> (56 - 8 * i));
  }
  return out;
}

ImageHeader compute_rows(std::span<const uint8_t> bytes, const ProduceContext& ctx, const std::vector<bool>& want,
                         Runs& runs, ImageRows& out) {
  // Each producer decodes at its own size, so its input (and its rows) do not depend on which
  // other producers run in the same pass: the hashes see the 32 px DCT-scaled decode, a model the
  // decode for its input size.
  const auto side = [&](size_t p) { return std::max(ctx.decode.min_side, ctx.producers[p]->min_side()); };
  std::vector<int> sides;
  for (size_t p = 0; p < ctx.producers.size(); ++p)
    if (want[p]) sides.push_back(side(p));
  // No features: decode to check the image.
  if (sides.empty()) sides.push_back(std::max(ctx.decode.min_side, kHashMinSide));
  const std::vector<DecodedImage> img = decode_image_sizes(bytes, ctx.decode, sides);
  out.rows.resize(ctx.producers.size());
  size_t k = 0;
  for (size_t p = 0; p < ctx.producers.size(); ++p)
    if (want[p]) out.rows[p] = runs[p]->compute(img[k++].rgb, bytes);
  return oriented_header(img.front().header, img.front().orientation);
}

ProducedImage produce_image(const ScanEntry& entry, const ProduceContext& ctx) {
  ProducedImage w;
  ImageRecord& r = w.record;
  r.path = entry.path;
  r.size = entry.size;
  r.mtime_ns = entry.mtime_ns;
  fault_vanish(entry.path);
  std::vector<uint8_t> bytes;
  try {
    bytes = read_file_bytes(entry.path, ctx.max_file_bytes);
  } catch (const Error& e) {
    r.status = ImageStatus::failed;
    r.reason = e.what();
    return w;
  }
  r.content_hash = content_hash(bytes);
  r.format = sniff_format(bytes);
  // Recognised formats irbis cannot decode are images too: listed as failed ("unsupported format").
  if (r.format == ImageFormat::unknown && !unsupported_image_format(bytes) && !has_image_extension(entry.path)) {
    w.is_image = false;
    return w;
  }
  const std::vector<bool> all(ctx.producers.size(), true);
  Runs runs = begin_runs(ctx, all);  // before the try: failing to load a network is not this file's fault
  try {
    const ImageHeader shown = compute_rows(bytes, ctx, all, runs, w.rows);
    r.format = shown.format;
    r.width = shown.width;
    r.height = shown.height;
    return w;
  } catch (const Error& e) {
    r.reason = e.what();
  } catch (const cv::Exception& e) {
    r.reason = std::string("decoder error: ") + e.what();
  } catch (const std::bad_alloc&) {
    r.reason = "out of memory while decoding";
  }
  r.status = ImageStatus::failed;
  w.rows = {};  // a failed image has no rows (the catalog gives it zero rows)
  return w;
}

ImageRows produce_backfill(const ImageRecord& record, const std::vector<bool>& want, const ProduceContext& ctx) {
  ImageRows rows;
  if (record.status != ImageStatus::ok) return rows;
  Runs runs = begin_runs(ctx, want);  // before the try: failing to load a network is not this image's fault
  try {
    const auto bytes = read_file_bytes(record.path, ctx.max_file_bytes);
    compute_rows(bytes, ctx, want, runs, rows);
  } catch (const std::exception&) {
    return {};  // changed or gone since: zero rows; the next scan re-indexes it
  }
  return rows;
}

}  // namespace irbis::indexing
