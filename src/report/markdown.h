// report.md: the study's tables (parameters, resources, metrics) filled from a comparison.json
// document, the paired statistics, and one verdict line per claim.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace ft::report {

std::string render_markdown(const nlohmann::json& comparison);

}  // namespace ft::report
