// `irbis report` and `irbis serve`: the collection as a static HTML folder, or live in a browser.
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/classifier.h"
#include "irbis/errors.h"
#include "irbis/model.h"
#include "irbis/report.h"
#include "irbis/search.h"
#include "irbis/server.h"

namespace irbis::cli {

namespace {
void add_report_options(CLI::App* cmd, ReportOptions& o) {
  cmd->add_option("--model", o.model, "Embedding model for clusters and search")->capture_default_str();
  cmd->add_option("--threshold", o.dupes_threshold, "pHash distance for near duplicates")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_option("-k", o.cluster_k, "Number of clusters (default: chosen by silhouette over k = 2..--k-max)");
  cmd->add_option("--k-max", o.k_max, "Largest k tried when k is chosen automatically")->capture_default_str();
  cmd->add_option("--map", o.map, "Cluster map: auto (t-SNE up to 2000 images, else PCA), tsne, pca, none")
      ->capture_default_str();
  cmd->add_option_function<std::string>(
         "--index", [&o](const std::string& s) { o.index.kind = parse_index_kind(s); },
         "Vector index for unique and search: auto (exact below 10000 images, else HNSW), exact or hnsw")
      ->default_str("auto");
  cmd->add_option("--classifier", o.classifier,
                  "Also show this classifier's (irbis train --out) confusion matrix and per-class scores");
}
// A --classifier file that cannot be read (missing, not a classifier, another format version,
// corrupted) stops the command with Classifier::load's message before any work is done.
void check_classifier(const ReportOptions& o) {
  if (!o.classifier.empty()) Classifier::load(o.classifier);
}
}  // namespace

void add_report_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("report", "Write an HTML report (overview, duplicates, unique, clusters, classifier) with CSV tables");
  struct Opts {
    std::string coll, out;
    bool force = false;
    ReportOptions r;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--out", o->out, "Output folder (default: <collection>-report)");
  cmd->add_flag("--force", o->force, "Replace the files of an existing report in --out");
  add_report_options(cmd, o->r);
  cmd->callback([o, &result] {
    auto coll = Collection::open(o->coll);
    std::string out = o->out;
    if (out.empty()) {
      out = o->coll;
      while (out.size() > 1 && out.back() == '/') out.pop_back();
      if (out.size() > 6 && out.ends_with(".irbis")) out.resize(out.size() - 6);
      out += "-report";
    }
    check_classifier(o->r);
    std::error_code ec;
    if (!o->force && std::filesystem::exists(out, ec) &&
        std::filesystem::directory_iterator(out, ec) != std::filesystem::directory_iterator())
      throw UsageError(out + ": exists and is not empty (a previous report?); --force replaces its files, or choose another --out");
    const ReportSummary s = write_report(*coll, o->r, out);
    std::cout << "report: " << s.index_html.string() << " (" << s.sections.size() << " sections, "
              << s.csv_files.size() << " CSV tables, " << s.thumbnails << " thumbnails, " << seconds_text(s.seconds) << ")\n";
    if (const std::string note = k_at_edge_note(s.cluster_k, s.cluster_k_min, s.cluster_k_max,
                                                "--k-max " + std::to_string(2 * s.cluster_k_max));
        !note.empty())
      std::cerr << "irbis: clusters: best k by silhouette" << note << '\n';
    result = kExitOk;
  });
}

void add_serve_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("serve", "Browse and search a collection in a local web UI (read-only)");
  add_inference_options(cmd);
  struct Opts {
    std::string coll;
    ReportOptions r;
    ServeOptions s;
    uint64_t max_upload_mb = 20;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--host", o->s.host, "Address to bind (loopback by default; 0.0.0.0 exposes it to the network)")
      ->capture_default_str();
  cmd->add_option("--port", o->s.port, "Port, 0-65535 (0 = any free port; the bound port is printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--max-upload-mb", o->max_upload_mb, "Largest query upload, in MB")->capture_default_str();
  cmd->add_option("--max-upload-pixels", o->s.max_upload_pixels, "Largest decoded query image, in pixels")
      ->capture_default_str();
  add_report_options(cmd, o->r);
  cmd->callback([o, &result] {
    auto coll = Collection::open(o->coll);
    check_classifier(o->r);
    o->s.max_upload_bytes = o->max_upload_mb * 1000000;  // MB as everywhere in irbis (decimal)
    // The host by value: a callback stored in *o that held `o` itself would keep the options alive
    // forever (a shared_ptr cycle LeakSanitizer reported when serve exits, e.g. on a taken port).
    o->s.on_listen = [host = o->s.host](int port) {
      std::cout << "irbis serve: http://" << (host.find(':') != std::string::npos ? "[" + host + "]" : host) << ":"
                << port << "/  (Ctrl-C stops)" << std::endl;
    };
    serve(*coll, o->r, o->s);
    result = kExitOk;
  });
}

}  // namespace irbis::cli
