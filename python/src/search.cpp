// _VectorIndex: irbis::VectorSearch opened on a collection (a snapshot of its embeddings), searched
// by an image file (embedded on the fly with the collection's model), an indexed image (id or
// path) or a vector, and irbis::rank_unique_images. What `irbis search` / `irbis unique` compute.
#include <cmath>
#include <limits>
#include <mutex>

#include "common.h"
#include "irbis/embeddings.h"
#include "irbis/errors.h"
#include "irbis/results.h"
#include "irbis/search.h"
#include "irbis/text.h"

namespace irbis::py_bind {

namespace {

// VectorSearch answers from memory, independent of the collection after open() (closing the
// collection does not invalidate it). HNSW queries set the graph's beam, so queries are serialised;
// the embedder for query files is made on first use (loading the ONNX file takes a while).
class PyVectorIndex {
 public:
  explicit PyVectorIndex(std::unique_ptr<VectorSearch> vs, std::string collection)
      : vs_(std::move(vs)), collection_(std::move(collection)) {}
  const VectorSearch& vs() const { return *vs_; }
  const std::string& collection() const { return collection_; }

  // Runs fn(vs, embedder-getter) under the lock; call without the GIL.
  template <typename F>
  auto locked(F&& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    return fn(*vs_, [this]() -> Embedder& {
      if (!embedder_) embedder_ = std::make_unique<Embedder>(vs_->card());
      return *embedder_;
    });
  }

 private:
  std::unique_ptr<VectorSearch> vs_;
  std::string collection_;
  std::unique_ptr<Embedder> embedder_;
  std::mutex mu_;
};

py::dict hits_columns(const VectorSearch& vs, const std::vector<Neighbor>& hits) {
  std::vector<int64_t> rank, id;
  std::vector<double> sim, dist;
  std::vector<std::string> path;
  for (size_t i = 0; i < hits.size(); ++i) {
    const auto& r = vs.records()[size_t(hits[i].row)];
    rank.push_back(int64_t(i + 1));
    id.push_back(r.id);
    path.push_back(r.path);
    sim.push_back(hits[i].similarity);
    dist.push_back(1.0 - double(hits[i].similarity));
  }
  py::dict d;
  d["rank"] = vector_array(std::move(rank));
  d["id"] = vector_array(std::move(id));
  d["path"] = fs_str_list(path);
  d["similarity"] = vector_array(std::move(sim));
  d["distance"] = vector_array(std::move(dist));
  return d;
}

py::array_t<bool> bool_array(const std::vector<bool>& v) {
  py::array_t<bool> a(py::ssize_t(v.size()));
  bool* w = a.mutable_data();
  for (size_t i = 0; i < v.size(); ++i) w[i] = v[i];
  return a;
}

// A search answer: the columns and what the query was (the CLI's JSON header).
py::dict search_answer(const VectorSearch& vs, const std::vector<Neighbor>& hits, const std::string& query) {
  py::dict d;
  d["columns"] = hits_columns(vs, hits);
  d["query"] = fs_str(query);
  d["model"] = vs.card().name;
  d["index"] = index_kind_name(vs.status().kind);
  return d;
}

// k clamped to the rows there are to return (VectorSearch returns fewer anyway; the clamp keeps
// the HNSW beam from growing to an absurd k).
int clamp_k(const VectorSearch& vs, int k, bool excluded) {
  if (k <= 0) throw UsageError("k must be a positive number of results, not " + std::to_string(k));
  return int(std::min<int64_t>(k, vs.size() - (excluded ? 1 : 0)));
}

}  // namespace

void bind_search(py::module_& m, py::class_<PyCollection>& coll_cls) {
  (void)coll_cls;
  py::class_<PyVectorIndex> cls(m, "_VectorIndex",
                                "irbis::VectorSearch over a collection's embeddings (see irbis.VectorIndex)");
  cls.def_static(
         "open",
         [](const PyCollection& c, const std::string& model, const std::string& index, int64_t hnsw_min, int ef) {
           auto coll = c.get();
           IndexOptions o;
           o.kind = parse_index_kind(index);
           if (hnsw_min > 0) o.hnsw_min_images = hnsw_min;
           if (ef > 0) o.ef_search = ef;
           std::unique_ptr<VectorSearch> vs;
           {
             py::gil_scoped_release nogil;
             vs = VectorSearch::open(*coll, model, o);
           }
           return std::make_unique<PyVectorIndex>(std::move(vs), c.dir());
         },
         py::arg("collection"), py::arg("model"), py::arg("index") = "auto", py::arg("hnsw_min") = 0,
         py::arg("ef") = 0,
         "VectorSearch::open: loads the embeddings of `model`, opens/repairs/builds the index "
         "(index: auto, exact or hnsw; 0 = the defaults of IndexOptions).")
      .def_property_readonly("size", [](const PyVectorIndex& v) { return v.vs().size(); })
      .def_property_readonly("dim", [](const PyVectorIndex& v) { return v.vs().dim(); })
      .def_property_readonly("model", [](const PyVectorIndex& v) { return v.vs().card().name; })
      .def_property_readonly("kind", [](const PyVectorIndex& v) { return std::string(index_kind_name(v.vs().status().kind)); })
      .def_property_readonly("collection", [](const PyVectorIndex& v) { return fs_str(v.collection()); })
      .def_property_readonly("status",
                             [](const PyVectorIndex& v) {
                               const IndexStatus& s = v.vs().status();
                               py::dict d;
                               d["kind"] = index_kind_name(s.kind);
                               d["loaded"] = s.loaded;
                               d["built"] = s.built;
                               d["rebuild_reason"] = s.rebuild_reason;
                               d["added"] = s.added;
                               d["tombstoned"] = s.tombstoned;
                               d["tombstones"] = s.tombstones;
                               d["indexed_dim"] = s.indexed_dim;
                               d["seconds"] = s.seconds;
                               return d;
                             })
      .def(
          "search_file",
          [](PyVectorIndex& v, const std::string& file, int k) {
            std::vector<Neighbor> hits;
            {
              py::gil_scoped_release nogil;
              hits = v.locked([&](const VectorSearch& vs, auto embedder) {
                const cv::Mat q = embed_file(embedder(), file);
                return vs.search(q.ptr<float>(), clamp_k(vs, k, false));
              });
            }
            return search_answer(v.vs(), hits, file);
          },
          py::arg("file"), py::arg("k") = 10,
          "The k rows most similar to an image file, embedded on the fly with the index's model.")
      .def(
          "search_indexed",
          [](PyVectorIndex& v, int64_t id, const std::string& path, int k) {
            const VectorSearch& vs = v.vs();
            const int64_t row = id >= 0 ? vs.row_of_id(id) : vs.row_of_path(path);
            if (row < 0)
              throw UsageError(id >= 0 ? "search: no live image with id " + std::to_string(id) + " in " +
                                             display_path(v.collection())
                                       : "search: '" + display_path(path) + "' is not an indexed image of " +
                                             display_path(v.collection()) +
                                             " (give the file as the query to embed it on the fly)");
            std::vector<Neighbor> hits;
            {
              py::gil_scoped_release nogil;
              hits = v.locked([&](const VectorSearch& s, auto) {
                return s.search(s.data().ptr<float>(int(row)), clamp_k(s, k, true), row);
              });
            }
            return search_answer(vs, hits, vs.records()[size_t(row)].path);
          },
          py::arg("id") = -1, py::arg("path") = "", py::arg("k") = 10,
          "The k rows most similar to an indexed image (by id >= 0, else by path), itself excluded.")
      .def(
          "search_vector",
          [](PyVectorIndex& v, py::array_t<float, py::array::c_style | py::array::forcecast> q, int k) {
            const VectorSearch& vs = v.vs();
            if (q.ndim() != 1 || q.shape(0) != vs.dim())
              throw UsageError("query vector must have " + std::to_string(vs.dim()) + " values (the " +
                               vs.card().name + " descriptor), not shape (" +
                               (q.ndim() ? std::to_string(q.shape(0)) : std::string()) +
                               (q.ndim() > 1 ? ", ..." : "") + ")");
            // The index holds L2-normalised rows; similarities are cosines only for a unit query.
            cv::Mat unit;
            cv::normalize(cv::Mat(1, vs.dim(), CV_32F, const_cast<float*>(q.data())), unit);
            if (!std::isfinite(cv::norm(unit)) || cv::norm(unit) < 0.5)
              throw UsageError("query vector must be finite and not all zeros");
            std::vector<Neighbor> hits;
            {
              py::gil_scoped_release nogil;
              hits = v.locked([&](const VectorSearch& s, auto) { return s.search(unit.ptr<float>(), clamp_k(s, k, false)); });
            }
            return search_answer(vs, hits, "");
          },
          py::arg("vector"), py::arg("k") = 10, "The k rows most similar to a vector (normalised to unit length first).")
      .def(
          "unique",
          [](PyVectorIndex& v, int top, int density_k) {
            if (top < 0) throw UsageError("top must be >= 0 (0 = every image), not " + std::to_string(top));
            if (density_k < 1) throw UsageError("density_k must be >= 1, not " + std::to_string(density_k));
            UniqueResult res;
            {
              py::gil_scoped_release nogil;
              res = v.locked([&](const VectorSearch& s, auto) { return rank_unique_images(s, top, density_k); });
            }
            const VectorSearch& vs = v.vs();
            const BoxSummary& s = res.summary;
            const size_t shown = top == 0 ? res.rows.size() : std::min<size_t>(size_t(top), res.rows.size());
            const double nan = std::numeric_limits<double>::quiet_NaN();
            std::vector<int64_t> rank, id, neighbor_id;
            std::vector<double> distance, density;
            std::vector<std::string> path;
            std::vector<bool> exact, outlier;
            py::list neighbor;
            for (size_t i = 0; i < shown; ++i) {
              const UniqueRow& u = res.rows[i];
              const bool has = u.neighbor >= 0;
              rank.push_back(int64_t(i + 1));
              id.push_back(vs.ids()[size_t(u.row)]);
              path.push_back(vs.records()[size_t(u.row)].path);
              distance.push_back(has ? u.distance : nan);
              density.push_back(has ? u.density : nan);
              neighbor.append(has ? py::object(fs_str(vs.records()[size_t(u.neighbor)].path)) : py::object(py::none()));
              neighbor_id.push_back(has ? vs.ids()[size_t(u.neighbor)] : -1);
              exact.push_back(u.exact);
              outlier.push_back(std::string(outlier_side(s, u)) == "high");
            }
            // The columns of unique.csv / `irbis unique --format csv` (unique_table), typed.
            py::dict cols;
            cols["rank"] = vector_array(std::move(rank));
            cols["id"] = vector_array(std::move(id));
            cols["path"] = fs_str_list(path);
            cols["distance"] = vector_array(std::move(distance));
            cols["neighbor_id"] = vector_array(std::move(neighbor_id));
            cols["neighbor_path"] = neighbor;
            cols["density"] = vector_array(std::move(density));
            cols["outlier"] = bool_array(outlier);
            cols["exact"] = bool_array(exact);
            py::dict sum;  // box_summary_json, the CLI's and the API's "summary"
            const nlohmann::json summary = box_summary_json(s);
            for (const auto& [key, value] : summary.items()) {
              if (value.is_number_integer()) sum[py::str(key)] = value.get<int64_t>();
              else sum[py::str(key)] = value.get<double>();
            }
            py::dict d;
            d["columns"] = cols;
            d["summary"] = sum;
            d["images"] = vs.size();
            d["top_exact"] = res.top_exact;
            d["rechecked"] = res.rechecked;
            d["model"] = vs.card().name;
            d["index"] = index_kind_name(vs.status().kind);
            return d;
          },
          py::arg("top") = 20, py::arg("density_k") = 5,
          "irbis::rank_unique_images: the `top` most unique rows (0 = all) and the boxplot summary.");
}

}  // namespace irbis::py_bind
