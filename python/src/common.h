// Shared pieces of the pybind11 module: the collection handle, conversions and GIL helpers.
// Each subsystem binds its methods in its own file (bind_*): collection, analysis (dupes, clusters,
// labels), store (merge, scan), search (search, unique) and classifier (train, predict, explain),
// each wrapped by python/irbis/__init__.py.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "irbis/collection.h"

namespace irbis::py_bind {

namespace py = pybind11;

// A collection opened from Python. close() drops the C++ object (releasing the writer lock and
// the catalog); every later call raises ValueError like a closed file. Calls keep their own
// reference while they run without the GIL, so close() from another thread never frees it under them.
class PyCollection {
 public:
  explicit PyCollection(std::unique_ptr<Collection> c) : coll_(std::move(c)), dir_(coll_->dir().string()) {}
  std::shared_ptr<Collection> get() const;
  void close() { coll_.reset(); }
  bool closed() const { return !coll_; }
  const std::string& dir() const { return dir_; }

 private:
  std::shared_ptr<Collection> coll_;
  std::string dir_;
};

// Raw path bytes -> str the way Python's os.fsdecode does (surrogateescape for invalid UTF-8), so
// os.fsencode() gives the exact bytes back and open() works on any name.
py::str fs_str(const std::string& raw);
py::list fs_str_list(const std::vector<std::string>& raw);

// A Python exception raised inside a callback, carried through C++ frames that run without the
// GIL; the Python error indicator stays set on the calling thread and is re-raised by the caller.
struct PythonError : std::exception {
  const char* what() const noexcept override { return "python error in callback"; }
};

// Numpy array owning a moved-in C++ object (the buffer lives as long as the array): no copy.
template <typename T, typename Owner>
py::array owned_array(std::vector<py::ssize_t> shape, const T* data, Owner&& owner, bool writeable = true) {
  auto* heap = new std::decay_t<Owner>(std::forward<Owner>(owner));
  py::capsule base(heap, [](void* p) { delete static_cast<std::decay_t<Owner>*>(p); });
  py::array a(py::dtype::of<T>(), std::move(shape), {}, data, base);
  if (!writeable) a.attr("setflags")(py::arg("write") = false);
  return a;
}

template <typename T>
py::array_t<T> vector_array(std::vector<T>&& v) {
  const py::ssize_t n = py::ssize_t(v.size());
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule base(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({n}, {}, heap->data(), base);
}

void bind_errors(py::module_& m);
void bind_collection(py::module_& m, py::class_<PyCollection>& cls);
void bind_analysis(py::module_& m, py::class_<PyCollection>& cls);
void bind_store(py::module_& m);
void bind_search(py::module_& m, py::class_<PyCollection>& cls);
void bind_classifier(py::module_& m, py::class_<PyCollection>& cls);

}  // namespace irbis::py_bind
