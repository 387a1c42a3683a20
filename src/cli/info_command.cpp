#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/results.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_info_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("info", "Counts, formats, sizes and failures of a collection");
  struct Opts {
    std::string coll;
    bool failures = false;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_flag("--failures", o->failures, "List every file that failed, with the reason");
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, &result] {
    auto coll = Collection::open(o->coll);
    const CollectionSummary sum = summarize_collection(*coll);
    if (o->json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}};
      j.update(collection_summary_json(sum));
      if (!o->failures) j.erase("failures");  // listed with --failures only
      std::cout << json_dump(j) << '\n';
    } else {
      const int64_t ok = sum.ok;
      std::cout << "collection  " << display_path(o->coll) << '\n'
                << "images      " << ok << " ok, " << sum.failed << " failed, " << sum.removed << " removed, "
                << sum.retired << " older versions\n"
                << "size        " << human_bytes(double(sum.bytes), ByteUnits::decimal) << ", " << double(sum.pixels) / 1e6 << " megapixels";
      if (ok) std::cout << " (mean " << human_bytes(double(sum.bytes / ok), ByteUnits::decimal) << ")";
      std::cout << "\nformats    ";
      for (const auto& [f, n] : sum.formats) std::cout << ' ' << f << ' ' << n;
      std::cout << "\nfeatures   ";
      for (const auto& f : sum.features) std::cout << ' ' << f.spec.name << '[' << f.spec.dim << ']';
      std::cout << '\n';
      if (o->failures) {
        std::vector<std::vector<std::string>> rows;
        for (const auto& f : sum.failures) rows.push_back({f.path, f.reason});
        for (const auto& p : sum.scan_problems) rows.push_back({p.path, p.reason});
        std::cout << '\n';
        if (rows.empty()) std::cout << "no failures\n";
        else write_table(std::cout, {"path", "reason"}, rows);
      } else if (!sum.failures.empty()) {
        std::cout << sum.failures.size() << " failures: irbis info " << o->coll << " --failures\n";
      }
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
