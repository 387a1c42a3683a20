// `irbis demo`: the README's first command. Builds the sample collection (real photographs from
// Debian packages plus altered copies), indexes it, shows the duplicate groups and the most
// unique images, and writes the HTML report (clusters, unique, duplicates).
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/model.h"
#include "irbis/pipeline.h"
#include "irbis/report.h"
#include "irbis/sample.h"

namespace irbis::cli {

void add_demo_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("demo", "Build a sample collection from Debian-shipped photos, index it, show duplicates, unique images and clusters, write the HTML report");
  add_inference_options(cmd);
  auto out = std::make_shared<std::string>("irbis-demo");
  cmd->add_option("--out", *out, "Working folder")->capture_default_str();
  cmd->callback([out, &result] {
    namespace fs = std::filesystem;
    const fs::path dir = *out;
    if (!fs::exists(dir / "sample" / "truth.csv")) {  // made once, so re-runs show incremental indexing
      const auto files = make_sample_collection(dir / "sample");
      std::cout << "1. sample: " << files.size() << " images in " << (dir / "sample").string()
                << " (real photos + altered copies; truth.csv says which)\n";
    } else {
      std::cout << "1. sample: reusing " << (dir / "sample").string() << "\n";
    }

    auto coll = Collection::open_or_create(dir / "sample.irbis");
    IndexParams p;
    p.roots = {(dir / "sample").string()};
    p.model = kDefaultModel;
    ProgressBar bar("indexing");
    p.progress = [&bar](int64_t d, int64_t t) { bar.update(d, t); };
    const IndexReport rep = index_collection(*coll, p);
    bar.finish();
    std::cout << "2. index: " << rep.ok << " images indexed, " << rep.unchanged << " unchanged, " << rep.failed
              << " failed, in " << seconds_text(rep.seconds) << " -> " << (dir / "sample.irbis").string() << "\n"
              << "3. duplicates (irbis dupes " << (dir / "sample.irbis").string() << "):\n\n";
    coll.reset();
    std::cout.flush();
    // Reuse the dupes and unique commands themselves so the demo shows exactly what users get
    // (CLI11 parses arguments in reverse order).
    int sub_result = 0;
    {
      CLI::App app;
      add_dupes_command(app, sub_result);
      app.parse(std::vector<std::string>{(dir / "sample.irbis").string(), "dupes"});
    }
    result = sub_result;
    std::cout << "\n4. the three most unique images (irbis unique " << (dir / "sample.irbis").string() << "):\n\n";
    std::cout.flush();
    {
      CLI::App app;
      int unique_result = 0;
      add_unique_command(app, unique_result);
      app.parse(std::vector<std::string>{"3", "--top", (dir / "sample.irbis").string(), "unique"});
    }
    // Clusters and the HTML report (the same as `irbis report`).
    auto rcoll = Collection::open(dir / "sample.irbis");
    const ReportSummary rs = write_report(*rcoll, ReportOptions{}, dir / "report");
    const std::string coll_arg = shell_word((dir / "sample.irbis").string());
    std::cout << "\n5. clusters: k = " << rs.cluster_k << " (chosen by silhouette; irbis cluster " << coll_arg
              << " --auto)"
              << k_at_edge_note(rs.cluster_k, rs.cluster_k_min, rs.cluster_k_max,
                                "irbis cluster " + coll_arg + " --auto --k-range " + std::to_string(rs.cluster_k_min) +
                                    ".." + std::to_string(2 * rs.cluster_k_max))
              << "\n"
              << "6. report: " << rs.images << " images, " << rs.dupe_groups << " duplicate groups, "
              << rs.unique_ranked << " images ranked by uniqueness, " << rs.thumbnails << " thumbnails, in "
              << seconds_text(rs.seconds) << "\n\n   open " << fs::absolute(rs.index_html).string()
              << "\n   or browse and search it live: build/irbis serve " << (dir / "sample.irbis").string() << "\n";
  });
}

}  // namespace irbis::cli
