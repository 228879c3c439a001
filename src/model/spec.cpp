#include "model/spec.h"

#include <torch/utils.h>

#include <map>

namespace ft::model {

ParamCounts count_parameters(TransformerImpl& model) {
  ParamCounts c;
  std::map<std::string, int64_t> group_counts;
  std::vector<std::string> order;
  const std::string base = model.config().base_prefix();
  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    const int64_t n = item.value().numel();
    const bool lora = name.find(".lora_") != std::string::npos;
    (lora ? c.adapter : c.base) += n;
    if (item.value().requires_grad()) c.trainable += n;
    std::string group;
    if (lora) group = "lora";
    else if (name.rfind(base + "embeddings.", 0) == 0) group = "embeddings";
    else if (name.rfind(base + "encoder.layer.", 0) == 0) {
      const size_t start = (base + "encoder.layer.").size();
      group = "encoder.layer." + name.substr(start, name.find('.', start) - start);
    } else if (name.rfind(base + "pooler.", 0) == 0) group = "pooler";
    else group = "head";
    if (!group_counts.count(group)) order.push_back(group);
    group_counts[group] += n;
  }
  // Module groups in model order, then the LoRA tensors (which sit inside the layers) as one group.
  for (const auto& g : order)
    if (g != "lora") c.groups.push_back({g, group_counts[g]});
  if (c.adapter > 0) c.groups.push_back({"lora", c.adapter});
  return c;
}

}  // namespace ft::model
