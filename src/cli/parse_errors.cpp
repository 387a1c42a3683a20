#include "cli/parse_errors.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <regex>

#include "cli/commands.h"

namespace irbis::cli {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // A typo, not another word: at most a third of the letters differ (at least 1, at most 3).
  const size_t allowed = std::clamp<size_t>(word.size() / 3, 1, 3);
  return best_d <= allowed ? best : std::string();
}

namespace {

struct UsageFormatter : CLI::Formatter {
  using CLI::Formatter::make_usage;
};

std::string usage_line(const CLI::App* app, const std::string& name) {
  std::string u = UsageFormatter().make_usage(app, name);
  while (!u.empty() && (u.back() == '\n' || u.back() == ' ')) u.pop_back();
  return u;
}

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* s : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(s->get_name());
  return names;
}

CLI::App* find_subcommand(CLI::App& app, const std::string& name) {
  for (auto* s : app.get_subcommands([](const CLI::App*) { return true; }))
    if (s->get_name() == name) return s;
  return nullptr;
}

std::vector<std::string> long_options(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* o : app.get_options())
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  return names;
}

// CLI11's range message prints the bounds of PositiveNumber (DBL_MIN to DBL_MAX) in full, 300
// digits; say the rule instead.
std::string shorter_range_message(const std::string& what) {
  static const std::regex range(R"(^(.*?)Value (\S+) not in range (\S+) to (\S+)(.*)$)");
  std::smatch m;
  if (!std::regex_match(what, m, range)) return what;
  const double v = std::atof(m[2].str().c_str()), lo = std::atof(m[3].str().c_str()),
               hi = std::atof(m[4].str().c_str());
  std::string prefix = m[1].str();
  std::string rule;
  if (hi > 1e300) rule = std::abs(lo) < 1e-300 ? (v == 0 ? "must be greater than 0" : "must not be negative")
                                               : "must be at least " + m[3].str();
  else rule = "must be between " + m[3].str() + " and " + m[4].str();
  return prefix + rule + " (got " + m[2].str() + ")";
}

}  // namespace

int report_parse_error(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
  const std::string first = args.empty() ? std::string() : args[0];
  CLI::App* sub = first.empty() || first[0] == '-' ? nullptr : find_subcommand(app, first);
  if (!first.empty() && first[0] != '-' && !sub) {
    // `irbis COLL dupes`: the command after its collection.
    if (args.size() > 1 && find_subcommand(app, args[1])) {
      std::string fixed = "irbis " + args[1] + " " + first;
      for (size_t i = 2; i < args.size(); ++i) fixed += " " + args[i];
      std::cerr << "irbis: '" << first << "' is not a command; the command comes first: `" << fixed << "`\n";
    } else if (const std::string near = closest_match(first, subcommand_names(app)); !near.empty()) {
      std::cerr << "irbis: unknown command '" << first << "'; did you mean '" << near << "'?\n";
    } else {
      std::string all;
      for (const auto& n : subcommand_names(app)) all += (all.empty() ? "" : ", ") + n;
      std::cerr << "irbis: unknown command '" << first << "' (commands: " << all << ")\n";
    }
    std::cerr << usage_line(&app, "irbis") << "\n(`irbis --help` lists the commands)\n";
    return kExitUsage;
  }
  std::string name = "irbis";
  CLI::App* at = &app;
  // Walk down nested subcommands (`irbis model import`).
  for (size_t i = 0; i < args.size() && at; ++i) {
    CLI::App* next = args[i].empty() || args[i][0] == '-' ? nullptr : find_subcommand(*at, args[i]);
    if (!next) break;
    at = next;
    name += " " + args[i];
  }
  std::string message = shorter_range_message(e.what());
  if (dynamic_cast<const CLI::ExtrasError*>(&e) && at != &app) {
    const auto known = long_options(*at);
    for (const auto& a : args) {
      if (!a.starts_with("--")) continue;
      const std::string opt = a.substr(0, a.find('='));
      if (std::find(known.begin(), known.end(), opt) != known.end()) continue;
      message = "unknown option '" + opt + "'";
      if (const std::string near = closest_match(opt, known); !near.empty()) message += "; did you mean '" + near + "'?";
      break;
    }
  }
  if (!first.empty() && first[0] != '-' && at == &app) at = sub;
  std::cerr << name << ": " << message << '\n' << usage_line(at ? at : &app, name) << "\n(`" << name << " --help` for more)\n";
  return kExitUsage;
}

}  // namespace irbis::cli
