// Classifier::load on a classifier file whose magic, version and checksum are made right, so the
// fuzzer reaches the header JSON and the array sizes: the input is everything from byte 12 (the
// reserved word, the header length, the JSON and the floats).
#include <cstring>
#include <xxhash.h>

#include "fuzz_util.h"
#include "irbis/classifier.h"
#include "irbis/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  std::string buf("IRBISCLF", 8);
  const uint32_t ver = kClassifierFormatVersion;
  buf.append(reinterpret_cast<const char*>(&ver), 4);
  buf.append(reinterpret_cast<const char*>(data), size);
  const uint64_t sum = XXH3_64bits(buf.data(), buf.size());
  buf.append(reinterpret_cast<const char*>(&sum), 8);
  const std::filesystem::path file = fuzz::scratch_dir() / "classifier.bin";
  fuzz::write_bytes(file, {reinterpret_cast<const uint8_t*>(buf.data()), buf.size()});
  try {
    const Classifier c = Classifier::load(file);
    if (c.classes.size() < 2 || c.heads.empty()) fuzz::invariant_failed("loaded classifier with bad sizes");
    for (const ClassifierHead& h : c.heads)
      if (h.input_dim() < 1 || h.model.W.rows != int(c.classes.size()))
        fuzz::invariant_failed("loaded classifier head with bad sizes");
  } catch (const ModelError&) {
  }
  return 0;
}
