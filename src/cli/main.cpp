// irbis command line: one subcommand per src/cli/<name>_command.cpp (see commands.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include <opencv2/core/utils/logger.hpp>

#include "cli/commands.h"
#include "cli/parse_errors.h"
#include "irbis/errors.h"
#include "irbis/fault_hooks.h"
#include "irbis/warnings.h"

int main(int argc, char** argv) {
  using namespace irbis::cli;
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  // The library reports what it recovered from through warn(); the terminal is ours.
  irbis::set_warning_handler([](const std::string& message) { std::cerr << "irbis: " << message << '\n'; });
  // The only place the CLI reads the tests' fault switches (IRBIS_FAULT_*, fault_hooks.h).
  irbis::install_fault_hooks(irbis::fault_hooks_from_environment());
  CLI::App app{"irbis: answers from image collections (duplicates, search, clusters, classifiers)"};
  app.set_version_flag("--version", std::string(IRBIS_VERSION));
  app.require_subcommand(1);
  int result = kExitOk;
  add_index_command(app, result);
  add_dupes_command(app, result);
  add_issues_command(app, result);
  add_match_command(app, result);
  add_info_command(app, result);
  add_merge_command(app, result);
  add_sample_command(app, result);
  add_demo_command(app, result);
  add_model_command(app, result);
  add_export_command(app, result);
  add_cluster_command(app, result);
  add_search_command(app, result);
  add_unique_command(app, result);
  add_evaluate_command(app, result);
  add_train_command(app, result);
  add_predict_command(app, result);
  add_explain_command(app, result);
  add_report_command(app, result);
  add_serve_command(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e, std::vector<std::string>(argv + 1, argv + argc));
  } catch (const irbis::UsageError& e) {
    std::cerr << "irbis: " << e.what() << '\n';
    return kExitUsage;
  } catch (const irbis::NotACollectionError& e) {  // a photo folder or image where the collection goes
    std::cerr << "irbis: " << e.what() << '\n';
    return kExitUsage;
  } catch (const irbis::NotAvailableError& e) {  // asked for what the collection has not computed
    std::cerr << "irbis: " << e.what() << '\n';
    return kExitUsage;
  } catch (const irbis::Error& e) {
    std::cerr << "irbis: " << e.what() << '\n';
    return kExitFatal;
  } catch (const std::exception& e) {
    std::cerr << "irbis: unexpected error: " << e.what() << '\n';
    return kExitFatal;
  }
  return result;
}
