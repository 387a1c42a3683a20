// Produce: decode one image and compute its rows of the planned features, on a worker thread.
// Per-image problems become a failed record (new files) or missing rows (back-fill), here only;
// what is not the image's fault (a network that cannot be loaded) is thrown.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "irbis/collection.h"
#include "irbis/image.h"
#include "irbis/scan.h"
#include "pipeline/impl/feature_producer.h"

namespace irbis::indexing {

// One image's rows: rows[p] are producer p's rows, empty when it was not computed (not asked
// for, or the image failed). The commit step writes zero rows where they are needed.
struct ImageRows {
  std::vector<ProducerRows> rows;
  bool computed(size_t p) const { return p < rows.size() && !rows[p].empty(); }
};

// What produce needs: the planned producers and the limits of the run.
struct ProduceContext {
  const std::vector<std::unique_ptr<FeatureProducer>>& producers;
  DecodeOptions decode;  // pixel limit; min_side is a floor under each producer's own side
  uint64_t max_file_bytes = 1ull << 30;
};

// A new or changed file: its catalog record (ok, or failed with the reason) and, when ok, the
// rows of every producer.
struct ProducedImage {
  bool is_image = true;  // false: neither sniffed as an image nor named like one (not recorded)
  ImageRecord record;
  ImageRows rows;
};
ProducedImage produce_image(const ScanEntry& entry, const ProduceContext& ctx);

// Rows for an image already in the catalog, of the producers with want[p]; an image that is not
// ok, or that cannot be read or decoded now (changed or gone since: the next scan re-indexes it),
// gets none.
ImageRows produce_backfill(const ImageRecord& record, const std::vector<bool>& want, const ProduceContext& ctx);

// Decodes `bytes` once per distinct side and computes each wanted producer's rows. Returns the
// header as displayed (EXIF orientation applied). Throws what decoding and inference throw.
ImageHeader compute_rows(std::span<const uint8_t> bytes, const ProduceContext& ctx, const std::vector<bool>& want,
                         std::vector<std::unique_ptr<FeatureProducer::Computation>>& runs, ImageRows& out);

// xxh3-128 of a file's bytes.
ContentHash content_hash(std::span<const uint8_t> bytes);

}  // namespace irbis::indexing
