// `irbis evaluate retrieval`: how well the embeddings retrieve images of the same class.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/errors.h"
#include "irbis/labels.h"
#include "irbis/model.h"
#include "irbis/results.h"
#include "irbis/search.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_evaluate_command(CLI::App& root, int& result) {
  auto* ev = root.add_subcommand("evaluate", "Evaluate embeddings against labels");
  ev->require_subcommand(1);
  auto* cmd = ev->add_subcommand(
      "retrieval", "Top-k accuracy (one positive among N negatives), leave-one-out k-NN accuracy and mAP");
  struct Opts {
    std::string coll, labels, model = kDefaultModel, format = "table";
    RetrievalParams p;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--labels", o->labels, "'folders' (parent folder name) or a CSV file with columns path,label")
      ->required();
  cmd->add_option("--model", o->model, "Which model's embeddings")->capture_default_str();
  cmd->add_option("--queries-per-class", o->p.queries_per_class, "Random queries per class")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--negatives", o->p.negatives, "Negatives (other classes) ranked with each positive")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->p.seed, "Random seed")->capture_default_str();
  cmd->add_option("--format", o->format, "table, csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    auto coll = Collection::open(o->coll);
    IndexOptions io;
    io.kind = IndexKind::exact;  // evaluation uses exact similarities only
    auto vs = VectorSearch::open(*coll, o->model, io);
    // Unknown paths (e.g. files deleted since the CSV was written) are reported and left out, as
    // long as something labelled remains.
    const LabelSet labels = load_labels(o->labels, vs->records(), UnknownPaths::skip);
    if (labels.unknown) {
      if (labels.labelled() == 0) throw UsageError(labels.unknown_message(o->labels) + "; nothing left to evaluate");
      std::cerr << "irbis: warning: " << labels.unknown_message(o->labels) << "; evaluating the "
                << labels.labelled() << " labelled images that are\n";
    }
    const auto rep = evaluate_retrieval(*vs, labels, o->p);
    if (rep.labelled < 2) throw UsageError("evaluate: fewer than two labelled images in " + o->coll);
    for (const auto& c : rep.skipped_classes)
      std::cerr << "irbis: class '" << display_path(c) << "' has a single image: no positive to retrieve, not queried\n";
    // No query (every class a single image, or one class only): top-k accuracy is undefined.
    if (rep.queries == 0)
      std::cerr << "irbis: no class has two images and another class to draw negatives from: top-k accuracy is "
                   "undefined (reported as null / n/a)\n";
    if (fmt == Format::json) {
      std::cout << json_dump(retrieval_json(rep, o->coll, vs->card().name, o->p, labels.unknown)) << '\n';
      result = kExitOk;
      return;
    }
    write_rows(std::cout, fmt, retrieval_table(rep));
    if (fmt != Format::csv) {
      std::cout << '\n' << rep.labelled << " labelled images in " << rep.classes << " classes; " << rep.queries
                << " queries, each with 1 positive among " << rep.negatives_used << " negatives (seed " << o->p.seed
                << ")\n";
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
