#include "core/cpuinfo.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ft {

bool CpuInfo::has(const std::string& flag) const { return std::find(flags.begin(), flags.end(), flag) != flags.end(); }

CpuInfo read_cpuinfo() {
  CpuInfo c;
  std::ifstream in("/proc/cpuinfo");
  bool model = false, vendor = false, mhz = false, flags = false;
  for (std::string line; std::getline(in, line) && !(model && vendor && mhz && flags);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && !model) model = true, c.model = value;
    else if (key == "vendor_id" && !vendor) vendor = true, c.vendor = value;
    else if (key == "cpu MHz" && !mhz) mhz = true, c.mhz = value.empty() ? 0.0 : std::stod(value);
    else if (key == "flags" && !flags) {
      flags = true;
      std::istringstream words(value);
      for (std::string w; words >> w;) c.flags.push_back(w);
    }
  }
  return c;
}

}  // namespace ft
