#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "core/log.h"

namespace ft::train {

std::string format_duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

ProgressBar::ProgressBar(int64_t total_steps, int64_t first_step)
    : total_(total_steps), first_(first_step), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressBar::update(int64_t step, double loss, double lr, double samples_per_second) {
  if (quiet()) return;
  const double now = clock_.seconds();
  // A terminal gets ~10 redraws a second; a log gets a line every 30 s and at the end.
  if (step != total_ && now - last_print_ < (tty_ ? 0.1 : 30.0)) return;
  last_print_ = now;
  const double eta = step > first_ ? now / static_cast<double>(step - first_) * static_cast<double>(total_ - step) : 0;
  char loss_text[32] = "-";  // nothing logged yet
  if (!std::isnan(loss)) std::snprintf(loss_text, sizeof loss_text, "%.4f", loss);
  char line[256];
  std::snprintf(line, sizeof line, "step %lld/%lld  loss %s  lr %.3g  %.1f samples/s  elapsed %s  eta %s",
                static_cast<long long>(step), static_cast<long long>(total_), loss_text, lr, samples_per_second,
                format_duration(now).c_str(), format_duration(eta).c_str());
  if (tty_) {
    const int width = 24;
    const int filled = static_cast<int>(width * step / std::max<int64_t>(1, total_));
    std::fprintf(stderr, "\r[%s%s] %s\033[K", std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(), line);
    bar_open_ = true;
  } else {
    info(line);
  }
}

void ProgressBar::note(const std::string& line) {
  if (bar_open_) std::fputs("\n", stderr);
  bar_open_ = false;
  info(line);
}

void ProgressBar::finish() {
  if (bar_open_) std::fputs("\n", stderr);
  bar_open_ = false;
}

}  // namespace ft::train
