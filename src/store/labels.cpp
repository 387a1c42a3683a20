#include "irbis/labels.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis {

namespace fs = std::filesystem;

int LabelSet::count(int c) const { return int(std::count(label.begin(), label.end(), c)); }
int LabelSet::labelled() const { return int(label.size()) - int(std::count(label.begin(), label.end(), -1)); }

std::vector<std::string> LabelSet::drop_classes_below(int min_images) {
  std::vector<std::string> kept, dropped;
  std::vector<int> new_index(classes.size(), -1);
  for (size_t c = 0; c < classes.size(); ++c) {
    if (count(int(c)) < min_images) {
      dropped.push_back(classes[c]);
    } else {
      new_index[c] = int(kept.size());
      kept.push_back(classes[c]);
    }
  }
  for (int& l : label)
    if (l >= 0) l = new_index[size_t(l)];
  classes = std::move(kept);
  return dropped;
}

std::string LabelSet::unknown_message(const std::string& spec) const {
  std::string msg = spec + ": " + std::to_string(unknown) + " labelled paths are not in the collection:";
  for (const auto& u : unknown_paths) msg += " " + u;
  return msg + (unknown > int64_t(unknown_paths.size()) ? " ..." : "");
}

std::vector<std::string> parse_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(std::move(cur));
  return out;
}

namespace {

LabelSet from_names(const std::vector<std::string>& names) {
  LabelSet set;
  std::map<std::string, int> index;
  for (const auto& n : names)
    if (!n.empty()) index[n] = 0;
  for (auto& [name, i] : index) {
    i = int(set.classes.size());
    set.classes.push_back(name);
  }
  for (const auto& n : names) set.label.push_back(n.empty() ? -1 : index[n]);
  return set;
}

}  // namespace

LabelSet load_labels(const std::string& spec, const std::vector<ImageRecord>& records, UnknownPaths on_unknown) {
  std::vector<std::string> names(records.size());
  if (spec == "folders") {
    for (size_t i = 0; i < records.size(); ++i) names[i] = fs::path(records[i].path).parent_path().filename().string();
    return from_names(names);
  }
  std::ifstream in(spec);
  if (!in) throw UsageError(spec + ": cannot read labels file (expected `folders` or a CSV with path,label)");
  std::string line;
  std::getline(in, line);
  const auto header = parse_csv_line(line);
  const auto col = [&](const char* name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw UsageError(spec + ": labels CSV needs a header with 'path' and 'label' columns");
    return size_t(it - header.begin());
  };
  const size_t path_col = col("path"), label_col = col("label");
  std::vector<std::pair<std::string, std::string>> pairs;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto f = parse_csv_line(line);
    if (f.size() <= std::max(path_col, label_col)) throw UsageError(spec + ": short line: " + display_path(line));
    pairs.emplace_back(std::move(f[path_col]), std::move(f[label_col]));
  }
  return labels_from_pairs(pairs, records, spec, on_unknown);
}

LabelSet labels_from_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                           const std::vector<ImageRecord>& records, const std::string& source,
                           UnknownPaths on_unknown) {
  std::vector<std::string> names(records.size());
  std::unordered_map<std::string, size_t> by_path;
  for (size_t i = 0; i < records.size(); ++i) by_path[records[i].path] = i;
  std::vector<std::string> unknown;
  int64_t unknown_count = 0;
  for (const auto& [path, label] : pairs) {
    std::error_code ec;
    fs::path p = fs::absolute(fs::path(path), ec).lexically_normal();
    auto it = by_path.find(p.string());
    if (it == by_path.end()) it = by_path.find(path);
    if (it == by_path.end()) {
      if (unknown.size() < 5) unknown.push_back(display_path(path));
      ++unknown_count;
      continue;
    }
    names[it->second] = label;
  }
  LabelSet set = from_names(names);
  set.unknown = unknown_count;
  set.unknown_paths = std::move(unknown);
  if (unknown_count && on_unknown == UnknownPaths::error) throw UsageError(set.unknown_message(source));
  return set;
}

}  // namespace irbis
