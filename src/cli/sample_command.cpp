#include <iostream>

#include "cli/commands.h"
#include "irbis/sample.h"

namespace irbis::cli {

void add_sample_command(CLI::App& root, int& result) {
  auto* cmd = root.add_subcommand(
      "sample", "Write a sample collection: real photos from Debian packages plus altered copies, with truth.csv");
  auto out = std::make_shared<std::string>();
  auto tiles = std::make_shared<int>(0);
  cmd->add_option("folder", *out, "Output folder")->required();
  cmd->add_option("--tiles", *tiles, "Extra distinct images cut from each photo (for calibration)")
      ->capture_default_str();
  cmd->callback([out, tiles, &result] {
    SampleParams p;
    p.tiles_per_photo = *tiles;
    const auto files = make_sample_collection(*out, p);
    size_t originals = 0;
    for (const auto& f : files) originals += f.expect == "original";
    std::cout << "wrote " << files.size() << " images (" << originals << " distinct, " << files.size() - originals
              << " altered copies) to " << *out << "; ground truth in " << *out << "/truth.csv\n";
    result = kExitOk;
  });
}

}  // namespace irbis::cli
