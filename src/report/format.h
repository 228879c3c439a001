// Human-readable numbers for reports and chart labels: "887,042", "0.80%", "3.4 MB", "1m 40s".
#pragma once
#include <cstdint>
#include <string>

namespace ft::report {

// 1234567 → "1,234,567"
std::string format_count(int64_t n);
// Decimal units (kB = 1000 B), as disk and checkpoint sizes are usually quoted: 3400000 → "3.4 MB".
std::string format_bytes(double bytes);
// 100 → "1m 40s"; under a minute keeps one decimal ("5.2s"); hours as "1h 02m".
std::string format_duration(double seconds);
// Fixed decimals followed by "%": (0.8019, 2) → "0.80%".
std::string format_percent(double percent, int decimals = 2);
// Fixed decimals: (0.01537, 4) → "0.0154".
std::string format_fixed(double value, int decimals);
// A fraction as points with one or two decimals, as a margin is written: 0.01 → "1.0", 0.0025 → "0.25".
std::string format_points(double fraction);
// A p-value: 4 decimals, or scientific notation below 1e-4 ("3.2e-25") so tiny values do not read as 0.
std::string format_p_value(double p);

}  // namespace ft::report
