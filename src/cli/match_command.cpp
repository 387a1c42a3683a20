#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/results.h"
#include "irbis/search.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_match_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand(
      "match", "Which collection images each new image duplicates, with the evidence (nothing is added)");
  struct Opts {
    std::string coll;
    std::vector<std::string> paths;
    MatchOptions match;
    std::string format = "table";
    bool json = false;
    bool no_cnn = false;
    bool no_verify = false;
    std::string index = "auto";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("paths", o->paths, "Image files and folders to match")->required();
  cmd->add_option("--threshold", o->match.max_distance, "Largest pHash Hamming distance (of 64 bits) for a near duplicate")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_option("--cnn-threshold", o->match.min_similarity, "Smallest cosine similarity for a CNN match")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_flag("--no-cnn", o->no_cnn, "Hashes only, even when the collection has embeddings");
  cmd->add_flag("--no-verify", o->no_verify, "Do not verify the uncertain band geometrically");
  double band_similarity = 1.0 - double(o->match.band.max_extra_distance);
  cmd->add_option_function<double>(
         "--band-similarity", [o](double s) { o->match.band.max_extra_distance = float(1.0 - s); },
         "Smallest cosine similarity of a CNN candidate that geometric verification decides (default " +
             fixed(band_similarity, 2) + ")")
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--max-verified", o->match.policy.max_verified_per_item,
                  "Candidates verified per image at most, strongest first, when it has no sure match (0 = none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--stand-out", o->match.policy.cnn_stand_out,
                  "A CNN band candidate is verified only when no other neighbour of the image that belongs "
                  "elsewhere is within this cosine of it (negative = verify every band candidate)")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--stand-out-growth", o->match.policy.cnn_stand_out_growth,
                  "How much the --stand-out margin grows per unit of cosine below 0.90")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--model", o->match.model, "Which model's embeddings")->capture_default_str();
  cmd->add_option("--index", o->index, "auto, exact or hnsw")->capture_default_str();
  cmd->add_option("--format", o->format, "table, csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    auto coll = Collection::open(o->coll);
    MatchOptions opts = o->match;
    opts.cnn = !o->no_cnn;
    opts.verify = !o->no_verify;
    opts.index.kind = parse_index_kind(o->index);
    const MatchResult found = match_images(*coll, o->paths, opts);
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}};
      j.update(match_json(found, opts));
      std::cout << json_dump(j) << '\n';
    } else {
      const Table t = match_table(found);
      if (fmt == Format::csv) {
        write_rows(std::cout, Format::csv, t);
      } else {
        if (!t.rows.empty()) write_table(std::cout, t.header, t.rows);
        std::cout << (t.rows.empty() ? "" : "\n") << found.matched() << " of " << found.queries.size()
                  << " images already in the collection (" << found.records.size() << " images)";
        if (found.failed()) std::cout << ", " << found.failed() << " could not be read";
        std::cout << '\n';
      }
      if (!found.note.empty()) std::cerr << "irbis: " << found.note << '\n';
    }
    result = found.failed() ? kExitPartial : kExitOk;
  });
}

}  // namespace irbis::cli
