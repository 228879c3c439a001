#include "core/json_get.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace ft {
namespace {

// The value as the user wrote it, shortened: errors quote it.
std::string shown(const nlohmann::json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

[[noreturn]] void refuse(const nlohmann::json& v, const std::string& what, const std::string& expected) {
  throw Error(what + " must be " + expected + " (got " + shown(v) + ")");
}

template <class T>
T integer(const nlohmann::json& v, const std::string& what) {
  const std::string range = "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
                            std::to_string(std::numeric_limits<T>::max());
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) refuse(v, what, range);
    return static_cast<T>(u);
  }
  if (!v.is_number_integer()) refuse(v, what, "an integer");
  const int64_t i = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (i < 0) refuse(v, what, range);
  } else {
    if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) || i > static_cast<int64_t>(std::numeric_limits<T>::max()))
      refuse(v, what, range);
  }
  return static_cast<T>(i);
}

}  // namespace

template <> bool json_get<bool>(const nlohmann::json& v, const std::string& what) {
  if (!v.is_boolean()) refuse(v, what, "true or false");
  return v.get<bool>();
}
template <> int json_get<int>(const nlohmann::json& v, const std::string& what) { return integer<int>(v, what); }
template <> int64_t json_get<int64_t>(const nlohmann::json& v, const std::string& what) { return integer<int64_t>(v, what); }
template <> uint64_t json_get<uint64_t>(const nlohmann::json& v, const std::string& what) { return integer<uint64_t>(v, what); }

template <> double json_get<double>(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number() || !std::isfinite(v.get<double>())) refuse(v, what, "a finite number");
  return v.get<double>();
}

template <> std::string json_get<std::string>(const nlohmann::json& v, const std::string& what) {
  if (!v.is_string()) refuse(v, what, "a string");
  return v.get<std::string>();
}

template <> std::vector<std::string> json_get<std::vector<std::string>>(const nlohmann::json& v, const std::string& what) {
  if (!v.is_array()) refuse(v, what, "a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(json_get<std::string>(v[i], what + "[" + std::to_string(i) + "]"));
  return out;
}

template <> std::vector<int64_t> json_get<std::vector<int64_t>>(const nlohmann::json& v, const std::string& what) {
  if (!v.is_array()) refuse(v, what, "a list of integers");
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(json_get<int64_t>(v[i], what + "[" + std::to_string(i) + "]"));
  return out;
}

}  // namespace ft
