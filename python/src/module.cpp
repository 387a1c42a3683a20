// The extension module irbis._irbis: pybind11 bindings over the public C++ API (include/irbis/).
// The pure-Python package (python/irbis/) wraps it: argument checking with clear TypeErrors,
// pandas DataFrames, tqdm progress. No analysis logic lives in Python.
#include "common.h"

#include <iostream>

#include "irbis/collection_layout.h"
#include "irbis/fault_hooks.h"
#include "irbis/model.h"
#include "irbis/warnings.h"

namespace irbis::py_bind {

std::shared_ptr<Collection> PyCollection::get() const {
  if (!coll_) throw py::value_error("I/O operation on closed collection " + dir_);
  return coll_;
}

py::str fs_str(const std::string& raw) {
  PyObject* s = PyUnicode_DecodeFSDefaultAndSize(raw.data(), py::ssize_t(raw.size()));
  if (!s) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

py::list fs_str_list(const std::vector<std::string>& raw) {
  py::list out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) out[i] = fs_str(raw[i]);
  return out;
}

}  // namespace irbis::py_bind

using namespace irbis::py_bind;

PYBIND11_MODULE(_irbis, m) {
  m.doc() = "irbis C++ core (use the `irbis` package, which wraps this module)";
#ifdef IRBIS_VERSION
  m.attr("__version__") = IRBIS_VERSION;
#endif
  // As the CLI: the library's warnings go to stderr, and the tests' fault switches (IRBIS_FAULT_*,
  // set in a Dask worker's environment) are read once, here.
  irbis::set_warning_handler([](const std::string& message) { std::cerr << "irbis: " << message << '\n'; });
  irbis::install_fault_hooks(irbis::fault_hooks_from_environment());
  // Meta keys the pure-Python package reads and writes (collection_layout.h defines them once).
  m.attr("META_DEFAULT_MODEL") = irbis::kPythonDefaultModelKey;
  m.attr("META_DEFAULT_FEATURES") = irbis::kPythonDefaultFeaturesKey;
  m.attr("META_DASK_FILES") = irbis::kDaskFilesKey;
  m.attr("CATALOG_FILE") = irbis::kCatalogFile;
  bind_errors(m);
  py::class_<PyCollection> cls(m, "_Collection", "A collection directory opened from Python (see irbis.Collection)");
  bind_collection(m, cls);
  bind_analysis(m, cls);
  bind_store(m);
  bind_search(m, cls);
  bind_classifier(m, cls);

  m.def("model_dir", [] { return irbis::model_dir().string(); }, "The model registry directory in use.");
  m.def(
      "list_models",
      [] {
        py::list out;
        for (const auto& c : irbis::list_models()) {
          py::dict d;
          d["name"] = c.name;
          d["architecture"] = c.architecture;
          d["embedding_dim"] = c.embedding_dim;
          d["blocks_dim"] = c.blocks_dim();
          d["input_size"] = c.input_size;
          d["source"] = c.source;
          d["source_package"] = c.source_package;
          d["source_version"] = c.source_version;
          d["license"] = c.license;
          d["onnx_sha256"] = c.onnx_sha256;
          out.append(d);
        }
        return out;
      },
      "Installed models (cards in the registry), sorted by name.");
  m.def(
      "set_inference",
      [](const std::string& engine, const std::string& precision) {
        irbis::set_default_inference({irbis::parse_engine(engine), irbis::parse_precision(precision)});
      },
      py::arg("engine") = "auto", py::arg("precision") = "auto",
      "Engine (auto, onednn, opencv) and precision (auto, fp32, bf16, int8) of every later embedding in this process "
      "(index, search by image, classifiers); as the CLI's --engine / --precision.");
  m.def(
      "inference",
      [] {
        const irbis::InferenceOptions o = irbis::default_inference();
        py::dict d;
        d["engine"] = irbis::engine_name(o.engine);
        d["precision"] = irbis::precision_name(o.precision);
        d["auto_precision"] = irbis::precision_name(irbis::best_precision());
        d["isa"] = irbis::inference_isa();
        return d;
      },
      "The current choice (set_inference), what auto precision means on this CPU and oneDNN's instruction set.");
  m.def(
      "auto_precision",
      [](const std::string& model) { return irbis::precision_name(irbis::auto_precision(irbis::find_model(model))); },
      py::arg("model"), "What precision \"auto\" resolves to for a model on this CPU.");
  m.attr("DEFAULT_MODEL") = irbis::kDefaultModel;
}
