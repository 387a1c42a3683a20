// irbis explain: LIME superpixel explanation of one image's classification.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/classifier.h"
#include "irbis/errors.h"
#include "irbis/lime.h"
#include "irbis/model.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_explain_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("explain", "Explain a classifier's decision on one image with LIME superpixels");
  add_inference_options(cmd);
  struct Opts {
    std::string clf, image, out, weights, cls, fill = "mean", format = "table";
    LimeOptions lime;
    double percentile = 90;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("classifier", o->clf, "Classifier file (from `irbis train`)")->required();
  cmd->add_option("image", o->image, "Image file")->required();
  cmd->add_option("--out", o->out, "Write the image with the top superpixels highlighted (.png/.jpg)");
  cmd->add_option("--weights", o->weights, "Write every superpixel's weight, pixel count and box as JSON");
  cmd->add_option("--class", o->cls, "Explain this class (default: the predicted one)");
  cmd->add_option("--samples", o->lime.samples, "Perturbed images scored")->capture_default_str()->check(CLI::Range(10, 1000000));
  cmd->add_option("--superpixels", o->lime.superpixels, "Requested number of SLIC superpixels")
      ->capture_default_str()
      ->check(CLI::Range(2, 10000));
  cmd->add_option("--seed", o->lime.seed, "Seed of the perturbations")->capture_default_str();
  cmd->add_option("--fill", o->fill, "What a hidden superpixel shows: mean (its mean colour) or blur")->capture_default_str();
  cmd->add_option("--batch", o->lime.batch, "Images per forward pass")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--max-side", o->lime.max_side, "Downscale the image to at most this long side first")
      ->capture_default_str()
      ->check(CLI::Range(32, 8192));
  cmd->add_option("--percentile", o->percentile, "Highlight superpixels with weights at or above this percentile")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--format", o->format, "table or json (summary on stdout)")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    if (!o->out.empty()) check_lime_picture_path(o->out);
    LimeOptions lo = o->lime;
    lo.fill = parse_lime_fill(o->fill);
    const Classifier clf = Classifier::load(o->clf);
    if (!o->cls.empty()) lo.target = clf.class_index(o->cls);
    ClassifierNetworks nets(clf.cards());
    ProgressBar bar("explaining");  // on a terminal only: the default 1000 samples take a while
    lo.progress = [&bar](int done, int total) { bar.update(done, total); };
    const LimeResult r = explain_file(o->image, nets, clf, lo);
    bar.finish();
    nlohmann::json j = lime_json(r, clf);
    j["image"] = display_path(o->image);
    j["seed"] = lo.seed;
    j["fill"] = o->fill;
    if (!o->weights.empty()) {
      std::ofstream out(o->weights);
      if (!out) throw IoError(o->weights + ": cannot open for writing");
      out << json_dump(j) << '\n';
      if (!out) throw IoError(o->weights + ": write failed");
      std::cerr << "wrote " << display_path(o->weights) << '\n';
    }
    if (!o->out.empty()) {
      write_lime_picture(o->out, r, o->percentile);
      std::cerr << "wrote " << display_path(o->out) << '\n';
    }
    if (fmt == Format::json) {
      std::cout << json_dump(j) << '\n';
    } else {
      char line[256];
      std::snprintf(line, sizeof line, "%s: class %s (p = %.3f), %zu superpixels, %d samples, local R² %.3f\n",
                    display_path(o->image).c_str(), clf.classes[size_t(r.target)].c_str(), r.proba[size_t(r.target)],
                    r.superpixels.size(), r.samples, r.r2);
      std::cout << line;
      std::snprintf(line, sizeof line,
                    "time %.2f s: segmentation %.3f, perturbation %.2f, inference %.2f, regression %.3f\n",
                    r.seconds_total, r.seconds_segment, r.seconds_perturb, r.seconds_infer, r.seconds_fit);
      std::cout << line;
      std::vector<SuperpixelWeight> top = r.superpixels;
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.weight > b.weight; });
      std::vector<std::vector<std::string>> rows;
      for (size_t i = 0; i < top.size() && i < 5; ++i) {
        std::snprintf(line, sizeof line, "%.4f", top[i].weight);
        rows.push_back({std::to_string(top[i].id), line, std::to_string(top[i].pixels),
                        std::to_string(top[i].box.x) + "," + std::to_string(top[i].box.y) + " " +
                            std::to_string(top[i].box.width) + "x" + std::to_string(top[i].box.height)});
      }
      write_table(std::cout, {"superpixel", "weight", "pixels", "box"}, rows);
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
