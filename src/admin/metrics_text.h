#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace l4lb::admin {

// A label of a sample: name and (unescaped) value.
using MetricLabel = std::pair<std::string_view, std::string_view>;

// Writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). A pure writer: each family is
// begun once (its # HELP and # TYPE lines), and its samples follow it, together. Counter names
// end in _total, and the HELP and TYPE lines carry that full name (promtool wants them so).
class MetricsText {
 public:
  enum class Type : std::uint8_t { kCounter, kGauge, kHistogram };

  // Begins a family. A name begun before is a mistake of the caller: it is ignored (returns
  // false), and so are its samples until the next family, so the output stays valid.
  bool family(std::string_view name, Type type, std::string_view help);
  // A sample of the current counter or gauge family.
  void sample(std::initializer_list<MetricLabel> labels, std::uint64_t value);
  void sample(std::span<const MetricLabel> labels, std::uint64_t value);
  void sample(std::span<const MetricLabel> labels, double value);
  // A sample of the current histogram family: `bounds` are the buckets' upper bounds (in the
  // family's unit, increasing), `counts` the observations per bucket (not cumulative), one more
  // than `bounds` (the last: above every bound). Writes the cumulative _bucket series with
  // le="+Inf", then _sum and _count.
  void histogram(std::span<const MetricLabel> labels, std::span<const double> bounds,
                 std::span<const std::uint64_t> counts, double sum);

  [[nodiscard]] const std::string& text() const { return out_; }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  void writeSeries(std::string_view suffix, std::span<const MetricLabel> labels,
                   const MetricLabel* extra);

  std::string out_;
  std::string name_;  // the current family's
  Type type_ = Type::kGauge;
  bool skipping_ = true;  // no family yet, or a repeated one
  std::vector<std::string> families_;
};

// A label value escaped as the text format wants: backslash, double quote and newline.
[[nodiscard]] std::string escapeLabelValue(std::string_view value);
// A HELP text escaped: backslash and newline.
[[nodiscard]] std::string escapeHelp(std::string_view help);
// A sample value: integers as such, others in the shortest form that reads back the same;
// NaN and infinities as Prometheus spells them.
[[nodiscard]] std::string formatMetricValue(double value);

}  // namespace l4lb::admin
