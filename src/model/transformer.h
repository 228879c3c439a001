// BERT/RoBERTa encoders with Hugging Face's module tree, so named_parameters() yields HF state-dict
// names (roberta.encoder.layer.0.attention.self.query.weight, classifier.out_proj.bias, ...).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include <string>
#include <vector>

#include "data/batching.h"
#include "model/config.h"
#include "model/linear.h"
#include "model/lora.h"

namespace ft::model {

enum class Head { SequenceClassification, MaskedLM };

// RoBERTa numbers real tokens pad+1, pad+2, ... and gives pads pad_token_id; BERT uses 0..S-1.
// input_ids [B,S] → [B,S] int64
torch::Tensor position_ids(const torch::Tensor& input_ids, const ModelConfig& cfg);

// Which attention kernel runs on packed tokens: PyTorch's variable-length flash attention where the
// build, the device and the precision allow it (CUDA, fp16/bf16), else the matmul path.
enum class AttentionKernel { Auto, Matmul };

// Where the real tokens of a batch sit on the device (from data::Batch's host-built layout), and what
// attention needs of it. Token-wise layers (the projections and the FFN, nearly all the FLOPs) run on
// the T real tokens only, and attention in one of three ways:
//   varlen: PyTorch's variable-length flash attention on the packed tokens (CUDA, fp16/bf16);
//   rows:   matmul attention row by row on each row's own tokens (CPU: no pads, so no mask, and none
//           of the softmax, dropout draws and FLOPs a padded batch spends on them);
//   padded: matmul attention on the padded view with HF's additive key mask (CUDA in fp32).
// Pad positions never reach a real token (they are masked keys), so real outputs are the same.
struct Packing {
  Packing(const data::Batch& batch, bool varlen);
  torch::Tensor index;       // [T] flat positions b·S+s of the real tokens
  torch::Tensor first;       // [B] where each row's first token sits in the packed order
  torch::Tensor cu_seqlens;  // [B+1] int32 row boundaries (varlen attention)
  torch::Tensor row_starts;  // [B+1] int32 0..B: one query a row (varlen attention of first tokens)
  torch::Tensor mask_bias;   // [B,1,1,S] additive key mask (padded attention)
  std::vector<int64_t> lengths;  // [B] each row's tokens, on the host (rows attention)
  int64_t B, S;
  bool varlen, rows;
  torch::Tensor pack(const torch::Tensor& padded) const;  // [B,S,H] → [T,H]
  torch::Tensor pad(const torch::Tensor& packed) const;   // [T,H] → [B,S,H], zeros at pads
};

class EmbeddingsImpl : public torch::nn::Module {
 public:
  explicit EmbeddingsImpl(const ModelConfig& cfg);
  // input_ids, position_ids, token_type_ids (undefined: all zero), one shape [...] → [...,H]
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids, const torch::Tensor& token_type_ids);

  ModelConfig cfg;
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(Embeddings);

class LayerImpl : public torch::nn::Module {
 public:
  explicit LayerImpl(const ModelConfig& cfg);
  // x: [B,S,H], mask_bias: [B,1,1,S] additive → [B,S,H] (every position, pads included, as HF).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask_bias);
  // x: [T,H] real tokens only → [T,H]; with first_token_only → [B,H]: every token still serves as
  // key/value, but only each row's first is carried through (all a classifier reads).
  torch::Tensor forward_packed(const torch::Tensor& x, const Packing& packing, bool first_token_only);

  ModelConfig cfg;
  Linear query{nullptr}, key{nullptr}, value{nullptr};  // attention.self.*
  Linear attention_dense{nullptr};                      // attention.output.dense
  torch::nn::LayerNorm attention_norm{nullptr};         // attention.output.LayerNorm
  Linear intermediate_dense{nullptr};                   // intermediate.dense
  Linear output_dense{nullptr};                         // output.dense
  torch::nn::LayerNorm output_norm{nullptr};            // output.LayerNorm

 private:
  // q: [B,Sq,H], k, v: [B,S,H] → context [B,Sq,H]
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& mask_bias);
  // Row by row on packed tokens: k, v [T,H]; q [T,H], or [B,H] (each row's first token) → context like q
  torch::Tensor attend_rows(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const Packing& packing,
                            bool first_token_only);
  // attention output projection + residual + LayerNorm, then the FFN block: [...,H] → [...,H]
  torch::Tensor feed_forward(const torch::Tensor& context, const torch::Tensor& residual);
};
TORCH_MODULE(Layer);

class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(const ModelConfig& cfg, Head head);

  // A collated batch on the model's device (the training and inference path) → classification
  // logits [B,num_labels]; masked LM: logits of every real token [T,vocab].
  torch::Tensor forward(const data::Batch& batch);

  // HF's signature: input_ids, attention_mask (1 token / 0 pad), token_type_ids (may be undefined):
  // [B,S] → logits [B,num_labels] (classification) or [B,S,vocab] (masked LM; without hidden_states
  // the rows at pad positions come from zero vectors, as pads are skipped — HF's are as meaningless).
  // hidden_states, when given, receives the embeddings output and each layer's output, [B,S,H] each.
  // Reads the mask on the host to pack the batch: for tests and one-off calls, not for loops.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& token_type_ids = {},
                        std::vector<torch::Tensor>* hidden_states = nullptr);

  // Masked LM only: logits at `positions` (int64 [N], indices into the batch's T packed tokens), so the
  // vocabulary projection runs only where there is something to predict. → [N,vocab]
  torch::Tensor masked_lm_logits(const data::Batch& batch, const torch::Tensor& positions);

  void set_attention_kernel(AttentionKernel k) { attention_kernel_ = k; }

  const ModelConfig& config() const { return cfg_; }
  Head head() const { return head_; }
  std::string architecture() const;  // e.g. "RobertaForSequenceClassification"
  // State-dict prefix of the task head: "classifier." or "lm_head." / "cls.".
  std::string head_prefix() const;

  // HF's _init_weights: N(0, initializer_range) for linear/embedding weights (padding rows zero),
  // zero biases, unit LayerNorm. Draws from torch's global generator (seed it first).
  void init_weights();
  void init_head_weights();

  // Adds LoRA to every encoder Linear whose name ends with a target (PEFT's suffix match), freezes
  // everything else except the task head (PEFT's modules_to_save for SEQ_CLS). Returns wrapped names.
  std::vector<std::string> add_lora(const LoraConfig& cfg);
  void merge_lora();
  bool has_lora() const;
  // Freezes the encoder, leaving only the head trainable (a linear probe).
  void freeze_encoder();

 private:
  // Packed tokens through every layer → [T,H], or [B,H] (each row's first token) with trim_last.
  torch::Tensor encode(const data::Batch& batch, bool trim_last);
  torch::Tensor head_logits(const torch::Tensor& first);  // [B,H] → [B,L]
  torch::Tensor lm_logits(const torch::Tensor& x);  // [...,H] → [...,V]
  std::vector<std::pair<std::string, Linear>> named_linears();

  ModelConfig cfg_;
  Head head_;
  Embeddings embeddings_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
  Linear pooler_{nullptr};  // BERT classification only
  // Classification: RoBERTa dense → tanh → out_proj; BERT: one linear on the pooled output.
  Linear cls_dense_{nullptr}, cls_out_{nullptr};
  // Masked LM: dense → act → LayerNorm → tied decoder (+ bias).
  Linear lm_dense_{nullptr};
  torch::nn::LayerNorm lm_norm_{nullptr};
  torch::Tensor lm_bias_;
  AttentionKernel attention_kernel_ = AttentionKernel::Auto;
};
TORCH_MODULE(Transformer);

}  // namespace ft::model
