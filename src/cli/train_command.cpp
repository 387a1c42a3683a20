// irbis train: logistic regression on a collection's embeddings, evaluated on a stratified
// held-out split; optional confusion picture and mislabel hints (docs/classify.md).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/classifier.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/embeddings.h"
#include "irbis/errors.h"
#include "irbis/labels.h"
#include "irbis/model.h"
#include "irbis/results.h"
#include "irbis/text.h"

namespace irbis::cli {
namespace {

std::string fmt3(double v) { return fixed(v, 3); }

}  // namespace

void add_train_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("train", "Train a classifier on a collection's embeddings and report its accuracy");
  struct Opts {
    std::string coll, labels, out, model, input = "auto", plot, suspects, format = "table";
    double test_fraction = 0.3, l2 = -1, suspect_confidence = 0.8;
    uint64_t seed = 1;
    int folds = 3, min_per_class = 0;
    bool no_class_weights = false, json = false, no_refit = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--labels", o->labels, "'folders' (class = parent folder name) or a CSV file with columns path,label")
      ->required();
  cmd->add_option("--out", o->out, "Write the classifier to this file")->required();
  cmd->add_option("--min-per-class", o->min_per_class,
                  "Leave out classes with fewer labelled images than this (listed on stderr); default: keep all")
      ->check(CLI::Range(2, 1000000));
  cmd->add_option("--test-fraction", o->test_fraction, "Share of each class held out for testing")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--seed", o->seed, "Seed of the split and the cross-validation folds")->capture_default_str();
  cmd->add_option("--model", o->model,
                  "Embedding model(s) whose vectors are used, e.g. mobilenet_v2_mid,inception_v3: one head per model, "
                  "their probabilities averaged; default: every model the collection has embeddings of");
  cmd->add_option("--input", o->input,
                  "auto (cross-validation picks), full (the model's descriptor), blocks (every pooled block), "
                  "blocks-sqrt (signed square root of the blocks) or blocks-sqrt-rff (random Fourier features of "
                  "blocks-sqrt: a non-linear classifier)")
      ->capture_default_str();
  cmd->add_flag("--no-refit", o->no_refit,
                "Save the evaluated model (fitted on the training part) instead of refitting on every labelled image");
  cmd->add_option("--l2", o->l2, "L2 penalty; default: chosen by cross-validation on the training part");
  cmd->add_option("--folds", o->folds, "Cross-validation folds for choosing the input and the penalty")
      ->capture_default_str()
      ->check(CLI::Range(2, 20));
  cmd->add_flag("--no-class-weights", o->no_class_weights, "Do not weight classes by 1 / their size");
  cmd->add_option("--plot", o->plot, "Write the test confusion matrix as a picture (.png, .jpg or .svg)");
  cmd->add_option("--suspects", o->suspects,
                  "Write images whose label disagrees with confident out-of-fold predictions (CSV)");
  cmd->add_option("--suspect-confidence", o->suspect_confidence, "Smallest out-of-fold probability of the other class")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--format", o->format, "table or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    std::vector<ClassifierInput> inputs;  // empty: cross-validate the default candidates
    if (o->input != "auto") inputs.push_back(parse_classifier_input(o->input));
    if (!o->plot.empty()) {
      std::string ext = std::filesystem::path(o->plot).extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (ext != ".png" && ext != ".jpg" && ext != ".jpeg" && ext != ".svg")
        throw UsageError(o->plot + ": --plot must be .png, .jpg or .svg");
    }
    {  // Fail before training, not after, when the classifier cannot be written.
      const std::string probe = o->out + ".tmp";
      if (!std::ofstream(probe)) throw IoError(o->out + ": cannot open for writing");
      std::filesystem::remove(probe);
    }
    auto coll = Collection::open(o->coll);
    const std::vector<std::string> models = o->model.empty() ? classifier_models(*coll) : parse_model_list(o->model);
    const ClassifierHeadInputs m = load_classifier_head_inputs(*coll, models, inputs);
    LabelSet labels = load_labels(o->labels, m.records);
    std::vector<std::string> dropped;
    if (o->min_per_class > 0) {
      dropped = labels.drop_classes_below(o->min_per_class);
      if (!dropped.empty()) {
        std::string names;
        for (const auto& d : dropped) names += (names.empty() ? "" : ", ") + d;
        std::cerr << "irbis: left out " << count_of(int64_t(dropped.size()), "class", "classes") << " with fewer than "
                  << count_of(o->min_per_class, "image") << ": " << names << '\n';
      }
    }

    TrainOptions topts;
    topts.test_fraction = o->test_fraction;
    topts.seed = o->seed;
    topts.l2 = o->l2;
    topts.cv_folds = o->folds;
    topts.balanced = !o->no_class_weights;
    topts.out_of_fold = !o->suspects.empty();
    topts.refit = !o->no_refit;
    const HeadsTrainResult trained = train_classifier_heads(m.heads, labels.label, labels.classes, topts);
    const TrainResult& tr = trained.heads[0];  // the split and image counts every head shares
    const auto& classes = labels.classes;
    const int K = int(classes.size());
    const Classifier clf =
        make_classifier(m.cards, classes, trained, topts, int64_t(m.records.size()) - labels.labelled(),
                        {{"collection", display_path(o->coll)}, {"labels", o->labels}});
    const nlohmann::json& rep = clf.report;
    clf.save(o->out);

    if (!o->plot.empty()) {
      const bool has_test = !tr.test_rows.empty();
      const Evaluation& e = has_test ? trained.test_eval : trained.train_eval;
      write_confusion_plot(o->plot, e.confusion, classes,
                           std::string(has_test ? "test" : "train") + " accuracy " + fmt3(e.accuracy) + " (" +
                               std::to_string(has_test ? tr.test_rows.size() : tr.train_rows.size()) + " images)");
      std::cerr << "wrote " << display_path(o->plot) << '\n';
    }

    std::vector<SuspectRow> suspects;
    if (!o->suspects.empty()) {
      suspects = suspect_rows(suspect_labels(trained.oof_proba, labels.label, o->suspect_confidence), m.records, classes);
      std::ofstream out(o->suspects);
      if (!out) throw IoError(o->suspects + ": cannot open for writing");
      write_rows(out, Format::csv, suspects_table(suspects));
      if (!out) throw IoError(o->suspects + ": write failed");
      std::cerr << "wrote " << count_of(int64_t(suspects.size()), "suspect label") << " to " << display_path(o->suspects)
                << '\n';
    }

    if (fmt == Format::json) {
      nlohmann::json j = rep;
      j["out"] = display_path(o->out);
      j["classes"] = classes;
      if (o->min_per_class > 0) j["left_out"] = dropped;
      j["embedding_model"] = clf.embedding_models_text();
      j["input"] = clf.inputs_text();
      if (!o->suspects.empty()) j["suspects"] = suspects_json(suspects);
      std::cout << json_dump(j) << '\n';
    } else if (fmt == Format::csv) {
      throw UsageError("train: --format must be table or json");
    } else {
      std::cout << "classes " << K << ", images " << labels.labelled() << " (train " << tr.train_rows.size()
                << ", test " << tr.test_rows.size() << ")";
      if (trained.heads.size() > 1)
        std::cout << ", " << trained.heads.size() << " heads (probabilities averaged)";
      std::cout << "\n";
      for (size_t h = 0; h < trained.heads.size(); ++h) {
        const TrainResult& hr = trained.heads[h];
        const ClassifierHead& head = clf.heads[h];
        const std::string indent = trained.heads.size() > 1 ? "  " : "";
        std::cout << indent << head.embedding_model << " " << classifier_input_name(head.input) << " "
                  << head.input_dim() << "-d";
        if (trained.heads.size() > 1 && !hr.test_rows.empty())
          std::cout << ", test accuracy alone " << fmt3(hr.test_eval.accuracy);
        std::cout << "\n";
        if (hr.input_cross_validated) {
          std::cout << indent << "input (cross-validated on " << hr.cv_images << " images):";
          for (const auto& s : hr.input_scores)
            std::cout << " " << classifier_input_name(s.input) << "→" << fmt3(s.accuracy) << " (l2 " << general(s.l2) << ")";
          std::cout << "\n";
        }
        std::cout << indent << "l2 " << general(hr.l2) << (o->l2 < 0 ? " (cross-validated:" : "");
        for (auto& [l2, acc] : hr.cv_accuracy) std::cout << " " << general(l2) << "→" << fmt3(acc);
        std::cout << (o->l2 < 0 ? ")" : "") << ", " << hr.evaluated_iterations << " L-BFGS iterations, "
                  << fmt3(hr.seconds) << " s\n";
        if (hr.calibration.rows > 0)
          std::cout << indent << "temperature " << fmt3(hr.temperature) << " (fitted " << fmt3(hr.calibration.fitted)
                    << " on " << hr.calibration.rows << " out-of-fold images; cross-fitted log-loss "
                    << fmt3(hr.calibration.log_loss_cross_fitted) << " vs " << fmt3(hr.calibration.log_loss_uncalibrated)
                    << " at 1: "
                    << (hr.calibration.accepted                   ? "kept"
                        : hr.calibration.fitted > 1 &&
                                hr.calibration.log_loss_cross_fitted < hr.calibration.log_loss_uncalibrated
                            ? "not kept: softening temperatures from fold models are biased, temperature 1"
                            : "not kept, temperature 1")
                    << ")\n";
      }
      std::cout << "accuracy: train " << fmt3(trained.train_eval.accuracy);
      if (!tr.test_rows.empty()) {
        std::cout << ", test " << fmt3(trained.test_eval.accuracy) << " (balanced "
                  << fmt3(trained.test_eval.balanced_accuracy) << ", ECE " << fmt3(trained.test_ece);
        if (trained.heads.size() == 1)
          std::cout << " at temperature " << fmt3(tr.temperature) << ", " << fmt3(tr.test_ece_uncalibrated) << " at 1)";
        else
          std::cout << " at the heads' temperatures, " << fmt3(trained.test_ece_uncalibrated) << " at 1)";
      }
      std::cout << "\nsaved model: " << (tr.refitted ? "refit on all " : "the evaluated one, fitted on ")
                << tr.model_images << " labelled images" << (trained.heads.size() > 1 ? " (every head)" : "") << "\n\n";
      const bool has_test = !tr.test_rows.empty();
      const Evaluation& e = has_test ? trained.test_eval : trained.train_eval;
      std::cout << (has_test ? "test" : "train") << " per class:\n";
      write_rows(std::cout, Format::table, class_scores_table(e, classes, 3));
      std::cout << "\nconfusion (" << (has_test ? "test" : "train") << "; rows: true class, columns: predicted):\n";
      Table confusion = confusion_table(e, classes, "");
      confusion.header[0] = "true \\ predicted";
      write_rows(std::cout, Format::table, confusion);
      if (!o->suspects.empty())
        std::cout << "\n" << suspects.size() << " suspect label(s) written to " << display_path(o->suspects) << '\n';
      std::cout << "classifier written to " << display_path(o->out) << '\n';
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
