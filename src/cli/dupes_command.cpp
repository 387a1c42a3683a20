#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/dupes.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/pipeline.h"
#include "irbis/search.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_dupes_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("dupes", "Exact and near-duplicate groups (nothing is deleted or moved)");
  struct Opts {
    std::string coll;
    int threshold = DupesParams{}.max_distance;
    std::string format = "table";
    bool json = false;
    bool unbounded = false;
    bool cnn = false;
    double cnn_threshold = CnnDupesOptions{}.min_similarity;
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
    DupesParams params;
    params.max_distance = o->threshold;
    params.bound_chaining = !o->unbounded;
    CnnDupesOptions cnn;
    cnn.enabled = o->cnn;
    cnn.min_similarity = o->cnn_threshold;
    cnn.model = o->model;
    cnn.index.kind = parse_index_kind(o->index);
    const CollectionDupes found = find_collection_dupes(*coll, params, cnn);
    const auto& recs = found.records;
    const auto& groups = found.groups;
    const size_t n_images = recs.size();
    const size_t n_dupes = found.duplicates();
    auto similarity_text = [&](const DupeMember& d) {
      if (!d.has_similarity()) return std::string();
      char b[16];
      std::snprintf(b, sizeof b, "%.4f", d.similarity);
      return std::string(b);
    };
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}, {"threshold", o->threshold},
                          {"cnn_threshold", o->cnn ? nlohmann::json(o->cnn_threshold) : nlohmann::json(nullptr)},
                          {"images", n_images},               {"groups", nlohmann::json::array()},
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
          if (o->cnn) jd["similarity"] = d.has_similarity() ? nlohmann::json(d.similarity) : nlohmann::json(nullptr);
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
          if (o->cnn) rows.back().push_back(similarity_text(d));
        }
      }
      if (fmt == Format::csv) {
        write_csv_row(std::cout, header);
        for (const auto& r : rows) write_csv_row(std::cout, r);
      } else {
        if (rows.empty()) std::cout << "no duplicates among " << n_images << " images\n";
        else {
          write_table(std::cout, header, rows);
          std::cout << '\n' << groups.size() << " groups, " << n_dupes << " duplicates among " << n_images
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
