// The upload path of `irbis serve` (POST /api/search) up to the network: http::decode_upload,
// with the server's default pixel limit scaled down so the fuzzer stays fast, under a decode
// budget. Invariants: an accepted upload is 8-bit RGB within the limit, and the budget is
// returned in full afterwards.
#include "fuzz_util.h"
#include "irbis/errors.h"
#include "server/http_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  static http::DecodeBudget budget(64ull << 20);
  constexpr uint64_t kMaxPixels = 4u << 20;
  try {
    const DecodedImage img = http::decode_upload({data, size}, kMaxPixels, budget, 224);  // a model input side
    if (img.rgb.type() != CV_8UC3) fuzz::invariant_failed("upload not decoded to 8-bit RGB");
    if (uint64_t(img.header.width) * uint64_t(img.header.height) > kMaxPixels)
      fuzz::invariant_failed("upload over the pixel limit accepted");
  } catch (const DecodeError&) {
  }
  if (budget.in_flight() != 0) fuzz::invariant_failed("decode budget not returned");
  return 0;
}
