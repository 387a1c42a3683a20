// The TF.js loader and converters: the input is model.json, a NUL byte, then weights.bin (the one
// weight file the seeds' manifests name). Loading and converting to the IR graph, no ONNX written.
#include <cstring>

#include "fuzz_util.h"
#include "irbis/errors.h"
#include "models/tfjs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t json_len = nul ? size_t(nul - data) : size;
  const std::filesystem::path dir = fuzz::scratch_dir() / "tfjs";
  std::filesystem::create_directories(dir);
  fuzz::write_bytes(dir / "model.json", {data, json_len});
  fuzz::write_bytes(dir / "weights.bin", nul ? std::span<const uint8_t>(nul + 1, size - json_len - 1)
                                             : std::span<const uint8_t>());
  try {
    const tfjs::Model m = tfjs::load(dir);
    const tfjs::Converted c = tfjs::convert(m);
    if (c.input.empty()) fuzz::invariant_failed("converted graph without an input");
  } catch (const ModelError&) {
  }
  return 0;
}
