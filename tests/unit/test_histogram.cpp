// The load generator's latency histogram (nanoseconds): accuracy against exact
// percentiles, sub-microsecond resolution, HdrHistogram's coordinated-omission
// reference case, exact merging, and the JSON round trip that `loadgen merge`
// relies on, microsecond histograms of schema 1 and 2 included.
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

// Log-uniform values from 1 ns to 1 hour: every bucket of the layout gets used.
std::vector<int64_t> random_values(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> exponent(0.0, std::log(3.6e12));
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
    for (int64_t v : {2048LL, 2049LL, 99'999LL, 1'000'000LL, 123'456'789LL, 3'599'999'999LL,
                      3'599'999'999'999LL}) {
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
    constexpr int64_t kMs = 1'000'000;  // ns
    constexpr int64_t kInterval = 10 * kMs;
    Histogram corrected;
    Histogram raw;
    for (int i = 0; i < 10'000; ++i) {
        corrected.record_corrected(kMs, kInterval);
        raw.record(kMs);
    }
    corrected.record_corrected(100'000 * kMs, kInterval);
    raw.record(100'000 * kMs);

    CHECK(corrected.count() == 20'000);
    auto near = [](int64_t got, int64_t want) { return relative_error(got, want) <= 0.001; };
    CHECK(near(corrected.value_at_percentile(50), kMs));
    CHECK(near(corrected.value_at_percentile(75), 50'000 * kMs));
    CHECK(near(corrected.value_at_percentile(90), 80'000 * kMs));
    CHECK(near(corrected.value_at_percentile(99), 98'000 * kMs));
    CHECK(near(corrected.value_at_percentile(99.999), 100'000 * kMs));
    CHECK(corrected.max() == 100'000 * kMs);

    // Uncorrected, the stall is a single outlier past p99.99.
    CHECK(raw.value_at_percentile(99) == Histogram::highest_equivalent(kMs));
    CHECK(raw.value_at_percentile(99.99) == Histogram::highest_equivalent(kMs));
    CHECK(raw.max() == 100'000 * kMs);
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
    std::normal_distribution<double> dist(5'000'000.0, 800'000.0);  // 5 ms, ns
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
    constexpr int64_t kUs = pb::loadgen::kNsPerUs;
    for (int64_t us : {100, 29'000, 30'000, 30'001, 44'000, 45'000'000}) h.record(us * kUs);
    CHECK(h.count_at_or_above(30'000 * kUs) == 4);
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

TEST_CASE("nanosecond resolution tells 21,437 ns from 21,440 ns", "[histogram]") {
    // A loopback p50 is 20-30 us: with microsecond values it was quantised to
    // 1 us (3-5%); in nanoseconds the steps there are 16 ns (0.075%).
    CHECK(Histogram::index_of(21'437) != Histogram::index_of(21'440));
    for (int64_t v : {21'437LL, 21'440LL}) {
        INFO(v);
        int64_t lo = Histogram::lowest_equivalent(v);
        int64_t hi = Histogram::highest_equivalent(v);
        CHECK(static_cast<double>(hi - lo + 1) / static_cast<double>(v) <= 0.001);
        Histogram h;
        h.record(v, 1000);
        h.record(v + 100'000);  // max elsewhere: the percentile is the top of v's step
        CHECK(h.value_at_percentile(50) == hi);
        CHECK(relative_error(h.value_at_percentile(50), v) <= 0.001);
    }
    Histogram a, b;
    a.record(21'437, 100);
    b.record(21'440, 100);
    a.record(1'000'000);
    b.record(1'000'000);
    CHECK(a.value_at_percentile(50) < b.value_at_percentile(50));
}

TEST_CASE("percentiles of a known distribution, and a 1 us shift is visible", "[histogram]") {
    // 20,000 .. 29,999 ns, each once: the exact p-th value is 20,000 + rank - 1.
    Histogram h, shifted;
    for (int64_t v = 20'000; v < 30'000; ++v) {
        h.record(v);
        shifted.record(v + 1'000);  // "server X adds 1.0 us"
    }
    const std::pair<double, int64_t> known[] = {
        {50, 24'999}, {90, 28'999}, {99, 29'899}, {99.9, 29'989}, {100, 29'999}};
    for (auto [p, want] : known) {
        INFO("p" << p);
        int64_t got = h.value_at_percentile(p);
        CHECK(got >= want);
        CHECK(got - want < 16);  // the step width here
        double delta_us = pb::loadgen::ns_to_us(shifted.value_at_percentile(p) - got);
        CHECK(delta_us == Approx(1.0).margin(0.032));
    }
    CHECK(h.min() == 20'000);
    CHECK(h.max() == 29'999);
    CHECK(pb::loadgen::ns_to_us(h.max()) == 29.999);
}

namespace {

// A latency object as loadgen schemas 1 and 2 wrote it: whole microseconds.
pb::loadgen::Json microsecond_object(const std::vector<std::pair<int64_t, int64_t>>& buckets,
                                     int64_t min_us, int64_t max_us) {
    std::string text = R"({"count": 0, "min": )" + std::to_string(min_us) + R"(, "max": )" +
                       std::to_string(max_us) +
                       R"(, "histogram": {"unit": "us", "lowest": 1, "highest": 3600000000,
                           "significant_digits": 3, "saturated": 0, "buckets": [)";
    for (size_t i = 0; i < buckets.size(); ++i)
        text += (i ? ", [" : "[") + std::to_string(buckets[i].first) + ", " +
                std::to_string(buckets[i].second) + "]";
    text += "]}}";
    return pb::loadgen::Json::parse(text);
}

}  // namespace

TEST_CASE("the JSON histogram states its unit: ns buckets, us percentiles", "[histogram]") {
    Histogram h;
    h.record(21'437, 3);
    h.record(40'000);
    auto j = pb::loadgen::histogram_json(h);
    const auto& hist = j.at("histogram");
    CHECK(hist.at("unit").as_string() == "ns");
    CHECK(hist.at("highest").as_int() == 3'600'000'000'000);
    CHECK(hist.at("buckets").dump(-1) == "[[21424,3],[40000,1]]");
    CHECK(j.at("min").as_double() == 21.437);  // exact
    CHECK(j.at("p50").as_double() == 21.439);  // the top of 21,437's step, 21,424-21,439
    CHECK(j.at("max").as_double() == 40.0);
    CHECK(j.at("p99").as_double() == 40.0);
    CHECK(j.at("mean").as_double() == Approx(h.mean() / 1000.0));
}

TEST_CASE("microsecond histograms (schema 1 and 2) read as nanoseconds and merge exactly",
          "[histogram]") {
    // 44,000 us is the floor of a 32 us step, which spans several 32,768 ns
    // steps: its values go to the floor, the known max to its own step.
    Histogram us = pb::loadgen::histogram_from_json(
        microsecond_object({{20, 900}, {21, 900}, {40, 100}, {44'000, 5}}, 20, 44'010));
    CHECK(us.count() == 1905);
    CHECK(us.min() == 20'000);
    CHECK(us.max() == 44'010'000);
    CHECK(us.value_at_percentile(50) == Histogram::highest_equivalent(21'000));
    CHECK(us.value_at_percentile(100) == 44'010'000);

    Histogram ns;
    ns.record(21'437, 1000);
    ns.record(35'000, 100);
    Histogram ns_back = pb::loadgen::histogram_from_json(pb::loadgen::histogram_json(ns));
    CHECK(buckets(ns_back) == buckets(ns));

    // What one histogram recording both streams in nanoseconds holds.
    Histogram want;
    want.record(20'000, 900);
    want.record(21'000, 900);
    want.record(40'000, 100);
    want.record(44'000'000, 4);
    want.record(44'010'000);
    want.record(21'437, 1000);
    want.record(35'000, 100);

    Histogram merged = us;
    merged.add(ns_back);
    CHECK(buckets(merged) == buckets(want));
    CHECK(merged.count() == 1905 + 1100);
    CHECK(merged.min() == 20'000);
    CHECK(merged.max() == 44'010'000);
    // Ranks 1-900: 20 us, 901-1800: 21 us, 1801-2800: 21.437 us, then 35 and 40 us.
    CHECK(merged.value_at_percentile(25) == Histogram::highest_equivalent(20'000));
    CHECK(merged.value_at_percentile(50) == Histogram::highest_equivalent(21'000));
    CHECK(merged.value_at_percentile(75) == Histogram::highest_equivalent(21'437));
    CHECK(merged.value_at_percentile(95) == Histogram::highest_equivalent(35'000));
    CHECK(merged.value_at_percentile(99) == Histogram::highest_equivalent(40'000));
    CHECK(merged.value_at_percentile(100) == 44'010'000);
    for (double p : kPercentiles)
        CHECK(merged.value_at_percentile(p) == want.value_at_percentile(p));

    // And the merge survives being written as a version-3 histogram.
    Histogram again = pb::loadgen::histogram_from_json(pb::loadgen::histogram_json(merged));
    CHECK(buckets(again) == buckets(merged));
    CHECK(again.min() == merged.min());
    CHECK(again.max() == merged.max());
}

TEST_CASE("a histogram in an unknown unit is refused", "[histogram]") {
    auto j = microsecond_object({{20, 1}}, 20, 20);
    std::string text = j.dump(-1);
    text.replace(text.find("\"us\""), 4, "\"ms\"");
    CHECK_THROWS(pb::loadgen::histogram_from_json(pb::loadgen::Json::parse(text)));
}
