#include <fstream>
#include <iostream>

#include <opencv2/core.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/errors.h"
#include "irbis/model.h"
#include "irbis/npy.h"
#include "irbis/pipeline.h"
#include "irbis/text.h"

namespace irbis::cli {

void add_export_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("export", "Write embeddings as .npy (+ .paths.csv) and hashes as CSV");
  struct Opts {
    std::string coll, embeddings, hashes, model = kDefaultModel, view = "full";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--embeddings", o->embeddings, "Write float32 rows (catalog order) to this .npy file");
  cmd->add_option("--model", o->model, "Which model's embeddings")->capture_default_str();
  cmd->add_option("--view", o->view,
                  "full (the model's descriptor), semantic (its last block), or blocks (every pooled block)")
      ->capture_default_str();
  cmd->add_option("--hashes", o->hashes, "Write path,phash,dhash,ahash (hex) to this CSV file");
  cmd->callback([o, &result] {
    if (o->embeddings.empty() && o->hashes.empty()) throw UsageError("export: give --embeddings FILE.npy and/or --hashes FILE.csv");
    if (o->view != "full" && o->view != "semantic" && o->view != "blocks")
      throw UsageError("export: --view must be full, semantic or blocks");
    auto coll = Collection::open(o->coll);
    const auto recs = coll->records(ImageStatus::ok);
    if (!o->embeddings.empty()) {
      const ModelCard card = find_model(o->model);
      const std::string feat = o->view == "full" ? embedding_feature(card.name) : blocks_feature(card.name);
      if (!coll->has_feature(feat))
        throw UsageError(o->coll + ": no embeddings for model '" + card.name + "'; run `irbis index FOLDER --into " +
                         o->coll + " --model " + card.name + "`");
      auto view = coll->view(feat);
      std::vector<const ImageRecord*> rows;
      for (const auto& r : recs)
        if (r.id < view.rows()) rows.push_back(&r);
      const int offset = o->view == "semantic" ? card.block_offset(card.semantic_block) : 0;
      const int dim = o->view == "full" ? view.spec().dim
                      : o->view == "semantic" ? card.block(card.semantic_block).dim
                                              : view.spec().dim;
      NpyWriter npy(o->embeddings, int64_t(rows.size()), dim);
      std::string paths_file = o->embeddings;
      if (paths_file.size() > 4 && paths_file.ends_with(".npy")) paths_file.resize(paths_file.size() - 4);
      paths_file += ".paths.csv";
      std::ofstream paths(paths_file);
      if (!paths) throw IoError(paths_file + ": cannot open for writing");
      write_csv_row(paths, {"row", "path", "id"});
      for (size_t i = 0; i < rows.size(); ++i) {
        const int64_t id = rows[i]->id;
        if (o->view == "full") {
          npy.write_row({view.row_f32(id), size_t(dim)});
        } else {
          // Blocks are stored as float16; widen, and L2-normalise the semantic block.
          cv::Mat half(1, view.spec().dim, CV_16F, const_cast<uint8_t*>(view.row_bytes(id)));
          cv::Mat full;
          half.convertTo(full, CV_32F);
          cv::Mat part = full.colRange(offset, offset + dim).clone();
          if (o->view == "semantic") {
            const double n = cv::norm(part);
            if (n > 0) part /= n;
          }
          npy.write_row({part.ptr<float>(0), size_t(dim)});
        }
        write_csv_row(paths, {std::to_string(i), rows[i]->path, std::to_string(id)});
      }
      npy.close();
      std::cerr << "wrote " << rows.size() << " x " << dim << " float32 to " << o->embeddings << " and paths to "
                << paths_file << '\n';
    }
    if (!o->hashes.empty()) {
      if (!coll->has_feature(kHashesFeature)) throw UsageError(o->coll + ": collection has no hashes");
      auto view = coll->view(kHashesFeature);
      std::ofstream out(o->hashes);
      if (!out) throw IoError(o->hashes + ": cannot open for writing");
      write_csv_row(out, {"path", "phash", "dhash", "ahash"});
      char hex[3][17];
      for (const auto& r : recs) {
        if (r.id >= view.rows()) continue;
        for (int k = 0; k < 3; ++k) std::snprintf(hex[k], 17, "%016llx", (unsigned long long)view.row_u64(r.id)[k]);
        write_csv_row(out, {r.path, hex[0], hex[1], hex[2]});
      }
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
