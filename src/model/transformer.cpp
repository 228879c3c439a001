#include "model/transformer.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/init.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "model/attention.h"

namespace ft::model {
namespace {

// An empty container module, registered under `name`, so parameter names nest as HF's do.
std::shared_ptr<torch::nn::Module> child(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

torch::Tensor activation(const torch::Tensor& x, const std::string& act) {
  if (act == "gelu") return torch::gelu(x);  // exact erf form
  if (act == "gelu_new") return torch::gelu(x, "tanh");
  return torch::relu(x);
}

torch::nn::LayerNorm layer_norm(int64_t h, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({h}).eps(eps));
}

bool ends_with_module(const std::string& name, const std::string& target) {
  return name == target ||
         (name.size() > target.size() && name.compare(name.size() - target.size(), target.size(), target) == 0 &&
          name[name.size() - target.size() - 1] == '.');
}

// attention_mask [B,S] → additive [B,1,1,S]: masked keys get float32's lowest value, as HF adds
// (1 - mask) · finfo.min.
torch::Tensor key_mask_bias(const torch::Tensor& attention_mask) {
  return (1.0 - attention_mask.to(torch::kFloat).unsqueeze(1).unsqueeze(2)) * std::numeric_limits<float>::lowest();
}

}  // namespace

torch::Tensor position_ids(const torch::Tensor& input_ids, const ModelConfig& cfg) {
  if (cfg.model_type == "roberta") {
    const torch::Tensor real = input_ids.ne(cfg.pad_token_id).to(torch::kLong);
    return torch::cumsum(real, 1) * real + cfg.pad_token_id;
  }
  return torch::arange(input_ids.size(1), input_ids.options().dtype(torch::kLong)).unsqueeze(0).expand_as(input_ids);
}

Packing::Packing(const data::Batch& batch, bool varlen_attention)
    : index(batch.index), first(batch.first), cu_seqlens(batch.cu_seqlens), B(batch.size()), S(batch.max_length),
      varlen(varlen_attention), rows(!varlen_attention && batch.cu_seqlens.is_cpu()) {
  if (varlen) {
    row_starts = torch::arange(B + 1, cu_seqlens.options());
  } else if (rows) {
    const torch::Tensor c = cu_seqlens.to(torch::kLong);
    const int64_t* starts = c.data_ptr<int64_t>();
    for (int64_t b = 0; b < B; ++b) lengths.push_back(starts[b + 1] - starts[b]);
  } else {
    mask_bias = key_mask_bias(batch.attention_mask);
  }
}

torch::Tensor Packing::pack(const torch::Tensor& padded) const {
  return padded.reshape({B * S, padded.size(-1)}).index_select(0, index);
}

torch::Tensor Packing::pad(const torch::Tensor& packed) const {
  return torch::zeros({B * S, packed.size(-1)}, packed.options()).index_copy(0, index, packed).view({B, S, packed.size(-1)});
}

// ---------------------------------------------------------------------------------------------
EmbeddingsImpl::EmbeddingsImpl(const ModelConfig& c) : cfg(c) {
  const bool roberta = cfg.model_type == "roberta";
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(cfg.vocab_size, cfg.hidden_size).padding_idx(cfg.pad_token_id)));
  auto pos_opts = torch::nn::EmbeddingOptions(cfg.max_position_embeddings, cfg.hidden_size);
  if (roberta) pos_opts.padding_idx(cfg.pad_token_id);
  position_embeddings = register_module("position_embeddings", torch::nn::Embedding(pos_opts));
  token_type_embeddings = register_module(
      "token_type_embeddings", torch::nn::Embedding(torch::nn::EmbeddingOptions(cfg.type_vocab_size, cfg.hidden_size)));
  LayerNorm = register_module("LayerNorm", layer_norm(cfg.hidden_size, cfg.layer_norm_eps));
}

torch::Tensor EmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                      const torch::Tensor& token_type_ids) {
  const torch::Tensor types = token_type_ids.defined() ? token_type_ids : torch::zeros_like(input_ids);
  torch::Tensor x = word_embeddings(input_ids) + token_type_embeddings(types) + position_embeddings(position_ids);
  return byte_mask_dropout(LayerNorm(x), cfg.hidden_dropout_prob, is_training());
}

// ---------------------------------------------------------------------------------------------
LayerImpl::LayerImpl(const ModelConfig& c) : cfg(c) {
  const int64_t h = cfg.hidden_size;
  auto attention = child(*this, "attention");
  auto self = child(*attention, "self");
  query = self->register_module("query", Linear(h, h));
  key = self->register_module("key", Linear(h, h));
  value = self->register_module("value", Linear(h, h));
  auto attention_output = child(*attention, "output");
  attention_dense = attention_output->register_module("dense", Linear(h, h));
  attention_norm = attention_output->register_module("LayerNorm", layer_norm(h, cfg.layer_norm_eps));
  intermediate_dense = child(*this, "intermediate")->register_module("dense", Linear(h, cfg.intermediate_size));
  auto output = child(*this, "output");
  output_dense = output->register_module("dense", Linear(cfg.intermediate_size, h));
  output_norm = output->register_module("LayerNorm", layer_norm(h, cfg.layer_norm_eps));
}

torch::Tensor LayerImpl::attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& mask_bias) {
  const int64_t B = q.size(0), nh = cfg.num_attention_heads, hd = cfg.head_dim();
  auto heads = [&](const torch::Tensor& t) { return t.view({B, t.size(1), nh, hd}).transpose(1, 2); };  // [B,nh,S,hd]
  // HF divides after the matmul; keeping its order keeps results bit-close.
  torch::Tensor scores = torch::matmul(heads(q), heads(k).transpose(-1, -2)) / std::sqrt(static_cast<double>(hd)) + mask_bias;
  torch::Tensor probs = byte_mask_dropout(torch::softmax(scores, -1), cfg.attention_probs_dropout_prob, is_training());  // [B,nh,Sq,S]
  return torch::matmul(probs, heads(v)).transpose(1, 2).reshape({B, q.size(1), cfg.hidden_size});  // [B,Sq,H]
}

torch::Tensor LayerImpl::attend_rows(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                     const Packing& p, bool first_token_only) {
  const int64_t nh = cfg.num_attention_heads, hd = cfg.head_dim();
  auto heads = [&](const torch::Tensor& t) { return t.view({t.size(0), nh, hd}).transpose(0, 1); };  // [L,H] → [nh,L,hd]
  // One split each (its backward is one concatenation), not a slice a row (each a zero-filled [T,H]).
  const std::vector<torch::Tensor> qs = first_token_only ? q.split(1) : q.split_with_sizes(p.lengths);
  const std::vector<torch::Tensor> ks = k.split_with_sizes(p.lengths), vs = v.split_with_sizes(p.lengths);
  std::vector<torch::Tensor> context(qs.size());
  for (size_t b = 0; b < qs.size(); ++b) {
    // HF divides after the matmul; keeping its order keeps results bit-close.
    const torch::Tensor scores =
        torch::matmul(heads(qs[b]), heads(ks[b]).transpose(-1, -2)) / std::sqrt(static_cast<double>(hd));  // [nh,Lq,L]
    const torch::Tensor probs = byte_mask_dropout(torch::softmax(scores, -1), cfg.attention_probs_dropout_prob, is_training());
    context[b] = torch::matmul(probs, heads(vs[b])).transpose(0, 1).reshape({qs[b].size(0), cfg.hidden_size});
  }
  return torch::cat(context);  // [T,H] or [B,H]
}

torch::Tensor LayerImpl::feed_forward(const torch::Tensor& context, const torch::Tensor& residual) {
  const double p = cfg.hidden_dropout_prob;
  torch::Tensor a = attention_norm(byte_mask_dropout(attention_dense(context), p, is_training()) + residual);
  torch::Tensor ffn = output_dense(activation(intermediate_dense(a), cfg.hidden_act));
  return output_norm(byte_mask_dropout(ffn, p, is_training()) + a);
}

torch::Tensor LayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask_bias) {
  return feed_forward(attend(query(x), key(x), value(x), mask_bias), x);
}

torch::Tensor LayerImpl::forward_packed(const torch::Tensor& x, const Packing& p, bool first_token_only) {
  const torch::Tensor xq = first_token_only ? x.index_select(0, p.first) : x;  // the queries' rows: [B,H] or [T,H]
  torch::Tensor context;                                                     // like xq
  if (p.varlen) {
    const int64_t nh = cfg.num_attention_heads, hd = cfg.head_dim();
    auto heads = [&](const torch::Tensor& t) { return t.view({t.size(0), nh, hd}); };  // [T,H] → [T,nh,hd]
    const torch::Tensor k = heads(key(x)), v = heads(value(x));
    const double dropout = is_training() ? cfg.attention_probs_dropout_prob : 0.0;
    // First tokens only: one query a row.
    const torch::Tensor& q_starts = first_token_only ? p.row_starts : p.cu_seqlens;
    context = varlen_attention(heads(query(xq)), k, v, q_starts, p.cu_seqlens, first_token_only ? 1 : p.S, p.S, dropout)
                  .view({xq.size(0), cfg.hidden_size});
  } else if (p.rows) {
    context = attend_rows(query(xq), key(x), value(x), p, first_token_only);
  } else {
    const torch::Tensor k = p.pad(key(x)), v = p.pad(value(x));  // [B,S,H]
    context = first_token_only ? attend(query(xq).unsqueeze(1), k, v, p.mask_bias).squeeze(1)
                               : p.pack(attend(p.pad(query(x)), k, v, p.mask_bias));
  }
  return feed_forward(context, xq);
}

// ---------------------------------------------------------------------------------------------
TransformerImpl::TransformerImpl(const ModelConfig& cfg, Head head) : cfg_(cfg), head_(head) {
  const int64_t h = cfg.hidden_size;
  const bool roberta = cfg.model_type == "roberta";
  auto base = child(*this, cfg.model_type);
  embeddings_ = base->register_module("embeddings", Embeddings(cfg));
  layers_ = child(*base, "encoder")->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) layers_->push_back(Layer(cfg));

  if (head == Head::SequenceClassification) {
    if (roberta) {
      auto classifier = child(*this, "classifier");
      cls_dense_ = classifier->register_module("dense", Linear(h, h));
      cls_out_ = classifier->register_module("out_proj", Linear(h, cfg.num_labels()));
    } else {
      pooler_ = child(*base, "pooler")->register_module("dense", Linear(h, h));
      cls_out_ = register_module("classifier", Linear(h, cfg.num_labels()));
    }
  } else {
    std::shared_ptr<torch::nn::Module> lm = roberta ? child(*this, "lm_head") : child(*child(*this, "cls"), "predictions");
    std::shared_ptr<torch::nn::Module> transform = roberta ? lm : child(*lm, "transform");
    lm_dense_ = transform->register_module("dense", Linear(h, h));
    lm_norm_ = transform->register_module(roberta ? "layer_norm" : "LayerNorm", layer_norm(h, cfg.layer_norm_eps));
    lm_bias_ = lm->register_parameter("bias", torch::zeros({cfg.vocab_size}));
  }
  init_weights();
}

std::string TransformerImpl::architecture() const {
  const std::string family = cfg_.model_type == "roberta" ? "Roberta" : "Bert";
  return family + (head_ == Head::SequenceClassification ? "ForSequenceClassification" : "ForMaskedLM");
}

std::string TransformerImpl::head_prefix() const {
  if (head_ == Head::SequenceClassification) return "classifier.";
  return cfg_.model_type == "roberta" ? "lm_head." : "cls.";
}

torch::Tensor TransformerImpl::encode(const data::Batch& batch, bool trim_last) {
  // Largest position id a row of max_length tokens can reach: pad+S for RoBERTa, S-1 for BERT.
  // Checked from the host-known length, so no device sync is needed.
  const int64_t S = batch.max_length, offset = cfg_.position_offset();
  if (offset + S - 1 >= cfg_.max_position_embeddings)
    throw Error("sequence length " + std::to_string(S) + " exceeds what max_position_embeddings " +
                std::to_string(cfg_.max_position_embeddings) + " allows");
  torch::Tensor x = embeddings_(batch.packed_ids, offset ? batch.positions + offset : batch.positions,
                                batch.token_type_ids);  // [T,H]
  const Packing packing(batch, attention_kernel_ == AttentionKernel::Auto && varlen_attention_usable(x, cfg_.head_dim()));
  for (size_t i = 0; i < layers_->size(); ++i)
    x = layers_[i]->as<LayerImpl>()->forward_packed(x, packing, trim_last && i + 1 == layers_->size());
  return x;  // [T,H] or [B,H]
}

torch::Tensor TransformerImpl::head_logits(const torch::Tensor& first) {
  if (cfg_.model_type == "roberta") {
    torch::Tensor t = torch::tanh(cls_dense_(byte_mask_dropout(first, cfg_.head_dropout(), is_training())));
    return cls_out_(byte_mask_dropout(t, cfg_.head_dropout(), is_training()));  // [B,L]
  }
  return cls_out_(byte_mask_dropout(torch::tanh(pooler_(first)), cfg_.head_dropout(), is_training()));  // [B,L]
}

torch::Tensor TransformerImpl::forward(const data::Batch& batch) {
  // A classifier reads only the first token of the last layer, so that layer carries no other.
  if (head_ == Head::SequenceClassification) return head_logits(encode(batch, /*trim_last=*/true));  // [B,L]
  return lm_logits(encode(batch, false));  // [T,V]
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                       const torch::Tensor& token_type_ids, std::vector<torch::Tensor>* hidden_states) {
  const torch::Tensor positions = position_ids(input_ids, cfg_);  // [B,S], HF's numbering
  if (hidden_states) {
    // Every position of every layer, pads included, exactly as HF returns them.
    const torch::Tensor mask_bias = key_mask_bias(attention_mask);
    torch::Tensor x = embeddings_(input_ids, positions, token_type_ids);  // [B,S,H]
    hidden_states->push_back(x);
    for (const auto& layer : *layers_) hidden_states->push_back(x = layer->as<LayerImpl>()->forward(x, mask_bias));
    if (head_ == Head::MaskedLM) return lm_logits(x);  // [B,S,V]
    return head_logits(x.select(1, 0));               // [B,L]
  }
  // The packed layout counts positions from 0 within a row; the model adds RoBERTa's offset back.
  const int64_t offset = cfg_.model_type == "roberta" ? cfg_.pad_token_id + 1 : 0;
  const data::Batch batch = data::pack_padded(input_ids, attention_mask, token_type_ids, positions - offset);
  if (head_ == Head::SequenceClassification) return forward(batch);
  const Packing packing(batch, false);
  return lm_logits(packing.pad(encode(batch, false)));  // [B,S,V]
}

torch::Tensor TransformerImpl::lm_logits(const torch::Tensor& x) {
  // RoBERTa's LM head always uses exact GELU; BERT's uses hidden_act.
  const std::string act = cfg_.model_type == "roberta" ? "gelu" : cfg_.hidden_act;
  torch::Tensor t = lm_norm_(activation(lm_dense_(x), act));
  return torch::nn::functional::linear(t, embeddings_->word_embeddings->weight, lm_bias_);
}

torch::Tensor TransformerImpl::masked_lm_logits(const data::Batch& batch, const torch::Tensor& positions) {
  TORCH_CHECK(head_ == Head::MaskedLM, "masked_lm_logits needs the masked-LM head");
  return lm_logits(encode(batch, false).index_select(0, positions));  // [N,V]
}

std::vector<std::pair<std::string, Linear>> TransformerImpl::named_linears() {
  std::vector<std::pair<std::string, Linear>> out;
  for (const auto& item : named_modules("", /*include_self=*/false))
    if (auto lin = std::dynamic_pointer_cast<LinearImpl>(item.value())) out.emplace_back(item.key(), Linear(lin));
  return out;
}

void TransformerImpl::init_weights() {
  torch::NoGradGuard no_grad;
  const double std = cfg_.initializer_range;
  for (auto& [name, lin] : named_linears()) {
    lin->weight.normal_(0.0, std);
    if (lin->bias.defined()) lin->bias.zero_();
  }
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (auto emb = std::dynamic_pointer_cast<torch::nn::EmbeddingImpl>(item.value())) {
      emb->weight.normal_(0.0, std);
      if (emb->options.padding_idx()) emb->weight[*emb->options.padding_idx()].zero_();
    } else if (auto ln = std::dynamic_pointer_cast<torch::nn::LayerNormImpl>(item.value())) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
  if (lm_bias_.defined()) lm_bias_.zero_();
}

void TransformerImpl::init_head_weights() {
  torch::NoGradGuard no_grad;
  for (auto& [name, lin] : named_linears()) {
    if (name.rfind(head_prefix(), 0) != 0) continue;
    lin->weight.normal_(0.0, cfg_.initializer_range);
    if (lin->bias.defined()) lin->bias.zero_();
  }
  if (lm_norm_) {
    lm_norm_->weight.fill_(1.0);
    lm_norm_->bias.zero_();
  }
  if (lm_bias_.defined()) lm_bias_.zero_();
}

std::vector<std::string> TransformerImpl::add_lora(const LoraConfig& lora) {
  if (lora.r <= 0) throw Error("LoRA rank r must be positive (got " + std::to_string(lora.r) + ")");
  if (lora.target_modules.empty()) throw Error("LoRA needs at least one target module");
  std::vector<std::string> wrapped;
  std::vector<bool> used(lora.target_modules.size(), false);
  for (auto& [name, lin] : named_linears()) {
    if (name.rfind(cfg_.base_prefix(), 0) != 0) continue;  // only the encoder; the head is trained in full
    for (size_t t = 0; t < lora.target_modules.size(); ++t) {
      if (!ends_with_module(name, lora.target_modules[t])) continue;
      used[t] = true;
      if (!lin->has_lora()) {
        lin->add_lora(lora);
        wrapped.push_back(name);
      }
    }
  }
  for (size_t t = 0; t < used.size(); ++t)
    if (!used[t]) throw Error("LoRA target module '" + lora.target_modules[t] + "' matches no layer of the model");
  for (auto& item : named_parameters()) {
    const std::string& n = item.key();
    const bool trainable = n.find(".lora_A.") != std::string::npos || n.find(".lora_B.") != std::string::npos ||
                           n.rfind(head_prefix(), 0) == 0;
    item.value().set_requires_grad(trainable);
  }
  return wrapped;
}

void TransformerImpl::merge_lora() {
  for (auto& [name, lin] : named_linears()) lin->merge_lora();
  for (auto& p : parameters()) p.set_requires_grad(true);
}

bool TransformerImpl::has_lora() const {
  for (const auto& m : modules(/*include_self=*/false))
    if (auto lin = std::dynamic_pointer_cast<LinearImpl>(m); lin && lin->has_lora()) return true;
  return false;
}

void TransformerImpl::freeze_encoder() {
  for (auto& item : named_parameters()) item.value().set_requires_grad(item.key().rfind(head_prefix(), 0) == 0);
}

}  // namespace ft::model
