// The load generator's latency histogram: accuracy against exact percentiles,
// HdrHistogram's coordinated-omission reference case, exact merging, and the
// JSON round trip that `loadgen merge` relies on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "histogram.hpp"
#include "result.hpp"

using pb::loadgen::Histogram;

namespace {

constexpr double kPercentiles[] = {0.1, 1,  10,   25,   50,    75,     90,
                                   95,  99, 99.5, 99.9, 99.99, 99.999, 100};

// The rank rule the histogram uses: the smallest value with at least p% of all
// values at or below it.
int64_t exact_percentile(const std::vector<int64_t>& sorted, double p) {
    auto n = static_cast<double>(sorted.size());
    auto rank = static_cast<int64_t>(std::ceil(p / 100.0 * n - 1e-9));
    rank = std::clamp<int64_t>(rank, 1, static_cast<int64_t>(sorted.size()));
    return sorted[static_cast<size_t>(rank - 1)];
}

double relative_error(int64_t got, int64_t want) {
    if (want == 0) return got == 0 ? 0.0 : 1.0;
    return std::abs(static_cast<double>(got - want)) / static_cast<double>(want);
}

std::vector<std::pair<int64_t, int64_t>> buckets(const Histogram& h) {
    std::vector<std::pair<int64_t, int64_t>> out;
    h.for_each_bucket([&](int64_t v, int64_t c) { out.emplace_back(v, c); });
    return out;
}

// Log-uniform values from 1 us to 1 hour: every bucket of the layout gets used.
std::vector<int64_t> random_values(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> exponent(0.0, std::log(3.6e9));
    std::vector<int64_t> values(n);
    for (auto& v : values) v = std::max<int64_t>(1, static_cast<int64_t>(std::exp(exponent(rng))));
    return values;
}

}  // namespace

TEST_CASE("histogram percentiles are within 0.1% of the exact ones", "[histogram]") {
    for (uint64_t seed : {1u, 2u, 3u}) {
        auto values = random_values(100'000, seed);
        Histogram h;
        for (auto v : values) h.record(v);
        std::sort(values.begin(), values.end());
        REQUIRE(h.count() == static_cast<int64_t>(values.size()));
        CHECK(h.min() == values.front());
        CHECK(h.max() == values.back());
        for (double p : kPercentiles) {
            int64_t want = exact_percentile(values, p);
            int64_t got = h.value_at_percentile(p);
            INFO("seed " << seed << " p" << p << ": got " << got << ", exact " << want);
            CHECK(relative_error(got, want) <= 0.001);
            CHECK(got >= want);  // reported at the top of the step: never optimistic
        }
    }
}

TEST_CASE("histogram is exact below 2048 and keeps 3 significant digits above", "[histogram]") {
    Histogram h;
    for (int64_t v = 0; v < 2048; ++v) CHECK(Histogram::lowest_equivalent(v) == v);
    for (int64_t v : {2048LL, 2049LL, 99'999LL, 1'000'000LL, 123'456'789LL, 3'599'999'999LL}) {
        int64_t lo = Histogram::lowest_equivalent(v);
        int64_t hi = Histogram::highest_equivalent(v);
        INFO(v);
        CHECK(lo <= v);
        CHECK(v <= hi);
        CHECK(static_cast<double>(hi - lo + 1) / static_cast<double>(lo) <= 1.0 / 1000);
        CHECK(Histogram::value_from_index(Histogram::index_of(v)) == lo);
    }
    CHECK(Histogram::index_of(Histogram::kHighest) < Histogram::counts_length());
}

TEST_CASE("histogram saturates above 1 hour and clamps negatives", "[histogram]") {
    Histogram h;
    h.record(Histogram::kHighest * 2);
    h.record(-5);
    CHECK(h.count() == 2);
    CHECK(h.saturated() == 1);
    CHECK(h.max() == Histogram::kHighest);
    CHECK(h.min() == 0);
}

TEST_CASE("HdrHistogram coordinated-omission reference case", "[histogram]") {
    // 10,000 requests of 1 ms, then one stall of 100 s, sampled every 10 ms:
    // corrected for the 9,999 samples the stall swallowed, the tail shows the
    // stall the way a user sending every 10 ms would have seen it.
    constexpr int64_t kInterval = 10'000;  // us
    Histogram corrected;
    Histogram raw;
    for (int i = 0; i < 10'000; ++i) {
        corrected.record_corrected(1'000, kInterval);
        raw.record(1'000);
    }
    corrected.record_corrected(100'000'000, kInterval);
    raw.record(100'000'000);

    CHECK(corrected.count() == 20'000);
    auto near = [](int64_t got, int64_t want) { return relative_error(got, want) <= 0.001; };
    CHECK(near(corrected.value_at_percentile(50), 1'000));
    CHECK(near(corrected.value_at_percentile(75), 50'000'000));
    CHECK(near(corrected.value_at_percentile(90), 80'000'000));
    CHECK(near(corrected.value_at_percentile(99), 98'000'000));
    CHECK(near(corrected.value_at_percentile(99.999), 100'000'000));
    CHECK(corrected.max() == 100'000'000);

    // Uncorrected, the stall is a single outlier past p99.99.
    CHECK(raw.value_at_percentile(99) == 1'000);
    CHECK(raw.value_at_percentile(99.99) == 1'000);
    CHECK(raw.max() == 100'000'000);
}

TEST_CASE("merging histograms equals recording the union", "[histogram]") {
    auto a = random_values(20'000, 11);
    auto b = random_values(30'000, 12);
    Histogram ha, hb, hu;
    for (auto v : a) {
        ha.record(v);
        hu.record(v);
    }
    for (auto v : b) {
        hb.record(v);
        hu.record(v);
    }
    Histogram merged;
    merged.add(ha);  // into an empty one
    merged.add(hb);
    merged.add(Histogram{});  // adding an empty one changes nothing
    CHECK(buckets(merged) == buckets(hu));
    CHECK(merged.count() == hu.count());
    CHECK(merged.min() == hu.min());
    CHECK(merged.max() == hu.max());
    for (double p : kPercentiles) CHECK(merged.value_at_percentile(p) == hu.value_at_percentile(p));
    CHECK(merged.mean() == Approx(hu.mean()));
    CHECK(merged.stdev() == Approx(hu.stdev()));
}

TEST_CASE("mean and stdev are close to the exact ones", "[histogram]") {
    std::mt19937_64 rng(5);
    std::normal_distribution<double> dist(5'000.0, 800.0);
    Histogram h;
    double sum = 0, sq = 0;
    const int n = 50'000;
    for (int i = 0; i < n; ++i) {
        auto v = static_cast<int64_t>(std::max(1.0, dist(rng)));
        h.record(v);
        sum += static_cast<double>(v);
        sq += static_cast<double>(v) * static_cast<double>(v);
    }
    double mean = sum / n;
    double stdev = std::sqrt(sq / n - mean * mean);
    CHECK(h.mean() == Approx(mean).epsilon(0.001));
    CHECK(h.stdev() == Approx(stdev).epsilon(0.01));
}

TEST_CASE("histogram survives the JSON round trip exactly", "[histogram]") {
    auto values = random_values(10'000, 21);
    Histogram h;
    for (auto v : values) h.record(v);
    h.record(Histogram::kHighest + 1);  // one saturated value
    auto text = pb::loadgen::histogram_json(h).dump(-1);
    Histogram back = pb::loadgen::histogram_from_json(pb::loadgen::Json::parse(text));
    CHECK(buckets(back) == buckets(h));
    CHECK(back.count() == h.count());
    CHECK(back.min() == h.min());
    CHECK(back.max() == h.max());
    CHECK(back.saturated() == h.saturated());
    for (double p : kPercentiles) CHECK(back.value_at_percentile(p) == h.value_at_percentile(p));
}

TEST_CASE("histogram counts values at or above a threshold", "[histogram]") {
    Histogram h;
    for (int64_t v : {100, 29'000, 30'000, 30'001, 44'000, 45'000'000}) h.record(v);
    CHECK(h.count_at_or_above(30'000) == 4);
    CHECK(h.count_at_or_above(1) == 6);
    CHECK(h.count_at_or_above(Histogram::kHighest) == 0);
    CHECK(Histogram{}.count_at_or_above(0) == 0);
}

TEST_CASE("empty histogram reports zeros", "[histogram]") {
    Histogram h;
    CHECK(h.empty());
    CHECK(h.value_at_percentile(99) == 0);
    CHECK(h.mean() == 0.0);
    CHECK(h.max() == 0);
}
