#include <algorithm>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/dupes.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/pipeline.h"
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
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    auto coll = Collection::open(o->coll);
    DupesParams params;
    params.max_distance = o->threshold;
    params.bound_chaining = !o->unbounded;
    const CollectionDupes found = find_collection_dupes(*coll, params);
    const auto& recs = found.records;
    const auto& groups = found.groups;
    const size_t n_images = recs.size();
    const size_t n_dupes = found.duplicates();
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}, {"threshold", o->threshold},
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
          jg["duplicates"].push_back({{"path", display_path(r.path)}, {"id", r.id}, {"kind", dupe_kind_name(d.kind)},
                                      {"distance", d.distance}, {"width", r.width}, {"height", r.height},
                                      {"size", r.size}});
        }
        j["groups"].push_back(std::move(jg));
      }
      std::cout << json_dump(j) << '\n';
    } else {
      std::vector<std::string> header{"group", "path", "role", "distance", "kind", "width", "height", "size"};
      std::vector<std::vector<std::string>> rows;
      for (size_t g = 0; g < groups.size(); ++g) {
        const auto& k = recs[groups[g].keep];
        rows.push_back({std::to_string(g + 1), k.path, "keep", "0", "", std::to_string(k.width),
                        std::to_string(k.height), std::to_string(k.size)});
        for (const auto& d : groups[g].duplicates) {
          const auto& r = recs[d.index];
          rows.push_back({std::to_string(g + 1), r.path, "duplicate", std::to_string(d.distance),
                          dupe_kind_name(d.kind), std::to_string(r.width), std::to_string(r.height),
                          std::to_string(r.size)});
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
                    << " images (pHash distance <= " << o->threshold << ")\n";
        }
      }
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
