// C++ exceptions -> Python exceptions with the same messages. Each irbis error class also derives
// from the matching built-in (UsageError is a ValueError, IoError an OSError, ...), so generic
// `except ValueError` code works too.
#include <opencv2/core.hpp>

#include "common.h"
#include "irbis/errors.h"

namespace irbis::py_bind {

void bind_errors(py::module_& m) {
  auto make = [&m](const char* name, PyObject* bases, const char* doc) {
    const std::string qual = std::string("irbis.") + name;
    PyObject* t = PyErr_NewExceptionWithDoc(qual.c_str(), doc, bases, nullptr);
    if (!t) throw py::error_already_set();
    m.add_object(name, py::handle(t));
    return t;  // one reference kept for the life of the process
  };
  static PyObject* error = make("Error", PyExc_Exception, "Base class of every irbis error.");
  auto with = [](PyObject* a, PyObject* b) { return PyTuple_Pack(2, a, b); };
  static PyObject* usage =
      make("UsageError", with(error, PyExc_ValueError), "Bad arguments or options (the CLI's exit code 1).");
  static PyObject* io = make("IoError", with(error, PyExc_OSError), "A file could not be read or written.");
  static PyObject* decode =
      make("DecodeError", with(error, PyExc_ValueError), "Bytes that are not a supported, valid image.");
  static PyObject* store = make("StoreError", with(error, PyExc_RuntimeError),
                                "The collection on disk is missing, locked, damaged or incompatible.");
  static PyObject* model =
      make("ModelError", with(error, PyExc_RuntimeError), "A model file, card or registry problem.");
  static PyObject* not_available = make("NotAvailableError", with(error, PyExc_LookupError),
                                        "What was asked for is not available for this collection (not computed yet).");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const irbis::UsageError& e) {
      PyErr_SetString(usage, e.what());
    } catch (const irbis::IoError& e) {
      PyErr_SetString(io, e.what());
    } catch (const irbis::DecodeError& e) {
      PyErr_SetString(decode, e.what());
    } catch (const irbis::StoreError& e) {
      PyErr_SetString(store, e.what());
    } catch (const irbis::ModelError& e) {
      PyErr_SetString(model, e.what());
    } catch (const irbis::NotAvailableError& e) {
      PyErr_SetString(not_available, e.what());
    } catch (const irbis::Error& e) {
      PyErr_SetString(error, e.what());
    } catch (const cv::Exception& e) {
      PyErr_SetString(error, e.what());
    }
  });
}

}  // namespace irbis::py_bind
