#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
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
    const auto& by_format = sum.formats;
    const int64_t bytes = sum.bytes, pixels = sum.pixels;
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& r : sum.failures) failures.push_back({{"path", display_path(r.path)}, {"reason", r.reason}});
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& p : sum.scan_problems) problems.push_back({{"path", p.path}, {"reason", p.reason}});
    nlohmann::json features = nlohmann::json::array();
    for (const auto& f : sum.features)
      features.push_back({{"name", f.spec.name}, {"dtype", f.spec.dtype}, {"dim", f.spec.dim}, {"rows", f.rows}});
    std::map<std::string, int64_t> by_status{
        {"ok", sum.ok}, {"failed", sum.failed}, {"removed", sum.removed}, {"retired", sum.retired}};
    const int64_t ok = by_status["ok"];
    if (o->json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}, {"images", ok},
                          {"failed", by_status["failed"]},       {"removed", by_status["removed"]},
                          {"retired", by_status["retired"]},     {"formats", by_format},
                          {"bytes", bytes},                      {"megapixels", double(pixels) / 1e6},
                          {"features", features},                {"scan_problems", problems}};
      if (o->failures) j["failures"] = failures;
      std::cout << json_dump(j) << '\n';
    } else {
      std::cout << "collection  " << display_path(o->coll) << '\n'
                << "images      " << ok << " ok, " << by_status["failed"] << " failed, " << by_status["removed"]
                << " removed, " << by_status["retired"] << " older versions\n"
                << "size        " << human_bytes(uint64_t(bytes)) << ", " << double(pixels) / 1e6 << " megapixels";
      if (ok) std::cout << " (mean " << human_bytes(uint64_t(bytes / ok)) << ")";
      std::cout << "\nformats    ";
      for (const auto& [f, n] : by_format) std::cout << ' ' << f << ' ' << n;
      std::cout << "\nfeatures   ";
      for (const auto& f : features) std::cout << ' ' << f["name"].get<std::string>() << '[' << f["dim"] << ']';
      std::cout << '\n';
      if (o->failures) {
        std::vector<std::vector<std::string>> rows;
        for (const auto& f : failures) rows.push_back({f["path"], f["reason"]});
        for (const auto& p : problems) rows.push_back({p["path"], p["reason"]});
        std::cout << '\n';
        if (rows.empty()) std::cout << "no failures\n";
        else write_table(std::cout, {"path", "reason"}, rows);
      } else if (!failures.empty()) {
        std::cout << failures.size() << " failures: irbis info " << o->coll << " --failures\n";
      }
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
