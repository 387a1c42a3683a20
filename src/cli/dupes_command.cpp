#include <algorithm>
#include <cstdio>
#include <memory>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/dupes.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/pipeline.h"
#include "irbis/search.h"
#include "irbis/model.h"
#include "irbis/text.h"

namespace irbis::cli {
namespace {
// Default --cnn-threshold: calibrated on `irbis sample --tiles 8` (docs/search.md).
constexpr double kDefaultCnnSimilarity = 0.90;
// Nearest neighbours examined per image for CNN pairs.
constexpr int kCnnNeighbours = 10;
}  // namespace

void add_dupes_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("dupes", "Exact and near-duplicate groups (nothing is deleted or moved)");
  struct Opts {
    std::string coll;
    int threshold = DupesParams{}.max_distance;
    std::string format = "table";
    bool json = false;
    bool unbounded = false;
    bool cnn = false;
    double cnn_threshold = kDefaultCnnSimilarity;
    std::string model = kDefaultModel;
    std::string index = "auto";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--threshold", o->threshold, "Largest pHash Hamming distance (of 64 bits) for a near duplicate")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_option("--format", o->format, "table, csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->add_flag("--single-linkage", o->unbounded,
                "Let chains of near pairs merge (a~b~c groups a with c even when they are far apart)");
  cmd->add_flag("--cnn", o->cnn,
                "Also pair images whose CNN embeddings are similar (catches crops, rotations, flips, overlays)");
  cmd->add_option("--cnn-threshold", o->cnn_threshold, "Smallest cosine similarity for a CNN pair")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--model", o->model, "Which model's embeddings (with --cnn)")->capture_default_str();
  cmd->add_option("--index", o->index, "auto, exact or hnsw (with --cnn)")->capture_default_str();
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    auto coll = Collection::open(o->coll);
    if (!coll->has_feature(kHashesFeature))
      throw UsageError(o->coll + ": collection has no perceptual hashes; run `irbis index FOLDER --into " + o->coll +
                       " --features hashes`");
    auto hashes = coll->view(kHashesFeature);
    // Per-channel standard deviation (colour stats, in [0, 1]) below which an image counts as
    // nearly flat (docs/dupes.md): about 5 grey levels.
    constexpr float kLowDetailStd = 0.02f;
    const bool have_color = coll->has_feature(kColorFeature);
    FeatureView color = have_color ? coll->view(kColorFeature) : FeatureView{};
    std::vector<ImageRecord> recs;
    std::vector<DupeItem> items;
    for (auto& r : coll->records(ImageStatus::ok)) {
      if (r.id >= hashes.rows()) continue;  // hashes not computed for this row
      DupeItem it;
      it.hash = hashes.row_u64(r.id)[0];
      it.content = r.content_hash;
      it.pixels = int64_t(r.width) * r.height;
      it.file_size = r.size;
      it.path = r.path;
      if (have_color && r.id < color.rows()) {
        const float* std = color.row_f32(r.id) + kColorHistBins + 3;
        it.low_detail = std::max({std[0], std[1], std[2]}) < kLowDetailStd;
      }
      items.push_back(std::move(it));
      recs.push_back(std::move(r));
    }
    DupesParams params;
    params.max_distance = o->threshold;
    params.bound_chaining = !o->unbounded;
    std::unique_ptr<VectorSearch> vs;
    std::vector<int64_t> row_of_item;  // VectorSearch row per item, -1 = no embedding
    if (o->cnn) {
      IndexOptions io;
      io.kind = parse_index_kind(o->index);
      vs = VectorSearch::open(*coll, o->model, io);
      for (const auto& r : recs) row_of_item.push_back(vs->row_of_id(r.id));
    }
    std::vector<DupeGroup> groups;
    if (!o->cnn) {
      groups = group_duplicates(items, params);
    } else {
      ExtraLinkage extra;
      extra.max_distance = float(1.0 - o->cnn_threshold);
      std::vector<int64_t> item_of_row(size_t(vs->size()), -1);
      for (size_t i = 0; i < row_of_item.size(); ++i)
        if (row_of_item[i] >= 0) item_of_row[size_t(row_of_item[i])] = int64_t(i);
      const auto knn = vs->self_knn(kCnnNeighbours);
      for (int64_t r = 0; r < vs->size(); ++r)
        for (const auto& nb : knn[size_t(r)])
          if (nb.similarity >= o->cnn_threshold && item_of_row[size_t(r)] >= 0 && item_of_row[size_t(nb.row)] >= 0 &&
              r < nb.row)
            extra.pairs.push_back({uint32_t(item_of_row[size_t(r)]), uint32_t(item_of_row[size_t(nb.row)]),
                                   1.f - nb.similarity});
      const int dim = vs->dim();
      extra.distance = [&](uint32_t a, uint32_t b) {
        const int64_t ra = row_of_item[a], rb = row_of_item[b];
        if (ra < 0 || rb < 0) return 1e30f;
        const float* x = vs->data().ptr<float>(int(ra));
        const float* y = vs->data().ptr<float>(int(rb));
        float s = 0;
        for (int k = 0; k < dim; ++k) s += x[k] * y[k];
        return 1.f - s;
      };
      groups = group_duplicates(items, params, extra);
    }
    auto sim_str = [&](const DupeMember& d) {
      if (d.similarity < -1.5) return std::string();
      char b[16];
      std::snprintf(b, sizeof b, "%.4f", d.similarity);
      return std::string(b);
    };

    size_t n_dupes = 0;
    for (const auto& g : groups) n_dupes += g.duplicates.size();
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}, {"threshold", o->threshold},
                          {"cnn_threshold", o->cnn ? nlohmann::json(o->cnn_threshold) : nlohmann::json(nullptr)},
                          {"images", items.size()},               {"groups", nlohmann::json::array()},
                          {"duplicates", n_dupes}};
      for (size_t g = 0; g < groups.size(); ++g) {
        const auto& k = recs[groups[g].keep];
        nlohmann::json jg = {{"group", g + 1},
                             {"keep", {{"path", display_path(k.path)}, {"id", k.id}, {"width", k.width},
                                       {"height", k.height}, {"size", k.size}}},
                             {"duplicates", nlohmann::json::array()}};
        for (const auto& d : groups[g].duplicates) {
          const auto& r = recs[d.index];
          nlohmann::json jd = {{"path", display_path(r.path)}, {"id", r.id}, {"kind", dupe_kind_name(d.kind)},
                               {"distance", d.distance}, {"width", r.width}, {"height", r.height},
                               {"size", r.size}};
          if (o->cnn) jd["similarity"] = d.similarity < -1.5 ? nlohmann::json(nullptr) : nlohmann::json(d.similarity);
          jg["duplicates"].push_back(std::move(jd));
        }
        j["groups"].push_back(std::move(jg));
      }
      std::cout << json_dump(j) << '\n';
    } else {
      std::vector<std::string> header{"group", "path", "role", "distance", "kind", "width", "height", "size"};
      if (o->cnn) header.push_back("similarity");
      std::vector<std::vector<std::string>> rows;
      for (size_t g = 0; g < groups.size(); ++g) {
        const auto& k = recs[groups[g].keep];
        rows.push_back({std::to_string(g + 1), k.path, "keep", "0", "", std::to_string(k.width),
                        std::to_string(k.height), std::to_string(k.size)});
        if (o->cnn) rows.back().push_back("1.0000");
        for (const auto& d : groups[g].duplicates) {
          const auto& r = recs[d.index];
          rows.push_back({std::to_string(g + 1), r.path, "duplicate", std::to_string(d.distance),
                          dupe_kind_name(d.kind), std::to_string(r.width), std::to_string(r.height),
                          std::to_string(r.size)});
          if (o->cnn) rows.back().push_back(sim_str(d));
        }
      }
      if (fmt == Format::csv) {
        write_csv_row(std::cout, header);
        for (const auto& r : rows) write_csv_row(std::cout, r);
      } else {
        if (rows.empty()) std::cout << "no duplicates among " << items.size() << " images\n";
        else {
          write_table(std::cout, header, rows);
          std::cout << '\n' << groups.size() << " groups, " << n_dupes << " duplicates among " << items.size()
                    << " images (pHash distance <= " << o->threshold;
          if (o->cnn) std::cout << " or CNN cosine similarity >= " << o->cnn_threshold;
          std::cout << ")\n";
        }
      }
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
