#include "report/dashboard.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/shell.h"
#include "report/format.h"

namespace ft::report {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// ---- gnuplot plumbing -------------------------------------------------------------------------

// Gnuplot single-quoted strings take no escapes; a quote is doubled.
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("''") : std::string(1, ch == '\n' ? ' ' : ch);
  return out + "'";
}

std::string gnuplot_binary() {
  const char* env = std::getenv("FT_GNUPLOT");
  return env && *env ? env : "gnuplot";
}

// Exit status of a shell command, or -1 when it did not exit normally.
int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// pngcairo draws antialiased text; the plain libgd png terminal is the fallback.
std::string png_terminal(const std::string& gnuplot) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(gnuplot);
  if (it != cache.end()) return it->second;
  const int rc = run_shell(shell_quote(gnuplot) + " -e 'set terminal pngcairo' >/dev/null 2>&1");
  if (rc == 127 || rc == 126)
    throw Error("gnuplot not found (tried " + gnuplot +
                "): install it (e.g. apt-get install gnuplot-nox) or point FT_GNUPLOT at it to draw the charts");
  const std::string term = rc == 0 ? "pngcairo size " + std::to_string(kChartWidthPx) + "," +
                                         std::to_string(kChartHeightPx) + " font 'DejaVu Sans,12' noenhanced"
                                   : "png size " + std::to_string(kChartWidthPx) + "," +
                                         std::to_string(kChartHeightPx) + " noenhanced";
  return cache[gnuplot] = term;
}

// A scratch directory for data files and the script, removed on scope exit.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "ft_plot_XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw Error("cannot create a temporary directory for gnuplot under " + pattern);
    path = pattern;
  }
  ~ScratchDir() {
    try {
      remove_tree(path);
    } catch (const Error&) {  // a leftover scratch dir is not worth failing the report for
    }
  }
};

// Writes `data` files and the script (after a terminal/output preamble) into a scratch dir, runs
// gnuplot there, checks the PNG, and renames it over png_path.
void render(const std::string& script, const std::map<std::string, std::string>& data, const std::string& png_path) {
  const std::string gnuplot = gnuplot_binary();
  const std::string term = png_terminal(gnuplot);
  ScratchDir scratch;
  for (const auto& kv : data) write_file_atomic(join_path(scratch.path, kv.first), kv.second);
  // The temp PNG sits next to the target so the final rename never crosses filesystems; absolute,
  // since gnuplot runs in the scratch dir.
  const std::string tmp_png = fs::absolute(png_path).string() + ".tmp." + std::to_string(::getpid()) + ".png";
  const std::string script_path = join_path(scratch.path, "plot.gp");
  write_file_atomic(script_path, "set terminal " + term + "\nset output " + gp_quote(tmp_png) +
                                     "\nset datafile missing '?'\n" + script + "set output\n");
  const std::string log_path = join_path(scratch.path, "gnuplot.log");
  const int rc = run_shell("cd " + shell_quote(scratch.path) + " && " + shell_quote(gnuplot) + " plot.gp > " +
                           shell_quote(log_path) + " 2>&1");
  if (rc != 0 || !file_exists(tmp_png) || fs::file_size(tmp_png) == 0) {
    std::string log = file_exists(log_path) ? read_file(log_path) : "";
    if (log.size() > 2000) log = log.substr(log.size() - 2000);
    std::remove(tmp_png.c_str());
    throw Error(png_path + ": gnuplot failed (exit " + std::to_string(rc) + ")" + (log.empty() ? "" : ":\n" + log));
  }
  if (std::rename(tmp_png.c_str(), png_path.c_str()) != 0) {
    std::remove(tmp_png.c_str());
    throw Error(png_path + ": cannot rename the rendered chart into place");
  }
}

// ---- data -------------------------------------------------------------------------------------

// A whitespace-separated data file: numbers as is (missing as '?'), text double-quoted.
class DataFile {
 public:
  DataFile& num(double v) {
    line_ << (std::isfinite(v) ? format_fixed(v, 10) : "?") << ' ';
    return *this;
  }
  DataFile& num(const json& v) { return v.is_null() ? missing() : num(v.get<double>()); }
  DataFile& missing() {
    line_ << "? ";
    return *this;
  }
  DataFile& text(std::string s) {
    std::replace(s.begin(), s.end(), '"', '\'');
    std::replace(s.begin(), s.end(), '\n', ' ');
    line_ << '"' << s << "\" ";
    return *this;
  }
  void end_row() {
    out_ << line_.str() << '\n';
    line_.str("");
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_, line_;
};

// Full red, LoRA blue (the study's colours); further arms take the next palette colour.
std::vector<std::string> arm_colors(const json& arms) {
  static const char* const palette[] = {"#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                        "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
  std::vector<std::string> out;
  bool red_used = false, blue_used = false;
  size_t next = 0;
  for (const json& a : arms) {
    const std::string method = a["method"];
    if (method == "full" && !red_used) {
      out.push_back("#d62728");
      red_used = true;
    } else if (method == "lora" && !blue_used) {
      out.push_back("#1f77b4");
      blue_used = true;
    } else {
      out.push_back(palette[next++ % (sizeof palette / sizeof *palette)]);
    }
  }
  return out;
}

int color_int(const std::string& hex) { return std::stoi(hex.substr(1), nullptr, 16); }

double mean_of(const json& metric) { return metric.is_null() ? NAN : metric["mean"].get<double>(); }
// Medians where comparison.json has them (resources compare medians), else the mean.
double median_of(const json& metric) { return metric.is_null() ? NAN : metric.value("median", metric["mean"].get<double>()); }
double std_of(const json& metric) { return metric.is_null() ? NAN : metric.value("std", 0.0); }

// x tics at 0..n-1 named after the arms; rotated when there are many names to fit.
std::string arm_axis(const json& arms) {
  std::string tics;
  for (size_t i = 0; i < arms.size(); ++i)
    tics += (i ? ", " : "") + gp_quote(arms[i]["arm"].get<std::string>()) + " " + std::to_string(i);
  std::string s = "set xrange [-0.6:" + format_fixed(static_cast<double>(arms.size()) - 0.4, 1) + "]\n";
  s += "set xtics (" + tics + ")" + (arms.size() > 4 ? " rotate by -25" : "") + "\n";
  return s;
}

// y range that frames [lo, hi] with a margin, for charts whose zero is not meaningful.
std::string padded_yrange(double lo, double hi, double min_pad) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return "set yrange [*:*]\n";
  const double pad = std::max(0.35 * (hi - lo), min_pad);
  return "set yrange [" + format_fixed(lo - pad, 6) + ":" + format_fixed(hi + pad, 6) + "]\n";
}

struct Panel {
  double x, y, w, h;  // screen fractions
};

std::string place(const Panel& p) {
  return "set origin " + format_fixed(p.x, 3) + "," + format_fixed(p.y, 3) + "\nset size " + format_fixed(p.w, 3) +
         "," + format_fixed(p.h, 3) + "\n";
}

// Resets what a previous panel may have set.
const char* const kPanelReset =
    "unset logscale\nunset label\nunset key\nunset arrow\nset autoscale\nset format y '% h'\nset ytics auto\n"
    "set xtics norotate auto\nset grid ytics back lt 1 lw 1 lc rgb '#dddddd'\nset style fill solid 0.85 border -1\n";

std::string params_panel(const json& arms, std::map<std::string, std::string>& data) {
  DataFile f;
  const std::vector<std::string> colors = arm_colors(arms);
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < arms.size(); ++i) {
    const json& m = arms[i]["metrics"];
    const double trainable = mean_of(m["trainable_params"]);
    lo = std::min(lo, trainable);
    hi = std::max(hi, trainable);
    f.num(static_cast<double>(i)).num(trainable).num(static_cast<double>(color_int(colors[i])))
        .text(format_count(std::llround(trainable)))
        .text(format_percent(mean_of(m["trainable_percent"]), 2))
        .end_row();
  }
  data["params.dat"] = f.str();
  std::ostringstream s;
  s << kPanelReset << arm_axis(arms) << "set title 'Trainable parameters (log scale)'\n"
    << "set ylabel 'parameters'\nset logscale y\nset format y '1e%L'\n"
    << "set yrange [" << format_fixed(std::max(1.0, lo / 20), 0) << ":" << format_fixed(hi * 20, 0) << "]\n"
    << "set boxwidth 0.6\n"
    << "plot 'params.dat' using 1:2:3 with boxes lc rgb variable notitle, "
    << "'' using 1:2:(sprintf(\"%s\\n(%s)\", strcol(4), strcol(5))) with labels offset 0,1.4 font ',10' notitle\n";
  return s.str();
}

// Train and eval loss against epoch, from one run's trainer_state.json.
struct Curves {
  std::vector<std::pair<double, double>> train, eval;
};

Curves read_curves(const std::string& dir) {
  const std::string path = join_path(dir, "trainer_state.json");
  Curves c;
  if (!file_exists(path)) {
    warn(path + " not found: no loss curves for this run");
    return c;
  }
  const json state = read_json(path);
  if (!state.contains("log_history") || !state["log_history"].is_array())
    throw Error(path + ": missing log_history array");
  for (const json& e : state["log_history"]) {
    if (!e.contains("epoch") || !e["epoch"].is_number()) continue;
    const double epoch = e["epoch"].get<double>();
    if (e.contains("loss") && e["loss"].is_number()) c.train.emplace_back(epoch, e["loss"].get<double>());
    if (e.contains("eval_loss") && e["eval_loss"].is_number()) c.eval.emplace_back(epoch, e["eval_loss"].get<double>());
  }
  return c;
}

// A curve's value at `epoch` by linear interpolation; NaN outside its range.
double at_epoch(const std::vector<std::pair<double, double>>& curve, double epoch) {
  for (size_t i = 0; i < curve.size(); ++i) {
    if (std::fabs(curve[i].first - epoch) < 1e-9) return curve[i].second;
    if (i > 0 && curve[i - 1].first < epoch && epoch < curve[i].first) {
      const double t = (epoch - curve[i - 1].first) / (curve[i].first - curve[i - 1].first);
      return curve[i - 1].second + t * (curve[i].second - curve[i - 1].second);
    }
  }
  return NAN;
}

// "epoch mean lowest highest" rows over the seeds' curves, on the first seed's epochs: the line and
// its seed band.
std::string seed_band(const std::vector<const std::vector<std::pair<double, double>>*>& curves) {
  DataFile f;
  for (const auto& [epoch, first] : *curves.front()) {
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    int n = 0;
    for (const auto* c : curves) {
      const double v = c == curves.front() ? first : at_epoch(*c, epoch);
      if (!std::isfinite(v)) continue;
      sum += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      ++n;
    }
    f.num(epoch).num(sum / n).num(lo).num(hi).end_row();
  }
  return f.str();
}

std::string curves_panel(const json& comparison, std::map<std::string, std::string>& data) {
  const json& arms = comparison["arms"];
  const std::vector<std::string> colors = arm_colors(arms);
  std::vector<std::string> bands, lines;
  bool several = false;
  for (size_t i = 0; i < arms.size(); ++i) {
    const std::string arm = arms[i]["arm"];
    std::vector<Curves> runs;
    for (const json& r : comparison["runs"])
      if (r["arm"] == arm) runs.push_back(read_curves(r["dir"]));
    several = several || runs.size() > 1;
    const std::string color = " lc rgb '" + colors[i] + "'";
    const std::string fill = " with filledcurves fc rgb '" + colors[i] + "' fs transparent solid 0.18 noborder notitle";
    for (const bool train : {true, false}) {
      std::vector<const std::vector<std::pair<double, double>>*> curves;
      for (const Curves& c : runs)
        if (!(train ? c.train : c.eval).empty()) curves.push_back(train ? &c.train : &c.eval);
      if (curves.empty()) continue;
      const std::string file = "loss_" + std::to_string(i) + (train ? "_train.dat" : "_eval.dat");
      data[file] = seed_band(curves);
      bands.push_back(gp_quote(file) + " using 1:3:4" + fill);
      lines.push_back(gp_quote(file) + " using 1:2 with " + (train ? "lines dt 1 lw 2" : "linespoints dt 2 pt 7 ps 0.8 lw 2") +
                      color + " title " + gp_quote(arm + (train ? " train" : " validation")));
    }
  }
  std::ostringstream s;
  s << kPanelReset << "set title "
    << gp_quote(std::string("Loss (train solid, validation dashed)") + (several ? ": mean over seeds, band lowest to highest seed" : ""))
    << "\nset xlabel 'epoch'\nset ylabel 'loss'\nset key top right box opaque\nset autoscale xfix\n";
  if (lines.empty()) {
    // Keep the panel, say why it is blank.
    s << "set xrange [0:1]\nset yrange [0:1]\nset label 'no trainer_state.json log history' at graph 0.5,0.5 center\n"
      << "plot -1 notitle\n";
  } else {
    // Bands first, so every line is drawn over them.
    s << "plot ";
    bands.insert(bands.end(), lines.begin(), lines.end());
    for (size_t i = 0; i < bands.size(); ++i) s << (i ? ", \\\n     " : "") << bands[i];
    s << "\n";
  }
  s << "unset xlabel\n";
  return s.str();
}

// An arm's mean and 95% interval of a metric (in %), from comparison.json; ±std without an interval.
struct Estimate {
  double mean = NAN, lo = NAN, hi = NAN;
};
Estimate estimate(const json& arm, const char* key) {
  Estimate e;
  e.mean = 100 * mean_of(arm["metrics"][key]);
  if (arm.contains("intervals")) {
    e.lo = 100 * arm["intervals"][key]["lo"].get<double>();
    e.hi = 100 * arm["intervals"][key]["hi"].get<double>();
  } else {
    const double sd = 100 * std_of(arm["metrics"][key]);
    e.lo = e.mean - sd;
    e.hi = e.mean + sd;
  }
  return e;
}

// Every seed's accuracy and F1 (in %) of an arm, as "x accuracy f1" rows around position x.
std::string seed_points(const json& comparison, const std::string& arm, double x) {
  DataFile f;
  for (const json& r : comparison["runs"])
    if (r["arm"] == arm && r.contains("accuracy")) f.num(x).num(100 * r["accuracy"].get<double>()).num(100 * r["f1"].get<double>()).end_row();
  return f.str();
}

std::string quality_panel(const json& comparison, std::map<std::string, std::string>& data) {
  const json& arms = comparison["arms"];
  DataFile f;
  const std::vector<std::string> colors = arm_colors(arms);
  double lo = INFINITY, hi = -INFINITY;
  std::string seeds;
  for (size_t i = 0; i < arms.size(); ++i) {
    const Estimate acc = estimate(arms[i], "accuracy"), f1 = estimate(arms[i], "f1");
    lo = std::min({lo, acc.lo, f1.lo});
    hi = std::max({hi, acc.hi, f1.hi});
    f.num(static_cast<double>(i)).num(acc.mean).num(acc.lo).num(acc.hi).num(f1.mean).num(f1.lo).num(f1.hi)
        .num(static_cast<double>(color_int(colors[i])))
        .text(format_fixed(acc.mean, 2)).text(format_fixed(f1.mean, 2)).end_row();
    const std::string file = "seeds_" + std::to_string(i) + ".dat";
    data[file] = seed_points(comparison, arms[i]["arm"], static_cast<double>(i));
    for (const json& r : comparison["runs"])
      if (r["arm"] == arms[i]["arm"] && r.contains("accuracy")) {
        lo = std::min({lo, 100 * r["accuracy"].get<double>(), 100 * r["f1"].get<double>()});
        hi = std::max({hi, 100 * r["accuracy"].get<double>(), 100 * r["f1"].get<double>()});
      }
    // Seeds as hollow marks beside their arm's interval: accuracy left, F1 right.
    seeds += ", " + gp_quote(file) + " using ($1-0.27):2 with points pt 6 ps 1.1 lw 1.5 lc rgb '" + colors[i] + "' notitle, " +
             gp_quote(file) + " using ($1+0.27):3 with points pt 4 ps 1.1 lw 1.5 lc rgb '" + colors[i] + "' notitle";
  }
  data["quality.dat"] = f.str();
  const bool intervals = arms[0].contains("intervals");
  const bool one_run = intervals && arms[0]["intervals"]["accuracy"]["seeds"].get<int>() < 2;
  std::ostringstream s;
  // Points, not bars: accuracies differ by tenths of a percent, and bars would imply a zero baseline.
  // Accuracy values sit above their circles, F1 below their squares, so neighbours never collide.
  s << kPanelReset << arm_axis(arms) << "set title "
    << gp_quote(std::string("Accuracy (circles), F1 (squares), %: ") + (!intervals ? "mean ± std" : one_run ? "95% CI, test examples only" : "95% CI, seeds hollow"))
    << "\nset ylabel '%'\n" << padded_yrange(lo, hi, 0.5)
    << "plot 'quality.dat' using ($1-0.12):2:3:4:8 with yerrorbars pt 7 ps 1.6 lw 2 lc rgb variable notitle, "
    << "'' using ($1-0.12):4:9 with labels offset 0,1 font ',10' notitle, "
    << "'' using ($1+0.12):5:6:7:8 with yerrorbars pt 5 ps 1.6 lw 2 lc rgb variable notitle, "
    << "'' using ($1+0.12):6:10 with labels offset 0,-1 font ',10' notitle" << seeds << "\n";
  return s.str();
}

std::string resources_panel(const json& arms, std::map<std::string, std::string>& data) {
  DataFile f;
  double hi = 100;
  for (size_t i = 0; i < arms.size(); ++i) {
    const json& a = arms[i];
    const json &m = a["metrics"], &r = a["reduction_percent"];
    const auto share = [&](const char* key) { return r[key].is_null() ? NAN : 100 - r[key].get<double>(); };
    const double mem = share("peak_memory_bytes"), time = share("train_runtime_s");
    if (std::isfinite(mem)) hi = std::max(hi, mem);
    if (std::isfinite(time)) hi = std::max(hi, time);
    const json& mem_bytes = m["peak_memory_bytes"];
    const json& seconds = m["train_runtime_s"];
    f.num(static_cast<double>(i)).num(mem).num(time)
        .text(std::isfinite(mem) ? format_bytes(median_of(mem_bytes)) : "n/a")
        .text(std::isfinite(time) ? format_duration(median_of(seconds)) : "n/a")
        .end_row();
  }
  data["resources.dat"] = f.str();
  const std::string base = arms[0]["arm"];
  // Side by side labels fit above two or three pairs of bars; with more they stand upright.
  const bool upright = arms.size() > 3;
  const std::string label_style = upright ? " rotate by 90 left offset 0,0.5 font ',10'" : " offset 0,0.8 font ',10'";
  std::ostringstream s;
  s << kPanelReset << arm_axis(arms) << "set title " << gp_quote("Peak memory and training time (medians), % of " + base) << "\n"
    << "set ylabel '% of " << base << "'\nset yrange [0:" << format_fixed(hi * (upright ? 1.5 : 1.25), 0) << "]\n"
    << "set boxwidth 0.36\nset key top right\n"
    << "plot 'resources.dat' using ($1-0.19):2 with boxes lc rgb '#4d4d4d' title 'peak memory', "
    << "'' using ($1+0.19):3 with boxes lc rgb '#b3b3b3' title 'training time', "
    << "'' using ($1-0.19):2:4 with labels" << label_style << " notitle, "
    << "'' using ($1+0.19):3:5 with labels" << label_style << " notitle\n";
  return s.str();
}

std::string gap_panel(const json& arms, std::map<std::string, std::string>& data) {
  DataFile f;
  const std::vector<std::string> colors = arm_colors(arms);
  double lo = 0, hi = 0;
  bool spread = false;  // error bars only when some arm has several seeds
  for (size_t i = 0; i < arms.size(); ++i) {
    const json& gap = arms[i]["metrics"]["generalization_gap"];
    const double g = mean_of(gap), sd = std_of(gap);
    spread = spread || sd > 0;
    lo = std::min(lo, g - sd);
    hi = std::max(hi, g + sd);
    f.num(static_cast<double>(i)).num(g).num(sd).num(static_cast<double>(color_int(colors[i])))
        .text(format_fixed(g, 4)).end_row();
  }
  data["gap.dat"] = f.str();
  const double span = std::max(hi - lo, 1e-3);
  std::ostringstream s;
  s << kPanelReset << arm_axis(arms) << "set title 'Generalization gap (eval loss - train loss)'\nset ylabel 'loss'\n"
    << "set yrange [" << format_fixed(lo - 0.15 * span, 6) << ":" << format_fixed(hi + 0.25 * span, 6) << "]\n"
    << "set xzeroaxis lt -1\nset boxwidth 0.6\n"
    << "plot 'gap.dat' using 1:2:4 with boxes lc rgb variable notitle, "
    << (spread ? "'' using 1:2:3 with yerrorbars ps 0 lc rgb 'black' notitle, " : "")
    << "'' using 1:($2 >= 0 ? $2 : 1/0):5 with labels offset 0,1 notitle, "
    << "'' using 1:($2 < 0 ? $2 : 1/0):5 with labels offset 0,-1 notitle\n"
    << "unset xzeroaxis\n";
  return s.str();
}

}  // namespace

void write_dashboard(const json& comparison, const std::string& png_path) {
  const json& arms = comparison["arms"];
  std::map<std::string, std::string> data;
  std::ostringstream s;
  std::string names;
  for (const json& a : arms) names += (names.empty() ? "" : " vs ") + a["arm"].get<std::string>();
  s << "set multiplot title " << gp_quote("Fine-tuning comparison: " + names) << " font ',16'\n"
    << "set lmargin 12\nset rmargin 3\n";
  // Two rows under the title: parameters and loss curves on top, the outcomes below.
  s << place({0.0, 0.48, 0.34, 0.47}) << params_panel(arms, data);
  s << place({0.34, 0.48, 0.66, 0.47}) << curves_panel(comparison, data);
  s << place({0.0, 0.0, 0.34, 0.48}) << quality_panel(comparison, data);
  s << place({0.34, 0.0, 0.33, 0.48}) << resources_panel(arms, data);
  s << place({0.67, 0.0, 0.33, 0.48}) << gap_panel(arms, data);
  s << "unset multiplot\n";
  render(s.str(), data, png_path);
}

void write_tradeoff(const json& comparison, const std::string& png_path) {
  const json& arms = comparison["arms"];
  const std::vector<std::string> colors = arm_colors(arms);
  DataFile f;
  std::map<std::string, std::string> data;
  std::string seeds;
  double x_lo = INFINITY, x_hi = 0, y_lo = INFINITY, y_hi = -INFINITY;
  for (size_t i = 0; i < arms.size(); ++i) {
    const json& m = arms[i]["metrics"];
    const double params = mean_of(m["trainable_params"]);
    const Estimate acc = estimate(arms[i], "accuracy");
    x_lo = std::min(x_lo, params);
    x_hi = std::max(x_hi, params);
    y_lo = std::min(y_lo, acc.lo);
    y_hi = std::max(y_hi, acc.hi);
    f.num(params).num(acc.mean).num(acc.lo).num(acc.hi).num(static_cast<double>(color_int(colors[i])))
        .text(arms[i]["arm"].get<std::string>() + " (" + format_fixed(acc.mean, 2) + "% [" + format_fixed(acc.lo, 2) + ", " +
              format_fixed(acc.hi, 2) + "])")
        .end_row();
    const std::string file = "seeds_" + std::to_string(i) + ".dat";
    data[file] = seed_points(comparison, arms[i]["arm"], params / 1.15);  // just left of the interval, not on it
    seeds += ", " + gp_quote(file) + " using 1:2 with points pt 6 ps 1.4 lw 1.5 lc rgb '" + colors[i] + "' notitle";
    for (const json& r : comparison["runs"])
      if (r["arm"] == arms[i]["arm"] && r.contains("accuracy")) {
        y_lo = std::min(y_lo, 100 * r["accuracy"].get<double>());
        y_hi = std::max(y_hi, 100 * r["accuracy"].get<double>());
      }
  }
  data["tradeoff.dat"] = f.str();
  const bool intervals = arms[0].contains("intervals");
  std::ostringstream s;
  s << "set title " << gp_quote(std::string("Accuracy vs trainable parameters: ") +
                               (intervals ? "mean with 95% CI, each seed hollow" : "mean ± std over seeds"))
    << " font ',16'\n"
    << "set xlabel 'trainable parameters (log scale)'\nset ylabel 'accuracy (%)'\n"
    << "set logscale x\nset format x '1e%L'\nset grid back lt 1 lw 1 lc rgb '#dddddd'\n"
    << "set xrange [" << format_fixed(std::max(1.0, x_lo / 30), 0) << ":" << format_fixed(x_hi * 30, 0) << "]\n"
    << padded_yrange(y_lo, y_hi, 0.5)
    << "plot 'tradeoff.dat' using 1:2:3:4:5 with yerrorbars pt 7 ps 2.5 lw 2 lc rgb variable notitle, "
    << "'' using 1:2:6 with labels left offset 2,1 notitle" << seeds << "\n";
  render(s.str(), data, png_path);
}

void write_robustness_chart(const json& comparison, const std::string& png_path) {
  const json& arms = comparison["arms"];
  const std::vector<std::string> colors = arm_colors(arms);
  std::map<std::string, std::string> data;
  std::ostringstream s;
  s << "set multiplot title 'Robustness and calibration' font ',16'\nset lmargin 12\nset rmargin 3\n";
  const json empty = json::object();
  const json& robust = comparison.contains("robustness") ? comparison["robustness"] : empty;
  const json& calib = comparison.contains("calibration") ? comparison["calibration"] : empty;

  // Left: accuracy on the clean and each perturbed set, per arm (mean over seeds), with 95% binomial intervals.
  s << place({0.0, 0.0, 0.55, 0.95}) << kPanelReset;
  if (robust.contains("perturbations")) {
    std::vector<std::string> sets = {"clean"};
    for (const json& p : robust["perturbations"]) sets.push_back(p["perturbation"]);
    std::string tics, plots;
    for (size_t k = 0; k < sets.size(); ++k) tics += (k ? ", " : "") + gp_quote(sets[k]) + " " + std::to_string(k);
    double lo = 1, hi = 0;
    for (size_t i = 0; i < arms.size(); ++i) {
      const std::string arm = arms[i]["arm"];
      DataFile f;
      for (size_t k = 0; k < sets.size(); ++k) {
        double sum = 0, n = 0;
        int runs = 0;
        for (const json& r : robust["runs"]) {
          if (r["arm"] != arm) continue;
          double acc = r["clean_accuracy"];
          bool found = k == 0;
          for (const json& x : r["results"])
            if (x["perturbation"] == sets[k]) {
              acc = x["accuracy"];
              found = true;
            }
          if (!found) continue;
          sum += acc;
          n += r.value("n", 0.0);
          ++runs;
        }
        if (runs == 0) continue;
        const double acc = sum / runs, half = n > 0 ? 1.96 * std::sqrt(acc * (1 - acc) / n) : 0;  // n: all seeds' examples
        lo = std::min(lo, acc - half);
        hi = std::max(hi, acc + half);
        // A small sideways offset per arm keeps the error bars apart.
        f.num(static_cast<double>(k) + 0.08 * (static_cast<double>(i) - 0.5 * static_cast<double>(arms.size() - 1)))
            .num(100 * acc).num(100 * half).end_row();
      }
      const std::string file = "robust_" + std::to_string(i) + ".dat";
      data[file] = f.str();
      plots += std::string(plots.empty() ? "" : ", ") + gp_quote(file) + " using 1:2:3 with yerrorlines pt 7 ps 1.2 lw 2 lc rgb " +
               gp_quote(colors[i]) + " title " + gp_quote(arm);
    }
    s << "set title 'Accuracy under perturbation (95% binomial CI)'\nset ylabel 'accuracy (%)'\nset key bottom left\n"
      << "set xrange [-0.4:" << format_fixed(static_cast<double>(sets.size()) - 0.6, 1) << "]\nset xtics (" << tics << ")"
      << (sets.size() > 4 ? " rotate by -25" : "") << "\n"
      << padded_yrange(100 * lo, 100 * hi, 0.5) << "plot " << plots << "\n";
  } else {
    s << "set title 'Accuracy under perturbation: no robustness runs'\nunset xtics\nunset ytics\nset xrange [0:1]\nset yrange [0:1]\n"
      << "plot 2 notitle\n";
  }

  // Right: reliability diagram (accuracy against mean confidence per bin; the diagonal is perfect calibration).
  s << place({0.55, 0.0, 0.45, 0.95}) << kPanelReset;
  std::string plots = "x with lines dt 2 lc rgb '#888888' title 'perfectly calibrated'";
  if (calib.contains("runs")) {
    for (size_t i = 0; i < arms.size(); ++i) {
      for (const json& r : calib["runs"]) {
        if (r["arm"] != arms[i]["arm"]) continue;  // the first seed of each arm
        DataFile f;
        for (const json& b : r["reliability"]) f.num(b["confidence"]).num(b["accuracy"]).end_row();
        const std::string file = "reliability_" + std::to_string(i) + ".dat";
        data[file] = f.str();
        plots += ", " + gp_quote(file) + " using 1:2 with linespoints pt 7 ps 1.2 lw 2 lc rgb " + gp_quote(colors[i]) +
                 " title " + gp_quote(arms[i]["arm"].get<std::string>() + " (seed " + std::to_string(r["seed"].get<int64_t>()) + ")");
        break;
      }
    }
  }
  s << "set title 'Reliability diagram (15 bins)'\nset xlabel 'mean confidence'\nset ylabel 'accuracy'\nset key top left\n"
    << "set xrange [0.45:1.0]\nset yrange [0:1.0]\nset grid xtics ytics back lt 1 lw 1 lc rgb '#dddddd'\nplot " << plots << "\n";
  s << "unset multiplot\n";
  render(s.str(), data, png_path);
}

}  // namespace ft::report
