#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/hashes.h"
#include "irbis/results.h"
#include "irbis/embeddings.h"
#include "irbis/errors.h"
#include "irbis/model.h"
#include "irbis/npy.h"
#include "irbis/pipeline.h"
#include "irbis/text.h"

namespace irbis::cli {
namespace {

// --view colors: one float32 row per image, L, a, b, weight for each of the kPaletteColors colours
// (zeros for an empty slot) then the 64-bin RGB histogram (zeros without the color feature).
EmbeddingMatrix color_matrix(std::vector<ImagePalette> palettes) {
  EmbeddingMatrix m;
  m.data = cv::Mat::zeros(int(palettes.size()), kPaletteDim + kColorHistBins, CV_32F);
  for (size_t i = 0; i < palettes.size(); ++i) {
    float* row = m.data.ptr<float>(int(i));
    for (size_t c = 0; c < palettes[i].colors.size(); ++c) {
      const PaletteColor& pc = palettes[i].colors[c];
      row[4 * c] = pc.lab.L, row[4 * c + 1] = pc.lab.a, row[4 * c + 2] = pc.lab.b, row[4 * c + 3] = pc.weight;
    }
    std::copy(palettes[i].histogram.begin(), palettes[i].histogram.end(), row + kPaletteDim);
    m.records.push_back(std::move(palettes[i].record));
  }
  return m;
}

}  // namespace

void add_export_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("export", "Write embeddings as .npy (+ .paths.csv) and hashes as CSV");
  struct Opts {
    std::string coll, embeddings, hashes, colors, model = kDefaultModel, view = "full";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--embeddings", o->embeddings, "Write float32 rows (catalog order) to this .npy file");
  cmd->add_option("--model", o->model, "Which model's embeddings")->capture_default_str();
  cmd->add_option("--view", o->view,
                  "full (the model's descriptor), semantic (its last block), blocks (every pooled block), or colors "
                  "(dominant colours + RGB histogram, float32: L, a, b, weight x 5 then 64 bins)")
      ->capture_default_str();
  cmd->add_option("--hashes", o->hashes, "Write path,phash,dhash,ahash (hex) to this CSV file");
  cmd->add_option("--colors", o->colors,
                  "Write each image's dominant colours (#hex, weight, Lab) and RGB histogram to this CSV file");
  cmd->callback([o, &result] {
    if (o->embeddings.empty() && o->hashes.empty() && o->colors.empty())
      throw UsageError("export: give --embeddings FILE.npy, --hashes FILE.csv and/or --colors FILE.csv");
    auto coll = Collection::open(o->coll);
    const auto recs = coll->records(ImageStatus::ok);
    if (!o->colors.empty()) {
      std::ofstream out(o->colors);
      if (!out) throw IoError(o->colors + ": cannot open for writing");
      const Table t = palettes_table(load_palettes(*coll));
      write_rows(out, Format::csv, t);
    }
    if (!o->embeddings.empty()) {
      const EmbeddingMatrix m = o->view == "colors" ? color_matrix(load_palettes(*coll))
                                                    : load_embeddings(*coll, o->model, parse_embedding_view(o->view));
      NpyWriter npy(o->embeddings, m.data.rows, m.data.cols);
      std::string paths_file = o->embeddings;
      if (paths_file.ends_with(".npy")) paths_file.resize(paths_file.size() - 4);
      paths_file += ".paths.csv";
      std::ofstream paths(paths_file);
      if (!paths) throw IoError(paths_file + ": cannot open for writing");
      write_csv_row(paths, {"row", "path", "id"});
      for (int i = 0; i < m.data.rows; ++i) {
        npy.write_row({m.data.ptr<float>(i), size_t(m.data.cols)});
        write_csv_row(paths, {std::to_string(i), m.records[size_t(i)].path, std::to_string(m.records[size_t(i)].id)});
      }
      npy.close();
      std::cerr << "wrote " << m.data.rows << " x " << m.data.cols << " float32 to " << o->embeddings
                << " and paths to " << paths_file << '\n';
    }
    if (!o->hashes.empty()) {
      if (!coll->has_feature(kHashesFeature)) throw UsageError(o->coll + ": collection has no hashes");
      auto view = coll->view(kHashesFeature, "u64", 3);
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
