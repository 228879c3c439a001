#include "train/pretrain.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <optional>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/files.h"
#include "core/run_folder.h"
#include "core/log.h"
#include "core/random.h"
#include "core/resources.h"
#include "core/runtime.h"
#include "data/batching.h"
#include "data/mlm.h"
#include "distributed/group.h"
#include "io/hf_model.h"
#include "io/model_loader.h"
#include "model/spec.h"
#include "text/tokenizer.h"
#include "train/args.h"
#include "train/metrics.h"
#include "train/precision.h"
#include "train/progress.h"
#include "train/run.h"
#include "train/step.h"

namespace ft::train {
namespace {

namespace fs = std::filesystem;

// Streams of derive_seed(seed, position, stream): an epoch's order, a step's dropout, then one mask
// per micro-batch of the step.
constexpr uint64_t kOrderStream = 0;
constexpr uint64_t kDropoutStream = 1;
constexpr uint64_t kFirstMaskStream = 2;
// The evaluation mask is drawn once, from a step no run reaches.
constexpr uint64_t kEvalStep = ~uint64_t{0};

// Settings that fix what each step sees; a checkpoint only resumes under the same values.
#define FT_DATA_FIELDS(X) \
  X(seed) X(per_device_train_batch_size) X(gradient_accumulation_steps) X(max_length) X(eval_lines) X(mlm_probability)

#define FT_PRETRAIN_FIELDS(X)                                                                                  \
  X(model_config) X(model) X(tokenizer) X(corpus) X(output_dir) X(resume) X(max_steps) X(num_train_epochs)     \
  X(per_device_eval_batch_size) X(learning_rate) X(weight_decay) X(adam_beta1) X(adam_beta2) X(adam_epsilon)   \
  X(warmup_ratio) X(warmup_steps) X(max_grad_norm) X(logging_steps) X(eval_steps) X(save_steps) X(bf16) X(fp16) \
  X(device) X(threads) X(ddp_timeout) X(overwrite_output_dir) FT_DATA_FIELDS(X)

double rounded(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

std::vector<std::string> read_lines(const std::string& path) {
  if (!file_exists(path)) throw Error("corpus " + path + " does not exist");
  const std::string text = read_file(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    size_t len = end - start;
    if (len > 0 && text[start + len - 1] == '\r') --len;
    lines.emplace_back(text, start, len);
    start = end + 1;
  }
  return lines;
}

// Word-piece ids of lines[begin, end), without [CLS]/[SEP]; tokenized in parallel.
std::vector<std::vector<int64_t>> tokenize_lines(const std::vector<std::string>& lines, size_t begin, size_t end,
                                                 const text::Tokenizer& tok, const std::string& path) {
  std::vector<std::vector<int64_t>> docs(end - begin);
  at::parallel_for(static_cast<int64_t>(begin), static_cast<int64_t>(end), 256, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      try {
        std::vector<int64_t> ids = tok.encode(lines[static_cast<size_t>(i)]);
        docs[static_cast<size_t>(i) - begin].assign(ids.begin() + 1, ids.end() - 1);
      } catch (const Error& e) {
        throw Error(path + ":" + std::to_string(i + 1) + ": " + e.what());
      }
    }
  });
  return docs;
}

// The mean MLM loss of a masked batch (on the model's device) → 0-dim float; with correct, also how
// many targets the model's top guess hits (summed on the device, no sync).
torch::Tensor mlm_loss(model::TransformerImpl& model, const data::MlmBatch& m, const std::string& device,
                       const std::string& precision, torch::Tensor* correct = nullptr) {
  torch::Tensor logits;
  {
    AutocastScope autocast(precision, device);
    logits = model.masked_lm_logits(m.batch, m.positions).to(torch::kFloat);  // [N,V]
  }
  if (correct) *correct = logits.argmax(-1).eq(m.targets).sum();
  return torch::nn::functional::cross_entropy(logits, m.targets);
}

// The held-out slice, batched and masked once so that every evaluation scores the same predictions.
struct EvalSet {
  std::vector<data::MlmBatch> batches;
  int64_t sequences = 0, tokens = 0;
};

EvalSet make_eval_set(const std::vector<std::vector<int64_t>>& seqs, int64_t batch_size, const data::MlmVocab& vocab,
                      const data::MaskingOptions& mopts, uint64_t seed) {
  EvalSet e;
  e.sequences = static_cast<int64_t>(seqs.size());
  for (size_t b = 0; b * static_cast<size_t>(batch_size) < seqs.size(); ++b) {
    std::vector<size_t> idx;
    for (size_t i = b * static_cast<size_t>(batch_size); i < std::min(seqs.size(), (b + 1) * static_cast<size_t>(batch_size)); ++i)
      idx.push_back(i);
    const data::Batch batch = data::collate(seqs, {}, idx, vocab.pad_id);
    e.batches.push_back(data::apply_mask(batch, data::mask_tokens(batch.input_ids, vocab, mopts, data::derive_seed(seed, kEvalStep, b))));
    e.tokens += e.batches.back().targets.size(0);
  }
  return e;
}

struct MlmEval {
  double loss = 0, accuracy = 0, runtime_s = 0;
  int64_t tokens = 0;  // predicted (masked) tokens
};

// With a group, rank r scores batches r, r + world, … and the sums are added over the ranks.
MlmEval evaluate_mlm(model::TransformerImpl& model, const EvalSet& set, const std::string& device,
                     const std::string& precision, distributed::Group* group) {
  Stopwatch clock;
  torch::NoGradGuard no_grad;
  model.eval();
  const torch::Device dev(device);
  // Sums stay on the device; one copy at the end reads them.
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(dev));
  torch::Tensor correct_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(dev));
  for (size_t i = 0; i < set.batches.size(); ++i) {
    if (group && static_cast<int>(i % static_cast<size_t>(group->world_size())) != group->rank()) continue;
    torch::Tensor correct;
    const data::MlmBatch m = set.batches[i].to(dev);
    loss_sum += mlm_loss(model, m, device, precision, &correct).to(torch::kDouble) * static_cast<double>(m.targets.size(0));
    correct_sum += correct;
  }
  model.train();
  MlmEval r;
  r.tokens = set.tokens;
  std::vector<torch::Tensor> sums{torch::stack({loss_sum, correct_sum.to(torch::kDouble)})};
  if (group) group->all_reduce_sum(sums);
  const torch::Tensor host = sums[0].to(torch::kCPU);
  r.loss = host[0].item<double>() / static_cast<double>(std::max<int64_t>(1, r.tokens));
  r.accuracy = host[1].item<double>() / static_cast<double>(std::max<int64_t>(1, r.tokens));
  r.runtime_s = clock.seconds();
  return r;
}

// The checkpoint directory, or the previous one when a save was interrupted between its renames.
std::string existing_checkpoint(const std::string& ckpt) {
  for (const std::string& dir : {ckpt, ckpt + ".old"})
    if (file_exists(join_path(dir, "trainer_state.json"))) return dir;
  throw Error("--resume: no checkpoint in " + ckpt + " (it is written every --save-steps)");
}

// Writes the whole checkpoint beside the old one, then swaps them, so a crash at any point leaves
// one complete checkpoint (the old one under checkpoint.old at worst, which --resume also finds).
void write_checkpoint(const std::string& ckpt, model::TransformerImpl& model, const MultiTensorAdamW& optimizer,
                      const std::string& tokenizer_dir, const nlohmann::json& state) {
  const std::string tmp = ckpt + ".tmp", old = ckpt + ".old";
  remove_our_folder(tmp);
  make_dirs(tmp);
  mark_written_by_finetune(tmp);
  io::save_model(tmp, model);
  io::copy_tokenizer_files(tokenizer_dir, tmp);
  io::write_safetensors(join_path(tmp, "optimizer.safetensors"), optimizer.state());
  write_json_atomic(join_path(tmp, "trainer_state.json"), state);
  remove_our_folder(old);
  if (fs::exists(ckpt)) {
    if (!written_by_finetune(ckpt)) throw Error(ckpt + ": not written by finetune, so it is left as it is; move it away");
    fs::rename(ckpt, old);
  }
  fs::rename(tmp, ckpt);
  remove_our_folder(old);
}

nlohmann::json data_fingerprint(const PretrainArguments& a, size_t train_sequences, int world_size) {
  nlohmann::json j;
#define FT_TO_JSON(name) j[#name] = a.name;
  FT_DATA_FIELDS(FT_TO_JSON)
#undef FT_TO_JSON
  j["train_sequences"] = train_sequences;
  j["world_size"] = world_size;  // the global batch and each rank's masks depend on it
  return j;
}

}  // namespace

void PretrainArguments::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw Error(what);
  };
  require(!corpus.empty(), "pretrain: --corpus is required");
  require(!output_dir.empty(), "pretrain: --output-dir is required");
  require(resume || model.empty() != model_config.empty(), "pretrain: give exactly one of --model-config and --model");
  require(max_steps > 0 || num_train_epochs > 0, "pretrain: --max-steps or --num-train-epochs is required");
  require(eval_lines >= 0, "--eval-lines must be >= 0");
  require(max_length >= 3, "--max-length must be at least 3 ([CLS], a token, [SEP])");
  require(mlm_probability > 0 && mlm_probability < 1, "--mlm-probability must be in (0, 1)");
  require(per_device_train_batch_size > 0 && per_device_eval_batch_size > 0, "batch sizes must be positive");
  require(gradient_accumulation_steps > 0, "--gradient-accumulation-steps must be positive");
  require(learning_rate > 0 && std::isfinite(learning_rate), "--learning-rate must be positive");
  require(weight_decay >= 0, "--weight-decay must be >= 0");
  require(adam_beta1 >= 0 && adam_beta1 < 1 && adam_beta2 >= 0 && adam_beta2 < 1, "--adam-beta1/2 must be in [0, 1)");
  require(adam_epsilon > 0, "--adam-epsilon must be positive");
  require(warmup_ratio >= 0 && warmup_ratio < 1, "--warmup-ratio must be in [0, 1)");
  require(warmup_steps >= 0, "--warmup-steps must be >= 0");
  require(max_grad_norm >= 0, "--max-grad-norm must be >= 0 (0 disables clipping)");
  require(logging_steps > 0, "--logging-steps must be positive");
  require(eval_steps >= 0 && save_steps >= 0, "--eval-steps and --save-steps must be >= 0 (0 = off)");
  require(!(fp16 && bf16), "--fp16 and --bf16 are mutually exclusive");
}

nlohmann::json PretrainArguments::to_json() const {
  nlohmann::json j;
#define FT_TO_JSON(name) j[#name] = name;
  FT_PRETRAIN_FIELDS(FT_TO_JSON)
#undef FT_TO_JSON
  return j;
}

PretrainOutcome run_pretraining(const PretrainArguments& a) {
  a.validate();
  set_threads(a.threads);
  std::string device = resolve_device(a.device);
  const std::unique_ptr<distributed::Group> group = distributed::join_from_env(device, a.ddp_timeout);
  const int rank = group ? group->rank() : 0, world = group ? group->world_size() : 1;
  const bool writer = rank == 0;  // of every file, log line and the progress bar
  if (!writer) set_quiet(true);
  const std::string precision = resolve_precision(a.fp16, a.bf16, device);
  // Claimed before anything is read or written: never a folder we read, a stranger's or a busy one.
  std::optional<RunFolder> folder;
  if (writer)
    folder.emplace(RunFolder::claim(a.output_dir, {"pretrain", {a.model, a.model_config, a.tokenizer}, a.overwrite_output_dir}));
  const std::string ckpt = join_path(a.output_dir, "checkpoint");
  const std::string resume_dir = a.resume ? existing_checkpoint(ckpt) : "";
  const nlohmann::json resume_state = a.resume ? read_json(join_path(resume_dir, "trainer_state.json")) : nlohmann::json();

  // Model: the checkpoint's when resuming, else random (config only) or the given weights.
  model::ModelSpec mspec;
  mspec.dir = a.resume ? resume_dir : a.model.empty() ? a.model_config : a.model;
  mspec.random_init = !a.resume && a.model.empty();
  mspec.head = model::Head::MaskedLM;
  mspec.seed = a.seed;
  const std::string tok_dir = a.resume ? resume_dir : a.tokenizer.empty() ? mspec.dir : a.tokenizer;
  const text::Tokenizer tok = text::Tokenizer::from_dir(tok_dir);
  model::Transformer model = io::build_model(mspec);
  const model::ModelConfig& cfg = model->config();
  if (tok.vocab_size() > static_cast<size_t>(cfg.vocab_size))
    throw Error(tok_dir + ": tokenizer has " + std::to_string(tok.vocab_size()) + " tokens but the model only " +
                std::to_string(cfg.vocab_size));
  cfg.check_sequence_length(a.max_length, "--max-length " + std::to_string(a.max_length));
  // Later copies (checkpoints, final model) come from here, which never moves.
  if (writer && fs::weakly_canonical(tok_dir) != fs::weakly_canonical(a.output_dir)) io::copy_tokenizer_files(tok_dir, a.output_dir);

  // Corpus: tokenized once; the last eval_lines lines are held out.
  Stopwatch prep_clock;
  const data::MlmVocab vocab = data::MlmVocab::from_tokenizer(tok);
  const size_t n_eval = static_cast<size_t>(a.eval_lines);
  size_t n_lines = 0;
  std::vector<std::vector<int64_t>> train_seqs, eval_seqs;
  {
    const std::vector<std::string> lines = read_lines(a.corpus);
    n_lines = lines.size();
    if (n_lines <= n_eval)
      throw Error("corpus " + a.corpus + " has " + std::to_string(n_lines) + " lines, not more than --eval-lines " +
                  std::to_string(n_eval));
    train_seqs = data::pack_documents(tokenize_lines(lines, 0, n_lines - n_eval, tok, a.corpus), a.max_length,
                                      vocab.cls_id, vocab.sep_id);
    eval_seqs = data::pack_documents(tokenize_lines(lines, n_lines - n_eval, n_lines, tok, a.corpus), a.max_length,
                                     vocab.cls_id, vocab.sep_id);
  }
  if (train_seqs.empty()) throw Error("corpus " + a.corpus + " has no text in its training lines");
  int64_t train_tokens = 0;
  for (const auto& s : train_seqs) train_tokens += static_cast<int64_t>(s.size());
  info("corpus: " + std::to_string(n_lines) + " lines → " + std::to_string(train_seqs.size()) +
       " training sequences (" + std::to_string(train_tokens) + " tokens), " + std::to_string(eval_seqs.size()) +
       " held-out sequences, in " + std::to_string(prep_clock.seconds()) + " s");

  data::MaskingOptions mopts;
  mopts.probability = a.mlm_probability;
  const bool eval_enabled = !eval_seqs.empty();
  const EvalSet eval_set =
      eval_enabled ? make_eval_set(eval_seqs, a.per_device_eval_batch_size, vocab, mopts, a.seed) : EvalSet{};

  // Schedule over epochs of the packed sequences.
  const size_t batch = static_cast<size_t>(a.per_device_train_batch_size * world);  // the global batch
  const size_t accum = static_cast<size_t>(a.gradient_accumulation_steps);
  const size_t batches_per_epoch = (train_seqs.size() + batch - 1) / batch;
  const int64_t steps_per_epoch = static_cast<int64_t>((batches_per_epoch + accum - 1) / accum);
  const int64_t total_steps = a.max_steps > 0 ? a.max_steps : static_cast<int64_t>(std::ceil(a.num_train_epochs * steps_per_epoch));
  const int64_t warmup = a.warmup_steps > 0 ? a.warmup_steps : static_cast<int64_t>(std::ceil(a.warmup_ratio * total_steps));

  // Every input has been read: only now may a rerun drop the old result (which would make an
  // unfinished run look finished).
  if (writer) std::remove(join_path(a.output_dir, "pretrain_results.json").c_str());

  const torch::Device dev(device);
  model->to(dev);
  model->train();
  TrainingStep stepper(*model, {{a.learning_rate, a.adam_beta1, a.adam_beta2, a.adam_epsilon, a.weight_decay}, a.max_grad_norm},
                       precision, dev, group.get());

  PretrainOutcome out;
  out.log_history = nlohmann::json::array();
  const nlohmann::json fingerprint = data_fingerprint(a, train_seqs.size(), world);
  int64_t step = 0;
  if (a.resume) {
    for (auto it = fingerprint.begin(); it != fingerprint.end(); ++it)
      if (resume_state.at("data").value(it.key(), nlohmann::json()) != it.value())
        throw Error("--resume: " + it.key() + " was " + resume_state.at("data").value(it.key(), nlohmann::json()).dump() +
                    " in the checkpoint, now " + it.value().dump() + "; the run would not continue where it stopped");
    if (resume_state.at("max_steps").get<int64_t>() != total_steps)
      warn("--resume: the run now has " + std::to_string(total_steps) + " steps (was " +
           resume_state.at("max_steps").dump() + "); the learning-rate schedule changes accordingly");
    step = resume_state.at("global_step").get<int64_t>();
    out.losses = resume_state.at("losses").get<std::vector<double>>();
    out.log_history = resume_state.at("log_history");
    const std::string opt_path = join_path(resume_dir, "optimizer.safetensors");
    stepper.optimizer().load_state(io::read_safetensors(opt_path), opt_path);
    stepper.set_steps(step);
    info("resuming from step " + std::to_string(step) + " of " + std::to_string(total_steps));
  }
  const int64_t first_step = step;

  ProgressBar progress(total_steps, first_step);
  Stopwatch clock;
  double other_seconds = 0;  // evaluation and checkpoints, kept out of the throughput
  int64_t real_tokens = 0, sequences = 0;
  MlmEval last_eval;
  bool has_eval = false;
  int64_t last_checkpoint = a.resume ? step : -1;
  auto epoch_at = [&](int64_t s) { return static_cast<double>(s) / static_cast<double>(steps_per_epoch); };

  double grad_norm = 0, logged_loss = std::nan("");
  // Brings the losses of the steps since the last sync to the host: at logging, evaluation and save
  // points only, so the steps in between never wait for the device.
  auto sync_losses = [&] {
    const std::string note = ". " + (last_checkpoint >= 0 ? "The checkpoint of step " + std::to_string(last_checkpoint) + " in " + ckpt + " is intact"
                                                           : std::string("No checkpoint was written"));
    grad_norm = stepper.flush(out.losses, note);
  };
  auto run_eval = [&] {
    sync_losses();
    Stopwatch c;
    last_eval = evaluate_mlm(*model, eval_set, device, precision, group.get());
    has_eval = true;
    other_seconds += c.seconds();
    out.log_history.push_back({{"eval_loss", last_eval.loss},
                               {"eval_accuracy", last_eval.accuracy},
                               {"eval_tokens", last_eval.tokens},
                               {"eval_runtime", rounded(last_eval.runtime_s, 4)},
                               {"epoch", rounded(epoch_at(step), 4)},
                               {"step", step}});
    char line[160];
    std::snprintf(line, sizeof line, "eval step %lld: MLM loss %.4f, accuracy %.4f (%lld masked tokens)",
                  static_cast<long long>(step), last_eval.loss, last_eval.accuracy, static_cast<long long>(last_eval.tokens));
    progress.note(line);
  };
  auto state_json = [&] {
    return nlohmann::json{{"global_step", step},
                          {"epoch", epoch_at(step)},
                          {"max_steps", total_steps},
                          {"logging_steps", a.logging_steps},
                          {"eval_steps", a.eval_steps},
                          {"save_steps", a.save_steps},
                          {"train_batch_size", a.per_device_train_batch_size},
                          {"log_history", out.log_history},
                          // Exact per-step losses (JSON doubles round-trip) and the settings the data order depends on.
                          {"losses", out.losses},
                          {"data", fingerprint}};
  };

  std::vector<size_t> order;
  int64_t order_epoch = -1;
  while (step < total_steps) {
    // The data position follows from the step alone: epoch, then the step's micro-batches in it.
    const int64_t epoch = step / steps_per_epoch;
    if (epoch != order_epoch) {
      order = permutation(train_seqs.size(), data::derive_seed(a.seed, static_cast<uint64_t>(epoch), kOrderStream));
      order_epoch = epoch;
    }
    const size_t first_batch = static_cast<size_t>(step % steps_per_epoch) * accum;
    const size_t last_batch = std::min(batches_per_epoch, first_batch + accum);
    const double lr = a.learning_rate * lr_factor("linear", step, warmup, total_steps);
    // Dropout draws from torch's global generator: reseeding per step makes a resumed step identical.
    torch::manual_seed(data::derive_seed(a.seed, static_cast<uint64_t>(step), kDropoutStream));

    for (size_t b = first_batch; b < last_batch; ++b) {
      const std::vector<size_t> global(order.begin() + static_cast<std::ptrdiff_t>(b * batch),
                                       order.begin() + static_cast<std::ptrdiff_t>(std::min(train_seqs.size(), (b + 1) * batch)));
      const std::vector<size_t> idx = group ? distributed::rank_share(global, rank, world) : global;
      if (idx.empty()) continue;  // a short last batch: this rank only joins the all-reduce
      const data::Batch bt = data::collate(train_seqs, {}, idx, vocab.pad_id, dev.is_cuda());
      // Each rank its own mask stream (a single process: stream kFirstMaskStream + micro-batch, as before).
      const uint64_t stream = kFirstMaskStream + (b - first_batch) * static_cast<uint64_t>(world) + static_cast<uint64_t>(rank);
      const data::MaskedBatch masked = data::mask_tokens(bt.input_ids, vocab, mopts, data::derive_seed(a.seed, static_cast<uint64_t>(step), stream));
      const data::MlmBatch m = data::apply_mask(bt, masked).to(dev);
      // Weighted by this rank's share of the global batch; the ranks' gradients are summed.
      const double share = static_cast<double>(idx.size()) / static_cast<double>(global.size());
      torch::Tensor loss = mlm_loss(*model, m, device, precision) / static_cast<double>(last_batch - first_batch);
      stepper.backward(group ? loss * share : loss, b + 1 == last_batch);
      real_tokens += bt.real_tokens;
      sequences += static_cast<int64_t>(idx.size());
    }
    stepper.step(lr);
    ++step;

    if (step % a.logging_steps == 0 || step == total_steps) {
      sync_losses();
      // The mean over the steps since the previous log point.
      const int64_t since = step % a.logging_steps == 0 ? step - a.logging_steps : step - step % a.logging_steps;
      logged_loss = std::accumulate(out.losses.begin() + since, out.losses.end(), 0.0) / static_cast<double>(step - since);
      out.log_history.push_back({{"loss", logged_loss},
                                 {"grad_norm", grad_norm},
                                 {"learning_rate", a.learning_rate * lr_factor("linear", step, warmup, total_steps)},
                                 {"epoch", rounded(epoch_at(step), 4)},
                                 {"step", step}});
    }
    progress.update(step, logged_loss, lr, static_cast<double>(sequences) / std::max(1e-9, clock.seconds() - other_seconds));
    if (eval_enabled && a.eval_steps > 0 && step % a.eval_steps == 0) run_eval();
    if (writer && a.save_steps > 0 && step % a.save_steps == 0 && step < total_steps) {
      sync_losses();
      Stopwatch c;
      write_checkpoint(ckpt, *model, stepper.optimizer(), a.output_dir, state_json());
      last_checkpoint = step;
      other_seconds += c.seconds();
    }
  }
  sync_losses();
  if (eval_enabled && !(has_eval && out.log_history.back().contains("eval_loss"))) run_eval();
  progress.finish();
  const double train_s = std::max(1e-9, clock.seconds() - other_seconds);
  const int64_t steps_run = step - first_step;
  const nlohmann::json ranks = rank_statistics(group.get(), sequences, real_tokens, train_s, stepper.allreduce_bytes_per_step(),
                                               stepper.allreduce_seconds());
  out.model = model;
  if (!writer) {
    out.results = {{"distributed", ranks}};
    return out;
  }

  io::save_model(a.output_dir, *model);
  write_json_atomic(join_path(a.output_dir, "trainer_state.json"), state_json());

  const model::ParamCounts counts = model::count_parameters(*model);
  out.results = {
      {"steps", step},
      {"steps_this_run", steps_run},
      {"resumed_from_step", a.resume ? nlohmann::json(first_step) : nlohmann::json(nullptr)},
      {"epochs", epoch_at(step)},
      {"train_runtime_s", train_s},
      {"seconds_per_step", steps_run > 0 ? train_s / static_cast<double>(steps_run) : 0.0},
      {"tokens_per_second", ranks["real_tokens"].get<double>() / train_s},
      {"sequences_per_second", ranks["samples_per_second"]},  // the ranks' sum; each rank's in "distributed"
      {"distributed", ranks},
      {"final_train_loss", final_train_loss(out.losses, a.logging_steps)},
      {"corpus", {{"path", a.corpus}, {"lines", n_lines}, {"train_lines", n_lines - n_eval}, {"eval_lines", n_eval},
                  {"train_sequences", train_seqs.size()}, {"train_tokens", train_tokens}, {"eval_sequences", eval_seqs.size()}}},
      {"model", {{"architecture", model->architecture()}, {"parameters", counts.base},
                 {"initialisation", a.resume ? "checkpoint" : a.model.empty() ? "random" : a.model}}},
      {"hyperparameters", a.to_json()},
      {"environment", {{"device", device}, {"threads", num_threads()}, {"precision", precision},
                       {"torch_version", torch_version()}, {"peak_rss_bytes", peak_rss_bytes()}}},
      {"command_line", a.command_line}};
  if (has_eval)
    out.results["eval"] = {{"mlm_loss", last_eval.loss}, {"mlm_accuracy", last_eval.accuracy}, {"masked_tokens", last_eval.tokens}};
  write_json_atomic(join_path(a.output_dir, "pretrain_results.json"), out.results);
  return out;
}

}  // namespace ft::train
