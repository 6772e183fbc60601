// An HDR-style log-linear latency histogram (after Gil Tene's HdrHistogram):
// values from 1 ns to 1 hour in nanoseconds, kept to 3 significant decimal digits.
//
// Layout: bucket 0 counts every value below 2048 exactly; bucket b >= 1 covers
// [1024 << b, 2048 << b) in 1024 equal steps of 2^b. Each step is at most 1/1024 of
// the values it holds, so any reported value is within 0.1% of a recorded one (a
// 21 us round trip is resolved to 16 ns). The 33,792 counters (264 KiB) are
// allocated on the first record, so histograms that a run never uses cost nothing.
//
// Values are nanoseconds; everything the loadgen reports (JSON, summary, bench
// counters) is in microseconds, converted with ns_to_us() at the edge.
//
// Not thread-safe: each load generator thread owns its histograms and they are
// merged with add() after the threads are joined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pb::loadgen {

inline constexpr int64_t kNsPerUs = 1000;

// Nanoseconds as fractional microseconds: 21'437 -> 21.437.
constexpr double ns_to_us(int64_t ns) {
    return static_cast<double>(ns) / static_cast<double>(kNsPerUs);
}

class Histogram {
public:
    static constexpr const char* kUnit = "ns";
    static constexpr int64_t kLowest = 1;
    static constexpr int64_t kHighest = 3'600'000'000'000;  // 1 hour in nanoseconds
    static constexpr int kSignificantDigits = 3;

    // Values above kHighest are recorded as kHighest and counted in saturated();
    // negative values are recorded as 0.
    void record(int64_t value, int64_t count = 1);

    // Coordinated-omission correction at record time (HdrHistogram's
    // recordValueWithExpectedInterval): a value longer than the interval at which
    // samples were expected stands for the samples that could not be taken while it
    // lasted, so value - interval, value - 2*interval, ... are recorded too.
    void record_corrected(int64_t value, int64_t expected_interval);

    // Adds every count of `other`: the result is exactly what recording both
    // streams into one histogram would have given.
    void add(const Histogram& other);
    void reset();

    int64_t count() const { return total_; }
    bool empty() const { return total_ == 0; }
    int64_t min() const { return total_ ? min_ : 0; }
    int64_t max() const { return total_ ? max_ : 0; }
    int64_t saturated() const { return saturated_; }
    double mean() const;
    double stdev() const;
    // The smallest recorded value v such that at least `percentile`% of all values
    // are <= v, reported as the top of v's step (never below the true value) and
    // clamped to max(). 0 when empty.
    int64_t value_at_percentile(double percentile) const;

    // How many recorded values are >= `value` (to the step: values in value's own
    // step count when the step starts at or above value's lowest equivalent).
    int64_t count_at_or_above(int64_t value) const;

    // Calls f(value, count) for every non-empty step in ascending order; `value` is
    // the lowest value of the step, so record(value, count) rebuilds it exactly.
    template <typename F>
    void for_each_bucket(F&& f) const {
        for (size_t i = 0; i < counts_.size(); ++i)
            if (counts_[i]) f(value_from_index(i), counts_[i]);
    }

    // For deserialisation: buckets hold the floor of each step, so after
    // rebuilding from them the exact min, max and saturated count are put back.
    // Values outside the current min's or max's step are ignored.
    void restore_extremes(int64_t min, int64_t max, int64_t saturated);

    // Step arithmetic, public for tests and for whoever decodes the JSON.
    static size_t index_of(int64_t value);
    static int64_t value_from_index(size_t index);
    static int64_t lowest_equivalent(int64_t value);
    static int64_t highest_equivalent(int64_t value);
    static size_t counts_length();

private:
    std::vector<int64_t> counts_;  // empty until the first record
    int64_t total_ = 0;
    int64_t min_ = 0;
    int64_t max_ = 0;
    int64_t saturated_ = 0;
};

}  // namespace pb::loadgen
