#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/issues.h"
#include "irbis/results.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_issues_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand(
      "issues", "What is wrong with a collection: blurry, dark, bright, low-information, grayscale, tiny, oddly shaped, "
                "out-of-place and duplicate images (docs/issues.md)");
  struct Opts {
    std::string coll;
    std::string format = "table";
    bool json = false;
    std::string model = IssueParams{}.model;
    int neighbours = IssueParams{}.neighbours;
    double z = IssueParams{}.z;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--format", o->format, "table, csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->add_option("--model", o->model, "Embeddings for the odd-one-out neighbourhood (skipped when the collection has none)")
      ->capture_default_str();
  cmd->add_option("--neighbours", o->neighbours, "k of the k-th-neighbour distance for odd ones out")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option("--z", o->z, "Robust z-score beyond which a measure is unusual for this collection")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 20.0));
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    auto coll = Collection::open(o->coll);
    IssueParams params;
    params.model = o->model;
    params.neighbours = o->neighbours;
    params.z = o->z;
    const CollectionIssues found = find_collection_issues(*coll, params);
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}};
      j.update(issues_json(found));
      std::cout << json_dump(j) << '\n';
    } else if (fmt == Format::csv) {
      const Table t = issues_table(found);
      write_rows(std::cout, Format::csv, t);
    } else {
      const Table t = issues_table(found);
      if (t.rows.empty()) std::cout << "no issues among " << found.records.size() << " images\n";
      else write_table(std::cout, t.header, t.rows);
      const Table s = issues_summary_table(found);
      std::cout << '\n';
      write_table(std::cout, s.header, s.rows);
      std::cout << '\n' << found.records.size() << " images"
                << (found.used_embeddings ? "" : " (no embeddings of " + o->model + ": odd ones out from measured properties only)")
                << '\n';
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
