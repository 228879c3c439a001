#include "train/trainer.h"

#include <torch/nn/utils/clip_grad.h>

#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/resources.h"
#include "data/batching.h"
#include "train/inference.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "train/progress.h"

namespace ft::train {
namespace {

double rounded(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

}  // namespace

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
                    const std::string& precision) {
  if (data.size() == 0) throw Error("evaluation set is empty");
  Stopwatch clock;
  InferenceResult r;
  {
    AutocastScope autocast(precision, device);
    r = run_inference(model, data.sequences, data.labels, {batch_size, device});
  }
  EvalResult e;
  e.runtime_s = clock.seconds();
  e.samples_per_second = static_cast<double>(data.size()) / std::max(1e-9, e.runtime_s);
  e.loss = r.losses.mean().item<double>();
  e.probs = torch::softmax(r.logits, -1);
  const torch::Tensor pred = e.probs.argmax(-1);
  const torch::Tensor best = std::get<0>(e.probs.max(-1)).to(torch::kDouble);
  e.predictions.assign(pred.data_ptr<int64_t>(), pred.data_ptr<int64_t>() + pred.numel());
  e.probabilities.assign(best.data_ptr<double>(), best.data_ptr<double>() + best.numel());
  e.metrics = classification_metrics(data.labels, e.predictions, static_cast<int>(model.config().num_labels()));
  return e;
}

Trainer::Trainer(model::Transformer model, TrainingArguments args, std::string device)
    : model_(std::move(model)), args_(std::move(args)), device_(std::move(device)) {
  args_.validate();
  precision_ = resolve_precision(args_.fp16, args_.bf16, device_);
}

TrainOutcome Trainer::train(const Examples& train_data, const Examples* eval_data) {
  if (train_data.size() == 0) throw Error("training set is empty");
  const torch::Device device(device_);
  model_->to(device);
  model_->train();

  std::vector<torch::Tensor> trainable;
  AdamWSettings adamw;
  adamw.learning_rate = args_.learning_rate;
  adamw.weight_decay = args_.weight_decay;
  const auto optimizer_ptr = make_adamw(*model_, adamw, &trainable);
  torch::optim::AdamW& optimizer = *optimizer_ptr;

  const data::Ordering order{true, args_.group_by_length, args_.seed};
  std::vector<size_t> lengths;
  for (const auto& s : train_data.sequences) lengths.push_back(s.size());
  const int64_t batches_per_epoch =
      (static_cast<int64_t>(train_data.size()) + args_.per_device_train_batch_size - 1) / args_.per_device_train_batch_size;
  const int64_t steps_per_epoch =
      (batches_per_epoch + args_.gradient_accumulation_steps - 1) / args_.gradient_accumulation_steps;
  const int64_t total_steps = args_.max_steps > 0 ? args_.max_steps
                                                  : static_cast<int64_t>(std::ceil(args_.num_train_epochs * steps_per_epoch));
  const int64_t warmup = args_.warmup_steps > 0 ? args_.warmup_steps
                                                : static_cast<int64_t>(std::ceil(args_.warmup_ratio * total_steps));
  auto set_lr = [&](int64_t step) {
    const double lr = args_.learning_rate * lr_factor(args_.lr_scheduler_type, step, warmup, total_steps);
    set_learning_rate(optimizer, lr);
    return lr;
  };

  TrainOutcome out;
  LossScaler scaler(precision_ == "fp16");
  ProgressBar progress(total_steps);
  Stopwatch train_clock;
  double eval_seconds = 0;
  double window_loss = 0;
  int64_t window_steps = 0;
  double best_metric = 0;
  std::vector<torch::Tensor> best_state;

  auto run_eval = [&](double epoch) {
    Stopwatch c;
    EvalResult e = evaluate(*model_, *eval_data, args_.per_device_eval_batch_size, device_, precision_);
    eval_seconds += c.seconds();
    nlohmann::json entry = e.to_log();
    entry["epoch"] = rounded(epoch, 2);
    entry["step"] = out.global_step;
    out.log_history.push_back(entry);
    progress.note("eval step " + std::to_string(out.global_step) + ": loss " + std::to_string(e.loss) + ", accuracy " +
                  std::to_string(e.metrics.accuracy));
    const double metric = entry.at(args_.metric_for_best_model).get<double>();
    const bool better = !out.has_eval || (args_.greater_is_better() ? metric > best_metric : metric < best_metric);
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

  const bool eval_enabled = eval_data && args_.evaluation_strategy != "no";
  if (eval_enabled && !nlohmann::json(EvalResult{}.to_log()).contains(args_.metric_for_best_model))
    throw Error("--metric-for-best-model must be one of eval_loss, eval_accuracy, eval_f1, eval_precision, eval_recall");

  int64_t epoch = 0;
  while (out.global_step < total_steps) {
    const auto batches = data::epoch_batches(lengths, args_.per_device_train_batch_size, order, epoch);
    // One optimizer step per group of gradient_accumulation_steps batches; a shorter last group
    // still steps, with its loss averaged over the batches it has.
    const size_t accum = static_cast<size_t>(args_.gradient_accumulation_steps);
    for (size_t b = 0; b < batches.size() && out.global_step < total_steps; b += accum) {
      const size_t group_end = std::min(batches.size(), b + accum);
      const double lr = set_lr(out.global_step);
      double step_loss = 0;
      for (size_t micro = b; micro < group_end; ++micro) {
        const data::Batch batch =
            data::collate(train_data.sequences, train_data.labels, batches[micro], model_->config().pad_token_id);
        torch::Tensor loss;
        {
          AutocastScope autocast(precision_, device_);
          const torch::Tensor logits = model_->forward(batch.input_ids.to(device), batch.attention_mask.to(device));
          loss = torch::cross_entropy_loss(logits.to(torch::kFloat), batch.labels.to(device)) /
                 static_cast<double>(group_end - b);
        }
        scaler.scale(loss).backward();
        step_loss += loss.item<double>();
        out.train_samples += batch.input_ids.size(0);
        out.train_real_tokens += batch.real_tokens;
      }
      if (!std::isfinite(step_loss))
        throw Error("training loss became " + std::to_string(step_loss) + " at step " + std::to_string(out.global_step + 1) +
                    " (learning rate too high?); stopped without writing a model");
      double grad_norm = 0;
      if (scaler.unscale(trainable)) {
        grad_norm = args_.max_grad_norm > 0 ? torch::nn::utils::clip_grad_norm_(trainable, args_.max_grad_norm)
                                            : torch::nn::utils::clip_grad_norm_(trainable, 1e30);
        optimizer.step();
      }
      optimizer.zero_grad();
      ++out.global_step;
      out.losses.push_back(step_loss);
      window_loss += step_loss;
      ++window_steps;
      const double epoch_f = static_cast<double>(epoch) + static_cast<double>(group_end) / static_cast<double>(batches.size());
      out.epochs_done = epoch_f;
      progress.update(out.global_step, step_loss, lr, static_cast<double>(out.train_samples) / std::max(1e-9, train_clock.seconds() - eval_seconds));

      // Every logging_steps steps, as HF logs; a run shorter than one window logs once, at its end. A
      // short tail window is not logged: one small last batch would be a misleading point on the curve.
      if (out.global_step % args_.logging_steps == 0 || (out.global_step == total_steps && window_steps == out.global_step)) {
        out.log_history.push_back({{"loss", rounded(window_loss / static_cast<double>(window_steps), 4)},
                                   {"grad_norm", grad_norm},
                                   {"learning_rate", args_.learning_rate * lr_factor(args_.lr_scheduler_type, out.global_step, warmup, total_steps)},
                                   {"epoch", rounded(epoch_f, 2)},
                                   {"step", out.global_step}});
        window_loss = 0;
        window_steps = 0;
      }
      if (eval_enabled && args_.evaluation_strategy == "steps" && out.global_step % args_.eval_steps == 0) run_eval(epoch_f);
      if (on_save && args_.save_strategy == "steps" && out.global_step % args_.save_steps == 0) on_save(out.global_step);
    }
    ++epoch;
    const bool epoch_complete = out.global_step < total_steps || args_.max_steps <= 0;
    if (eval_enabled && args_.evaluation_strategy == "epoch" && epoch_complete) run_eval(static_cast<double>(epoch));
    if (on_save && args_.save_strategy == "epoch" && epoch_complete) on_save(out.global_step);
  }
  // A run that ends between evaluations still gets a final evaluation of the final weights.
  if (eval_data && (!out.has_eval || out.log_history.back().find("eval_loss") == out.log_history.back().end()))
    run_eval(out.epochs_done);
  progress.finish();
  out.final_train_loss = final_train_loss(out.losses, args_.logging_steps);
  out.train_runtime_s = train_clock.seconds() - eval_seconds;
  out.eval_runtime_s = eval_seconds;

  if (args_.load_best_model_at_end && !best_state.empty()) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < trainable.size(); ++i) trainable[i].copy_(best_state[i]);
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
