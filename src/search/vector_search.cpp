// Exact (dot-product kernel per query, OpenBLAS sgemm for all rows) and HNSW (hnswlib over PCA-reduced vectors, exact re-rank) search, and the
// on-disk index as derived state of the catalog. See include/irbis/search.h and docs/search.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cmath>
#include <fstream>
#include <numeric>
#include <thread>
#include <unordered_set>

#include <cblas.h>
#include <faiss/Index.h>
#include <faiss/VectorTransform.h>
#include <hnswlib/hnswlib.h>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <xxhash.h>

#include "irbis/errors.h"
#include "irbis/collection_layout.h"
#include "irbis/search.h"
#include "irbis/warnings.h"
#include "features/inner_product.h"
#include "irbis/replace_file.h"
#include "search/index_files.h"
#include "search/parallel.h"

namespace fs = std::filesystem;

namespace irbis {
namespace {

class IpSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit IpSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return kernels::ip_distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  size_t dim_;
};
using Graph = hnswlib::HierarchicalNSW<float>;

template <class T>
void put(FileReplacer& out, const T& v) {
  out.write(std::span(reinterpret_cast<const uint8_t*>(&v), sizeof v));
}

// The graph in hnswlib 0.6.2's saveIndex layout, field by field (index_files::check_hnsw reads it).
void write_hnsw(const Graph& g, FileReplacer& out) {
  put(out, g.offsetLevel0_);
  put(out, g.max_elements_);
  put(out, g.cur_element_count);
  put(out, g.size_data_per_element_);
  put(out, g.label_offset_);
  put(out, g.offsetData_);
  put(out, g.maxlevel_);
  put(out, g.enterpoint_node_);
  put(out, g.maxM_);
  put(out, g.maxM0_);
  put(out, g.M_);
  put(out, g.mult_);
  put(out, g.ef_construction_);
  out.write(std::span(reinterpret_cast<const uint8_t*>(g.data_level0_memory_),
                      g.cur_element_count * g.size_data_per_element_));
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    const unsigned int size = g.element_levels_[i] > 0 ? unsigned(g.size_links_per_element_ * size_t(g.element_levels_[i])) : 0;
    put(out, size);
    if (size) out.write(std::span(reinterpret_cast<const uint8_t*>(g.linkLists_[i]), size));
  }
}


using search_detail::parallel_for;

// Top k of (similarity, row) pairs, best first (ties: smaller row first).
std::vector<Neighbor> top_k(const float* sims, int64_t n, int k, int64_t exclude) {
  std::vector<Neighbor> v;
  v.reserve(size_t(n));
  for (int64_t r = 0; r < n; ++r)
    if (r != exclude) v.push_back({r, sims[r]});
  auto better = [](const Neighbor& a, const Neighbor& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.row < b.row;
  };
  const size_t kk = std::min(v.size(), size_t(std::max(k, 0)));
  std::partial_sort(v.begin(), v.begin() + long(kk), v.end(), better);
  // A copy of the first kk, not v.resize(kk): that keeps v's capacity of n entries, and self_knn_exact
  // holds one list per row (n^2 x 16 bytes: 160 GB at 100 000 rows).
  return std::vector<Neighbor>(v.begin(), v.begin() + long(kk));
}

// top_k of one row of an sgemm product, its similarities re-scored with the exact queries' kernel
// (kernels::dot). OpenBLAS rounds an entry differently with the shape and position of the block it
// falls in (AVX2 kernels do; AVX-512 ones happened not to), so the sgemm values only choose
// candidates, kSgemmSlack beyond k, and the answer does not depend on how rows were blocked.
constexpr int kSgemmSlack = 8;
std::vector<Neighbor> rescored_top_k(const float* sims, int64_t n, int k, int64_t exclude, const cv::Mat& data) {
  std::vector<Neighbor> v = top_k(sims, n, k + kSgemmSlack, exclude);
  const float* q = data.ptr<float>(int(exclude));
  for (Neighbor& c : v) c.similarity = kernels::dot(q, data.ptr<float>(int(c.row)), size_t(data.cols));
  const size_t kk = std::min(v.size(), size_t(std::max(k, 0)));
  std::partial_sort(v.begin(), v.begin() + long(kk), v.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.row < b.row;
  });
  v.resize(kk);
  v.shrink_to_fit();
  return v;
}

std::string hex64(uint64_t h) {
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// A file's bytes, up to `max`; nullopt when it cannot be read whole.
std::optional<std::vector<uint8_t>> read_bytes(const fs::path& p, uint64_t max) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const auto size = uint64_t(in.tellg());
  if (size > max) return std::nullopt;
  std::vector<uint8_t> b(size);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(b.data()), std::streamsize(size))) return std::nullopt;
  return b;
}

std::string digest(std::span<const uint8_t> b) { return hex64(XXH3_64bits(b.data(), b.size())); }

// The digest of a file just written, read back (IoError naming it when it cannot be).
std::string file_digest_checked(const fs::path& p) {
  const auto b = read_bytes(p, uint64_t(1) << 40);
  if (!b) throw IoError(p.string() + ": cannot read back what was written");
  return digest(*b);
}

// <model>.json "format": 2 since the PCA file is irbis's own layout (index_files.h); an index saved
// in another format is rebuilt.
constexpr int kIndexFormat = 2;

void normalise_rows(float* x, int64_t n, int d) {
  for (int64_t i = 0; i < n; ++i) {
    float* r = x + i * d;
    const float nn = std::sqrt(cblas_sdot(d, r, 1, r, 1));
    if (nn > 0)
      for (int j = 0; j < d; ++j) r[j] /= nn;
  }
}

}  // namespace

IndexKind parse_index_kind(const std::string& s) {
  if (s == "auto") return IndexKind::automatic;
  if (s == "exact") return IndexKind::exact;
  if (s == "hnsw") return IndexKind::hnsw;
  throw UsageError("unknown --index '" + s + "' (expected auto, exact or hnsw)");
}

const char* index_kind_name(IndexKind k) {
  switch (k) {
    case IndexKind::automatic: return "auto";
    case IndexKind::exact: return "exact";
    case IndexKind::hnsw: return "hnsw";
  }
  return "?";
}

struct VectorSearch::Impl {
  IndexOptions opts;
  EmbeddingMatrix emb;           // records + data (rows L2-normalised; read-only: may be the mapped file)
  std::shared_ptr<const FeatureView> mapping;  // keeps emb.data's file mapped (map_embeddings), or null
  std::vector<int64_t> ids;
  std::vector<int32_t> row_of;   // by id, -1 = not live
  IndexStatus status;
  std::atomic<int64_t> saved_self_join_reads{0};  // self_knn answers read from <model>.self<k>.knn
  std::string model;             // "" for from_matrix
  fs::path dir;                  // <collection>/index ("" = not persisted)

  // hnsw state
  std::unique_ptr<IpSpace> space;
  std::unique_ptr<Graph> graph;
  std::unique_ptr<faiss::PCAMatrix> pca;
  int64_t pca_trained_rows = 0;
  int gdim = 0;
  std::vector<int64_t> covered;     // ids in the graph (sorted)
  std::vector<int64_t> tombstones;  // ids in the graph marked deleted (sorted)

  int dim() const { return emb.data.cols; }
  int64_t n() const { return emb.data.rows; }

  void index_rows() {
    int64_t max_id = -1;
    for (int64_t id : ids) max_id = std::max(max_id, id);
    row_of.assign(size_t(max_id + 1), -1);
    for (size_t r = 0; r < ids.size(); ++r) {
      IRBIS_THROW_IF_NOT(ids[r] >= 0 && row_of[size_t(ids[r])] < 0, Error, "ids must be distinct and >= 0");
      row_of[size_t(ids[r])] = int32_t(r);
    }
  }
  int64_t row(int64_t id) const { return id >= 0 && id < int64_t(row_of.size()) ? row_of[size_t(id)] : -1; }

  std::vector<float> project(const float* x, int64_t count) const {
    std::vector<float> out(size_t(count) * size_t(gdim));
    if (pca) pca->apply_noalloc(count, x, out.data());
    else std::copy_n(x, out.size(), out.data());
    normalise_rows(out.data(), count, gdim);
    return out;
  }

  fs::path file(const char* ext) const { return dir / (model + ext); }
  void create_dir() const {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw IoError(dir.string() + ": cannot create: " + ec.message());
  }

  // What a saved self-join answer was computed from: the rows bit for bit, k, the options that
  // shape the answer (not the thread count: it changes nothing), the algorithm's revision, and
  // the kernels that round its similarities and choose its candidates (the dot product's
  // instruction set, OpenBLAS's build and core, FAISS's version): on another CPU the join is
  // computed again. A SelfJoinOptions field added later that changes the answer goes in here.
  uint64_t self_join_key(int k, const SelfJoinOptions& o) const {
    const std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> s(XXH3_createState(), XXH3_freeState);
    IRBIS_THROW_IF_NOT(s && XXH3_64bits_reset(s.get()) == XXH_OK, Error, "xxh3: cannot start a digest");
    const auto add = [&](const void* p, size_t size) { XXH3_64bits_update(s.get(), p, size); };
    const auto add_value = [&](const auto& v) { add(&v, sizeof v); };
    const auto add_text = [&](const char* t) { add(t ? t : "", t ? std::strlen(t) + 1 : 1); };
    add_value(index_files::kSelfJoinRevision);
    add_value(n()), add_value(dim()), add_value(k);
    add_value(o.reduced_dim), add_value(o.fit_sample), add_value(o.lists), add_value(o.train_per_list);
    add_value(o.nprobe), add_value(o.candidates), add_value(o.refine_share), add_value(o.refine_nprobe);
    add_value(o.seed);
    add_value(kernels::dot_uses_avx512());
    const int faiss_version[] = {FAISS_VERSION_MAJOR, FAISS_VERSION_MINOR, FAISS_VERSION_PATCH};  // its k-means
    add_value(faiss_version);
    add_text(openblas_get_config());
    add_text(openblas_get_corename());
    for (int64_t r = 0; r < n(); ++r) add(emb.data.ptr<float>(int(r)), size_t(dim()) * sizeof(float));
    return XXH3_64bits_digest(s.get());
  }

  // self_knn's self-join when the index is persisted: read from <model>.self<k>.knn when that was
  // computed from these rows with these options and kernels (the digest of ~1 GB of rows at
  // 100 000 images takes ~0.1 s; the join ~6 s), else joined and saved for the next run. A file
  // that fails its checks is reported and replaced; one that cannot be written costs only time.
  std::vector<std::vector<Neighbor>> saved_self_join(int k, const SelfJoinOptions& o) {
    const fs::path f = saved_self_join_file(dir.parent_path(), model, k);
    const uint64_t key = self_join_key(k, o);
    if (const auto b = read_bytes(f, uint64_t(1) << 40)) {
      std::string why;
      bool stale = false;
      if (auto knn = index_files::read_knn(*b, k, n(), key, why, stale)) {
        ++saved_self_join_reads;
        return std::move(*knn);
      }
      if (!stale) warn("saved self-join damaged: " + f.string() + ": " + why + "; computing it again");
    }
    auto knn = self_join_knn(emb.data, k, o);
    try {
      create_dir();
      FileReplacer out(f);
      index_files::write_knn(knn, k, key, out);
      out.commit();
    } catch (const std::exception& e) {
      warn("could not save the self-join: " + std::string(e.what()) + "; the next run computes it again");
    }
    return knn;
  }

  // PCA is trained only with >= 4 samples per output dimension.
  bool wants_pca() const {
    return opts.reduced_dim > 0 && opts.reduced_dim < dim() && n() >= 4 * int64_t(opts.reduced_dim);
  }

  void add_to_graph(const std::vector<int64_t>& new_ids) {
    if (new_ids.empty()) return;
    const size_t need = size_t(graph->cur_element_count) + new_ids.size();
    if (need > graph->max_elements_) graph->resizeIndex(std::max(need, graph->max_elements_ * 2));
    std::vector<float> pv(size_t(gdim) * new_ids.size());
    parallel_for(int64_t(new_ids.size()), opts.threads, [&](int64_t i) {
      const auto p = project(emb.data.ptr<float>(int(row(new_ids[size_t(i)]))), 1);
      std::copy(p.begin(), p.end(), pv.begin() + i * gdim);
    });
    int64_t start = 0;
    if (size_t(graph->cur_element_count) == 0) {  // the entry point, alone
      graph->addPoint(pv.data(), hnswlib::labeltype(new_ids[0]));
      start = 1;
    }
    parallel_for(int64_t(new_ids.size()) - start, opts.threads, [&](int64_t i) {
      graph->addPoint(pv.data() + (i + start) * gdim, hnswlib::labeltype(new_ids[size_t(i + start)]));
    });
    std::vector<int64_t> merged;
    std::vector<int64_t> sorted_new = new_ids;
    std::sort(sorted_new.begin(), sorted_new.end());
    std::merge(covered.begin(), covered.end(), sorted_new.begin(), sorted_new.end(), std::back_inserter(merged));
    covered = std::move(merged);
  }

  void build(const std::string& reason) {
    status.built = true;
    status.rebuild_reason = reason;
    status.loaded = false;
    covered.clear();
    tombstones.clear();
    pca.reset();
    pca_trained_rows = 0;
    gdim = dim();
    if (wants_pca()) {
      // PCA trained on an evenly spaced sample of up to 20 000 rows.
      const int64_t m = std::min<int64_t>(n(), 20000);
      std::vector<float> sample(size_t(m) * size_t(dim()));
      for (int64_t i = 0; i < m; ++i) {
        const int64_t r = i * n() / m;
        std::copy_n(emb.data.ptr<float>(int(r)), dim(), sample.data() + i * dim());
      }
      pca = std::make_unique<faiss::PCAMatrix>(dim(), opts.reduced_dim, 0.f, false);
      pca->train(m, sample.data());
      pca_trained_rows = m;
      gdim = opts.reduced_dim;
    }
    space = std::make_unique<IpSpace>(size_t(gdim));
    graph = std::make_unique<Graph>(space.get(), size_t(std::max<int64_t>(n(), 16)), size_t(opts.M),
                                    size_t(opts.ef_construction), 100);
    add_to_graph(ids);
  }

  // Reads the saved index; empty when it was loaded, else why not (a missing file, another model
  // configuration, or damage: a digest that does not match, a file that fails its checks). The
  // files are bytes read back from disk: checked (index_files.h) before hnswlib or the projection
  // trust a size or an id in them.
  std::string load() {
    graph.reset();
    pca.reset();
    try {
      const fs::path json_file = file(".json"), hnsw_file = file(".hnsw"), pca_file = file(".pca");
      const auto damaged = [](const fs::path& f, const std::string& why) { return "damaged: " + f.string() + ": " + why; };
      const auto jb = read_bytes(json_file, uint64_t(1) << 32);
      if (!jb) return "missing";
      const auto j = nlohmann::json::parse(jb->begin(), jb->end(), nullptr, false);
      if (!j.is_object()) return damaged(json_file, "not JSON");
      if (j.value("format", 0) != kIndexFormat) return "saved by another version (format " + j.value("format", nlohmann::json(0)).dump() + ")";
      if (j.at("dim").get<int>() != dim() || j.at("M").get<int>() != opts.M) return "built for another dimension or M";
      const int indexed_dim = j.at("indexed_dim").get<int>();
      const bool has_pca = j.at("pca").get<bool>();
      if (indexed_dim < 1 || indexed_dim > dim() || (!has_pca && indexed_dim != dim()))
        return damaged(json_file, "indexed dimension " + std::to_string(indexed_dim));
      auto ids_read = j.at("ids").get<std::vector<int64_t>>();
      auto tombstones_read = j.at("tombstones").get<std::vector<int64_t>>();
      const auto hb = read_bytes(hnsw_file, uint64_t(1) << 40);
      if (!hb) return damaged(hnsw_file, "missing or unreadable");
      if (digest(*hb) != j.at("hnsw_xxh3").get<std::string>()) return damaged(hnsw_file, "its xxh3 digest does not match (torn or changed)");
      if (auto why = index_files::check_hnsw(*hb, indexed_dim, size_t(opts.M), ids_read.size(), ids_read); !why.empty())
        return damaged(hnsw_file, why);
      std::unique_ptr<faiss::PCAMatrix> p;
      if (has_pca) {
        const auto pb = read_bytes(pca_file, uint64_t(1) << 32);
        if (!pb) return damaged(pca_file, "missing or unreadable");
        if (digest(*pb) != j.at("pca_xxh3").get<std::string>()) return damaged(pca_file, "its xxh3 digest does not match (torn or changed)");
        std::string why;
        p = index_files::read_pca(*pb, dim(), indexed_dim, why);
        if (!p) return damaged(pca_file, why);
        pca_trained_rows = j.at("pca_trained_rows").get<int64_t>();
      }
      gdim = indexed_dim;
      pca = std::move(p);
      space = std::make_unique<IpSpace>(size_t(gdim));
      graph = std::make_unique<Graph>(space.get(), hnsw_file.string());
      covered = std::move(ids_read);
      tombstones = std::move(tombstones_read);
      std::sort(covered.begin(), covered.end());
      std::sort(tombstones.begin(), tombstones.end());
      if (std::adjacent_find(covered.begin(), covered.end()) != covered.end()) {
        graph.reset();
        pca.reset();
        return damaged(json_file, "an id listed twice");
      }
      status.loaded = true;
      return "";
    } catch (const std::exception& e) {  // a JSON field missing or of the wrong type, an allocation
      graph.reset();
      pca.reset();
      return "damaged: " + file(".json").string() + ": " + e.what();
    }
  }

  // Writes the graph, the projection and last the JSON that names their digests, each replacing its
  // file whole (a reader opening them meanwhile sees an old JSON whose digests do not match the new
  // files, and rebuilds). A failure (a full disk, a read-only folder) leaves the old files and no
  // temporary ones; the index stays in memory and the warning names the file and the reason.
  void save() {
    try {
      create_dir();
      nlohmann::json j = {{"format", kIndexFormat}, {"model", model},          {"kind", "hnsw"},
                          {"dim", dim()},           {"indexed_dim", gdim},     {"M", opts.M},
                          {"ef_construction", opts.ef_construction},           {"pca", bool(pca)},
                          {"pca_trained_rows", pca_trained_rows},              {"ids", covered},
                          {"tombstones", tombstones}};
      // Both binary files whole in their temporary files before either replaces an old one, so a
      // full disk leaves the old, matching set (a failed rename, the old JSON with a digest that
      // no longer matches: rebuilt on the next open).
      FileReplacer hnsw_out(file(".hnsw"));
      write_hnsw(*graph, hnsw_out);
      hnsw_out.finish();
      j["hnsw_xxh3"] = file_digest_checked(hnsw_out.temporary());
      std::optional<FileReplacer> pca_out;
      if (pca) {
        pca_out.emplace(file(".pca"));
        index_files::write_pca(*pca, *pca_out);
        pca_out->finish();
        j["pca_xxh3"] = file_digest_checked(pca_out->temporary());
      }
      FileReplacer json_out(file(".json"));
      json_out.write(j.dump() + "\n");
      json_out.finish();
      hnsw_out.commit();
      if (pca_out) pca_out->commit();
      json_out.commit();
    } catch (const std::exception& e) {
      warn("could not save the vector index: " + std::string(e.what()) + "; it stays in memory, the next search saves it again");
    }
  }

  // Whether the graph's copies of the highest live ids still match the catalog's rows. The
  // catalog never reuses an id, but a catalog restored from a backup does: the ids past the
  // backup are assigned again, to other images, and would keep their old vectors in the graph.
  // Reassigned ids are the highest live ones, so checking the top few catches it cheaply.
  bool top_ids_match() const {
    int checked = 0;
    for (auto it = covered.rbegin(); it != covered.rend() && checked < 16; ++it) {
      const int64_t r = row(*it);
      if (r < 0 || std::binary_search(tombstones.begin(), tombstones.end(), *it)) continue;
      const auto want = project(emb.data.ptr<float>(int(r)), 1);
      const auto have = graph->getDataByLabel<float>(hnswlib::labeltype(*it));
      for (int j = 0; j < gdim; ++j)
        if (std::abs(have[size_t(j)] - want[size_t(j)]) > 1e-4f) return false;
      ++checked;
    }
    return true;
  }

  // Compares the graph with the live ids: adds what is missing, tombstones what is gone,
  // rebuilds past the tombstone threshold. Returns whether anything changed.
  bool repair() {
    std::vector<int64_t> live = ids;
    std::sort(live.begin(), live.end());
    std::vector<int64_t> missing, gone;
    std::set_difference(live.begin(), live.end(), covered.begin(), covered.end(), std::back_inserter(missing));
    std::vector<int64_t> not_live;
    std::set_difference(covered.begin(), covered.end(), live.begin(), live.end(), std::back_inserter(not_live));
    std::set_difference(not_live.begin(), not_live.end(), tombstones.begin(), tombstones.end(), std::back_inserter(gone));
    // A tombstoned id can only come back if the catalog reused it, which it never does; be safe.
    std::vector<int64_t> revived;
    std::set_intersection(tombstones.begin(), tombstones.end(), live.begin(), live.end(), std::back_inserter(revived));
    if (!revived.empty()) {
      build("tombstoned ids live again");
      return true;
    }
    if (!top_ids_match()) {
      build("graph vectors differ from the catalog's rows");
      return true;
    }
    const double share = covered.empty() ? 0 : double(tombstones.size() + gone.size()) / double(covered.size() + missing.size());
    if (share > opts.rebuild_tombstones) {
      build("tombstones");
      return true;
    }
    if (pca && n() > 8 * pca_trained_rows && pca_trained_rows < 20000) {
      build("collection outgrew the PCA sample");
      return true;
    }
    // Built full-dimensional while too small for PCA: reduce once it is large enough.
    if (!pca && wants_pca()) {
      build("collection large enough for PCA");
      return true;
    }
    for (int64_t id : gone) graph->markDelete(hnswlib::labeltype(id));
    std::vector<int64_t> t;
    std::merge(tombstones.begin(), tombstones.end(), gone.begin(), gone.end(), std::back_inserter(t));
    tombstones = std::move(t);
    add_to_graph(missing);
    status.added = int64_t(missing.size());
    status.tombstoned = int64_t(gone.size());
    return !missing.empty() || !gone.empty();
  }

  void open_index() {
    const auto t0 = std::chrono::steady_clock::now();
    IndexKind k = opts.kind;
    if (k == IndexKind::automatic) k = n() >= opts.hnsw_min_images ? IndexKind::hnsw : IndexKind::exact;
    status.kind = k;
    status.indexed_dim = dim();
    if (k == IndexKind::hnsw && n() > 0 && opts.open_graph) {
      bool changed = false;
      const std::string not_loaded = dir.empty() ? "in memory" : load();
      if (!not_loaded.empty()) {
        if (not_loaded.starts_with("damaged")) warn("vector index " + not_loaded + "; rebuilding it");
        build(not_loaded);
        changed = true;
      } else {
        changed = repair();
      }
      if (changed && !dir.empty()) save();
      graph->setEf(size_t(std::max(1, opts.ef_search)));
      status.tombstones = int64_t(tombstones.size());
      status.indexed_dim = gdim;
    }
    status.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  // Every exact query scores each row with the one kernel the HNSW re-rank uses (kernels::dot),
  // however it is threaded: the CLI (threads) and the server (one thread per query) then give
  // bit-identical similarities, and equal ones (copies of an image) tie-break by row alike. An
  // OpenBLAS sgemv here rounded differently from the server's loop, so near-ties came out in
  // another order in `irbis search --json` than in /api/search (e2e.json_equality, 1 run in ~12).
  std::vector<Neighbor> exact(const float* q, int k, int64_t exclude) const {
    if (n() == 0 || k <= 0) return {};
    std::vector<float> sims(static_cast<size_t>(n()));
    auto score = [&](int64_t r) { sims[size_t(r)] = kernels::dot(q, emb.data.ptr<float>(int(r)), size_t(dim())); };
    // Threads pay for their start only over many rows (a scan of >= 16 MB of vectors).
    if (opts.single_thread_queries || n() * int64_t(dim()) < (int64_t(1) << 22)) {
      for (int64_t r = 0; r < n(); ++r) score(r);
    } else {
      parallel_for(n(), opts.threads, score);
    }
    return top_k(sims.data(), n(), k, exclude);
  }

  // Candidates from the graph, re-ranked exactly. The beam is max(ef_search, want): hnswlib
  // widens its ef (fixed at ef_search when the graph is opened) to the count asked for, so no
  // query changes the graph's state and concurrent queries with different k are safe.
  std::vector<Neighbor> approx(const float* q, const float* pq, int k, int64_t exclude) const {
    const size_t want = size_t(opts.rerank ? std::max(opts.rerank_factor * k, k + 32)
                                           : std::max({opts.ef_search, opts.rerank_factor * k, k + 32}));
    auto res = graph->searchKnn(pq, std::min(want, size_t(graph->cur_element_count)));
    std::vector<Neighbor> v;
    while (!res.empty()) {
      const int64_t r = row(int64_t(res.top().second));
      const float res_dist = res.top().first;
      res.pop();
      if (r < 0 || r == exclude) continue;
      v.push_back({r, opts.rerank ? kernels::dot(q, emb.data.ptr<float>(int(r)), size_t(dim())) : 1.f - res_dist});
    }
    std::sort(v.begin(), v.end(), [](const Neighbor& a, const Neighbor& b) {
      return a.similarity != b.similarity ? a.similarity > b.similarity : a.row < b.row;
    });
    if (v.size() > size_t(k)) v.resize(size_t(k));
    return v;
  }
};

VectorSearch::VectorSearch() : impl_(std::make_unique<Impl>()) {}
VectorSearch::~VectorSearch() = default;

std::unique_ptr<VectorSearch> VectorSearch::open(const Collection& coll, const std::string& model,
                                                 const IndexOptions& opts) {
  std::unique_ptr<VectorSearch> vs(new VectorSearch());
  auto& m = *vs->impl_;
  m.opts = opts;
  MappedEmbeddings e = map_embeddings(coll, model);
  m.emb = std::move(e.matrix);
  m.mapping = std::move(e.mapping);
  m.model = m.emb.card.name;
  for (const auto& r : m.emb.records) m.ids.push_back(r.id);
  m.index_rows();
  if (opts.persist) m.dir = coll.dir() / kVectorIndexDir;
  m.open_index();
  return vs;
}

std::unique_ptr<VectorSearch> VectorSearch::from_matrix(cv::Mat data, std::vector<int64_t> ids,
                                                        const IndexOptions& opts) {
  IRBIS_THROW_IF_NOT(data.type() == CV_32F && data.isContinuous() && int64_t(ids.size()) == data.rows, Error,
                     "from_matrix needs a continuous CV_32F matrix with one id per row");
  std::unique_ptr<VectorSearch> vs(new VectorSearch());
  auto& m = *vs->impl_;
  m.opts = opts;
  m.emb.data = std::move(data);
  m.ids = std::move(ids);
  m.index_rows();
  m.open_index();
  return vs;
}

int64_t VectorSearch::size() const { return impl_->n(); }
int VectorSearch::dim() const { return impl_->dim(); }
const cv::Mat& VectorSearch::data() const { return impl_->emb.data; }
const std::vector<int64_t>& VectorSearch::ids() const { return impl_->ids; }
const std::vector<ImageRecord>& VectorSearch::records() const { return impl_->emb.records; }
const ModelCard& VectorSearch::card() const { return impl_->emb.card; }
const IndexStatus& VectorSearch::status() const { return impl_->status; }
int64_t VectorSearch::saved_self_join_reads() const { return impl_->saved_self_join_reads.load(); }
int64_t VectorSearch::row_of_id(int64_t id) const { return impl_->row(id); }

int64_t VectorSearch::row_of_path(const std::string& path) const {
  std::vector<std::string> tries{path};
  std::error_code ec;
  const auto abs = fs::absolute(path, ec);
  if (!ec) tries.push_back(abs.lexically_normal().string());
  const auto canon = fs::weakly_canonical(path, ec);
  if (!ec) tries.push_back(canon.string());
  const auto& recs = records();
  for (const auto& t : tries)
    for (size_t r = 0; r < recs.size(); ++r)
      if (recs[r].path == t) return int64_t(r);
  return -1;
}

std::vector<Neighbor> VectorSearch::search_exact(const float* q, int k, int64_t exclude) const {
  return impl_->exact(q, k, exclude);
}

std::vector<std::vector<Neighbor>> VectorSearch::search_exact_rows(const std::vector<int64_t>& rows, int k) const {
  const auto& m = *impl_;
  const int64_t n = m.n();
  const size_t d = size_t(m.dim());
  std::vector<std::vector<Neighbor>> out(rows.size());
  std::vector<int64_t> valid;  // positions in `rows` of the rows in range
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] >= 0 && rows[i] < n) valid.push_back(int64_t(i));
  if (valid.empty() || k <= 0) return out;
  const int64_t nq = int64_t(valid.size());
  std::vector<const float*> queries;
  for (const int64_t v : valid) queries.push_back(m.emb.data.ptr<float>(int(rows[size_t(v)])));
  // sims is query-major (each query's top_k reads one contiguous row); a block of data rows at a
  // time is scored against every query while it is in cache.
  std::vector<float> sims(size_t(nq) * size_t(n));
  const int64_t block = 64;
  parallel_for(
      (n + block - 1) / block, m.opts.threads,
      [&](int64_t b) {
        const int64_t lo = b * block, hi = std::min(n, lo + block);
        for (int64_t j = 0; j < nq; ++j)
          for (int64_t r = lo; r < hi; ++r)
            sims[size_t(j) * size_t(n) + size_t(r)] = kernels::dot(queries[size_t(j)], m.emb.data.ptr<float>(int(r)), d);
      },
      1);
  parallel_for(nq, m.opts.threads, [&](int64_t j) {
    const size_t at = size_t(valid[size_t(j)]);
    out[at] = top_k(sims.data() + size_t(j) * size_t(n), n, k, rows[at]);
  }, 1);
  return out;
}

std::vector<Neighbor> VectorSearch::search(const float* q, int k, int64_t exclude) const {
  if (!impl_->graph) return impl_->exact(q, k, exclude);
  const auto pq = impl_->project(q, 1);
  return impl_->approx(q, pq.data(), k, exclude);
}

std::vector<std::vector<Neighbor>> VectorSearch::self_knn_exact(int k) const {
  const auto& m = *impl_;
  const int64_t n = m.n();
  std::vector<std::vector<Neighbor>> out(static_cast<size_t>(n));
  const int64_t block = 256;
  std::vector<float> sims(size_t(block * n));
  for (int64_t b = 0; b < n; b += block) {
    const int64_t rows = std::min(block, n - b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(n), m.dim(), 1.f, m.emb.data.ptr<float>(int(b)),
                m.dim(), m.emb.data.ptr<float>(), m.dim(), 0.f, sims.data(), int(n));
    parallel_for(rows, m.opts.threads,
                 [&](int64_t i) { out[size_t(b + i)] = rescored_top_k(sims.data() + i * n, n, k, b + i, m.emb.data); });
  }
  return out;
}

std::vector<std::vector<Neighbor>> VectorSearch::knn_exact_rows(const std::vector<int64_t>& rows, int k) const {
  const auto& m = *impl_;
  const int64_t n = m.n();
  const int dim = m.dim();
  std::vector<int64_t> valid;  // positions in `rows` of the rows in range
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] >= 0 && rows[i] < n) valid.push_back(int64_t(i));
  std::vector<std::vector<Neighbor>> out(rows.size());
  const int64_t block = 256;
  std::vector<float> queries(size_t(std::min<int64_t>(block, int64_t(valid.size())) * dim));
  std::vector<float> sims(size_t(std::min<int64_t>(block, int64_t(valid.size())) * n));
  for (int64_t b = 0; b < int64_t(valid.size()); b += block) {
    const int64_t nq = std::min(block, int64_t(valid.size()) - b);
    for (int64_t i = 0; i < nq; ++i)
      std::copy_n(m.emb.data.ptr<float>(int(rows[size_t(valid[size_t(b + i)])])), dim, queries.data() + i * dim);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(nq), int(n), dim, 1.f, queries.data(), dim,
                m.emb.data.ptr<float>(), dim, 0.f, sims.data(), int(n));
    parallel_for(nq, m.opts.threads, [&](int64_t i) {
      const size_t at = size_t(valid[size_t(b + i)]);
      out[at] = rescored_top_k(sims.data() + i * n, n, k, rows[at], m.emb.data);
    });
  }
  return out;
}

bool VectorSearch::self_knn_is_exact() const { return impl_->status.kind == IndexKind::exact; }

std::vector<std::vector<Neighbor>> VectorSearch::self_knn(int k, const RowsToRefine& refine) const {
  const auto& m = *impl_;
  if (self_knn_is_exact()) return self_knn_exact(k);
  if (m.opts.self_join || !m.graph) {
    SelfJoinOptions jo = m.opts.join;
    if (jo.threads == 0) jo.threads = m.opts.threads;
    // A caller's RowsToRefine depends on the answer it is given: only the plain answer is saved.
    if (refine || m.dir.empty()) return self_join_knn(m.emb.data, k, jo, nullptr, refine);
    return impl_->saved_self_join(k, jo);
  }
  std::vector<std::vector<Neighbor>> out(size_t(m.n()));
  parallel_for(m.n(), m.opts.threads, [&](int64_t r) {
    const float* q = m.emb.data.ptr<float>(int(r));
    const auto pq = m.project(q, 1);
    out[size_t(r)] = m.approx(q, pq.data(), k, r);
  });
  if (refine) {
    const std::vector<int64_t> rows = refine(out);
    parallel_for(int64_t(rows.size()), m.opts.threads, [&](int64_t i) {
      const int64_t r = rows[size_t(i)];
      if (r >= 0 && r < m.n()) out[size_t(r)] = m.exact(m.emb.data.ptr<float>(int(r)), k, r);
    });
  }
  return out;
}

void VectorSearch::save_hnsw(const fs::path& file) const {
  if (!impl_->graph) throw UsageError("save_hnsw: the index is exact, there is no graph");
  FileReplacer out(file);
  write_hnsw(*impl_->graph, out);
  out.commit();
}

std::vector<std::vector<size_t>> index_files::search_hnsw_file(const fs::path& file, int dim,
                                                              std::span<const float> queries, int k) {
  IpSpace space{size_t(dim)};
  Graph g(&space, file.string());
  std::vector<std::vector<size_t>> out;
  for (size_t q = 0; q + size_t(dim) <= queries.size(); q += size_t(dim)) {
    auto heap = g.searchKnn(queries.data() + q, size_t(k));
    std::vector<size_t> labels;
    for (; !heap.empty(); heap.pop()) labels.push_back(heap.top().second);
    out.push_back(std::move(labels));
  }
  return out;
}

fs::path saved_self_join_file(const fs::path& collection_dir, const std::string& model, int k) {
  return collection_dir / kVectorIndexDir / (model + ".self" + std::to_string(k) + ".knn");
}

void update_vector_index_if_present(const Collection& coll, const std::string& model) noexcept {
  try {
    const std::string name = model.empty() ? kDefaultModel : model;  // registry name = card name
    std::error_code ec;
    if (!fs::exists(coll.dir() / kVectorIndexDir / (name + ".json"), ec)) return;  // no index yet: nothing to do
    IndexOptions o;
    o.kind = IndexKind::hnsw;
    VectorSearch::open(coll, name, o);
  } catch (const std::exception& e) {
    warn(std::string("vector index not updated (") + e.what() + "); the next search repairs it");
  }
}

}  // namespace irbis
