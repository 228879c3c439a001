#include <gtest/gtest.h>

#include "core/error.h"
#include "train/metrics.h"

namespace {

using ft::train::classification_metrics;

TEST(Metrics, BinaryHandComputed) {
  // Class 1: tp 3, fn 1, fp 2. Class 0: tp 4, fn 2, fp 1.
  const std::vector<int64_t> labels = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<int64_t> preds = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};
  const auto m = classification_metrics(labels, preds, 2);
  EXPECT_EQ(m.n, 10);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.7);
  EXPECT_DOUBLE_EQ(m.precision, 3.0 / 5);
  EXPECT_DOUBLE_EQ(m.recall, 3.0 / 4);
  EXPECT_DOUBLE_EQ(m.f1, 6.0 / 9);
  EXPECT_DOUBLE_EQ(m.macro_precision, (3.0 / 5 + 4.0 / 5) / 2);
  EXPECT_DOUBLE_EQ(m.macro_recall, (3.0 / 4 + 4.0 / 6) / 2);
  EXPECT_DOUBLE_EQ(m.macro_f1, (6.0 / 9 + 8.0 / 11) / 2);
  EXPECT_EQ(m.confusion.num_labels, 2);
  EXPECT_EQ(m.confusion.at(0, 0), 4);
  EXPECT_EQ(m.confusion.at(0, 1), 2);
  EXPECT_EQ(m.confusion.at(1, 0), 1);
  EXPECT_EQ(m.confusion.at(1, 1), 3);
}

TEST(Metrics, NeverPredictingPositiveGivesZeroNotNan) {
  // sklearn: precision_score([1,0,1,0], [0,0,0,0]) == 0.0 (zero_division=0, with a warning);
  // macro precision averages class 0's 0.5 with that 0.
  const auto m = classification_metrics({1, 0, 1, 0}, {0, 0, 0, 0}, 2);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.f1, 0.0);
  EXPECT_DOUBLE_EQ(m.macro_precision, 0.25);
  EXPECT_DOUBLE_EQ(m.macro_recall, 0.5);
  EXPECT_DOUBLE_EQ(m.macro_f1, (0.0 + 2.0 / 3) / 2);
}

TEST(Metrics, PositiveClassAbsentEverywhere) {
  // sklearn gives f1_score([0,0,0], [0,0,0]) == 0.0 for the binary average but
  // f1_score(..., average='macro') == 1.0: the macro average covers only label 0, the one seen.
  const auto m = classification_metrics({0, 0, 0}, {0, 0, 0}, 2);
  EXPECT_DOUBLE_EQ(m.accuracy, 1.0);
  EXPECT_EQ(m.f1, 0.0);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_DOUBLE_EQ(m.macro_f1, 1.0);
  EXPECT_DOUBLE_EQ(m.macro_precision, 1.0);
  EXPECT_DOUBLE_EQ(m.macro_recall, 1.0);
}

TEST(Metrics, MulticlassIsMacro) {
  // Class 2 is present but never predicted: precision 0 by zero_division, recall 0, F1 0.
  const std::vector<int64_t> labels = {0, 0, 1, 1, 2, 2};
  const std::vector<int64_t> preds = {0, 0, 1, 0, 1, 1};
  const auto m = classification_metrics(labels, preds, 3);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m.macro_precision, (2.0 / 3 + 1.0 / 3 + 0) / 3);
  EXPECT_DOUBLE_EQ(m.macro_recall, (1.0 + 0.5 + 0) / 3);
  EXPECT_DOUBLE_EQ(m.macro_f1, (0.8 + 0.4 + 0) / 3);
  EXPECT_EQ(m.precision, m.macro_precision);
  EXPECT_EQ(m.recall, m.macro_recall);
  EXPECT_EQ(m.f1, m.macro_f1);
  EXPECT_EQ(m.confusion.at(2, 1), 2);
  EXPECT_EQ(m.confusion.at(1, 0), 1);

  // A fourth label that occurs nowhere is left out of the macro average, as sklearn does
  // without an explicit labels= list; only the confusion matrix grows.
  const auto wider = classification_metrics(labels, preds, 4);
  EXPECT_DOUBLE_EQ(wider.macro_f1, m.macro_f1);
  EXPECT_DOUBLE_EQ(wider.macro_precision, m.macro_precision);
  EXPECT_EQ(wider.confusion.counts.size(), 16u);
}

TEST(Metrics, FinalTrainLossIsTheMeanOfTheLastWindow) {
  using ft::train::final_train_loss;
  const std::vector<double> losses = {0.9, 0.7, 0.5, 0.4, 0.2};
  EXPECT_DOUBLE_EQ(final_train_loss(losses, 2), 0.3);    // (0.4 + 0.2) / 2
  EXPECT_DOUBLE_EQ(final_train_loss(losses, 3), 1.1 / 3);  // the tail is a full window, not 5 % 3 = 2 steps
  EXPECT_DOUBLE_EQ(final_train_loss(losses, 50), 0.54);  // fewer steps than a window: all of them
  EXPECT_EQ(final_train_loss({}, 25), 0.0);
}

TEST(Metrics, RejectsBadInput) {
  EXPECT_THROW(classification_metrics({0, 1}, {0}, 2), ft::Error);
  EXPECT_THROW(classification_metrics({}, {}, 2), ft::Error);
  EXPECT_THROW(classification_metrics({0}, {0}, 1), ft::Error);
  EXPECT_THROW(classification_metrics({0, 2}, {0, 1}, 2), ft::Error);
  EXPECT_THROW(classification_metrics({0, 1}, {-1, 1}, 2), ft::Error);
}

}  // namespace
