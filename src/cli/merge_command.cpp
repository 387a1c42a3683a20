#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/merge.h"
#include "irbis/results.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_merge_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand(
      "merge", "Append collections indexed separately (e.g. one per partition) to one, in the order given; "
               "an interrupted merge is finished by running the same command again");
  struct Opts {
    std::string dest;
    std::vector<std::string> partials;
    int commit_every = 1024;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("destination", o->dest, "Collection to merge into (created when missing)")->required();
  cmd->add_option("partials", o->partials, "Collections to append, in order (only read)")->required();
  cmd->add_option("--commit-every", o->commit_every, "Rows per commit")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, &result] {
    std::vector<std::filesystem::path> partials(o->partials.begin(), o->partials.end());
    // Refuse a partial that is not a collection before a missing destination is created.
    for (const auto& p : partials) Collection::open(p);
    auto dest = Collection::open_or_create(o->dest);
    const MergeReport rep = merge_collections(*dest, partials, o->commit_every);
    if (o->json) {
      nlohmann::json j = {{"collection", display_path(o->dest)}};
      j.update(merge_report_json(rep));
      std::cout << json_dump(j) << '\n';
    } else {
      std::cout << "merged " << rep.partials << " collections into " << display_path(o->dest) << ": " << rep.records
                << " rows (" << rep.ok << " ok, " << rep.failed << " failed)";
      if (rep.resumed) std::cout << "; " << rep.resumed << " of them were merged by an interrupted run";
      std::cout << '\n';
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
