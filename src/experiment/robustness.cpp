#include "experiment/robustness.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/run_folder.h"
#include "core/log.h"
#include "data/dataset.h"
#include "report/format.h"

namespace ft::experiment {
namespace {

const char* const kRobustnessJson = "robustness.json";

// "jamo:0.1" → "jamo_0.1": a folder name.
std::string slug(const std::string& label) {
  std::string s = label;
  for (char& c : s)
    if (c == ':') c = '_';
  return s;
}

// The TSV reader splits on TAB and rows on newlines; the tokenizer treats both as spaces anyway.
std::string one_field(std::string text) {
  for (char& c : text)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return text;
}

// The examples with the given texts, under the data set's own column names and raw labels, so the
// evaluation reads it with the same options as the original.
void write_tsv(const std::string& path, const data::Dataset& ds, const std::vector<std::string>& texts,
               const data::DatasetOptions& opts) {
  write_file_atomic(path, [&](std::ostream& out) {
    out << opts.id_column << '\t' << opts.text_column << '\t' << opts.label_column << '\n';
    for (size_t i = 0; i < ds.examples.size(); ++i)
      out << one_field(ds.examples[i].id) << '\t' << one_field(texts[i]) << '\t'
          << ds.label_names[static_cast<size_t>(ds.examples[i].label)] << '\n';
  });
}

}  // namespace

RobustnessSettings RobustnessSettings::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": the robustness settings must be a JSON object");
  RobustnessSettings s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    if (k == "seed") {
      if (!v.is_number_integer()) throw Error(source + ": robustness seed must be an integer, got " + v.dump());
      s.seed = v.get<int64_t>();
    } else if (k == "perturbations") {
      try {
        if (v.is_string()) {
          s.perturbations = text::parse_perturbations(v.get<std::string>());
          continue;
        }
        if (!v.is_array() || v.empty()) throw Error("expected a non-empty list");
        s.perturbations.clear();
        for (const auto& p : v) {
          if (!p.is_object() || !p.contains("name") || !p.contains("rate") || !p["name"].is_string() ||
              !p["rate"].is_number())
            throw Error("each entry needs a name and a numeric rate, got " + p.dump());
          s.perturbations.push_back({p["name"].get<std::string>(), p["rate"].get<double>()});
          text::validate(s.perturbations.back());
        }
      } catch (const Error& e) {
        throw Error(source + ": robustness perturbations: " + e.what());
      }
    } else {
      throw Error(source + ": unknown robustness key '" + k + "' (expected perturbations, seed)");
    }
  }
  return s;
}

nlohmann::json RobustnessSettings::to_json() const {
  nlohmann::json ps = nlohmann::json::array();
  for (const auto& p : perturbations) ps.push_back({{"name", p.name}, {"rate", p.rate}});
  return {{"perturbations", ps}, {"seed", seed}};
}

RobustnessSpec RobustnessSpec::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object");
  RobustnessSpec s;
  nlohmann::json run = j, settings = nlohmann::json::object();
  if (j.contains("output_dir")) {
    if (!j["output_dir"].is_string()) throw Error(source + ": 'output_dir' must be a string");
    s.output_dir = j["output_dir"].get<std::string>();
    run.erase("output_dir");
  }
  if (j.contains("perturbations")) {
    settings["perturbations"] = j["perturbations"];
    run.erase("perturbations");
  }
  if (j.contains("perturbation_seed")) {
    settings["seed"] = j["perturbation_seed"];
    run.erase("perturbation_seed");
  }
  s.settings = RobustnessSettings::from_json(settings, source);
  s.run = train::RunSpec::from_json(run, source);
  return s;
}

bool robustness_up_to_date(const std::string& output_dir, const RobustnessSettings& settings) {
  const std::string file = join_path(output_dir, kRobustnessJson);
  if (!file_exists(file)) return false;
  const nlohmann::json j = read_json(file);
  if (!j.is_object() || !j.contains("seed") || !j.contains("perturbations")) return false;
  try {
    return RobustnessSettings::from_json({{"seed", j["seed"]}, {"perturbations", j["perturbations"]}}, file) == settings;
  } catch (const Error&) {
    return false;  // written by another version: redo it
  }
}

nlohmann::json run_robustness(const RobustnessSpec& spec) {
  if (spec.output_dir.empty()) throw Error("robustness: --output-dir is required");
  if (spec.run.eval_file.empty()) throw Error("robustness: --data is required");
  if (spec.run.model.dir.empty()) throw Error("robustness: --model is required");
  const RunFolder folder = RunFolder::claim(spec.output_dir, {"robustness", {spec.run.model.dir, spec.run.model.adapter_dir,
                                                              spec.run.tokenizer_dir}, spec.run.args.overwrite_output_dir});
  // A stale robustness.json would make an unfinished run look finished.
  std::remove(join_path(spec.output_dir, kRobustnessJson).c_str());

  data::DatasetOptions opts = spec.run.data;
  opts.max_samples = spec.run.max_eval_samples;
  opts.seed = spec.run.args.seed;  // the same subset `finetune train` evaluated on
  const data::Dataset ds = data::load_dataset(spec.run.eval_file, opts);
  if (ds.skipped_rows > 0) warn(spec.run.eval_file + ": skipped " + std::to_string(ds.skipped_rows) + " malformed rows");
  if (ds.examples.empty()) throw Error(spec.run.eval_file + ": no examples to evaluate");

  std::vector<std::string> clean;
  for (const auto& e : ds.examples) clean.push_back(e.text);
  struct Set {
    std::string label, name;
    double rate;
    std::vector<std::string> texts;
  };
  std::vector<Set> sets = {{"clean", "clean", 0.0, clean}};
  for (const text::Perturbation& p : spec.settings.perturbations) {
    Set s{text::label(p), p.name, p.rate, {}};
    for (size_t i = 0; i < clean.size(); ++i)
      s.texts.push_back(text::apply_perturbation(clean[i], p, text::row_seed(static_cast<uint64_t>(spec.settings.seed), p.name, i)));
    sets.push_back(std::move(s));
  }

  nlohmann::json results = nlohmann::json::array();
  double clean_accuracy = 0;
  for (const Set& s : sets) {
    const std::string data_rel = "data/" + slug(s.label) + ".tsv", eval_rel = "eval/" + slug(s.label);
    make_dirs(join_path(spec.output_dir, "data"));
    write_tsv(join_path(spec.output_dir, data_rel), ds, s.texts, opts);
    train::RunSpec run = spec.run;
    run.eval_file = join_path(spec.output_dir, data_rel);
    run.max_eval_samples = -1;  // the file already is the subset
    run.data.format = "tsv";
    run.data.skip_bad_rows = false;
    info("robustness: " + s.label + " (" + std::to_string(s.texts.size()) + " texts)");
    const nlohmann::json m = train::run_evaluation(run, join_path(spec.output_dir, eval_rel));
    const double accuracy = m.at("accuracy").get<double>();
    if (s.label == "clean") clean_accuracy = accuracy;
    size_t changed = 0;
    for (size_t i = 0; i < clean.size(); ++i) changed += s.texts[i] != clean[i];
    results.push_back({{"perturbation", s.label}, {"name", s.name}, {"rate", s.rate},
                       {"changed", static_cast<double>(changed) / static_cast<double>(clean.size())},
                       {"accuracy", accuracy}, {"f1", m.at("f1")}, {"loss", m.at("loss")},
                       {"drop", clean_accuracy - accuracy}, {"data", data_rel},
                       {"predictions", eval_rel + "/predictions.tsv"}});
  }
  nlohmann::json j = spec.settings.to_json();
  j["model"] = spec.run.model.dir;
  j["adapter"] = spec.run.model.adapter_dir;
  j["random_init"] = spec.run.model.random_init;
  j["data"] = spec.run.eval_file;
  j["n"] = ds.examples.size();
  j["results"] = results;
  write_file_atomic(join_path(spec.output_dir, "robustness.md"), robustness_markdown(j));
  // Written last: its presence marks a finished run.
  write_json_atomic(join_path(spec.output_dir, kRobustnessJson), j);
  return j;
}

std::string robustness_markdown(const nlohmann::json& j) {
  using report::format_fixed;
  using report::format_percent;
  std::ostringstream out;
  out << "# Robustness\n\nModel " << j["model"].get<std::string>();
  if (!j["adapter"].get<std::string>().empty()) out << " + adapter " << j["adapter"].get<std::string>();
  out << ", " << j["n"].get<int64_t>() << " examples of " << j["data"].get<std::string>() << ", perturbation seed "
      << j["seed"].get<int64_t>() << ".\n\n";
  out << "| Set | Changed texts | Accuracy | Change vs clean | F1 |\n| --- | ---: | ---: | ---: | ---: |\n";
  for (const auto& r : j["results"]) {
    const double drop = 100 * r["drop"].get<double>();
    out << "| " << r["perturbation"].get<std::string>() << " | " << format_percent(100 * r["changed"].get<double>(), 1)
        << " | " << format_percent(100 * r["accuracy"].get<double>(), 2) << " | "
        << (drop > 0 ? "-" : drop < 0 ? "+" : "") << format_fixed(std::abs(drop), 2) << " pp | "
        << format_percent(100 * r["f1"].get<double>(), 2) << " |\n";
  }
  return out.str();
}

}  // namespace ft::experiment
