#include "train/metrics.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.h"

namespace ft::train {
namespace {

double ratio(int64_t num, int64_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }

void check_label(int64_t v, int num_labels, const char* what, size_t i) {
  if (v < 0 || v >= num_labels)
    throw Error(std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(v) + " is outside [0, " +
                std::to_string(num_labels) + ")");
}

}  // namespace

ClassificationMetrics classification_metrics(const std::vector<int64_t>& labels, const std::vector<int64_t>& preds,
                                             int num_labels) {
  if (labels.size() != preds.size())
    throw Error("metrics: " + std::to_string(labels.size()) + " labels but " + std::to_string(preds.size()) +
                " predictions");
  if (labels.empty()) throw Error("metrics: no examples");
  if (num_labels < 2) throw Error("metrics: need at least 2 labels, got " + std::to_string(num_labels));

  ClassificationMetrics m;
  m.n = static_cast<int64_t>(labels.size());
  m.confusion.num_labels = num_labels;
  m.confusion.counts.assign(static_cast<size_t>(num_labels) * num_labels, 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    check_label(labels[i], num_labels, "labels", i);
    check_label(preds[i], num_labels, "preds", i);
    ++m.confusion.counts[labels[i] * num_labels + preds[i]];
  }

  int64_t correct = 0;
  int present = 0;
  for (int k = 0; k < num_labels; ++k) {
    const int64_t tp = m.confusion.at(k, k);
    int64_t actual = 0, predicted = 0;
    for (int j = 0; j < num_labels; ++j) {
      actual += m.confusion.at(k, j);
      predicted += m.confusion.at(j, k);
    }
    correct += tp;
    const double p = ratio(tp, predicted), r = ratio(tp, actual);
    // 2tp / (2tp + fp + fn): equals 2pr/(p+r), and is 0 (not 0/0) when tp is 0.
    const double f = ratio(2 * tp, actual + predicted);
    if (k == 1 && num_labels == 2) m.precision = p, m.recall = r, m.f1 = f;
    if (actual + predicted == 0) continue;
    ++present;
    m.macro_precision += p;
    m.macro_recall += r;
    m.macro_f1 += f;
  }
  // At least one label occurs, since there is at least one example.
  m.macro_precision /= present;
  m.macro_recall /= present;
  m.macro_f1 /= present;
  m.accuracy = ratio(correct, m.n);
  if (num_labels > 2) m.precision = m.macro_precision, m.recall = m.macro_recall, m.f1 = m.macro_f1;
  return m;
}

double final_train_loss(const std::vector<double>& step_losses, int64_t window) {
  const auto n = static_cast<std::ptrdiff_t>(std::min<size_t>(step_losses.size(), static_cast<size_t>(std::max<int64_t>(window, 0))));
  if (n == 0) return 0.0;
  return std::accumulate(step_losses.end() - n, step_losses.end(), 0.0) / static_cast<double>(n);
}

}  // namespace ft::train
