// config.json and adapter_config.json: the same JSON text goes to both parsers (each ignores the
// other's keys, so both corpora help both). The contract is a config or an ft::Error; a model config
// must also survive to_json -> from_json unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/files.h"
#include "io/peft_adapter.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j;
  try {
    j = ft::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "config.json");
  } catch (const ft::Error&) {
    return 0;
  }
  try {
    const auto c = ft::model::ModelConfig::from_json(j, "config.json");
    const nlohmann::json out = c.to_json("RobertaModel");
    if (ft::model::ModelConfig::from_json(out, "round trip").to_json("RobertaModel") != out) __builtin_trap();
  } catch (const ft::Error&) {
  }
  try {
    ft::io::adapter_config_from_json(j, "adapter_config.json");
  } catch (const ft::Error&) {
  }
  return 0;
}
