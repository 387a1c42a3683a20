// A JSON integer that fits in int: model cards and TF.js model.json hold integers that become ints
// (sizes, strides, axes). nlohmann's get<int>() converts 1e31 or 4.7 unchecked (F15, F20 in
// docs/reliability.md), so every reader checks with these first. Internal to src/models.
#pragma once
#include <climits>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace irbis {

// True for a JSON integer (not a float such as 4.7 or 1e31) within int's range.
inline bool json_int_fits(const nlohmann::json& v) {
  if (!v.is_number_integer()) return false;
  return v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(INT_MAX)
                                : v.get<int64_t>() >= INT_MIN && v.get<int64_t>() <= INT_MAX;
}

}  // namespace irbis
