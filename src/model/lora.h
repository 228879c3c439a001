// LoRA settings, as PEFT's LoraConfig names them.
#pragma once
#include <string>
#include <vector>

namespace ft::model {

struct LoraConfig {
  int r = 8;
  double alpha = 32;
  double dropout = 0.1;
  // Module-name suffixes as PEFT matches them: query, key, value, attention.output.dense,
  // intermediate.dense, output.dense ("output.dense" alone matches the layer's FFN output only).
  std::vector<std::string> target_modules = {"query", "value"};

  double scaling() const { return alpha / r; }
};

}  // namespace ft::model
