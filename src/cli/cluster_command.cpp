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
    int k = 0, restarts = 5, sample = kLowMemorySample;
    bool auto_k = false, json = false, low_memory = false;
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
  auto* map_opt = cmd->add_option("--map", o->map,
                                  "2-D map: tsne, pca or none (low-memory mode: pca; t-SNE is not streamable)")
                      ->capture_default_str();
  cmd->add_option("--plot", o->plot, "Draw the map coloured by cluster (.png or .svg; not with --map none)");
  cmd->add_option("--plot-k", o->plot_k, "Draw silhouette and inertia against k (.png or .svg; needs --auto)");
  cmd->add_option("--restarts", o->restarts, "Seeded k-means restarts (best inertia kept)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_flag("--low-memory", o->low_memory,
                "Fit on a seeded sample, then assign every image in chunks streamed from the feature file and "
                "write the CSV as it goes (automatic above " + std::to_string(kLowMemoryItems) +
                    " images or 1 GiB of features); the map is PCA, t-SNE is not streamable");
  cmd->add_option("--low-memory-sample", o->sample, "Images the low-memory mode fits k-means and the map on")
      ->capture_default_str();
  cmd->callback([o, map_opt, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    if (!o->auto_k && o->k <= 0) throw UsageError("cluster: give -k N or --auto");
    // Refuse before any work what would draw nothing useful.
    if (!o->plot_k.empty() && !o->auto_k)
      throw UsageError("--plot-k draws silhouette and inertia against k and needs --auto (a fixed -k is one point)");
    if (!o->plot.empty() && o->map == "none") throw UsageError("--plot draws the 2-D map; it needs --map tsne or pca, not none");
    if (o->sample < 1) throw UsageError("--low-memory-sample must be at least 1");
    auto coll = Collection::open(o->coll);
    FeatureRows rows(*coll, o->features, o->model);
    if (rows.size() == 0) throw UsageError(o->coll + ": no indexed images to cluster");
    const bool low = o->low_memory || low_memory_needed(rows.size(), rows.dim());

    ClusterParams p;
    p.k = o->k;
    p.auto_k = o->auto_k;
    std::tie(p.k_min, p.k_max) = parse_k_range(o->k_range);
    p.restarts = o->restarts;
    p.seed = o->seed;
    p.tsne.seed = o->seed;
    p.map = o->map;
    p.low_memory_sample = o->sample;
    if (low && p.map == "tsne") {
      if (map_opt->count() > 0)
        throw UsageError("--map tsne: t-SNE needs every image in memory and cannot be streamed; the low-memory mode "
                         "(--low-memory, automatic above " + std::to_string(kLowMemoryItems) +
                         " images or 1 GiB of features) maps by --map pca or none");
      p.map = "pca";
    }
    if (low)
      std::cerr << "cluster: low-memory mode for " << rows.size() << " images x " << rows.dim()
                << " dimensions (fitted on a sample, rows streamed; map by " << p.map << ")\n";
    std::vector<int> truth;
    std::vector<std::string> class_names;
    if (!o->labels.empty()) {
      const LabelSet labels = load_labels(o->labels, rows.records());
      truth = labels.label;
      class_names = labels.classes;
    }
    std::vector<std::string> names;
    names.reserve(rows.records().size());
    for (const auto& r : rows.records()) names.push_back(display_path(r.path));

    std::ofstream out_file;
    if (!o->out.empty()) {
      out_file.open(o->out);
      if (!out_file) throw IoError(o->out + ": cannot open for writing");
    }
    const bool csv_stdout = fmt == Format::csv;
    ClusterReport rep;
    if (!low) {
      cv::Mat data(int(rows.size()), rows.dim(), CV_32F);
      rows.read(0, rows.size(), data.ptr<float>());
      rep = analyze_clusters(MatrixView(data), p, truth);
      if (out_file.is_open()) write_cluster_csv(out_file, rep, names);
      if (csv_stdout) write_cluster_csv(std::cout, rep, names);
    } else {
      if (out_file.is_open()) write_cluster_csv_header(out_file);
      if (csv_stdout) write_cluster_csv_header(std::cout);
      const RowSource src{rows.size(), rows.dim(),
                          [&rows](int64_t first, int64_t count, float* dst) { rows.read(first, count, dst); }};
      rep = analyze_clusters_streamed(src, p, truth, [&](const ClusterChunk& c) {
        if (out_file.is_open()) write_cluster_csv_rows(out_file, c, names);
        if (csv_stdout) write_cluster_csv_rows(std::cout, c, names);
      });
    }
    if (out_file.is_open()) {
      out_file.close();
      if (!out_file) throw IoError(o->out + ": write failed");
    }
    if (!o->plot.empty()) {
      // Low-memory mode keeps only the training sample's map.
      const auto& xy = rep.low_memory ? rep.sample_map : rep.map;
      const auto& lab = rep.low_memory ? rep.sample_labels : rep.kmeans.labels;
      std::string title = "irbis clusters (k = " + std::to_string(rep.k) + ")";
      if (rep.low_memory) title += ", sample of " + std::to_string(rep.trained_on) + " images";
      plot_map(o->plot, xy, lab, rep.k, title, rep.map_method == "pca" ? "PCA" : "t-SNE");
      std::cerr << "wrote " << display_path(o->plot) << '\n';
    }
    if (!o->plot_k.empty()) {
      plot_k_curves(o->plot_k, rep.table, rep.k, rep.elbow_k);
      std::cerr << "wrote " << display_path(o->plot_k) << '\n';
    }
    // A best k at the end of the range tried may only be the best of a range too small.
    if (o->auto_k && rep.table.size() > 1 && (rep.k == p.k_max || rep.k == p.k_min))
      std::cerr << "irbis: the best k (" << rep.k << ") is at the " << (rep.k == p.k_max ? "top" : "bottom")
                << " of --k-range " << o->k_range << "; a wider range may find a better one\n";

    if (fmt == Format::json) {
      nlohmann::json j = cluster_report_json(rep, names);
      j["features"] = o->features;
      std::cout << json_dump(j) << '\n';
    } else if (fmt == Format::table) {
      std::cout << format_k_table(rep);
      std::vector<std::vector<std::string>> table;
      for (const auto& c : rep.clusters)
        table.push_back({std::to_string(c.cluster), std::to_string(c.size), c.medoid >= 0 ? names[size_t(c.medoid)] : "-"});
      std::cout << '\n';
      write_table(std::cout, {"cluster", "size", "medoid"}, table);
      if (rep.scores)
        std::cout << "\nagainst labels (" << class_names.size() << " classes): purity " << rep.scores->purity
                  << ", NMI " << rep.scores->nmi << ", ARI " << rep.scores->ari << '\n';
      if (!o->out.empty()) std::cerr << "wrote " << display_path(o->out) << '\n';
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
