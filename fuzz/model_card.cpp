// ModelCard::from_json: a card that loads must survive its own JSON round trip.
#include "fuzz_util.h"
#include "irbis/errors.h"
#include "irbis/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace irbis;
  const std::string text(reinterpret_cast<const char*>(data), size);
  ModelCard card;
  try {
    card = ModelCard::from_json(text, "fuzz.json");
  } catch (const ModelError&) {
    return 0;
  }
  try {
    const ModelCard again = ModelCard::from_json(card.to_json(), "fuzz.json");
    if (again.to_json() != card.to_json()) fuzz::invariant_failed("card JSON round trip differs");
  } catch (const ModelError&) {
    fuzz::invariant_failed("a loaded card does not load from its own JSON");
  }
  return 0;
}
