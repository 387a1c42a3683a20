// irbis command line: dispatches to one function per subcommand (src/cli/*_command.cpp).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "irbis/errors.h"

int main(int argc, char** argv) {
  CLI::App app{"irbis: answers from image collections"};
  app.require_subcommand(1);
  int result = 0;
  irbis::cli::add_model_command(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const irbis::UsageError& e) {
    std::cerr << "irbis: " << e.what() << "\n";
    return irbis::cli::kExitUsage;
  } catch (const irbis::Error& e) {
    std::cerr << "irbis: " << e.what() << "\n";
    return irbis::cli::kExitFatal;
  }
  return result;
}
