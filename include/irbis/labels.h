// Class labels for images, shared by retrieval evaluation, clustering scores and classifiers:
// from class sub-folders (`--labels folders`: the image's parent folder name) or a CSV file
// (`--labels file.csv` with a header and columns path,label).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "irbis/collection.h"

namespace irbis {

struct LabelSet {
  std::vector<std::string> classes;  // sorted class names
  std::vector<int> label;            // per record given to load_labels: index into classes, -1 = unlabelled
  int64_t unknown = 0;                 // CSV rows naming paths not in the records (UnknownPaths::skip)
  std::vector<std::string> unknown_paths;  // the first five of them, for display
  int count(int c) const;            // images labelled c
  int labelled() const;              // images with a label
  std::string unknown_message(const std::string& spec) const;  // "<spec>: N labelled paths ... a b ..."
  // Unlabels the images of every class with fewer than `min_images` and removes those classes
  // (the others keep their order); returns the removed class names. For `train --min-per-class`.
  std::vector<std::string> drop_classes_below(int min_images);
};

// What a CSV row naming a path that is not in the collection does.
enum class UnknownPaths {
  error,  // UsageError listing (up to five of) them
  skip,   // ignored; counted in LabelSet::unknown for the caller to report
};

// spec is "folders" or the path of a CSV file. CSV paths may be absolute or relative to the
// current directory.
LabelSet load_labels(const std::string& spec, const std::vector<ImageRecord>& records,
                     UnknownPaths unknown = UnknownPaths::error);

// The same from (path, label) pairs (a labels CSV's rows, or a mapping built in memory): paths
// match as in a CSV; an empty label leaves the image unlabelled; `source` names the pairs in errors.
LabelSet labels_from_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                           const std::vector<ImageRecord>& records, const std::string& source,
                           UnknownPaths unknown = UnknownPaths::error);

// Splits one CSV line into fields (RFC 4180 quotes; no embedded newlines).
std::vector<std::string> parse_csv_line(const std::string& line);

}  // namespace irbis
