// `irbis search` (k nearest images to a file or an indexed image) and `irbis unique` (images
// ranked by the distance to their nearest non-duplicate neighbour). See docs/search.md.
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/embeddings.h"
#include "irbis/errors.h"
#include "irbis/model.h"
#include "irbis/results.h"
#include "irbis/search.h"
#include "irbis/text.h"

namespace irbis::cli {
namespace {

struct IndexFlags {
  std::string model = kDefaultModel;
  std::string index = "auto";
  int64_t hnsw_min = IndexOptions{}.hnsw_min_images;
  int ef = IndexOptions{}.ef_search;
  void add(CLI::App* cmd) {
    cmd->add_option("--model", model, "Which model's embeddings")->capture_default_str();
    cmd->add_option("--index", index, "auto, exact or hnsw (auto: exact below --hnsw-min images)")
        ->capture_default_str();
    cmd->add_option("--hnsw-min", hnsw_min, "Collection size from which auto picks hnsw")->capture_default_str();
    cmd->add_option("--ef", ef, "HNSW query beam width")->capture_default_str();
  }
  IndexOptions options() const {
    IndexOptions o;
    o.kind = parse_index_kind(index);
    o.hnsw_min_images = hnsw_min;
    o.ef_search = ef;
    return o;
  }
};

}  // namespace

void add_search_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand("search", "The k images most similar to a query image (cosine on CNN embeddings)");
  add_inference_options(cmd);
  struct Opts {
    std::string coll, query, path, colors, format = "table";
    int64_t id = -1;
    int k = 10;
    bool json = false;
    IndexFlags idx;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("query", o->query, "Image file to search with (need not be in the collection)");
  cmd->add_option("--path", o->path, "Search with an indexed image, by its path");
  cmd->add_option("--id", o->id, "Search with an indexed image, by its id");
  cmd->add_option("--colors", o->colors,
                  "Rank images by dominant colours instead: comma-separated #rrggbb, e.g. '#1f3a5f,#ffffff' (docs/colors.md)");
  cmd->add_option("-k", o->k, "Number of results")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--format", o->format, "table, csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  o->idx.add(cmd);
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    const int given = !o->query.empty() + !o->path.empty() + (o->id >= 0) + !o->colors.empty();
    if (given != 1) throw UsageError("search: give exactly one of QUERY_FILE, --path PATH, --id ID or --colors LIST");
    auto coll = Collection::open(o->coll);
    if (!o->colors.empty()) {
      const ColorSearch found = search_collection_colors(*coll, o->colors, o->k);
      if (fmt == Format::json) {
        nlohmann::json j = {{"collection", display_path(o->coll)}};
        j.update(color_search_json(found.query, found.hits));
        std::cout << json_dump(j) << '\n';
      } else {
        const Table t = color_search_table(found.hits);
        write_rows(std::cout, fmt, t);
      }
      result = kExitOk;
      return;
    }
    auto vs = VectorSearch::open(*coll, o->idx.model, o->idx.options());
    cv::Mat q;
    int64_t exclude = -1;
    nlohmann::json query;
    if (!o->query.empty()) {
      Embedder embedder(vs->card());
      q = embed_file(embedder, o->query);
      query = {{"path", display_path(o->query)}};
    } else {
      const int64_t row = o->id >= 0 ? vs->row_of_id(o->id) : vs->row_of_path(o->path);
      if (row < 0)
        throw UsageError(o->id >= 0 ? "search: no live image with id " + std::to_string(o->id) + " in " + o->coll
                                    : "search: '" + display_path(o->path) + "' is not an indexed image of " + o->coll +
                                          " (give a file as QUERY to embed it on the fly)");
      q = vs->data().row(int(row)).clone();
      exclude = row;
      query = image_json(vs->records()[size_t(row)]);
    }
    const int64_t available = vs->size() - (exclude >= 0);
    if (o->k > available)
      std::cerr << "irbis: -k " << o->k << " is more than the " << available << " images to search; returning "
                << available << '\n';
    const auto hits = vs->search(q.ptr<float>(), int(std::min<int64_t>(o->k, available)), exclude);
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}};
      j.update(search_json(*vs, query, o->k, hits));
      std::cout << json_dump(j) << '\n';
    } else {
      const Table t = search_table(*vs, hits);
      write_rows(std::cout, fmt, t);
    }
    result = kExitOk;
  });
}

void add_unique_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand(
      "unique", "Images ranked by distance (1 - cosine) to their nearest non-duplicate neighbour, with a boxplot summary");
  struct Opts {
    std::string coll, format = "table";
    int top = 20, density_k = 5;
    bool json = false;
    IndexFlags idx;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("collection", o->coll, "Collection directory")->required();
  cmd->add_option("--top", o->top, "Rows to list (0 = all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--density-k", o->density_k, "Neighbours in the density column (mean distance)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--format", o->format, "table, csv or json")->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as --format json");
  o->idx.add(cmd);
  cmd->callback([o, &result] {
    const Format fmt = o->json ? Format::json : parse_format(o->format);
    auto coll = Collection::open(o->coll);
    IndexOptions io = o->idx.options();
    io.open_graph = false;  // the ranking needs self_knn and exact searches, never the graph
    auto vs = VectorSearch::open(*coll, o->idx.model, io);
    const int64_t n = vs->size();
    const int top = o->top == 0 ? int(n) : int(std::min<int64_t>(o->top, n));
    if (o->top > n) std::cerr << "irbis: --top " << o->top << " is more than the " << n << " images; listing all " << n << '\n';
    const auto res = rank_unique_images(*vs, top, o->density_k);
    const auto& s = res.summary;
    const Page page{0, size_t(top)};
    if (fmt == Format::json) {
      nlohmann::json j = {{"collection", display_path(o->coll)}};
      j.update(unique_json(*vs, res, page));
      std::cout << json_dump(j) << '\n';
    } else {
      const Table t = unique_table(*vs, res, page);
      if (fmt == Format::csv) {
        write_rows(std::cout, Format::csv, t);
      } else {
        write_table(std::cout, t.header, t.rows);
        if (s.n == 0) std::cout << "\nno image has a neighbour to measure a distance to\n";
        else std::cout << "\nnearest-neighbour distance (1 - cosine) over " << s.n << " images: min " << fixed(s.min)
                  << ", lower whisker " << fixed(s.lower_whisker) << ", Q1 " << fixed(s.q1) << ", median "
                  << fixed(s.median) << ", Q3 " << fixed(s.q3) << ", upper whisker " << fixed(s.upper_whisker)
                  << ", max " << fixed(s.max) << "; " << s.high_outliers << " high and " << s.low_outliers
                  << " low outliers (beyond 1.5 IQR)\n";
        if (s.n < n) std::cout << (n - s.n) << " images have no neighbour that is not an exact copy of them\n";
      }
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli
