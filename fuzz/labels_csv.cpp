// Label CSVs (`--labels file.csv`): the RFC 4180 line splitter and load_labels against a small
// collection (unknown paths skipped, as `train --labels` may).
#include "fuzz_util.h"
#include "irbis/errors.h"
#include "irbis/labels.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  const std::string text(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    parse_csv_line(text.substr(start, end - start));
    start = end + 1;
  }
  static const std::vector<ImageRecord> records = [] {
    std::vector<ImageRecord> r(4);
    const char* paths[] = {"/pics/cats/a.jpg", "/pics/dogs/b.png", "rel/c.gif", "/pics/cats/d e,\"f\".jpg"};
    for (int i = 0; i < 4; ++i) r[size_t(i)].id = i, r[size_t(i)].path = paths[i];
    return r;
  }();
  const std::filesystem::path file = fuzz::scratch_dir() / "labels.csv";
  fuzz::write_bytes(file, {data, size});
  for (UnknownPaths u : {UnknownPaths::skip, UnknownPaths::error}) {
    try {
      const LabelSet s = load_labels(file.string(), records, u);
      if (s.label.size() != records.size()) fuzz::invariant_failed("one label per record");
      for (int l : s.label) {
        if (l < -1 || l >= int(s.classes.size())) fuzz::invariant_failed("label index out of range");
      }
    } catch (const UsageError&) {
    }
  }
  return 0;
}
