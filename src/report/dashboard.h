// Charts of a comparison, drawn by gnuplot (which must be on PATH; FT_GNUPLOT overrides the
// binary). Both are 1600×1000 PNGs, written atomically; a missing or failing gnuplot is an
// ft::Error that says so. Full fine-tuning is drawn red, LoRA blue, further arms in other colours.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace ft::report {

constexpr int kChartWidthPx = 1600;
constexpr int kChartHeightPx = 1000;

// Panels: trainable parameters (log scale); train (solid) and validation (dashed) loss curves
// from each run's trainer_state.json, mean over seeds with a band from the lowest to the highest
// seed; accuracy and F1 with their 95% intervals (comparison.json's arm intervals: over seeds and
// test examples) and every seed's value; peak memory and training time as % of the baseline;
// generalization gap.
void write_dashboard(const nlohmann::json& comparison, const std::string& png_path);

// Accuracy against trainable parameters (log x), one labelled point per arm with its 95% interval,
// and every seed's accuracy.
void write_tradeoff(const nlohmann::json& comparison, const std::string& png_path);
// robustness.png: accuracy on the clean and each perturbed set per arm, and the reliability diagram.
void write_robustness_chart(const nlohmann::json& comparison, const std::string& png_path);

}  // namespace ft::report
