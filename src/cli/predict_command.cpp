// irbis predict: label and per-class probabilities for image files (embedded on the fly) or for
// every image of a collection (its stored embeddings).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/classifier.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/errors.h"
#include "irbis/model.h"
#include "irbis/results.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_predict_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("predict", "Label images with a classifier made by `irbis train`");
  add_inference_options(cmd);
  struct Opts {
    std::string clf, collection, out, format = "table";
    std::vector<std::string> files;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("classifier", o->clf, "Classifier file")->required();
  cmd->add_option("files", o->files, "Image files to classify");
  cmd->add_option("--collection", o->collection, "Classify every image of this collection (stored embeddings)");
  cmd->add_option("--out", o->out, "Write the results to this file (CSV, or JSON when it ends in .json)");
  cmd->add_option("--format", o->format, "table, csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->callback([o, &result] {
    Format fmt = o->json ? Format::json : parse_format(o->format);
    if (o->files.empty() == o->collection.empty())
      throw UsageError("predict: give image files or --collection DIR (one of the two)");
    const Classifier clf = Classifier::load(o->clf);
    const std::vector<ModelCard> cards = clf.cards();
    std::vector<PredictionRow> rows;
    bool failures = false;
    auto fill = [&](PredictionRow& r, const float* p) {
      r.proba.assign(p, p + clf.classes.size());
      r.label = clf.classes[size_t(std::max_element(r.proba.begin(), r.proba.end()) - r.proba.begin())];
    };
    if (!o->collection.empty()) {
      auto coll = Collection::open(o->collection);
      const CollectionPredictions pred = predict_collection(clf, cards, *coll);
      for (size_t i = 0; i < pred.records.size(); ++i) {
        PredictionRow r;
        r.path = pred.records[i].path;
        fill(r, pred.proba.ptr<float>(int(i)));
        rows.push_back(std::move(r));
      }
    } else {
      const std::vector<FilePrediction> pred = predict_files(clf, cards, o->files);
      for (size_t i = 0; i < pred.size(); ++i) {
        PredictionRow r;
        r.path = o->files[i];
        r.error = pred[i].error;
        if (r.error.empty()) fill(r, pred[i].proba.ptr<float>(0));
        if (!r.error.empty()) {
          failures = true;
          std::cerr << "irbis: " << r.error << '\n';
        }
        rows.push_back(std::move(r));
      }
    }
    if (!o->out.empty()) {
      std::ofstream out(o->out);
      if (!out) throw IoError(o->out + ": cannot open for writing");
      if (o->out.ends_with(".json"))
        out << json_dump(predictions_json(clf.classes, rows)) << '\n';
      else
        write_rows(out, Format::csv, predictions_table(clf.classes, rows));
      if (!out) throw IoError(o->out + ": write failed");
      std::cerr << "wrote " << rows.size() << " prediction(s) to " << display_path(o->out) << '\n';
    } else {
      if (fmt == Format::json)
        std::cout << json_dump(predictions_json(clf.classes, rows)) << '\n';
      else
        write_rows(std::cout, fmt, predictions_table(clf.classes, rows));
    }
    result = failures ? kExitPartial : kExitOk;
  });
}

}  // namespace irbis::cli
