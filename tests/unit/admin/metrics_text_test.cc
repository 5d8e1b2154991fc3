#include "admin/metrics_text.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

namespace l4lb::admin {
namespace {

using Type = MetricsText::Type;

TEST(MetricsTextTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escapeLabelValue("plain"), "plain");
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  // HELP escapes backslash and newline only: a double quote stays.
  EXPECT_EQ(escapeHelp("say \"hi\"\\\nnext"), "say \"hi\"\\\\\\nnext");
}

TEST(MetricsTextTest, FormatsValues) {
  EXPECT_EQ(formatMetricValue(1.0), "1");
  EXPECT_EQ(formatMetricValue(0.0005), "0.0005");
  EXPECT_EQ(formatMetricValue(2.5), "2.5");
  EXPECT_EQ(formatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsTextTest, CounterKeepsTotalInHelpAndType) {
  MetricsText out;
  ASSERT_TRUE(out.family("l4lb_x_total", Type::kCounter, "Things.\nMore."));
  out.sample({{"listener", "front"}, {"reason", "a\"b"}}, std::uint64_t{7});
  out.sample({}, std::uint64_t{18446744073709551615ULL});
  EXPECT_EQ(out.text(),
            "# HELP l4lb_x_total Things.\\nMore.\n"
            "# TYPE l4lb_x_total counter\n"
            "l4lb_x_total{listener=\"front\",reason=\"a\\\"b\"} 7\n"
            "l4lb_x_total 18446744073709551615\n");
}

TEST(MetricsTextTest, GaugeWithDoubleValue) {
  MetricsText out;
  ASSERT_TRUE(out.family("l4lb_start_time_seconds", Type::kGauge, "When."));
  out.sample(std::span<const MetricLabel>(), 1700000000.25);
  EXPECT_EQ(out.text(),
            "# HELP l4lb_start_time_seconds When.\n"
            "# TYPE l4lb_start_time_seconds gauge\n"
            "l4lb_start_time_seconds 1700000000.25\n");
}

TEST(MetricsTextTest, HistogramIsCumulativeWithInfSumAndCount) {
  MetricsText out;
  ASSERT_TRUE(out.family("l4lb_t_seconds", Type::kHistogram, "Times."));
  const std::array<double, 2> bounds = {0.001, 0.5};
  const std::array<std::uint64_t, 3> counts = {2, 3, 1};  // the last: above every bound
  const std::array<MetricLabel, 1> labels = {MetricLabel{"backend", "b\\1"}};
  out.histogram(labels, bounds, counts, 1.75);
  EXPECT_EQ(out.text(),
            "# HELP l4lb_t_seconds Times.\n"
            "# TYPE l4lb_t_seconds histogram\n"
            "l4lb_t_seconds_bucket{backend=\"b\\\\1\",le=\"0.001\"} 2\n"
            "l4lb_t_seconds_bucket{backend=\"b\\\\1\",le=\"0.5\"} 5\n"
            "l4lb_t_seconds_bucket{backend=\"b\\\\1\",le=\"+Inf\"} 6\n"
            "l4lb_t_seconds_sum{backend=\"b\\\\1\"} 1.75\n"
            "l4lb_t_seconds_count{backend=\"b\\\\1\"} 6\n");
}

TEST(MetricsTextTest, HistogramWithoutLabelsOrObservations) {
  MetricsText out;
  ASSERT_TRUE(out.family("h", Type::kHistogram, "H."));
  const std::array<double, 1> bounds = {1};
  const std::array<std::uint64_t, 2> counts = {0, 0};
  out.histogram({}, bounds, counts, 0);
  EXPECT_EQ(out.text(),
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

TEST(MetricsTextTest, RepeatedFamilyAndMismatchedSamplesAreDropped) {
  MetricsText out;
  ASSERT_TRUE(out.family("a_total", Type::kCounter, "A."));
  out.sample({}, std::uint64_t{1});
  ASSERT_TRUE(out.family("g", Type::kGauge, "G."));
  out.histogram({}, std::array<double, 1>{1}, std::array<std::uint64_t, 2>{1, 0}, 1);  // not one
  // A family begun twice would repeat HELP/TYPE and split its samples: refused, samples too.
  EXPECT_FALSE(out.family("a_total", Type::kCounter, "A again."));
  out.sample({}, std::uint64_t{2});
  EXPECT_EQ(out.text(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
            "# HELP g G.\n# TYPE g gauge\n");
}

}  // namespace
}  // namespace l4lb::admin
