// --engine / --precision for every command that embeds images: they set the process-wide choice
// (irbis::set_default_inference) that every Embedder of the run uses, so all paths share one.
#include "cli/commands.h"
#include "irbis/model.h"

namespace irbis::cli {

void add_inference_options(CLI::App* cmd) {
  cmd->add_option_function<std::string>(
         "--engine",
         [](const std::string& s) {
           InferenceOptions o = default_inference();
           o.engine = parse_engine(s);
           set_default_inference(o);
         },
         "CNN inference engine: auto (oneDNN when it covers the model's graph), onednn or opencv")
      ->default_str("auto");
  cmd->add_option_function<std::string>(
         "--precision",
         [](const std::string& s) {
           InferenceOptions o = default_inference();
           o.precision = parse_precision(s);
           set_default_inference(o);
         },
         "CNN precision: auto (the fastest that passed the model's accuracy gates on this CPU: int8 with "
         "VNNI or AMX, bf16 with AVX-512 BF16 or AMX, else fp32; in a collection, the one its embeddings "
         "were made with), fp32, bf16 or int8")
      ->default_str("auto");
}

}  // namespace irbis::cli
