#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/dupes.h"
#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/pipeline.h"
#include "irbis/results.h"
#include "irbis/search.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_dupes_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("dupes", "Exact and near-duplicate groups (nothing is deleted or moved)");
  struct Opts {
    std::string coll;
    int threshold = DupesParams{}.max_distance;
    HashAgreement agreement = DupesParams{}.agreement;
    std::string format = "table";
    bool json = false;
    bool single_linkage = false;  // removed: refused with the reason
    bool cnn = false;
    double cnn_threshold = CnnDupesOptions{}.min_similarity;
    std::string model = kDefaultModel;
    std::string index = "auto";
    double band_similarity = 1.0 - double(DupesParams{}.band.max_extra_distance);
    int max_verified = VerifyPolicy{}.max_verified_per_item;
    double stand_out = VerifyPolicy{}.cnn_stand_out;
    double stand_out_growth = VerifyPolicy{}.cnn_stand_out_growth;
    std::string rivals = VerifyPolicy{}.cnn_unvisited_rivals ? "all" : "visited";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--threshold", o->threshold,
                  "Largest pHash Hamming distance (of 64 bits, over the image and its mirror) for a near duplicate "
                  "without further checks, when the dHash agrees (--dhash-threshold)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_option("--dhash-threshold", o->agreement.max_sure_dhash,
                  "Largest dHash distance of a pair within --threshold for a near duplicate without further checks; "
                  "beyond it the pair is geometrically verified")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_option("--band-phash", o->agreement.max_band_phash,
                  "Pairs with pHash distance <= this and dHash distance <= --band-dhash are kept if geometric "
                  "verification confirms them")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_option("--band-dhash", o->agreement.max_band_dhash, "dHash limit of the verified band (see --band-phash)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_option("--format", o->format, "table, csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  cmd->add_flag("--single-linkage", o->single_linkage)->group("");  // removed; refused with the reason below
  cmd->add_flag("--cnn", o->cnn,
                "Also pair images whose CNN embeddings are similar (catches crops, rotations, flips, overlays)");
  cmd->add_option("--cnn-threshold", o->cnn_threshold,
                  "Smallest cosine similarity for a CNN pair without further checks; pairs down to " +
                      fixed(1.0 - double(DupesParams{}.band.max_extra_distance), 2) +
                      " are kept if geometric verification confirms them")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--band-similarity", o->band_similarity,
                  "Smallest cosine similarity of a CNN pair that geometric verification decides (with --cnn)")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--max-verified", o->max_verified,
                  "Pairs verified per image at most, strongest first, when it has no sure match (0 = none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--stand-out", o->stand_out,
                  "A pair in the CNN band is verified only when no other neighbour of the image that belongs "
                  "elsewhere is within this cosine of it (negative = verify every band pair)")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--stand-out-growth", o->stand_out_growth,
                  "How much the --stand-out margin grows per unit of cosine below 0.90 (a pair deep in the band "
                  "must stand out further)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--rivals", o->rivals,
                  "Which neighbours of an image can keep its CNN band pair from verification: visited (already "
                  "grouped elsewhere) or all (those not looked at yet too)")
      ->capture_default_str()
      ->check(CLI::IsMember({"visited", "all"}));
  cmd->add_option("--model", o->model, "Which model's embeddings (with --cnn)")->capture_default_str();
  cmd->add_option("--index", o->index, "auto, exact or hnsw (with --cnn)")->capture_default_str();
  cmd->callback([o, &result] {
    if (o->single_linkage)
      throw UsageError("--single-linkage was removed: every duplicate now matches the image its group keeps directly, "
                       "so chains cannot form (docs/dupes.md, \"Grouping\"); drop the option");
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    auto coll = Collection::open(o->coll);
    DupesParams params;
    params.max_distance = o->threshold;
    params.agreement = o->agreement;
    params.band.max_extra_distance = float(1.0 - o->band_similarity);
    params.policy.max_verified_per_item = o->max_verified;
    params.policy.cnn_stand_out = o->stand_out;
    params.policy.cnn_stand_out_growth = o->stand_out_growth;
    params.policy.cnn_unvisited_rivals = o->rivals == "all";
    CnnDupesOptions cnn;
    cnn.enabled = o->cnn;
    cnn.min_similarity = o->cnn_threshold;
    cnn.model = o->model;
    cnn.index.kind = parse_index_kind(o->index);
    const CollectionDupes found = find_collection_dupes(*coll, params, cnn);
    const size_t n_images = found.records.size();
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}};
      j.update(dupes_json(found, o->threshold, o->cnn ? std::optional<double>(o->cnn_threshold) : std::nullopt));
      std::cout << json_dump(j) << '\n';
    } else {
      const Table t = dupes_table(found, o->cnn);
      if (fmt == Format::csv) {
        write_rows(std::cout, Format::csv, t);
      } else {
        if (t.rows.empty()) std::cout << "no duplicates among " << n_images << " images\n";
        else {
          write_table(std::cout, t.header, t.rows);
          std::cout << '\n' << found.groups.size() << " groups, " << found.duplicates() << " duplicates among "
                    << n_images << " images (pHash distance <= " << o->threshold << " with dHash <= "
                    << o->agreement.max_sure_dhash;
          if (found.variants > 0) std::cout << ", mirror included";
          if (o->cnn) std::cout << " or CNN cosine similarity >= " << o->cnn_threshold;
          std::cout << ")\n" << keep_reasons_line(found) << '\n';
        }
        if (found.verify_max_distance || found.verify_min_similarity) {
          std::cout << found.pairs_verified << " uncertain pairs (";
          if (found.verify_max_distance) std::cout << "pHash distance <= " << *found.verify_max_distance;
          if (found.verify_max_dhash_distance) std::cout << " with dHash distance <= " << *found.verify_max_dhash_distance;
          if (found.verify_max_distance && found.verify_min_similarity) std::cout << ", ";
          if (found.verify_min_similarity) std::cout << "CNN similarity >= " << fixed(*found.verify_min_similarity, 2);
          std::cout << ") geometrically verified in " << fixed(found.verify_seconds, 1) << " s\n";
        }
      }
    }
    if (found.variants == 0 && n_images > 0 && params.variants_used > 0)
      std::cerr << "irbis: " << display_path(o->coll) << " has no mirror hashes yet, so mirrored copies are found only "
                << "with --cnn; `irbis index FOLDER --into " << display_path(o->coll) << "` adds them\n";
    result = kExitOk;
  });
}

}  // namespace irbis::cli
