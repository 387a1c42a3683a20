// Store-level operations: merging partial collections (the Dask scale-out's last step).
#include "common.h"
#include "irbis/errors.h"
#include "irbis/merge.h"
#include "irbis/scan.h"

namespace irbis::py_bind {

void bind_store(py::module_& m) {
  m.def(
      "merge_collections",
      [](const PyCollection& dest, const std::vector<std::string>& partials, int commit_every) {
        auto coll = dest.get();
        std::vector<std::filesystem::path> paths(partials.begin(), partials.end());
        MergeReport rep;
        {
          py::gil_scoped_release nogil;
          rep = merge_collections(*coll, paths, commit_every);
        }
        std::vector<std::string> ppaths, reasons;
        for (const auto& p : rep.scan_problems) {
          ppaths.push_back(p.path);
          reasons.push_back(p.reason);
        }
        py::dict problems;
        problems["path"] = fs_str_list(ppaths);
        problems["reason"] = reasons;
        py::dict d;
        d["partials"] = rep.partials;
        d["records"] = rep.records;
        d["ok"] = rep.ok;
        d["failed"] = rep.failed;
        d["resumed"] = rep.resumed;
        d["problems"] = problems;
        return d;
      },
      py::arg("dest"), py::arg("partials"), py::arg("commit_every") = 1024,
      "irbis::merge_collections: appends every partial's catalog and feature rows to dest, in order.");
  m.def(
      "scan",
      [](const std::vector<std::string>& roots) {
        ScanResult r;
        {
          py::gil_scoped_release nogil;
          r = scan(roots);
        }
        std::vector<std::string> files, ppaths, reasons;
        std::vector<int64_t> sizes;
        for (auto& f : r.files) {
          files.push_back(std::move(f.path));
          sizes.push_back(f.size);
        }
        for (auto& p : r.problems) {
          ppaths.push_back(std::move(p.path));
          reasons.push_back(std::move(p.reason));
        }
        py::dict problems;
        problems["path"] = fs_str_list(ppaths);
        problems["reason"] = reasons;
        return py::make_tuple(fs_str_list(files), vector_array(std::move(sizes)), problems);
      },
      py::arg("roots"),
      "irbis::scan: regular files under the roots (sorted by path bytes, each once), sizes, problems.");
}

}  // namespace irbis::py_bind
