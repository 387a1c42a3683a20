// Analyses: duplicate groups, clusters, labels (on a collection), and the same C++ functions on
// numpy arrays (near pairs of hashes, clustering any matrix).
#include <limits>

#include "common.h"
#include "irbis/cluster.h"
#include "irbis/collection_analysis.h"
#include "irbis/dupes.h"
#include "irbis/issues.h"
#include "irbis/results.h"
#include "irbis/errors.h"
#include "irbis/labels.h"
#include "irbis/palette.h"
#include "irbis/text.h"

namespace irbis::py_bind {

py::dict records_columns(const std::vector<ImageRecord>& recs);

namespace {

ClusterParams cluster_params(int k, bool auto_k, int k_min, int k_max, int restarts, uint64_t seed,
                             const std::string& map) {
  ClusterParams p;
  p.k = k;
  p.auto_k = auto_k;
  p.k_min = k_min;
  p.k_max = k_max;
  p.restarts = restarts;
  p.seed = seed;
  p.tsne.seed = seed;
  p.map = map;
  if (!auto_k && k <= 0) throw UsageError("cluster: give k (a positive number of clusters) or auto=True");
  return p;
}

// Everything in a ClusterReport, as plain Python values (items are in the order of `names`).
py::dict cluster_result(const ClusterReport& rep, const std::vector<std::string>& raw_names,
                        const std::vector<int64_t>& ids, const std::vector<std::string>& classes) {
  const size_t n = raw_names.size();
  std::vector<std::string> names;
  names.reserve(n);
  for (const auto& s : raw_names) names.push_back(display_path(s));
  py::dict items;
  items["path"] = fs_str_list(raw_names);
  if (!ids.empty()) items["id"] = vector_array(std::vector<int64_t>(ids));
  items["cluster"] = vector_array(std::vector<int>(rep.kmeans.labels));
  std::vector<float> x(n, 0.f), y(n, 0.f);
  for (size_t i = 0; i < n && 2 * i + 1 < rep.map.size(); ++i) {
    x[i] = rep.map[2 * i];
    y[i] = rep.map[2 * i + 1];
  }
  items["x"] = vector_array(std::move(x));
  items["y"] = vector_array(std::move(y));
  items["distance_to_centroid"] = vector_array(std::vector<float>(rep.kmeans.distances));

  py::dict table;
  std::vector<int> ks;
  std::vector<double> sil, inertia;
  for (const auto& t : rep.table) {
    ks.push_back(t.k);
    sil.push_back(t.silhouette);
    inertia.push_back(t.inertia);
  }
  table["k"] = vector_array(std::move(ks));
  table["silhouette"] = vector_array(std::move(sil));
  table["inertia"] = vector_array(std::move(inertia));

  py::dict clusters;
  std::vector<int> cl;
  std::vector<int64_t> size;
  std::vector<double> mean;
  py::list medoid;
  for (const auto& c : rep.clusters) {
    cl.push_back(c.cluster);
    size.push_back(c.size);
    mean.push_back(c.mean_distance);
    medoid.append(c.medoid >= 0 ? py::object(fs_str(raw_names[size_t(c.medoid)])) : py::object(py::none()));
  }
  clusters["cluster"] = vector_array(std::move(cl));
  clusters["size"] = vector_array(std::move(size));
  clusters["medoid"] = medoid;
  clusters["mean_distance"] = vector_array(std::move(mean));

  py::dict d;
  d["k"] = rep.k;
  d["auto"] = rep.auto_k;
  d["elbow_k"] = rep.elbow_k;
  d["best_silhouette"] = rep.best_silhouette;
  d["null_silhouette"] = rep.null_silhouette;
  d["clear_structure"] = rep.clear_structure;
  d["inertia"] = rep.kmeans.inertia;
  d["map_method"] = rep.map_method;
  d["items"] = items;
  d["k_table"] = table;
  d["clusters"] = clusters;
  std::vector<float> centroids(rep.kmeans.centroids);
  const float* cdata = centroids.data();  // the buffer moves with the vector into the array's owner
  d["centroids"] = owned_array<float>({rep.kmeans.k, rep.kmeans.d}, cdata, std::move(centroids));
  if (rep.scores) {
    py::dict s;
    s["purity"] = rep.scores->purity;
    s["nmi"] = rep.scores->nmi;
    s["ari"] = rep.scores->ari;
    d["scores"] = s;
  } else {
    d["scores"] = py::none();
  }
  d["classes"] = classes;
  d["report_json"] = cluster_report_json(rep, names).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  d["k_table_text"] = format_k_table(rep);
  return d;
}

}  // namespace

void bind_analysis(py::module_& m, py::class_<PyCollection>& cls) {
  cls.def(
         "match",
         [](const PyCollection& c, const std::vector<std::string>& paths, int threshold, bool cnn,
            double min_similarity, const std::string& model, const std::string& index, bool verify) {
           auto coll = c.get();
           MatchOptions o;
           if (threshold < 0 || threshold > 64)
             throw UsageError("threshold must be a pHash Hamming distance in 0..64, not " + std::to_string(threshold));
           if (min_similarity < -1 || min_similarity > 1)
             throw UsageError("min_similarity must be a cosine similarity in -1..1, not " + std::to_string(min_similarity));
           o.max_distance = threshold;
           o.cnn = cnn;
           o.min_similarity = min_similarity;
           o.model = model;
           o.index.kind = parse_index_kind(index);
           o.verify = verify;
           nlohmann::json j;
           {
             py::gil_scoped_release nogil;
             j = match_json(match_images(*coll, paths, o), o);
           }
           // The JSON of `irbis match --json` (results.h), parsed by the Python side.
           return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
         },
         py::arg("paths"), py::arg("threshold") = MatchOptions{}.max_distance, py::arg("cnn") = true,
         py::arg("min_similarity") = MatchOptions{}.min_similarity, py::arg("model") = std::string(kDefaultModel),
         py::arg("index") = "auto", py::arg("verify") = true,
         "match_images: which collection images each file (or folder's images) duplicates; match_json as text")
      .def(
         "dupes",
         [](const PyCollection& c, int threshold, bool cnn, double min_similarity, const std::string& model,
            const std::string& index) {
           auto coll = c.get();
           DupesParams params;
           if (threshold < 0 || threshold > 64)
             throw UsageError("threshold must be a pHash Hamming distance in 0..64, not " + std::to_string(threshold));
           params.max_distance = threshold;
           CnnDupesOptions cnn_opts;
           cnn_opts.enabled = cnn;
           if (min_similarity < -1 || min_similarity > 1)
             throw UsageError("min_similarity must be a cosine similarity in -1..1, not " + std::to_string(min_similarity));
           cnn_opts.min_similarity = min_similarity;
           cnn_opts.model = model;
           cnn_opts.index.kind = parse_index_kind(index);
           CollectionDupes found;
           {
             py::gil_scoped_release nogil;
             found = find_collection_dupes(*coll, params, cnn_opts);
           }
           // The columns of `irbis dupes --format csv` (dupes_table), typed: counts as int64, the
           // evidence that may be missing (similarity, variant_distance, dhash_distance, inliers) as float64 with
           // NaN, variant as str or None.
           const Table t = dupes_table(found, cnn);
           py::dict cols;
           for (size_t col = 0; col < t.header.size(); ++col) {
             const std::string& name = t.header[col];
             if (name == "path") {
               std::vector<std::string> v;
               for (const auto& r : t.rows) v.push_back(r[col]);
               cols["path"] = fs_str_list(v);
             } else if (name == "role" || name == "kind" || name == "variant") {
               py::list v;
               for (const auto& r : t.rows) {
                 if (name == "variant" && r[col].empty()) v.append(py::none());
                 else v.append(r[col]);
               }
               cols[name.c_str()] = v;
             } else if (name == "similarity" || name == "variant_distance" || name == "dhash_distance" ||
                        name == "inliers") {
               std::vector<double> v;
               for (const auto& r : t.rows)
                 v.push_back(r[col].empty() ? std::numeric_limits<double>::quiet_NaN() : std::stod(r[col]));
               cols[name.c_str()] = vector_array(std::move(v));
             } else {
               std::vector<int64_t> v;
               for (const auto& r : t.rows) v.push_back(std::stoll(r[col]));
               cols[name.c_str()] = vector_array(std::move(v));
             }
           }
           py::dict d;
           d["columns"] = cols;
           d["images"] = found.records.size();
           d["groups"] = found.groups.size();
           d["duplicates"] = found.duplicates();
           d["variants"] = found.variants;
           d["pairs_verified"] = found.pairs_verified;
           d["verify_seconds"] = found.verify_seconds;
           d["pairs_checked"] = found.pairs_checked;
           d["check_seconds"] = found.check_seconds;
           return d;
         },
         py::arg("threshold") = DupesParams{}.max_distance, py::arg("cnn") = false,
         py::arg("min_similarity") = CnnDupesOptions{}.min_similarity,
         py::arg("model") = std::string(kDefaultModel), py::arg("index") = "auto",
         "irbis::find_collection_dupes: the groups `irbis dupes` prints.")
      .def(
          "issues",
          [](const PyCollection& c, const std::string& model, int neighbours, double z) {
            auto coll = c.get();
            IssueParams params;
            params.model = model;
            if (neighbours < 1) throw UsageError("neighbours must be at least 1, not " + std::to_string(neighbours));
            params.neighbours = neighbours;
            params.z = z;
            std::string out;
            {
              py::gil_scoped_release nogil;
              out = issues_json(find_collection_issues(*coll, params))
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            }
            return out;  // `irbis issues --format json` (results.h: issues_json)
          },
          py::arg("model") = std::string(kDefaultModel), py::arg("neighbours") = IssueParams{}.neighbours,
          py::arg("z") = IssueParams{}.z, "irbis::find_collection_issues as issues_json text: what `irbis issues` lists.")
      .def(
          "search_colors",
          [](const PyCollection& c, const std::string& colors, int k) {
            auto coll = c.get();
            if (k < 1) throw UsageError("k must be at least 1, not " + std::to_string(k));
            std::string out;
            {
              py::gil_scoped_release nogil;
              const ColorSearch found = search_collection_colors(*coll, colors, k);
              out = color_search_json(found.query, found.hits).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            }
            return out;  // `irbis search --colors --format json` (results.h: color_search_json)
          },
          py::arg("colors"), py::arg("k") = 10,
          "irbis::search_collection_colors as color_search_json text: what `irbis search --colors` lists.")
      .def(
          "cluster",
          [](const PyCollection& c, int k, bool auto_k, int k_min, int k_max, const std::string& features,
             const std::string& model, const std::string& labels, const std::string& map, int restarts,
             uint64_t seed) {
            auto coll = c.get();
            const ClusterParams p = cluster_params(k, auto_k, k_min, k_max, restarts, seed, map);
            FeatureMatrix in;
            ClusterReport rep;
            LabelSet ls;
            {
              py::gil_scoped_release nogil;
              in = load_feature_matrix(*coll, features, model);
              if (in.records.empty()) throw UsageError(c.dir() + ": no indexed images to cluster");
              if (!labels.empty()) ls = load_labels(labels, in.records);
              rep = analyze_clusters(MatrixView(in.data), p, ls.label);
            }
            std::vector<std::string> names;
            std::vector<int64_t> ids;
            for (const auto& r : in.records) {
              names.push_back(r.path);
              ids.push_back(r.id);
            }
            py::dict d = cluster_result(rep, names, ids, ls.classes);
            d["features"] = features;
            return d;
          },
          py::arg("k") = 0, py::arg("auto") = false, py::arg("k_min") = 2, py::arg("k_max") = 30,
          py::arg("features") = "cnn-semantic", py::arg("model") = "", py::arg("labels") = "",
          py::arg("map") = "tsne", py::arg("restarts") = 5, py::arg("seed") = 1,
          "irbis::load_feature_matrix + load_labels + analyze_clusters: what `irbis cluster` computes.")
      .def(
          "labels",
          [](const PyCollection& c, const std::string& spec) {
            auto coll = c.get();
            const auto recs = coll->records(ImageStatus::ok);
            const LabelSet ls = load_labels(spec, recs);
            std::vector<std::string> paths;
            std::vector<int64_t> ids;
            py::list label;
            for (size_t i = 0; i < recs.size(); ++i) {
              paths.push_back(recs[i].path);
              ids.push_back(recs[i].id);
              label.append(ls.label[i] >= 0 ? py::object(py::str(ls.classes[size_t(ls.label[i])])) : py::none());
            }
            py::dict cols;
            cols["id"] = vector_array(std::move(ids));
            cols["path"] = fs_str_list(paths);
            cols["label"] = label;
            return py::make_tuple(cols, ls.classes);
          },
          py::arg("spec"), "irbis::load_labels over the live images: 'folders' or a path,label CSV.");

  // ---- numpy in
  m.def(
      "find_near_pairs",
      [](py::array_t<uint64_t, py::array::c_style | py::array::forcecast> hashes, int max_distance, int threads) {
        if (hashes.ndim() != 1) throw py::type_error("hashes must be a 1-D array of uint64");
        std::vector<NearPair> pairs;
        {
          std::span<const uint64_t> s(hashes.data(), size_t(hashes.shape(0)));
          py::gil_scoped_release nogil;
          pairs = find_near_pairs(s, max_distance, threads);
        }
        py::array_t<int64_t> out({py::ssize_t(pairs.size()), py::ssize_t(3)});
        auto w = out.mutable_unchecked<2>();
        for (size_t i = 0; i < pairs.size(); ++i) {
          w(i, 0) = pairs[i].i;
          w(i, 1) = pairs[i].j;
          w(i, 2) = pairs[i].distance;
        }
        return out;
      },
      py::arg("hashes"), py::arg("max_distance"), py::arg("threads") = 0,
      "irbis::find_near_pairs: (m, 3) int64 rows i, j, distance (i < j), sorted.");
  m.def(
      "cluster_array",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> x, int k, bool auto_k, int k_min, int k_max,
         py::object truth, const std::string& map, int restarts, uint64_t seed) {
        if (x.ndim() != 2) throw py::type_error("x must be a 2-D (n, d) array");
        const ClusterParams p = cluster_params(k, auto_k, k_min, k_max, restarts, seed, map);
        std::vector<int> t;
        if (!truth.is_none()) t = truth.cast<std::vector<int>>();
        if (!t.empty() && py::ssize_t(t.size()) != x.shape(0))
          throw UsageError("truth has " + std::to_string(t.size()) + " labels for " + std::to_string(x.shape(0)) +
                           " rows");
        ClusterReport rep;
        {
          MatrixView mv(x.data(), x.shape(0), int(x.shape(1)));
          py::gil_scoped_release nogil;
          rep = analyze_clusters(mv, p, t);
        }
        std::vector<std::string> names;
        for (py::ssize_t i = 0; i < x.shape(0); ++i) names.push_back(std::to_string(i));
        py::dict d = cluster_result(rep, names, {}, {});
        return d;
      },
      py::arg("x"), py::arg("k") = 0, py::arg("auto") = false, py::arg("k_min") = 2, py::arg("k_max") = 30,
      py::arg("truth") = py::none(), py::arg("map") = "pca", py::arg("restarts") = 5, py::arg("seed") = 1,
      "irbis::analyze_clusters on any float32 matrix.");
}

}  // namespace irbis::py_bind
