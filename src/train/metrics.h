// Classification metrics with scikit-learn's conventions, so numbers compare with Python runs.
#pragma once
#include <cstdint>
#include <vector>

namespace ft::train {

struct ConfusionMatrix {
  int num_labels = 0;
  std::vector<int64_t> counts;  // [true][pred], row-major
  int64_t at(int true_label, int pred_label) const { return counts[true_label * num_labels + pred_label]; }
};

struct ClassificationMetrics {
  // Two labels: precision/recall/F1 of class 1 (sklearn's average='binary');
  // more labels: the macro averages.
  double accuracy = 0, precision = 0, recall = 0, f1 = 0;
  // Unweighted mean over the labels that occur in `labels` or `preds` (sklearn's average='macro',
  // which leaves out labels seen in neither).
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  ConfusionMatrix confusion;
  int64_t n = 0;
};

// A ratio with no denominator (a class never predicted, or never present) counts as 0,
// as sklearn's zero_division=0. Throws ft::Error on mismatched lengths, empty input,
// num_labels < 2 or a label outside [0, num_labels).
ClassificationMetrics classification_metrics(const std::vector<int64_t>& labels, const std::vector<int64_t>& preds,
                                             int num_labels);

// The final training loss a run reports: the mean of the last `window` step losses (all of them
// when there are fewer), however the steps divide into logging windows; 0 for a run without steps.
double final_train_loss(const std::vector<double>& step_losses, int64_t window);

}  // namespace ft::train
