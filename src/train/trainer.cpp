#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/resources.h"
#include "core/run_folder.h"
#include "data/batching.h"
#include "distributed/group.h"
#include "io/state_dict.h"
#include "train/inference.h"
#include "train/metrics.h"
#include "train/precision.h"
#include "train/progress.h"
#include "train/step.h"

namespace ft::train {
namespace {

double rounded(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

constexpr const char* kCheckpointPrefix = "checkpoint-";

// The step of a checkpoint-STEP folder, or -1 for any other name.
int64_t checkpoint_step(const std::string& path) {
  const std::string name = path.substr(path.find_last_of('/') + 1);
  const std::string digits = name.rfind(kCheckpointPrefix, 0) == 0 ? name.substr(std::strlen(kCheckpointPrefix)) : "";
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

// Complete checkpoints (trainer_state.json is written last) of a run folder that a run of ours wrote
// (a user's own checkpoint-N there is neither resumed from nor rotated away), oldest first.
std::vector<std::pair<int64_t, std::string>> checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const std::string& path : list_dir(dir))
    if (const int64_t step = checkpoint_step(path);
        step >= 0 && written_by_finetune(path) && file_exists(join_path(path, "trainer_state.json")))
      out.emplace_back(step, path);
  std::sort(out.begin(), out.end());
  return out;
}

// An evaluation kept in a checkpoint as what it is derived from: probabilities, loss, time.
void put_eval(io::TensorMap& t, const std::string& name, const EvalResult& e) {
  t[name + ".probs"] = e.probs.to(torch::kFloat);
  t[name + ".loss_runtime"] = torch::tensor({e.loss, e.runtime_s}, torch::kDouble);
}

EvalResult get_eval(const io::TensorMap& t, const std::string& name, const Examples& data, const std::string& source) {
  const auto probs = t.find(name + ".probs"), lr = t.find(name + ".loss_runtime");
  if (probs == t.end() || lr == t.end() || probs->second.dim() != 2 || lr->second.numel() != 2 ||
      probs->second.size(0) != static_cast<int64_t>(data.size()))
    throw Error(source + ": no evaluation '" + name + "' for the " + std::to_string(data.size()) + " evaluation examples");
  const torch::Tensor v = lr->second.to(torch::kDouble);
  return eval_result(probs->second, v[0].item<double>(), v[1].item<double>(), data.labels);
}

// Where rank r's generator states live in rng_state.safetensors: "generator.NAME" for rank 0 (and a
// single process), "rank{r}.generator.NAME" for the others, as HF's Trainer keeps one
// rng_state_{rank}.pth per process, so that every rank resumes drawing the dropout masks it would have.
std::string generator_prefix(int rank) { return rank == 0 ? "generator." : "rank" + std::to_string(rank) + ".generator."; }

// Every rank's generator states, gathered for rank 0 to write; every rank must call it.
io::TensorMap all_generator_states(distributed::Group* group) {
  io::TensorMap out;
  for (const auto& [name, state] : generator_states()) {
    if (!group) {
      out[generator_prefix(0) + name] = state;
      continue;
    }
    const torch::Tensor bytes = state.contiguous();  // uint8, the same length on every rank
    const uint8_t* b = bytes.data_ptr<uint8_t>();
    const auto all = group->all_gather(std::vector<double>(b, b + bytes.numel()));  // bytes travel exactly
    for (size_t r = 0; r < all.size(); ++r)
      out[generator_prefix(static_cast<int>(r)) + name] = torch::tensor(all[r], torch::kDouble).to(torch::kUInt8);
  }
  return out;
}

}  // namespace

std::string latest_checkpoint(const std::string& dir) {
  const auto all = checkpoints(dir);
  return all.empty() ? "" : all.back().second;
}

nlohmann::json EvalResult::to_log() const {
  return {{"eval_loss", loss},
          {"eval_accuracy", metrics.accuracy},
          {"eval_f1", metrics.f1},
          {"eval_precision", metrics.precision},
          {"eval_recall", metrics.recall},
          {"eval_runtime", rounded(runtime_s, 4)},
          {"eval_samples_per_second", rounded(samples_per_second, 3)}};
}

EvalResult evaluate(model::TransformerImpl& model, const Examples& data, int64_t batch_size, const std::string& device,
                    const std::string& precision, distributed::Group* group) {
  if (data.size() == 0) throw Error("evaluation set is empty");
  Stopwatch clock;
  InferenceResult r;
  {
    AutocastScope autocast(precision, device);
    InferenceOptions opts{batch_size, device};
    if (group) {
      opts.shard = group->rank();
      opts.shards = group->world_size();
    }
    r = run_inference(model, data.sequences, data.labels, opts);
  }
  if (group) {
    std::vector<torch::Tensor> parts{r.logits, r.losses};
    group->all_reduce_sum(parts);
  }
  return eval_result(torch::softmax(r.logits, -1), r.losses.mean().item<double>(), clock.seconds(), data.labels);
}

EvalResult eval_result(const torch::Tensor& probs, double loss, double runtime_s, const std::vector<int64_t>& labels) {
  EvalResult e;
  e.runtime_s = runtime_s;
  e.samples_per_second = static_cast<double>(probs.size(0)) / std::max(1e-9, e.runtime_s);
  e.loss = loss;
  e.probs = probs;
  const torch::Tensor pred = e.probs.argmax(-1);
  const torch::Tensor best = std::get<0>(e.probs.max(-1)).to(torch::kDouble);
  e.predictions.assign(pred.data_ptr<int64_t>(), pred.data_ptr<int64_t>() + pred.numel());
  e.probabilities.assign(best.data_ptr<double>(), best.data_ptr<double>() + best.numel());
  e.metrics = classification_metrics(labels, e.predictions, static_cast<int>(probs.size(1)));
  return e;
}

Trainer::Trainer(model::Transformer model, TrainingArguments args, std::string device)
    : model_(std::move(model)), args_(std::move(args)), device_(std::move(device)) {
  args_.validate();
  precision_ = resolve_precision(args_.fp16, args_.bf16, device_);
}

TrainOutcome Trainer::train(const Examples& train_data, const Examples* eval_data, const std::string& resume_dir) {
  if (train_data.size() == 0) throw Error("training set is empty");
  const bool saving = args_.save_strategy != "no";
  if ((saving && !save_model) || (!resume_dir.empty() && !load_weights))
    throw Error("Trainer: checkpoints need save_model (and resuming load_weights)");
  const torch::Device device(device_);
  // Weights first, on the host as built, so the optimizer and the device copy start from them.
  if (!resume_dir.empty()) load_weights(resume_dir);
  model_->to(device);
  model_->train();

  StepSettings settings;
  settings.adamw.learning_rate = args_.learning_rate;
  settings.adamw.weight_decay = args_.weight_decay;
  settings.max_grad_norm = args_.max_grad_norm;
  TrainingStep stepper(*model_, settings, precision_, device, group);
  const int rank = group ? group->rank() : 0, world = group ? group->world_size() : 1;
  const bool writer = rank == 0;  // of files: checkpoints (the caller writes the rest)
  const std::vector<torch::Tensor>& trainable = stepper.optimizer().parameters();
  const bool pin = device.is_cuda();

  const data::Ordering order{true, args_.group_by_length, args_.seed};
  std::vector<size_t> lengths;
  for (const auto& s : train_data.sequences) lengths.push_back(s.size());
  const int64_t global_batch = args_.per_device_train_batch_size * world;
  const int64_t batches_per_epoch = (static_cast<int64_t>(train_data.size()) + global_batch - 1) / global_batch;
  const int64_t steps_per_epoch =
      (batches_per_epoch + args_.gradient_accumulation_steps - 1) / args_.gradient_accumulation_steps;
  const int64_t total_steps = args_.max_steps > 0 ? args_.max_steps
                                                  : static_cast<int64_t>(std::ceil(args_.num_train_epochs * steps_per_epoch));
  const int64_t warmup = args_.warmup_steps > 0 ? args_.warmup_steps
                                                : static_cast<int64_t>(std::ceil(args_.warmup_ratio * total_steps));
  auto lr_at = [&](int64_t step) { return args_.learning_rate * lr_factor(args_.lr_scheduler_type, step, warmup, total_steps); };

  TrainOutcome out;
  double eval_seconds = 0, earlier_train_seconds = 0;  // the latter: before a resume
  double grad_norm = 0, logged_loss = std::nan("");
  size_t window_start = 0;  // first step (index into out.losses) of the current logging window
  double best_metric = 0;
  std::vector<torch::Tensor> best_state;
  int64_t patience_counter = 0;  // evaluations in a row without enough improvement (early stopping)

  if (!resume_dir.empty()) {
    const std::string state_path = join_path(resume_dir, "trainer_state.json");
    const nlohmann::json st = read_json(state_path);
    const nlohmann::json& saved = st.at("fingerprint");
    for (auto it = fingerprint.begin(); it != fingerprint.end(); ++it)
      if (saved.value(it.key(), nlohmann::json()) != it.value())
        throw Error("--resume: " + resume_dir + " was made with " + it.key() + " = " + saved.value(it.key(), nlohmann::json()).dump() +
                    ", this run has " + it.value().dump() + "; start a new run (another --output-dir) or drop --resume");
    out.global_step = st.at("global_step").get<int64_t>();
    out.epochs_done = st.at("epoch").get<double>();
    out.log_history = st.at("log_history");
    out.losses = st.at("losses").get<std::vector<double>>();
    out.train_samples = st.at("train_samples").get<int64_t>();
    out.train_real_tokens = st.at("train_real_tokens").get<int64_t>();
    earlier_train_seconds = st.at("train_runtime_s").get<double>();
    eval_seconds = st.at("eval_runtime_s").get<double>();
    window_start = st.at("window_start").get<size_t>();
    out.best_step = st.at("best_global_step").is_null() ? -1 : st.at("best_global_step").get<int64_t>();
    if (out.best_step >= 0) best_metric = st.at("best_metric").get<double>();
    patience_counter = st.value("early_stopping_patience_counter", int64_t{0});
    out.stopped_early = args_.early_stopping_patience > 0 && patience_counter >= args_.early_stopping_patience;
    for (auto it = out.log_history.rbegin(); it != out.log_history.rend(); ++it)
      if (it->contains("loss")) {
        logged_loss = it->at("loss").get<double>();
        break;
      }
    stepper.set_steps(out.global_step);
    const std::string opt_path = join_path(resume_dir, "optimizer.safetensors");
    stepper.optimizer().load_state(io::read_safetensors(opt_path), opt_path);
    const std::string rng_path = join_path(resume_dir, "rng_state.safetensors");
    const io::TensorMap rng = io::read_safetensors(rng_path);
    std::map<std::string, torch::Tensor> generators;
    const std::string prefix = generator_prefix(rank);
    for (const auto& [name, t] : rng)
      if (name.rfind(prefix, 0) == 0) generators[name.substr(prefix.size())] = t;
    if (generators.empty()) throw Error(rng_path + ": no random generator state for rank " + std::to_string(rank));
    restore_generator_states(generators, rng_path);
    stepper.scaler().load_state(rng, rng_path);
    if (st.at("has_eval").get<bool>()) {
      if (!eval_data) throw Error("--resume: " + resume_dir + " has evaluations but this run has no evaluation data");
      const std::string eval_path = join_path(resume_dir, "evaluations.safetensors");
      const io::TensorMap evals = io::read_safetensors(eval_path);
      out.final_eval = get_eval(evals, "last", *eval_data, eval_path);
      if (out.best_step >= 0) out.best_eval = get_eval(evals, "best", *eval_data, eval_path);
      out.has_eval = true;
    }
    info("resuming from " + resume_dir + ": step " + std::to_string(out.global_step) + " of " + std::to_string(total_steps));
  }
  const int64_t first_step = out.global_step;
  ProgressBar progress(total_steps, first_step);
  Stopwatch train_clock;
  double eval_seconds_here = 0;

  // Brings the losses of the steps since the last sync to the host: at logging, evaluation and save
  // points only, so the steps in between never wait for the device.
  auto sync_losses = [&] { grad_norm = stepper.flush(out.losses, " without writing a model"); };

  auto run_eval = [&](double epoch) {
    sync_losses();
    Stopwatch c;
    EvalResult e = evaluate(*model_, *eval_data, args_.per_device_eval_batch_size, device_, precision_, group);
    eval_seconds_here += c.seconds();
    nlohmann::json entry = e.to_log();
    entry["epoch"] = rounded(epoch, 2);
    entry["step"] = out.global_step;
    out.log_history.push_back(entry);
    progress.note("eval step " + std::to_string(out.global_step) + ": loss " + std::to_string(e.loss) + ", accuracy " +
                  std::to_string(e.metrics.accuracy));
    const double metric = entry.at(args_.metric_for_best_model).get<double>();
    const bool better = out.best_step < 0 || (args_.greater_is_better() ? metric > best_metric : metric < best_metric);
    if (args_.early_stopping_patience > 0) {
      // HF's EarlyStoppingCallback: against the best before this evaluation, by more than the threshold.
      const bool improved = out.best_step < 0 || (better && std::abs(metric - best_metric) > args_.early_stopping_threshold);
      patience_counter = improved ? 0 : patience_counter + 1;
      if (patience_counter >= args_.early_stopping_patience) {
        out.stopped_early = true;
        progress.note("early stopping at step " + std::to_string(out.global_step) + ": " + args_.metric_for_best_model +
                      " did not improve in " + std::to_string(patience_counter) + " evaluations");
      }
    }
    if (better) {
      best_metric = metric;
      out.best_eval = e;
      out.best_step = out.global_step;
      if (args_.load_best_model_at_end) {
        best_state.clear();
        for (const auto& p : trainable) best_state.push_back(p.detach().clone());
      }
    }
    out.final_eval = std::move(e);
    out.has_eval = true;
  };

  // checkpoint-STEP, complete or absent: written beside as .tmp, then renamed; trainer_state.json,
  // which marks it complete, last. Then the oldest beyond save_total_limit go (never the best).
  auto save = [&] {
    sync_losses();
    const io::TensorMap generators = all_generator_states(group);
    if (!writer) return;
    Stopwatch c;
    const std::string dir = join_path(args_.output_dir, kCheckpointPrefix + std::to_string(out.global_step)), tmp = dir + ".tmp";
    remove_our_folder(tmp);
    make_dirs(tmp);
    mark_written_by_finetune(tmp);
    save_model(tmp);
    io::write_safetensors(join_path(tmp, "optimizer.safetensors"), stepper.optimizer().state());
    io::TensorMap rng = stepper.scaler().state();
    rng.insert(generators.begin(), generators.end());
    io::write_safetensors(join_path(tmp, "rng_state.safetensors"), rng);
    if (out.has_eval) {
      io::TensorMap evals;
      put_eval(evals, "last", out.final_eval);
      if (out.best_step >= 0) put_eval(evals, "best", out.best_eval);
      io::write_safetensors(join_path(tmp, "evaluations.safetensors"), evals);
    }
    const double seconds_so_far = earlier_train_seconds + train_clock.seconds() - eval_seconds_here;
    write_json_atomic(join_path(tmp, "trainer_state.json"),
                      {{"global_step", out.global_step},
                       {"epoch", out.epochs_done},
                       {"max_steps", total_steps},
                       {"logging_steps", args_.logging_steps},
                       {"eval_steps", args_.eval_steps},
                       {"save_steps", args_.save_steps},
                       {"train_batch_size", args_.per_device_train_batch_size},
                       {"log_history", out.log_history},
                       {"best_metric", out.best_step >= 0 ? nlohmann::json(best_metric) : nlohmann::json(nullptr)},
                       {"best_global_step", out.best_step >= 0 ? nlohmann::json(out.best_step) : nlohmann::json(nullptr)},
                       {"best_model_checkpoint",
                        out.best_step >= 0 ? nlohmann::json(join_path(args_.output_dir, kCheckpointPrefix + std::to_string(out.best_step)))
                                           : nlohmann::json(nullptr)},
                       // What resuming needs beyond HF's fields: exact per-step losses (JSON doubles round-trip),
                       // counters, times, and the settings the run depends on.
                       {"losses", out.losses},
                       {"window_start", window_start},
                       {"train_samples", out.train_samples},
                       {"train_real_tokens", out.train_real_tokens},
                       {"train_runtime_s", seconds_so_far},
                       {"eval_runtime_s", eval_seconds + eval_seconds_here},
                       {"has_eval", out.has_eval},
                       {"early_stopping_patience_counter", patience_counter},
                       {"fingerprint", fingerprint}});
    remove_our_folder(dir);
    std::filesystem::rename(tmp, dir);
    if (args_.save_total_limit > 0) {
      const auto all = checkpoints(args_.output_dir);
      int64_t excess = static_cast<int64_t>(all.size()) - args_.save_total_limit;
      for (const auto& [step, path] : all)
        if (excess > 0 && step != out.best_step) {
          remove_our_folder(path);
          --excess;
        }
    }
    eval_seconds_here += c.seconds();  // kept out of the training time, as evaluation is
  };

  const bool eval_enabled = eval_data && args_.evaluation_strategy != "no";
  if (eval_enabled && !nlohmann::json(EvalResult{}.to_log()).contains(args_.metric_for_best_model))
    throw Error("--metric-for-best-model must be one of eval_loss, eval_accuracy, eval_f1, eval_precision, eval_recall");

  // The data position follows from the step: its epoch, then its first batch in that epoch.
  int64_t epoch = out.global_step / std::max<int64_t>(1, steps_per_epoch);
  size_t first_batch = static_cast<size_t>((out.global_step % std::max<int64_t>(1, steps_per_epoch)) * args_.gradient_accumulation_steps);
  while (out.global_step < total_steps && !out.stopped_early) {
    const auto batches = data::epoch_batches(lengths, global_batch, order, epoch);
    // One optimizer step per group of gradient_accumulation_steps batches; a shorter last group
    // still steps, with its loss averaged over the batches it has.
    const size_t accum = static_cast<size_t>(args_.gradient_accumulation_steps);
    for (size_t b = first_batch; b < batches.size() && out.global_step < total_steps && !out.stopped_early; b += accum) {
      const size_t group_end = std::min(batches.size(), b + accum);
      const double lr = lr_at(out.global_step);
      for (size_t micro = b; micro < group_end; ++micro) {
        const std::vector<size_t> mine = group ? distributed::rank_share(batches[micro], rank, world) : batches[micro];
        if (mine.empty()) continue;  // a short last batch: this rank only joins the all-reduce
        const data::Batch batch =
            data::collate(train_data.sequences, train_data.labels, mine, model_->config().pad_token_id, pin).to(device);
        torch::Tensor loss;
        {
          AutocastScope autocast(precision_, device_);
          const torch::Tensor logits = model_->forward(batch);  // [B,L]
          loss = torch::cross_entropy_loss(logits.to(torch::kFloat), batch.labels) / static_cast<double>(group_end - b);
          // Weighted by this rank's share, the ranks' summed gradients are those of the global batch's mean.
          if (mine.size() != batches[micro].size())
            loss = loss * (static_cast<double>(mine.size()) / static_cast<double>(batches[micro].size()));
        }
        stepper.backward(loss, micro + 1 == group_end);
        out.train_samples += batch.size();
        out.train_real_tokens += batch.real_tokens;
      }
      stepper.step(lr);
      ++out.global_step;
      const double epoch_f = static_cast<double>(epoch) + static_cast<double>(group_end) / static_cast<double>(batches.size());
      out.epochs_done = epoch_f;

      // Every logging_steps steps, as HF logs; a run shorter than one window logs once, at its end. A
      // short tail window is not logged: one small last batch would be a misleading point on the curve.
      if (out.global_step % args_.logging_steps == 0 || (out.global_step == total_steps && window_start == 0)) {
        sync_losses();
        logged_loss = std::accumulate(out.losses.begin() + static_cast<std::ptrdiff_t>(window_start), out.losses.end(), 0.0) /
                      static_cast<double>(out.losses.size() - window_start);
        out.log_history.push_back({{"loss", rounded(logged_loss, 4)},
                                   {"grad_norm", grad_norm},
                                   {"learning_rate", lr_at(out.global_step)},
                                   {"epoch", rounded(epoch_f, 2)},
                                   {"step", out.global_step}});
        window_start = out.losses.size();
      }
      progress.update(out.global_step, logged_loss, lr,
                      static_cast<double>(out.train_samples) / std::max(1e-9, earlier_train_seconds + train_clock.seconds() - eval_seconds_here));
      if (eval_enabled && args_.evaluation_strategy == "steps" && out.global_step % args_.eval_steps == 0) run_eval(epoch_f);
      if (saving && args_.save_strategy == "steps" && out.global_step % args_.save_steps == 0) save();
    }
    if (out.stopped_early) break;  // within the epoch (eval_strategy steps): the run ends there, as HF's
    first_batch = 0;
    ++epoch;
    const bool epoch_complete = out.global_step < total_steps || args_.max_steps <= 0;
    if (eval_enabled && args_.evaluation_strategy == "epoch" && epoch_complete) run_eval(static_cast<double>(epoch));
    if (saving && args_.save_strategy == "epoch" && epoch_complete) save();
  }
  sync_losses();
  // A run that ends between evaluations still gets a final evaluation of the final weights.
  if (eval_data && (!out.has_eval || out.log_history.back().find("eval_loss") == out.log_history.back().end()))
    run_eval(out.epochs_done);
  progress.finish();
  out.final_train_loss = final_train_loss(out.losses, args_.logging_steps);
  out.train_runtime_s = earlier_train_seconds + train_clock.seconds() - eval_seconds_here;
  out.eval_runtime_s = eval_seconds + eval_seconds_here;
  out.allreduce_bytes_per_step = stepper.allreduce_bytes_per_step();
  out.allreduce_seconds = stepper.allreduce_seconds();

  if (args_.load_best_model_at_end && out.best_step >= 0) {
    if (best_state.empty()) {
      // The best evaluation came before a resume: its weights are in its checkpoint.
      const std::string best_dir = join_path(args_.output_dir, kCheckpointPrefix + std::to_string(out.best_step));
      if (!file_exists(join_path(best_dir, "trainer_state.json")))
        throw Error("--load-best-model-at-end: the best model (step " + std::to_string(out.best_step) + ") was not saved in " +
                    best_dir + "; save at every evaluation (the same --save-strategy as --eval-strategy)");
      load_weights(best_dir);
    } else {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < trainable.size(); ++i) trainable[i].copy_(best_state[i]);
    }
    out.final_eval = out.best_eval;
  }
  out.log_history.push_back({{"train_runtime", rounded(out.train_runtime_s, 4)},
                             {"train_samples_per_second", rounded(out.train_samples / std::max(1e-9, out.train_runtime_s), 3)},
                             {"train_loss", out.losses.empty() ? 0.0 : std::accumulate(out.losses.begin(), out.losses.end(), 0.0) / out.losses.size()},
                             {"epoch", rounded(out.epochs_done, 2)},
                             {"step", out.global_step}});
  return out;
}

}  // namespace ft::train
