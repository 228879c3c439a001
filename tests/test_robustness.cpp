// `finetune robustness` end to end on a tiny model: every perturbed set scores exactly as a direct
// `finetune eval` of its file, the files hold the perturbation functions' output, and bad input fails
// with one line naming what is wrong.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "data/dataset.h"
#include "experiment/robustness.h"
#include "test_util.h"
#include "text/perturb.h"

namespace {

using ft::testing::TempDir;
using ft::testing::data_path;
using ft::testing::nsmc_path;

int run(const std::string& args, const std::string& log) {
  return std::system((std::string(FT_BINARY) + " " + args + " > " + log + " 2>&1").c_str());
}

// Rows of a predictions.tsv: id, label, prediction, probability.
std::vector<std::string> prediction_rows(const std::string& path) { return ft::data::read_lines(path); }

TEST(RobustnessCli, EachSetScoresAsADirectEvalOfItsFile) {
  TempDir dir("robust");
  const std::string model = ft::testing::tiny_klue_model(dir), out = dir / "out", log = dir / "log.txt";
  const std::string data = nsmc_path("ratings_test.txt");
  const std::string common = " --model " + model + " --random-init --threads 1";
  ASSERT_EQ(run("robustness" + common + " --data " + data + " --max-eval-samples 120 --output-dir " + out +
                    " --perturbations no_spaces:1,jamo:0.3,interjection:1 --perturbation-seed 5",
                log),
            0)
      << ft::read_file(log);
  EXPECT_NE(ft::read_file(log).find("jamo:0.3"), std::string::npos) << ft::read_file(log);
  const auto r = ft::read_json(out + "/robustness.json");
  ASSERT_EQ(r["results"].size(), 4u);
  EXPECT_EQ(r["n"], 120);
  EXPECT_EQ(r["seed"], 5);
  EXPECT_TRUE(ft::file_exists(out + "/robustness.md"));

  // The clean set is the same seeded subset `finetune eval --max-eval-samples` scores.
  TempDir ev0("robust_eval");
  ASSERT_EQ(run("eval" + common + " --data " + data + " --max-eval-samples 120 --output-dir " + ev0.path, log), 0)
      << ft::read_file(log);
  EXPECT_DOUBLE_EQ(r["results"][0]["accuracy"].get<double>(),
                   ft::read_json(ev0 / "eval_results.json")["accuracy"].get<double>());
  EXPECT_EQ(prediction_rows(out + "/eval/clean/predictions.tsv"), prediction_rows(ev0 / "predictions.tsv"));

  ft::data::DatasetOptions opts;
  const auto clean = ft::data::load_dataset(out + "/data/clean.tsv", opts);
  ASSERT_EQ(clean.examples.size(), 120u);
  for (const auto& res : r["results"]) {
    const std::string label = res["perturbation"];
    SCOPED_TRACE(label);
    const std::string file = out + "/" + res["data"].get<std::string>();
    // A direct evaluation of the perturbed file gives the same accuracy and the same predictions.
    TempDir ev("robust_eval");
    ASSERT_EQ(run("eval" + common + " --data " + file + " --output-dir " + ev.path, log), 0) << ft::read_file(log);
    EXPECT_DOUBLE_EQ(res["accuracy"].get<double>(), ft::read_json(ev / "eval_results.json")["accuracy"].get<double>());
    EXPECT_EQ(prediction_rows(out + "/" + res["predictions"].get<std::string>()), prediction_rows(ev / "predictions.tsv"));
    EXPECT_NEAR(res["drop"].get<double>(), r["results"][0]["accuracy"].get<double>() - res["accuracy"].get<double>(), 1e-12);
    if (label == "clean") continue;
    // The file holds the perturbation of each clean text, row by row, with the row's own seed.
    const auto perturbed = ft::data::load_dataset(file, opts);
    ASSERT_EQ(perturbed.examples.size(), clean.examples.size());
    const ft::text::Perturbation p{res["name"].get<std::string>(), res["rate"].get<double>()};
    size_t changed = 0;
    for (size_t i = 0; i < clean.examples.size(); ++i) {
      EXPECT_EQ(perturbed.examples[i].id, clean.examples[i].id);
      EXPECT_EQ(perturbed.examples[i].label, clean.examples[i].label);
      EXPECT_EQ(perturbed.examples[i].text,
                ft::text::apply_perturbation(clean.examples[i].text, p, ft::text::row_seed(5, p.name, i)));
      changed += perturbed.examples[i].text != clean.examples[i].text;
    }
    EXPECT_DOUBLE_EQ(res["changed"].get<double>(), static_cast<double>(changed) / 120);
    EXPECT_GT(changed, 60u);
  }
  EXPECT_TRUE(ft::experiment::robustness_up_to_date(out, ft::experiment::RobustnessSettings::from_json(
                                                             {{"perturbations", "no_spaces:1,jamo:0.3,interjection:1"},
                                                              {"seed", 5}},
                                                             "test")));
  EXPECT_FALSE(ft::experiment::robustness_up_to_date(out, ft::experiment::RobustnessSettings{}));
}

TEST(RobustnessCli, BadInputFailsWithOneClearLine) {
  TempDir dir("robust_bad");
  const std::string model = ft::testing::tiny_klue_model(dir), log = dir / "log.txt";
  const std::string data = dir / "data.tsv";
  ft::write_file_atomic(data, std::string("id\tdocument\tlabel\n1\t좋은 영화\t1\n2\t별로\t0\n3\t최고\tx\n"));
  const std::string common = "robustness --model " + model + " --random-init --threads 1 --output-dir " + (dir / "out");
  EXPECT_NE(run(common + " --data " + data + " --perturbations typo:0.1", log), 0);
  EXPECT_NE(ft::read_file(log).find("unknown perturbation 'typo'"), std::string::npos) << ft::read_file(log);
  EXPECT_NE(run(common + " --data " + data + " --perturbations jamo:2", log), 0);
  EXPECT_NE(ft::read_file(log).find("rate must be in [0, 1]"), std::string::npos) << ft::read_file(log);
  EXPECT_NE(run(common + " --data " + data, log), 0);  // row 3's label is not 0 or 1
  EXPECT_NE(ft::read_file(log).find(data + ":4"), std::string::npos) << ft::read_file(log);
  EXPECT_NE(run(common + " --data " + (dir / "missing.tsv"), log), 0);
  EXPECT_NE(ft::read_file(log).find("missing.tsv"), std::string::npos) << ft::read_file(log);
  EXPECT_FALSE(ft::file_exists(dir / "out/robustness.json"));
}

TEST(RobustnessSettings, FromJsonAcceptsListsAndNamesBadFields) {
  using ft::experiment::RobustnessSettings;
  const auto s = RobustnessSettings::from_json(
      {{"perturbations", {{{"name", "spacing"}, {"rate", 0.3}}}}, {"seed", 3}}, "cfg.json");
  ASSERT_EQ(s.perturbations.size(), 1u);
  EXPECT_EQ(s.perturbations[0], (ft::text::Perturbation{"spacing", 0.3}));
  EXPECT_EQ(s.seed, 3);
  EXPECT_EQ(RobustnessSettings::from_json(s.to_json(), "round trip"), s);
  EXPECT_EQ(RobustnessSettings::from_json(nlohmann::json::object(), "x").perturbations, ft::text::default_perturbations());
  auto error_of = [](const nlohmann::json& j) {
    try {
      RobustnessSettings::from_json(j, "cfg.json");
    } catch (const ft::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error_of({{"seed", "x"}}).find("cfg.json: robustness seed must be an integer"), std::string::npos);
  EXPECT_NE(error_of({{"perturbations", {{{"name", "jamo"}}}}}).find("cfg.json: robustness perturbations: each entry"),
            std::string::npos);
  EXPECT_NE(error_of({{"rates", 1}}).find("cfg.json: unknown robustness key 'rates'"), std::string::npos);
}

}  // namespace
