// Strict reads of JSON values from configs users write: an integer field takes an integer in range
// (8.5, 1e30 and "3" are refused, never cast), a number is finite, a flag is true or false. Errors
// name the field as the caller gives it ("arm_config.json: 'max_steps'") and the value found.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ft {

template <class T>
T json_get(const nlohmann::json& v, const std::string& what);

template <> bool json_get<bool>(const nlohmann::json& v, const std::string& what);
template <> int json_get<int>(const nlohmann::json& v, const std::string& what);
template <> int64_t json_get<int64_t>(const nlohmann::json& v, const std::string& what);
template <> uint64_t json_get<uint64_t>(const nlohmann::json& v, const std::string& what);
template <> double json_get<double>(const nlohmann::json& v, const std::string& what);
template <> std::string json_get<std::string>(const nlohmann::json& v, const std::string& what);
template <> std::vector<std::string> json_get<std::vector<std::string>>(const nlohmann::json& v, const std::string& what);
template <> std::vector<int64_t> json_get<std::vector<int64_t>>(const nlohmann::json& v, const std::string& what);

// The same, into an existing variable (its type picks the rule).
template <class T>
void json_get_to(const nlohmann::json& v, T& out, const std::string& what) {
  out = json_get<T>(v, what);
}

}  // namespace ft
