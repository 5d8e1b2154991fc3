#include "admin/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace l4lb::admin {

namespace {

std::string_view typeName(MetricsText::Type type) {
  switch (type) {
    case MetricsText::Type::kCounter: return "counter";
    case MetricsText::Type::kGauge: return "gauge";
    case MetricsText::Type::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

bool MetricsText::family(std::string_view name, Type type, std::string_view help) {
  if (std::find(families_.begin(), families_.end(), name) != families_.end()) {
    skipping_ = true;
    return false;
  }
  families_.emplace_back(name);
  name_ = std::string(name);
  type_ = type;
  skipping_ = false;
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escapeHelp(help), name, typeName(type));
  return true;
}

void MetricsText::writeSeries(std::string_view suffix, std::span<const MetricLabel> labels,
                              const MetricLabel* extra) {
  out_ += name_;
  out_ += suffix;
  if (!labels.empty() || extra != nullptr) {
    out_ += '{';
    bool first = true;
    auto add = [&](const MetricLabel& label) {
      if (!first) out_ += ',';
      first = false;
      out_ += label.first;
      out_ += "=\"";
      out_ += escapeLabelValue(label.second);
      out_ += '"';
    };
    for (const auto& label : labels) add(label);
    if (extra != nullptr) add(*extra);
    out_ += '}';
  }
  out_ += ' ';
}

void MetricsText::sample(std::initializer_list<MetricLabel> labels, std::uint64_t value) {
  sample(std::span<const MetricLabel>(labels.begin(), labels.size()), value);
}

void MetricsText::sample(std::span<const MetricLabel> labels, std::uint64_t value) {
  if (skipping_ || type_ == Type::kHistogram) return;
  writeSeries("", labels, nullptr);
  out_ += fmt::format("{}\n", value);
}

void MetricsText::sample(std::span<const MetricLabel> labels, double value) {
  if (skipping_ || type_ == Type::kHistogram) return;
  writeSeries("", labels, nullptr);
  out_ += formatMetricValue(value);
  out_ += '\n';
}

void MetricsText::histogram(std::span<const MetricLabel> labels, std::span<const double> bounds,
                            std::span<const std::uint64_t> counts, double sum) {
  if (skipping_ || type_ != Type::kHistogram) return;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (i < counts.size()) cumulative += counts[i];
    const std::string le = formatMetricValue(bounds[i]);
    const MetricLabel bound{"le", le};
    writeSeries("_bucket", labels, &bound);
    out_ += fmt::format("{}\n", cumulative);
  }
  for (std::size_t i = bounds.size(); i < counts.size(); ++i) cumulative += counts[i];
  const MetricLabel inf{"le", "+Inf"};
  writeSeries("_bucket", labels, &inf);
  out_ += fmt::format("{}\n", cumulative);
  writeSeries("_sum", labels, nullptr);
  out_ += formatMetricValue(sum);
  out_ += '\n';
  writeSeries("_count", labels, nullptr);
  out_ += fmt::format("{}\n", cumulative);
}

}  // namespace l4lb::admin
