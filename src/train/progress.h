// Training progress on stderr: a live bar on a terminal, plain periodic lines otherwise (logs, CI).
#pragma once
#include <cstdint>
#include <string>

#include "core/resources.h"

namespace ft::train {

class ProgressBar {
 public:
  // first_step: where a resumed run starts, so the ETA counts only the steps timed here.
  explicit ProgressBar(int64_t total_steps, int64_t first_step = 0);
  // logged_loss: the mean loss of the last logging window (NaN before the first), as the step's own
  // loss is not read from the device between logging points.
  void update(int64_t step, double logged_loss, double lr, double samples_per_second);
  // A line of its own (e.g. an evaluation result) without breaking the bar.
  void note(const std::string& line);
  void finish();

 private:
  int64_t total_, first_;
  bool tty_;
  Stopwatch clock_;
  double last_print_ = -1e9;
  bool bar_open_ = false;
};

std::string format_duration(double seconds);

}  // namespace ft::train
