// _Collection: open/create/close, index (GIL released, progress callback), records, summary,
// feature rows and embeddings as numpy arrays (no copy).
#include <chrono>
#include <cstdio>

#include "common.h"
#include "irbis/collection_analysis.h"
#include "irbis/embeddings.h"
#include "irbis/errors.h"
#include "irbis/model.h"
#include "irbis/pipeline.h"
#include "irbis/text.h"

namespace irbis::py_bind {

namespace {

py::dtype feature_dtype(const std::string& dtype) {
  if (dtype == "u64") return py::dtype::of<uint64_t>();
  if (dtype == "f32") return py::dtype::of<float>();
  if (dtype == "f16") return py::dtype("float16");
  if (dtype == "u8") return py::dtype::of<uint8_t>();
  throw StoreError("unknown feature dtype '" + dtype + "'");
}

std::string hex(const ContentHash& h) {
  static const char* d = "0123456789abcdef";
  std::string s(32, '0');
  for (size_t i = 0; i < h.size(); ++i) {
    s[2 * i] = d[h[i] >> 4];
    s[2 * i + 1] = d[h[i] & 15];
  }
  return s;
}

py::dict problems_columns(const std::vector<ScanProblem>& problems) {
  std::vector<std::string> paths, reasons;
  for (const auto& p : problems) {
    paths.push_back(p.path);
    reasons.push_back(p.reason);
  }
  py::dict d;
  d["path"] = fs_str_list(paths);
  d["reason"] = reasons;
  return d;
}

}  // namespace

// Columns of records (same fields as ImageRecord), for a DataFrame.
py::dict records_columns(const std::vector<ImageRecord>& recs) {
  const size_t n = recs.size();
  std::vector<int64_t> id(n), size(n), mtime(n);
  std::vector<int32_t> width(n), height(n);
  py::list path(n), content(n), format(n), status(n), reason(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& r = recs[i];
    id[i] = r.id;
    size[i] = r.size;
    mtime[i] = r.mtime_ns;
    width[i] = r.width;
    height[i] = r.height;
    path[i] = fs_str(r.path);
    content[i] = hex(r.content_hash);
    format[i] = format_name(r.format);
    status[i] = status_name(r.status);
    reason[i] = r.reason;
  }
  py::dict d;
  d["id"] = vector_array(std::move(id));
  d["path"] = path;
  d["size"] = vector_array(std::move(size));
  d["mtime_ns"] = vector_array(std::move(mtime));
  d["content_hash"] = content;
  d["format"] = format;
  d["width"] = vector_array(std::move(width));
  d["height"] = vector_array(std::move(height));
  d["status"] = status;
  d["reason"] = reason;
  return d;
}

void bind_collection(py::module_& m, py::class_<PyCollection>& cls) {
  (void)m;
  cls.def_static(
         "open",
         [](const std::string& dir) {
           std::unique_ptr<Collection> c;
           {
             py::gil_scoped_release nogil;
             c = Collection::open(dir);
           }
           return std::make_unique<PyCollection>(std::move(c));
         },
         py::arg("path"), "Opens an existing collection (StoreError if the folder is not one).")
      .def_static(
          "open_or_create",
          [](const std::string& dir) {
            std::unique_ptr<Collection> c;
            {
              py::gil_scoped_release nogil;
              c = Collection::open_or_create(dir);
            }
            return std::make_unique<PyCollection>(std::move(c));
          },
          py::arg("path"), "Opens a collection, creating an empty one when missing.")
      .def("close", &PyCollection::close, "Releases the catalog and the writer lock; later calls raise ValueError.")
      .def_property_readonly("closed", &PyCollection::closed)
      .def_property_readonly("path", [](const PyCollection& c) { return fs_str(c.dir()); })
      .def(
          "meta", [](const PyCollection& c, const std::string& key) { return c.get()->meta(key); }, py::arg("key"))
      .def(
          "set_meta",
          [](const PyCollection& c, const std::string& key, const std::string& value) {
            auto coll = c.get();
            coll->set_meta(key, value);
            coll->commit();
          },
          py::arg("key"), py::arg("value"))
      .def(
          "index",
          [](const PyCollection& c, const std::vector<std::string>& roots, bool hashes, const std::string& model,
             uint64_t max_pixels, int threads, int commit_every, py::object progress, double interval,
             const std::string& engine, const std::string& precision) {
            auto coll = c.get();
            // This run's engine / precision (empty: the process-wide choice), restored afterwards.
            const InferenceOptions before = default_inference();
            InferenceOptions inference = before;
            if (!engine.empty()) inference.engine = parse_engine(engine);
            if (!precision.empty()) inference.precision = parse_precision(precision);
            struct Restore {
              InferenceOptions o;
              ~Restore() { set_default_inference(o); }
            } restore{before};
            set_default_inference(inference);
            IndexParams p;
            p.roots = roots;
            p.hashes = hashes;
            p.model = model;
            p.decode.max_pixels = max_pixels;
            p.threads = threads;
            if (commit_every > 0) p.commit_every = commit_every;
            // Called on this thread (the writer) without the GIL; takes it at most every `interval`
            // seconds and at the end, to call `progress` and to notice Ctrl-C.
            auto last = std::chrono::steady_clock::now() - std::chrono::hours(1);
            const auto every = std::chrono::duration<double>(interval);
            p.progress = [&](int64_t done, int64_t total) {
              const auto now = std::chrono::steady_clock::now();
              if (done != total && now - last < every) return;
              last = now;
              py::gil_scoped_acquire gil;
              if (PyErr_CheckSignals() != 0) throw PythonError();
              if (progress.is_none()) return;
              try {
                progress(done, total);
              } catch (py::error_already_set& e) {
                e.restore();
                throw PythonError();
              }
            };
            IndexReport rep;
            try {
              py::gil_scoped_release nogil;
              rep = index_collection(*coll, p);
              save_scan_problems(*coll, rep.problems);  // what `irbis info --failures` lists
              coll->commit();
            } catch (const PythonError&) {
              throw py::error_already_set();
            }
            py::dict d;
            d["scanned"] = rep.scanned;
            d["unchanged"] = rep.unchanged;
            d["added"] = rep.added;
            d["changed"] = rep.changed;
            d["removed"] = rep.removed;
            d["not_images"] = rep.not_images;
            d["ok"] = rep.ok;
            d["failed"] = rep.failed;
            d["backfilled"] = rep.backfilled;
            d["also_computed"] = rep.also_computed;
            d["problems"] = problems_columns(rep.problems);
            d["seconds"] = rep.seconds;
            return d;
          },
          py::arg("roots"), py::arg("hashes") = true, py::arg("model") = "",
          py::arg("max_pixels") = DecodeOptions{}.max_pixels, py::arg("threads") = 0, py::arg("commit_every") = 0,
          py::arg("progress") = py::none(), py::arg("interval") = 0.1, py::arg("engine") = "",
          py::arg("precision") = "",
          "Runs irbis::index_collection on the roots (GIL released) and records the scan problems.")
      .def(
          "set_scan_problems",
          [](const PyCollection& c, const std::vector<std::pair<std::string, std::string>>& problems) {
            auto coll = c.get();
            std::vector<ScanProblem> ps;
            for (const auto& [path, reason] : problems) ps.push_back({path, reason});
            save_scan_problems(*coll, ps);
            coll->commit();
          },
          py::arg("problems"), "Replaces the recorded scan problems (path bytes, reason) that info/failures list.")
      .def(
          "records",
          [](const PyCollection& c, const std::string& status) {
            auto coll = c.get();
            std::vector<ImageRecord> recs;
            {
              py::gil_scoped_release nogil;
              recs = status.empty() ? coll->records() : coll->records(status_from_name(status));
            }
            return records_columns(recs);
          },
          py::arg("status") = "", "Catalog rows in id order as columns; status: '', ok, failed, retired, removed.")
      .def(
          "summary",
          [](const PyCollection& c) {
            auto coll = c.get();
            CollectionSummary s;
            {
              py::gil_scoped_release nogil;
              s = summarize_collection(*coll);
            }
            py::dict d;
            d["collection"] = fs_str(c.dir());
            d["images"] = s.ok;
            d["failed"] = s.failed;
            d["removed"] = s.removed;
            d["retired"] = s.retired;
            d["formats"] = s.formats;
            d["bytes"] = s.bytes;
            d["megapixels"] = double(s.pixels) / 1e6;
            py::list feats;
            for (const auto& f : s.features) {
              py::dict fd;
              fd["name"] = f.spec.name;
              fd["dtype"] = f.spec.dtype;
              fd["dim"] = f.spec.dim;
              fd["rows"] = f.rows;
              feats.append(fd);
            }
            d["features"] = feats;
            d["failures"] = records_columns(s.failures);
            d["scan_problems"] = problems_columns(s.scan_problems);
            return d;
          },
          "What `irbis info --json` reports (irbis::summarize_collection).")
      .def(
          "feature",
          [](const PyCollection& c, const std::string& name) {
            auto coll = c.get();
            FeatureView v = coll->view(name);
            const py::dtype dt = feature_dtype(v.spec().dtype);
            const py::ssize_t rows = v.rows(), dim = v.spec().dim;
            const uint8_t* data = v.rows() ? v.row_bytes(0) : nullptr;
            static const uint64_t empty = 0;
            if (!data) data = reinterpret_cast<const uint8_t*>(&empty);
            auto* heap = new FeatureView(std::move(v));
            py::capsule base(heap, [](void* p) { delete static_cast<FeatureView*>(p); });
            py::array a(dt, {rows, dim}, {}, data, base);
            a.attr("setflags")(py::arg("write") = false);  // a read-only memory map of the file
            return a;
          },
          py::arg("name"), "Committed rows of a feature file, row = image id, memory-mapped (read-only, no copy).")
      .def("feature_specs",
           [](const PyCollection& c) {
             py::list out;
             auto coll = c.get();
             for (const auto& f : coll->feature_specs()) {
               py::dict d;
               d["name"] = f.name;
               d["dtype"] = f.dtype;
               d["dim"] = f.dim;
               d["rows"] = coll->feature_rows(f.name);
               out.append(d);
             }
             return out;
           })
      .def(
          "embeddings",
          [](const PyCollection& c, const std::string& model, const std::string& view) {
            auto coll = c.get();
            const EmbeddingView v = parse_embedding_view(view);
            EmbeddingMatrix em;
            {
              py::gil_scoped_release nogil;
              em = load_embeddings(*coll, model, v);
            }
            std::vector<int64_t> ids;
            std::vector<std::string> paths;
            for (const auto& r : em.records) {
              ids.push_back(r.id);
              paths.push_back(r.path);
            }
            const py::ssize_t n = em.data.rows, d = em.data.cols;
            const float* data = n ? em.data.ptr<float>(0) : nullptr;
            static const float empty = 0;
            py::array arr = owned_array<float>({n, d}, data ? data : &empty, std::move(em.data));
            return py::make_tuple(arr, vector_array(std::move(ids)), fs_str_list(paths));
          },
          py::arg("model"), py::arg("view") = "full",
          "irbis::load_embeddings: (n x d float32 array owning the C++ matrix, ids, paths).");
}

}  // namespace irbis::py_bind
