#include "train/optimizer.h"

#include <sstream>
#include <utility>
#include <type_traits>

#include "core/error.h"

namespace ft::train {
namespace {

// libtorch keys optimizer state by the parameter's TensorImpl*: printed into a string up to 2.0,
// the pointer itself since. The key type tells which, so no version test is needed.
template <class StateMap>
typename StateMap::key_type state_key(const torch::Tensor& p) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;  // what c10::guts::to_string does
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

using StateMap = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;

}  // namespace

bool decays(const std::string& name) {
  return name.find("bias") == std::string::npos && name.find("LayerNorm") == std::string::npos &&
         name.find("layer_norm") == std::string::npos;
}

std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model, const AdamWSettings& s,
                                                std::vector<torch::Tensor>* trainable) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    (decays(item.key()) ? decay : no_decay).push_back(item.value());
    if (trainable) trainable->push_back(item.value());
  }
  auto opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(s.learning_rate)
                                                            .betas({s.beta1, s.beta2})
                                                            .eps(s.epsilon)
                                                            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) groups.emplace_back(decay, opts(s.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, opts(0.0));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(s.learning_rate));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& g : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

io::TensorMap adamw_state(torch::optim::AdamW& optimizer, torch::nn::Module& model) {
  io::TensorMap out;
  auto& state = optimizer.state();
  for (const auto& item : model.named_parameters()) {
    const auto it = state.find(state_key<StateMap>(item.value()));
    if (it == state.end()) continue;
    const auto& st = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    const std::string& name = item.key();
    out[name + ".exp_avg"] = st.exp_avg().detach();
    out[name + ".exp_avg_sq"] = st.exp_avg_sq().detach();
    if (st.max_exp_avg_sq().defined()) out[name + ".max_exp_avg_sq"] = st.max_exp_avg_sq().detach();
    out[name + ".step"] = torch::tensor(st.step(), torch::kInt64);
  }
  return out;
}

void load_adamw_state(torch::optim::AdamW& optimizer, torch::nn::Module& model, const io::TensorMap& state,
                      const std::string& source) {
  auto& target = optimizer.state();
  for (const auto& item : model.named_parameters()) {
    const torch::Tensor& p = item.value();
    if (!p.requires_grad()) continue;
    auto get = [&](const std::string& suffix, bool required) -> torch::Tensor {
      const auto it = state.find(item.key() + suffix);
      if (it == state.end()) {
        if (required) throw Error(source + ": no optimizer state '" + item.key() + suffix + "'");
        return {};
      }
      if (suffix != ".step" && it->second.sizes() != p.sizes())
        throw Error(source + ": optimizer state '" + item.key() + suffix + "' has the wrong shape");
      return it->second;
    };
    auto st = std::make_unique<torch::optim::AdamWParamState>();
    st->step(get(".step", true).item<int64_t>());
    st->exp_avg(get(".exp_avg", true).to(p.device(), p.scalar_type()).clone());
    st->exp_avg_sq(get(".exp_avg_sq", true).to(p.device(), p.scalar_type()).clone());
    if (const torch::Tensor m = get(".max_exp_avg_sq", false); m.defined())
      st->max_exp_avg_sq(m.to(p.device(), p.scalar_type()).clone());
    target[state_key<StateMap>(p)] = std::move(st);
  }
}

}  // namespace ft::train
