#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/dupes.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/pipeline.h"
#include "irbis/results.h"
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
    const size_t n_images = found.records.size();
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}};
      j.update(dupes_json(found, o->threshold, o->cnn ? std::optional<double>(o->cnn_threshold) : std::nullopt));
      std::cout << json_dump(j) << '\n';
    } else {
      const Table t = dupes_table(found, o->cnn);
      if (fmt == Format::csv) {
        write_csv_row(std::cout, t.header);
        for (const auto& r : t.rows) write_csv_row(std::cout, r);
      } else {
        if (t.rows.empty()) std::cout << "no duplicates among " << n_images << " images\n";
        else {
          write_table(std::cout, t.header, t.rows);
          std::cout << '\n' << found.groups.size() << " groups, " << found.duplicates() << " duplicates among "
                    << n_images << " images (pHash distance <= " << o->threshold;
          if (o->cnn) std::cout << " or CNN cosine similarity >= " << o->cnn_threshold;
          std::cout << ")\n" << keep_reasons_line(found) << '\n';
        }
      }
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
