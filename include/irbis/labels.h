// Class labels for images, shared by retrieval evaluation, clustering scores and classifiers:
// from class sub-folders (`--labels folders`: the image's parent folder name) or a CSV file
// (`--labels file.csv` with a header and columns path,label).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "irbis/collection.h"

namespace irbis {

struct LabelSet {
  std::vector<std::string> classes;  // sorted class names
  std::vector<int> label;            // per record given to load_labels: index into classes, -1 = unlabelled
  int count(int c) const;            // images labelled c
  int labelled() const;              // images with a label
};

// spec is "folders" or the path of a CSV file. CSV paths may be absolute or relative to the
// current directory; a CSV naming paths that are not in the collection throws UsageError listing
// (up to five of) them.
LabelSet load_labels(const std::string& spec, const std::vector<ImageRecord>& records);

// The same from (path, label) pairs (a labels CSV's rows, or a mapping built in memory): paths
// match as in a CSV; an empty label leaves the image unlabelled; `source` names the pairs in errors.
LabelSet labels_from_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                           const std::vector<ImageRecord>& records, const std::string& source);

// Splits one CSV line into fields (RFC 4180 quotes; no embedded newlines).
std::vector<std::string> parse_csv_line(const std::string& line);

}  // namespace irbis
