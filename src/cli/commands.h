// One function per subcommand; each lives in src/cli/<name>_command.cpp, registers its
// subcommand on the root app and, when chosen, stores the process exit code in `result`.
// Errors are thrown (irbis::UsageError -> exit 1, other irbis::Error -> exit 3) and reported
// by main.cpp with the message, so commands don't print their own fatal errors.
#pragma once
#include <CLI/CLI.hpp>

namespace irbis::cli {

enum ExitCode : int {
  kExitOk = 0,        // success
  kExitUsage = 1,     // bad arguments
  kExitPartial = 2,   // the run completed but some inputs failed (see `irbis info --failures`)
  kExitFatal = 3,     // nothing useful could be done
  kExitInterrupted = 130,  // Ctrl-C (128 + SIGINT, as shells report it); what was done is kept
};

void add_index_command(CLI::App& root, int& result);
void add_dupes_command(CLI::App& root, int& result);
void add_issues_command(CLI::App& root, int& result);
void add_match_command(CLI::App& root, int& result);
void add_info_command(CLI::App& root, int& result);
void add_merge_command(CLI::App& root, int& result);
void add_model_command(CLI::App& root, int& result);
void add_export_command(CLI::App& root, int& result);
void add_cluster_command(CLI::App& root, int& result);
void add_sample_command(CLI::App& root, int& result);
void add_demo_command(CLI::App& root, int& result);
void add_search_command(CLI::App& root, int& result);
void add_unique_command(CLI::App& root, int& result);
void add_evaluate_command(CLI::App& root, int& result);
void add_train_command(CLI::App& root, int& result);
void add_predict_command(CLI::App& root, int& result);
void add_explain_command(CLI::App& root, int& result);
void add_report_command(CLI::App& root, int& result);  // report_command.cpp
void add_serve_command(CLI::App& root, int& result);   // report_command.cpp

// --engine / --precision on a command that embeds images (inference_options.cpp).
void add_inference_options(CLI::App* cmd);

}  // namespace irbis::cli
