#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection_analysis.h"
#include "irbis/errors.h"
#include "irbis/model.h"
#include "irbis/pipeline.h"
#include "irbis/text.h"

namespace irbis::cli {

namespace {
// `index` creates or extends a collection; it never takes over a folder it did not make, and it
// creates nothing when the sources are wrong. Each refusal says what to do instead.
void check_index_target(const std::vector<std::string>& roots, const std::string& into) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& r : roots)
    if (!fs::exists(r, ec)) throw UsageError(r + ": no such file or folder to index (nothing was created)");
  const fs::path target = fs::weakly_canonical(into, ec);
  for (const auto& r : roots) {
    const fs::path root = fs::weakly_canonical(r, ec);
    // The collection inside a scanned folder: its own files would be indexed, unless its name ends
    // in .irbis (the scan skips such folders).
    const auto [mismatch, _] = std::mismatch(root.begin(), root.end(), target.begin(), target.end());
    const bool inside = mismatch == root.end();
    if (inside && (target == root || target.extension() != ".irbis"))
      throw UsageError("--into " + into + " is " + (target == root ? "the folder being indexed" : "inside " + r) +
                       "; put the collection next to it, e.g. `irbis index " + r + " --into " +
                       (target == root ? r : into) + ".irbis`");
  }
  const bool is_collection = fs::exists(fs::path(into) / "catalog.sqlite", ec);
  if (fs::exists(into, ec) && !is_collection) {
    if (!fs::is_directory(into, ec))
      throw UsageError(into + ": --into must be a collection folder (e.g. photos.irbis), and this is a file");
    if (fs::directory_iterator(into, ec) != fs::directory_iterator())
      throw UsageError(into + ": exists and is not an irbis collection; --into takes a new folder (e.g. " + into +
                       ".irbis) or an existing collection, so that no folder of yours is turned into one");
  }
}
}  // namespace

void add_index_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("index", "Scan folders and catalog every image (new, changed and removed files)");
  add_inference_options(cmd);
  struct Opts {
    std::vector<std::string> roots;
    std::string into;
    std::string features = "hashes,cnn";
    std::string model = kDefaultModel;
    uint64_t max_pixels = DecodeOptions{}.max_pixels;
    int threads = 0;
    int commit_every = IndexParams{}.commit_every;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("folders", o->roots, "Folders or files to index")->required();
  cmd->add_option("--into", o->into, "Collection directory (created if missing), e.g. pics.irbis")->required();
  cmd->add_option("--features", o->features,
                  "Comma-separated features to compute: hashes, cnn (features the collection already has are "
                  "always computed too)")
      ->capture_default_str();
  cmd->add_option("--model", o->model, "Registered model for the cnn feature (see `irbis model list`)")
      ->capture_default_str();
  cmd->add_option("--max-pixels", o->max_pixels, "Refuse images declaring more pixels than this")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Worker threads (0 = one per core)")->capture_default_str();
  cmd->add_option("--commit-every", o->commit_every,
                  "Images per catalog transaction (also every 2 s): what an interrupted run has to redo")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the run report as JSON");
  cmd->callback([o, &result] {
    IndexParams p;
    p.roots = o->roots;
    p.threads = o->threads;
    p.commit_every = o->commit_every;
    p.decode.max_pixels = o->max_pixels;
    p.hashes = false;
    std::stringstream ss(o->features);
    for (std::string f; std::getline(ss, f, ',');) {
      if (f == "hashes") p.hashes = true;
      else if (f == "cnn") p.model = o->model;
      else if (f == "none" || f.empty()) continue;
      else throw UsageError("unknown feature '" + f + "' in --features (known: hashes, cnn)");
    }
    check_index_target(o->roots, o->into);
    if (!p.model.empty()) find_model(p.model);  // an unknown model stops here, before a collection exists
    auto coll = Collection::open_or_create(o->into);
    ProgressBar bar("indexing");
    p.progress = [&bar](int64_t done, int64_t total) { bar.update(done, total); };
    const InterruptGuard ctrl_c;
    p.should_stop = [] { return InterruptGuard::requested(); };
    IndexReport rep = index_collection(*coll, p);
    bar.finish();

    const bool did_work = rep.added + rep.changed + rep.backfilled > 0;
    if (!rep.also_computed.empty() && did_work && !o->json) {
      std::string also;
      for (const auto& f : rep.also_computed) also += (also.empty() ? "" : ", ") + f;
      std::cerr << "irbis: also computing " << also
                << ": the collection has these features, and every image gets all of them\n";
    }

    if (!rep.redefined.empty() && !o->json) {
      std::string names;
      for (const auto& f : rep.redefined) names += (names.empty() ? "" : ", ") + f;
      std::cerr << "irbis: recomputed " << names << " for every image: this irbis defines them differently\n";
    }
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& pr : rep.problems) problems.push_back({{"path", display_path(pr.path)}, {"reason", pr.reason}});
    save_scan_problems(*coll, rep.problems);
    coll->commit();

    if (o->json) {
      nlohmann::json j = {{"collection", display_path(o->into)}, {"scanned", rep.scanned},
                          {"unchanged", rep.unchanged}, {"added", rep.added},
                          {"changed", rep.changed},     {"removed", rep.removed},
                          {"not_images", rep.not_images}, {"ok", rep.ok},
                          {"failed", rep.failed},       {"backfilled", rep.backfilled},
                          {"also_computed", rep.also_computed}, {"redefined", rep.redefined},
                          {"problems", problems},
                          {"seconds", rep.seconds}, {"interrupted", rep.interrupted},
                          {"left", rep.left}};
      std::cout << json_dump(j) << '\n';
    } else if (rep.interrupted) {
      // What Ctrl-C kept (committed above) and the command that picks up from there.
      std::string again = "irbis index";
      for (const auto& r : o->roots) again += " " + shell_word(r);
      again += " --into " + shell_word(o->into);
      if (o->features != "hashes,cnn") again += " --features " + shell_word(o->features);
      if (o->model != kDefaultModel) again += " --model " + shell_word(o->model);
      std::cerr << "irbis: interrupted: kept " << count_of(rep.ok + rep.failed, "image") << " indexed in this run";
      if (rep.backfilled) std::cerr << " and " << rep.backfilled << " back-filled";
      std::cerr << " (committed to " << display_path(o->into) << "), " << rep.left
                << " left; run the same command to resume: " << again << '\n';
    } else {
      // One summary line; ok/failed count the images decoded in this run, so a re-index of unchanged
      // files says "N unchanged" rather than "0 ok, 0 failed".
      std::cout << "indexed " << count_of(rep.scanned, "file") << " in " << seconds_text(rep.seconds) << ": "
                << rep.added << " new, " << rep.changed << " changed, " << rep.unchanged << " unchanged, " << rep.removed
                << " removed";
      if (rep.not_images) std::cout << ", " << count_of(rep.not_images, "not an image", "not images");
      if (rep.ok || rep.failed) std::cout << "; " << rep.ok << " ok, " << rep.failed << " failed";
      std::cout << '\n';
      for (const auto& pr : rep.problems) std::cerr << "irbis: " << display_path(pr.path) << ": " << pr.reason << '\n';
      if (rep.failed) std::cerr << "irbis: " << count_of(rep.failed, "file") << " failed; see `irbis info " << o->into << " --failures`\n";
    }
    result = rep.interrupted ? kExitInterrupted : (rep.failed || !rep.problems.empty()) ? kExitPartial : kExitOk;
  });
}

}  // namespace irbis::cli
