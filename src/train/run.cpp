#include "train/run.h"

#include <torch/version.h>


#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/json_get.h"
#include "core/log.h"
#include "core/machine.h"
#include "core/run_folder.h"
#include "core/resources.h"
#include "core/runtime.h"
#include "distributed/group.h"
#include "io/hf_model.h"
#include "io/model_loader.h"
#include "io/peft_adapter.h"
#include "text/tokenizer.h"
#include "train/precision.h"
#include "train/trainer.h"

namespace ft::train {
namespace {

// Keys of RunSpec that are not TrainingArguments.
const char* const kRunKeys[] = {"arm", "model_name_or_path", "random_init", "method", "lora_r", "lora_alpha",
                                "lora_dropout", "lora_target_modules", "tokenizer_name", "train_file", "eval_file",
                                "text_column", "label_column", "id_column", "label_names", "data_format",
                                "on_bad_row", "max_train_samples", "max_eval_samples", "adapter",
                                "resume_from_checkpoint", "validation_split", "validation_file", "concurrent_runs"};

std::vector<std::string> split_commas(const nlohmann::json& v, const std::string& what) {
  if (v.is_array()) return json_get<std::vector<std::string>>(v, what);
  std::vector<std::string> out;
  std::stringstream ss(json_get<std::string>(v, what));
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// What the weights, their gradients and AdamW's two moments (each the parameter's shape and type)
// occupy: the part of training memory that the method sets, apart from activations.
nlohmann::json tensor_bytes(model::TransformerImpl& model) {
  int64_t weights = 0, trainable = 0;
  for (const auto& p : model.parameters()) {
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    weights += bytes;
    if (p.requires_grad()) trainable += bytes;
  }
  return {{"parameter_bytes", weights}, {"gradient_bytes", trainable}, {"optimizer_state_bytes", 2 * trainable}};
}

Examples tokenize(const data::Dataset& ds, const text::Tokenizer& tok, int64_t max_length) {
  Examples ex;
  for (const auto& e : ds.examples) {
    ex.ids.push_back(e.id);
    ex.sequences.push_back(tok.encode(e.text, static_cast<int>(max_length)));
    ex.labels.push_back(e.label);
  }
  return ex;
}

data::Dataset load(const std::string& path, data::DatasetOptions opts, int64_t max_samples, uint64_t seed) {
  opts.max_samples = max_samples;
  opts.seed = seed;
  data::Dataset ds = data::load_dataset(path, opts);
  if (ds.skipped_rows > 0) warn(path + ": skipped " + std::to_string(ds.skipped_rows) + " malformed rows");
  return ds;
}

// probability: of the predicted label; label_probability: of the true one (what calibration needs).
void write_predictions(const std::string& path, const Examples& data, const EvalResult& e,
                       const std::vector<std::string>& names) {
  const torch::Tensor probs = e.probs.to(torch::kDouble).contiguous();  // [N,L]
  const auto p = probs.accessor<double, 2>();
  write_file_atomic(path, [&](std::ostream& out) {
    out << "id\tlabel\tprediction\tprobability\tlabel_probability\n";
    for (size_t i = 0; i < data.size(); ++i)
      out << data.ids[i] << '\t' << names[static_cast<size_t>(data.labels[i])] << '\t'
          << names[static_cast<size_t>(e.predictions[i])] << '\t' << e.probabilities[i] << '\t'
          << p[static_cast<int64_t>(i)][data.labels[i]] << '\n';
  });
}

nlohmann::json metrics_json(const EvalResult& e) {
  const auto& m = e.metrics;
  std::vector<std::vector<int64_t>> confusion(static_cast<size_t>(m.confusion.num_labels));
  for (int t = 0; t < m.confusion.num_labels; ++t)
    for (int p = 0; p < m.confusion.num_labels; ++p) confusion[static_cast<size_t>(t)].push_back(m.confusion.at(t, p));
  return {{"loss", e.loss},           {"accuracy", m.accuracy},   {"f1", m.f1},
          {"precision", m.precision}, {"recall", m.recall},       {"macro_f1", m.macro_f1},
          {"macro_precision", m.macro_precision}, {"macro_recall", m.macro_recall},
          {"confusion", confusion},   {"runtime_s", e.runtime_s}, {"samples_per_second", e.samples_per_second},
          {"n", m.n}};
}

std::vector<std::string> model_labels(const data::Dataset& ds, const std::string& model_dir) {
  const model::ModelConfig cfg = model::ModelConfig::load(model_dir);
  // Keep the model's label names when the count fits; otherwise name labels after the data.
  return cfg.num_labels() == static_cast<int64_t>(ds.label_names.size()) ? cfg.id2label : ds.label_names;
}

}  // namespace

std::string torch_version() { return TORCH_VERSION; }

nlohmann::json rank_statistics(distributed::Group* group, int64_t samples, int64_t real_tokens, double seconds,
                               int64_t allreduce_bytes_per_step, double allreduce_seconds) {
  const std::vector<double> mine = {static_cast<double>(samples), static_cast<double>(real_tokens), seconds,
                                    static_cast<double>(peak_rss_bytes()), static_cast<double>(cuda_peak_allocated_bytes()),
                                    allreduce_seconds};
  const std::vector<std::vector<double>> all = group ? group->all_gather(mine) : std::vector<std::vector<double>>{mine};
  nlohmann::json ranks = nlohmann::json::array();
  double total_samples = 0, total_tokens = 0, total_rate = 0;
  for (size_t r = 0; r < all.size(); ++r) {
    const auto& v = all[r];
    const double rate = v[0] / std::max(1e-9, v[2]);
    total_samples += v[0];
    total_tokens += v[1];
    total_rate += rate;
    ranks.push_back({{"rank", r}, {"samples", static_cast<int64_t>(v[0])}, {"real_tokens", static_cast<int64_t>(v[1])},
                     {"samples_per_second", rate}, {"allreduce_seconds", v[5]}, {"peak_rss_bytes", static_cast<int64_t>(v[3])},
                     {"cuda_peak_allocated_bytes", static_cast<int64_t>(v[4])}});
  }
  return {{"world_size", all.size()}, {"backend", group ? group->backend() : "none"},
          {"allreduce_bytes_per_step", allreduce_bytes_per_step}, {"ranks", ranks},
          {"samples", static_cast<int64_t>(total_samples)}, {"real_tokens", static_cast<int64_t>(total_tokens)},
          {"samples_per_second", total_rate}};
}

std::string summary_line(const nlohmann::json& r) {
  char buf[512];
  const auto& p = r.at("parameters");
  std::string eval = "no evaluation";
  if (r.contains("eval") || r.contains("validation")) {
    const bool test = r.contains("eval");
    const auto& e = r[test ? "eval" : "validation"]["final"];
    char eb[240];
    std::snprintf(eb, sizeof eb, "%s accuracy %.4f, f1 %.4f, loss %.4f, gap %+.4f (%s)", test ? "test" : "validation",
                  e["accuracy"].get<double>(), e["f1"].get<double>(), e["loss"].get<double>(),
                  r["generalization_gap"].get<double>(), r.value("generalization_gap_set", std::string("test")).c_str());
    eval = eb;
  }
  std::snprintf(buf, sizeof buf, "%s: %s, train loss %.4f; %lld trainable (%.2f%%); %.1f s, %.1f samples/s; checkpoint %.2f MB in %s",
                r.at("arm").get<std::string>().c_str(), eval.c_str(), r["train"]["final_loss"].get<double>(),
                p["trainable"].get<long long>(), p["trainable_percent"].get<double>(), r["train"]["runtime_s"].get<double>(),
                r["train"]["samples_per_second"].get<double>(), r["checkpoint"]["bytes"].get<double>() / 1e6,
                r["checkpoint"]["path"].get<std::string>().c_str());
  return buf;
}

RunSpec RunSpec::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object");
  RunSpec s;
  nlohmann::json training = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    if (std::find(std::begin(kRunKeys), std::end(kRunKeys), k) == std::end(kRunKeys)) {
      training[k] = v;
      continue;
    }
    const std::string what = source + ": '" + k + "'";
    if (k == "arm") s.arm = json_get<std::string>(v, what);
    else if (k == "model_name_or_path") s.model.dir = json_get<std::string>(v, what);
    else if (k == "random_init") s.model.random_init = json_get<bool>(v, what);
    else if (k == "method") s.model.method = json_get<std::string>(v, what);
    else if (k == "lora_r") s.model.lora.r = json_get<int>(v, what);
    else if (k == "lora_alpha") s.model.lora.alpha = json_get<double>(v, what);
    else if (k == "lora_dropout") s.model.lora.dropout = json_get<double>(v, what);
    else if (k == "lora_target_modules") s.model.lora.target_modules = split_commas(v, what);
    else if (k == "adapter") s.model.adapter_dir = json_get<std::string>(v, what);
    else if (k == "tokenizer_name") s.tokenizer_dir = json_get<std::string>(v, what);
    else if (k == "train_file") s.train_file = json_get<std::string>(v, what);
    else if (k == "eval_file") s.eval_file = json_get<std::string>(v, what);
    else if (k == "validation_split") s.validation_split = json_get<double>(v, what);
    else if (k == "validation_file") s.validation_file = json_get<std::string>(v, what);
    else if (k == "text_column") s.data.text_column = json_get<std::string>(v, what);
    else if (k == "label_column") s.data.label_column = json_get<std::string>(v, what);
    else if (k == "id_column") s.data.id_column = json_get<std::string>(v, what);
    else if (k == "label_names") s.data.label_names = split_commas(v, what);
    else if (k == "data_format") s.data.format = json_get<std::string>(v, what);
    else if (k == "on_bad_row") {
      const std::string policy = json_get<std::string>(v, what);
      if (policy != "error" && policy != "skip") throw Error(source + ": on_bad_row must be error or skip");
      s.data.skip_bad_rows = policy == "skip";
    } else if (k == "max_train_samples") s.max_train_samples = json_get<int64_t>(v, what);
    else if (k == "max_eval_samples") s.max_eval_samples = json_get<int64_t>(v, what);
    else if (k == "concurrent_runs") {
      s.concurrent_runs = json_get<int>(v, what);
      if (s.concurrent_runs < 1) throw Error(source + ": concurrent_runs must be at least 1");
    }
    else if (k == "resume_from_checkpoint") s.resume_from_checkpoint = v.is_boolean() ? (json_get<bool>(v, what) ? "latest" : "") : json_get<std::string>(v, what);
  }
  s.args.update_from_json(training, source);
  s.model.seed = s.args.seed;
  if (s.arm.empty()) s.arm = s.model.method;
  return s;
}

nlohmann::json RunSpec::to_json() const {
  nlohmann::json j = args.to_json();
  j["arm"] = arm;
  j["model_name_or_path"] = model.dir;
  j["random_init"] = model.random_init;
  j["method"] = model.method;
  j["lora_r"] = model.lora.r;
  j["lora_alpha"] = model.lora.alpha;
  j["lora_dropout"] = model.lora.dropout;
  j["lora_target_modules"] = model.lora.target_modules;
  j["tokenizer_name"] = tokenizer_dir;
  j["train_file"] = train_file;
  j["eval_file"] = eval_file;
  j["validation_split"] = validation_split;
  j["validation_file"] = validation_file;
  j["text_column"] = data.text_column;
  j["label_column"] = data.label_column;
  j["id_column"] = data.id_column;
  j["label_names"] = data.label_names;
  j["data_format"] = data.format;
  j["on_bad_row"] = data.skip_bad_rows ? "skip" : "error";
  j["max_train_samples"] = max_train_samples;
  j["max_eval_samples"] = max_eval_samples;
  j["concurrent_runs"] = concurrent_runs;
  return j;
}

namespace {

// Every example a run will use, read and tokenized before the first step, so that a bad file (the
// test set included) is found in seconds, not after hours of training.
struct RunData {
  data::Dataset train_ds;
  std::optional<data::Dataset> val_ds, test_ds;
  Examples train_ex, val_ex, test_ex;
  std::string val_source;  // where the validation examples come from, for the log and results.json
  bool validating() const { return val_ds.has_value(); }
  // The set that evaluation during training, model selection and the gap use.
  const Examples* selection() const { return val_ds ? &val_ex : test_ds ? &test_ex : nullptr; }
};

RunData load_run_data(const RunSpec& spec, const text::Tokenizer& tok) {
  const TrainingArguments& args = spec.args;
  if (spec.validation_split != 0 && !spec.validation_file.empty())
    throw Error("train: give --validation-split or --validation-file, not both");
  RunData d;
  d.train_ds = load(spec.train_file, spec.data, spec.max_train_samples, args.seed);
  if (spec.validation_split != 0) {
    data::Split split = data::split_stratified(d.train_ds, spec.validation_split, args.seed);
    d.train_ds = std::move(split.train);
    d.val_ds = std::move(split.held_out);
    std::ostringstream percent;
    percent << 100 * spec.validation_split;
    d.val_source = "a " + percent.str() + "% stratified split of " + spec.train_file;
  } else if (!spec.validation_file.empty()) {
    d.val_ds = load(spec.validation_file, spec.data, -1, args.seed);
    d.val_source = spec.validation_file;
  }
  // With a validation set the test set is only held during training, and scored once at the end.
  if (!spec.eval_file.empty()) d.test_ds = load(spec.eval_file, spec.data, spec.max_eval_samples, args.seed);
  d.train_ex = tokenize(d.train_ds, tok, args.max_length);
  if (d.val_ds) d.val_ex = tokenize(*d.val_ds, tok, args.max_length);
  if (d.test_ds) d.test_ex = tokenize(*d.test_ds, tok, args.max_length);
  info("data: " + std::to_string(d.train_ex.size()) + " training examples from " + spec.train_file +
       (d.val_ds ? ", " + std::to_string(d.val_ex.size()) + " validation examples (" + d.val_source + ")" : "") +
       (!d.test_ds ? ""
        : d.val_ds ? ", " + std::to_string(d.test_ex.size()) + " test examples from " + spec.eval_file + ", scored after training"
                   : ", " + std::to_string(d.test_ex.size()) + " evaluation examples from " + spec.eval_file));
  return d;
}

// "", or the checkpoint folder to continue from, checked to be complete.
std::string resume_folder(const RunSpec& spec) {
  const std::string& dir = spec.resume_from_checkpoint;
  if (dir == "latest") {
    const std::string latest = latest_checkpoint(spec.args.output_dir);
    if (latest.empty())
      throw Error("--resume: no complete checkpoint-STEP folder in " + spec.args.output_dir +
                  " (they are written with --save-strategy steps|epoch)");
    return latest;
  }
  if (!dir.empty() && !file_exists(join_path(dir, "trainer_state.json")))
    throw Error("--resume: " + dir + " is not a complete checkpoint (no trainer_state.json)");
  return dir;
}

// What each step depends on: a checkpoint made under other values would not continue this run.
nlohmann::json run_fingerprint(const RunSpec& spec, size_t train_examples, int world_size) {
  const TrainingArguments& args = spec.args;
  return {{"model_name_or_path", spec.model.dir}, {"random_init", spec.model.random_init},
          {"method", spec.model.method}, {"adapter", spec.model.adapter_dir},
          {"lora", {spec.model.lora.r, spec.model.lora.alpha, spec.model.lora.dropout, spec.model.lora.target_modules}},
          {"train_file", spec.train_file}, {"max_train_samples", spec.max_train_samples},
          {"train_examples", train_examples}, {"max_length", args.max_length}, {"seed", args.seed},
          {"per_device_train_batch_size", args.per_device_train_batch_size},
          {"world_size", world_size},
          {"gradient_accumulation_steps", args.gradient_accumulation_steps},
          {"group_by_length", args.group_by_length}, {"learning_rate", args.learning_rate},
          {"lr_scheduler_type", args.lr_scheduler_type}, {"weight_decay", args.weight_decay},
          {"fp16", args.fp16}, {"bf16", args.bf16},
          {"validation_split", spec.validation_split}, {"validation_file", spec.validation_file},
          {"early_stopping", {args.early_stopping_patience, args.early_stopping_threshold}}};
}

// The final trainer_state.json, as HF's Trainer leaves it in output_dir.
nlohmann::json final_trainer_state(const TrainingArguments& args, const TrainOutcome& out) {
  return {{"log_history", out.log_history},
          {"global_step", out.global_step},
          {"epoch", out.epochs_done},
          {"max_steps", out.global_step},
          {"num_train_epochs", args.num_train_epochs},
          {"logging_steps", args.logging_steps},
          {"eval_steps", args.eval_steps},
          {"train_batch_size", args.per_device_train_batch_size},
          {"best_metric", out.best_step >= 0 ? nlohmann::json(out.best_eval.to_log().at(args.metric_for_best_model)) : nlohmann::json(nullptr)},
          {"best_model_checkpoint", nullptr},
          {"is_local_process_zero", true},
          {"is_world_process_zero", true}};
}

struct Finished {
  const RunSpec& spec;
  const RunData& data;
  const TrainOutcome& out;
  const std::optional<EvalResult>& test_eval;
  const model::ParamCounts& counts;
  const nlohmann::json& ranks;
  nlohmann::json tensor_bytes;  // of the weights, gradients and optimizer state
  int64_t peak_rss_bytes, checkpoint_bytes;
  std::string device, precision;
};

nlohmann::json results_json(const Finished& f) {
  const RunSpec& spec = f.spec;
  const TrainOutcome& out = f.out;
  const RunData& d = f.data;
  nlohmann::json hyper = spec.args.to_json();
  hyper["lora"] = {{"r", spec.model.lora.r}, {"alpha", spec.model.lora.alpha}, {"dropout", spec.model.lora.dropout},
                   {"target_modules", spec.model.lora.target_modules}};
  const double train_s = std::max(1e-9, out.train_runtime_s);
  const nlohmann::json machine = machine_facts();
  nlohmann::json results = {
      {"arm", spec.arm},
      {"method", spec.model.method},
      {"seed", spec.args.seed},
      {"model", spec.model.dir},
      {"random_init", spec.model.random_init},
      {"hyperparameters", hyper},
      {"parameters", {{"trainable", f.counts.trainable}, {"total", f.counts.base}, {"adapter", f.counts.adapter},
                      {"trainable_percent", f.counts.trainable_percent()}}},
      {"train", {{"final_loss", out.final_train_loss}, {"runtime_s", out.train_runtime_s},
                 {"samples_per_second", f.ranks["samples_per_second"]},
                 {"real_tokens_per_second", f.ranks["real_tokens"].get<double>() / train_s},
                 {"steps", out.global_step}, {"epochs", out.epochs_done}, {"samples", f.ranks["samples"]},
                 {"examples", d.train_ex.size()}, {"stopped_early", out.stopped_early}}},
      // train's samples and samples/s are the ranks' sums; each rank's figures and memory are here.
      {"distributed", f.ranks},
      {"memory", f.tensor_bytes},
      {"checkpoint", {{"path", spec.args.output_dir}, {"bytes", f.checkpoint_bytes}}},
      {"environment", {{"device", f.device}, {"threads", num_threads()}, {"concurrent_runs", spec.concurrent_runs},
                       {"precision", f.precision},
                       {"torch_version", torch_version()}, {"machine", machine}, {"machine_summary", machine_summary(machine)}}}};
  // Where every figure comes from: "eval" is always the test set; "validation" the selection set when there is one.
  const std::string selection_set = d.val_ds ? "validation" : d.test_ds ? "test" : "";
  results["data"] = {{"train", {{"file", spec.train_file}, {"examples", d.train_ex.size()}}},
                     {"validation", d.val_ds ? nlohmann::json{{"source", d.val_source}, {"examples", d.val_ex.size()}} : nlohmann::json(nullptr)},
                     {"test", d.test_ds ? nlohmann::json{{"file", spec.eval_file}, {"examples", d.test_ex.size()}} : nlohmann::json(nullptr)},
                     {"selection_set", selection_set.empty() ? nlohmann::json(nullptr) : nlohmann::json(selection_set)},
                     {"test_used_for_selection", selection_set == "test"}};
  if (out.has_eval) {
    nlohmann::json during = {{"final", metrics_json(out.final_eval)}, {"best", metrics_json(out.best_eval)}, {"runtime_s", out.eval_runtime_s}};
    during["best"]["step"] = out.best_step;
    results[d.val_ds ? "validation" : "eval"] = during;
    results["generalization_gap"] = out.final_eval.loss - out.final_train_loss;
    results["generalization_gap_set"] = selection_set;
  }
  results["memory"]["peak_rss_bytes"] = f.peak_rss_bytes;
  results["memory"]["cuda_peak_allocated_bytes"] = cuda_peak_allocated_bytes();
  results["memory"]["cuda_peak_reserved_bytes"] = cuda_peak_reserved_bytes();
  if (f.test_eval && d.val_ds) results["eval"] = {{"final", metrics_json(*f.test_eval)}, {"runtime_s", f.test_eval->runtime_s}};
  return results;
}

}  // namespace

nlohmann::json run_training(const RunSpec& spec) {
  const TrainingArguments& args = spec.args;
  args.validate();
  if (spec.model.dir.empty()) throw Error("train: --model-name-or-path is required");
  if (spec.train_file.empty()) throw Error("train: --train-file is required");
  if (args.output_dir.empty()) throw Error("train: --output-dir is required");
  set_threads(args.threads);
  std::string device = resolve_device(args.device);
  // Under a distributed launch (RANK, WORLD_SIZE, ...): rank 0 alone writes files and logs.
  const std::unique_ptr<distributed::Group> group = distributed::join_from_env(device, args.ddp_timeout);
  const bool writer = !group || group->rank() == 0;
  if (!writer) set_quiet(true);
  const std::string precision = resolve_precision(args.fp16, args.bf16, device);
  const std::string tok_dir = spec.tokenizer_dir.empty() ? spec.model.dir : spec.tokenizer_dir;
  // Claimed before anything is read or written: never a folder we read, a stranger's or a busy one.
  std::optional<RunFolder> folder;
  if (writer)
    folder.emplace(RunFolder::claim(args.output_dir, {"train", {spec.model.dir, spec.model.adapter_dir, tok_dir}, args.overwrite_output_dir}));
  const std::string resume_dir = resume_folder(spec);
  const text::Tokenizer tok = text::Tokenizer::from_dir(tok_dir);
  const RunData d = load_run_data(spec, tok);

  model::ModelSpec mspec = spec.model;
  mspec.labels = model_labels(d.train_ds, spec.model.dir);
  model::Transformer model = io::build_model(mspec);
  if (tok.vocab_size() > static_cast<size_t>(model->config().vocab_size))
    throw Error(tok_dir + ": tokenizer has " + std::to_string(tok.vocab_size()) + " tokens but the model only " +
                std::to_string(model->config().vocab_size));
  for (const auto& [set, ex] : {std::pair{"training", &d.train_ex}, {"validation", &d.val_ex}, {"test", &d.test_ex}}) {
    size_t longest = 0;
    for (const auto& seq : ex->sequences) longest = std::max(longest, seq.size());
    model->config().check_sequence_length(static_cast<int64_t>(longest), std::string("the longest ") + set + " example");
  }
  const model::ParamCounts counts = model::count_parameters(*model);
  char line[200];
  std::snprintf(line, sizeof line, "%s: trainable params: %lld || all params: %lld || trainable%%: %.4f", spec.arm.c_str(),
                static_cast<long long>(counts.trainable), static_cast<long long>(counts.base), counts.trainable_percent());
  info(line);
  // Every input has been read: only now may a rerun drop the old result (which would make an
  // unfinished run look finished).
  if (writer) std::remove(join_path(args.output_dir, "results.json").c_str());

  reset_cuda_peak_stats();
  Trainer trainer(model, args, device);
  trainer.group = group.get();
  auto save_checkpoint = [&](const std::string& dir) {
    if (model->has_lora()) io::save_adapter(dir, *model, spec.model.lora, spec.model.dir);
    else io::save_model(dir, *model);
    io::copy_tokenizer_files(tok_dir, dir);
  };
  trainer.save_model = save_checkpoint;
  trainer.load_weights = [&](const std::string& dir) {
    if (model->has_lora()) {
      io::load_adapter(dir, *model);
    } else {
      const std::string path = io::find_weights(dir);
      io::load_state_dict(*model, io::read_state_dict(path), path);
    }
  };
  trainer.fingerprint = run_fingerprint(spec, d.train_ex.size(), group ? group->world_size() : 1);
  const TrainOutcome out = trainer.train(d.train_ex, d.selection(), resume_dir);

  const int64_t peak_rss = peak_rss_bytes();  // of training and evaluation, before saving adds copies
  // The model is written before the test set is scored, so a late failure loses no training.
  int64_t checkpoint_bytes = 0;
  if (writer) {
    save_checkpoint(args.output_dir);
    for (const char* name : {"model.safetensors", "config.json", "adapter_model.safetensors", "adapter_config.json"}) {
      const std::string p = join_path(args.output_dir, name);
      if (file_exists(p)) checkpoint_bytes += static_cast<int64_t>(std::filesystem::file_size(p));
    }
    write_json_atomic(join_path(args.output_dir, "trainer_state.json"), final_trainer_state(args, out));
  }
  // The test set, once, with the final (or best, by validation) weights.
  std::optional<EvalResult> test_eval;
  if (d.validating() && d.test_ds) {
    test_eval = evaluate(*model, d.test_ex, args.per_device_eval_batch_size, device, precision, group.get());
    info("test: accuracy " + std::to_string(test_eval->metrics.accuracy) + " on " + std::to_string(d.test_ex.size()) +
         " examples from " + spec.eval_file);
  } else if (out.has_eval && !d.validating()) {
    test_eval = out.final_eval;
  }
  const nlohmann::json ranks = rank_statistics(group.get(), out.train_samples, out.train_real_tokens, out.train_runtime_s,
                                               out.allreduce_bytes_per_step, out.allreduce_seconds);
  if (!writer) return ranks;

  const nlohmann::json results = results_json({spec, d, out, test_eval, counts, ranks, tensor_bytes(*model), peak_rss,
                                                 checkpoint_bytes, device, precision});
  if (test_eval) write_predictions(join_path(args.output_dir, "predictions.tsv"), d.test_ex, *test_eval, d.test_ds->label_names);
  write_json_atomic(join_path(args.output_dir, "run_config.json"), spec.to_json());
  // Written last: its presence marks a finished run.
  write_json_atomic(join_path(args.output_dir, "results.json"), results);
  return results;
}

nlohmann::json run_evaluation(const RunSpec& spec, const std::string& output_dir) {
  if (spec.eval_file.empty()) throw Error("eval: --data is required");
  set_threads(spec.args.threads);
  const std::string device = resolve_device(spec.args.device);
  const std::string precision = resolve_precision(spec.args.fp16, spec.args.bf16, device);
  const std::string tok_dir = spec.tokenizer_dir.empty()
                                  ? (!spec.model.adapter_dir.empty() && file_exists(join_path(spec.model.adapter_dir, "vocab.txt"))
                                         ? spec.model.adapter_dir : spec.model.dir)
                                  : spec.tokenizer_dir;
  const text::Tokenizer tok = text::Tokenizer::from_dir(tok_dir);
  const data::Dataset ds = load(spec.eval_file, spec.data, spec.max_eval_samples, spec.args.seed);
  const Examples ex = tokenize(ds, tok, spec.args.max_length);
  model::Transformer model = io::build_model(spec.model);
  if (model->config().num_labels() != static_cast<int64_t>(ds.label_names.size()))
    throw Error(spec.eval_file + ": the data has " + std::to_string(ds.label_names.size()) + " labels but the model " +
                std::to_string(model->config().num_labels()));
  model->to(torch::Device(device));
  const EvalResult e = evaluate(*model, ex, spec.args.per_device_eval_batch_size, device, precision);
  nlohmann::json j = metrics_json(e);
  if (!output_dir.empty()) {
    make_dirs(output_dir);
    write_predictions(join_path(output_dir, "predictions.tsv"), ex, e, ds.label_names);
    write_json_atomic(join_path(output_dir, "eval_results.json"), j);
  }
  return j;
}

}  // namespace ft::train
