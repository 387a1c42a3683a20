#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/cluster.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/embeddings.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/labels.h"
#include "irbis/pipeline.h"
#include "irbis/text.h"

namespace irbis::cli {

namespace {

std::pair<int, int> parse_k_range(const std::string& s) {
  const auto dots = s.find("..");
  try {
    if (dots != std::string::npos) return {std::stoi(s.substr(0, dots)), std::stoi(s.substr(dots + 2))};
  } catch (const std::exception&) {
  }
  throw UsageError("--k-range must look like 2..30, not '" + s + "'");
}

}  // namespace

void add_cluster_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("cluster", "k-means clusters (chosen k or automatic), a 2-D map, CSV for dashboards");
  struct Opts {
    std::string coll, out, format = "table", features = "cnn-semantic", model = kDefaultModel, labels, plot, plot_k;
    std::string k_range = "2..30", map = "tsne";
    int k = 0, restarts = 5;
    bool auto_k = false, json = false;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("-k", o->k, "Number of clusters");
  cmd->add_flag("--auto", o->auto_k, "Choose k by silhouette over --k-range (prints the score table)");
  cmd->add_option("--k-range", o->k_range, "Range of k for --auto")->capture_default_str();
  cmd->add_option("--features", o->features, "cnn-semantic (last CNN block), cnn-full, color or hash")
      ->capture_default_str();
  cmd->add_option("--model", o->model, "Embedding model")->capture_default_str();
  cmd->add_option("--labels", o->labels, "Score clusters against labels: folders or a path,label CSV");
  cmd->add_option("--out", o->out, "Write the CSV (path,cluster,x,y,distance_to_centroid) to this file");
  cmd->add_option("--format", o->format, "What goes to stdout: table (summary), csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->add_option("--map", o->map, "2-D map: tsne, pca or none")->capture_default_str();
  cmd->add_option("--plot", o->plot, "Draw the map coloured by cluster (.png or .svg)");
  cmd->add_option("--plot-k", o->plot_k, "Draw silhouette and inertia against k (.png or .svg; with --auto)");
  cmd->add_option("--restarts", o->restarts, "Seeded k-means restarts (best inertia kept)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    if (!o->auto_k && o->k <= 0) throw UsageError("cluster: give -k N or --auto");
    auto coll = Collection::open(o->coll);
    const FeatureMatrix in = load_feature_matrix(*coll, o->features, o->model);
    if (in.records.empty()) throw UsageError(o->coll + ": no indexed images to cluster");

    ClusterParams p;
    p.k = o->k;
    p.auto_k = o->auto_k;
    std::tie(p.k_min, p.k_max) = parse_k_range(o->k_range);
    p.restarts = o->restarts;
    p.seed = o->seed;
    p.tsne.seed = o->seed;
    p.map = o->map;
    std::vector<int> truth;
    std::vector<std::string> class_names;
    if (!o->labels.empty()) {
      const LabelSet labels = load_labels(o->labels, in.records);
      truth = labels.label;
      class_names = labels.classes;
    }
    const ClusterReport rep = analyze_clusters(MatrixView(in.data), p, truth);

    std::vector<std::string> names;
    names.reserve(in.records.size());
    for (const auto& r : in.records) names.push_back(display_path(r.path));
    if (!o->out.empty()) {
      std::ofstream f(o->out);
      if (!f) throw IoError(o->out + ": cannot open for writing");
      write_cluster_csv(f, rep, names);
    }
    if (!o->plot.empty() && !rep.map.empty())
      plot_map(o->plot, rep.map, rep.kmeans.labels, rep.k, "irbis clusters (k = " + std::to_string(rep.k) + ")",
               rep.map_method == "pca" ? "PCA" : "t-SNE");
    if (!o->plot_k.empty() && !rep.table.empty()) plot_k_curves(o->plot_k, rep.table, rep.k, rep.elbow_k);

    if (fmt == Format::json) {
      nlohmann::json j = cluster_report_json(rep, names);
      j["features"] = o->features;
      std::cout << json_dump(j) << '\n';
    } else if (fmt == Format::csv) {
      write_cluster_csv(std::cout, rep, names);
    } else {
      std::cout << format_k_table(rep);
      std::vector<std::vector<std::string>> rows;
      for (const auto& c : rep.clusters)
        rows.push_back({std::to_string(c.cluster), std::to_string(c.size), names[size_t(c.medoid)]});
      std::cout << '\n';
      write_table(std::cout, {"cluster", "size", "medoid"}, rows);
      if (rep.scores)
        std::cout << "\nagainst labels (" << class_names.size() << " classes): purity " << rep.scores->purity
                  << ", NMI " << rep.scores->nmi << ", ARI " << rep.scores->ari << '\n';
      if (!o->out.empty()) std::cout << "\nwrote " << o->out << '\n';
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
