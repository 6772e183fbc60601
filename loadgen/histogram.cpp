#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace pb::loadgen {
namespace {

// 3 significant digits need 2 * 10^3 = 2000 distinct steps per power of two;
// the next power of two is 2048 (2^11), half of it 1024 (2^10).
constexpr int kSubBucketHalfMagnitude = 10;
constexpr int64_t kSubBucketCount = int64_t{1} << (kSubBucketHalfMagnitude + 1);
constexpr int64_t kSubBucketHalfCount = kSubBucketCount / 2;
constexpr int64_t kSubBucketMask = kSubBucketCount - 1;

constexpr int bucket_count() {
    int buckets = 1;
    int64_t smallest_untrackable = kSubBucketCount;
    while (smallest_untrackable <= Histogram::kHighest) {
        smallest_untrackable <<= 1;
        ++buckets;
    }
    return buckets;
}
constexpr size_t kCountsLength = static_cast<size_t>((bucket_count() + 1) * kSubBucketHalfCount);

int bucket_of(int64_t value) {
    // Position of the highest set bit, with everything below 2048 in bucket 0.
    int pow2_ceiling = 64 - std::countl_zero(static_cast<uint64_t>(value | kSubBucketMask));
    return pow2_ceiling - (kSubBucketHalfMagnitude + 1);
}

int64_t clamp_value(int64_t value) {
    return std::clamp<int64_t>(value, 0, Histogram::kHighest);
}

}  // namespace

size_t Histogram::counts_length() {
    return kCountsLength;
}

size_t Histogram::index_of(int64_t value) {
    value = clamp_value(value);
    int bucket = bucket_of(value);
    int64_t sub_bucket = value >> bucket;
    return static_cast<size_t>((int64_t{bucket} << kSubBucketHalfMagnitude) + sub_bucket);
}

int64_t Histogram::value_from_index(size_t index) {
    int64_t i = static_cast<int64_t>(index);
    int64_t bucket = (i >> kSubBucketHalfMagnitude) - 1;
    int64_t sub_bucket = (i & (kSubBucketHalfCount - 1)) + kSubBucketHalfCount;
    if (bucket < 0) {
        sub_bucket -= kSubBucketHalfCount;
        bucket = 0;
    }
    return sub_bucket << bucket;
}

int64_t Histogram::lowest_equivalent(int64_t value) {
    value = clamp_value(value);
    int bucket = bucket_of(value);
    return (value >> bucket) << bucket;
}

int64_t Histogram::highest_equivalent(int64_t value) {
    value = clamp_value(value);
    int bucket = bucket_of(value);
    return lowest_equivalent(value) + (int64_t{1} << bucket) - 1;
}

void Histogram::record(int64_t value, int64_t count) {
    if (count <= 0) return;
    if (value > kHighest) {
        saturated_ += count;
        value = kHighest;
    }
    if (value < 0) value = 0;
    if (counts_.empty()) counts_.assign(kCountsLength, 0);
    counts_[index_of(value)] += count;
    if (total_ == 0) {
        min_ = max_ = value;
    } else {
        min_ = std::min(min_, value);
        max_ = std::max(max_, value);
    }
    total_ += count;
}

void Histogram::record_corrected(int64_t value, int64_t expected_interval) {
    record(value);
    if (expected_interval <= 0) return;
    for (int64_t missing = value - expected_interval; missing >= expected_interval;
         missing -= expected_interval)
        record(missing);
}

void Histogram::add(const Histogram& other) {
    if (other.total_ == 0) return;
    if (counts_.empty()) counts_.assign(kCountsLength, 0);
    for (size_t i = 0; i < kCountsLength; ++i) counts_[i] += other.counts_[i];
    if (total_ == 0) {
        min_ = other.min_;
        max_ = other.max_;
    } else {
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }
    total_ += other.total_;
    saturated_ += other.saturated_;
}

void Histogram::restore_extremes(int64_t min, int64_t max, int64_t saturated) {
    if (total_ == 0) return;
    if (lowest_equivalent(min) == lowest_equivalent(min_)) min_ = min;
    if (lowest_equivalent(max) == lowest_equivalent(max_)) max_ = max;
    saturated_ = saturated;
}

void Histogram::reset() {
    *this = Histogram();
}

// Mean and deviation use the middle of each step, as HdrHistogram does, so they are
// a pure function of the counts and survive merging and serialisation unchanged.
double Histogram::mean() const {
    if (total_ == 0) return 0.0;
    double sum = 0.0;
    for_each_bucket([&](int64_t value, int64_t count) {
        double mid = static_cast<double>(value + highest_equivalent(value)) / 2.0;
        sum += mid * static_cast<double>(count);
    });
    return sum / static_cast<double>(total_);
}

double Histogram::stdev() const {
    if (total_ == 0) return 0.0;
    double m = mean();
    double sum = 0.0;
    for_each_bucket([&](int64_t value, int64_t count) {
        double mid = static_cast<double>(value + highest_equivalent(value)) / 2.0;
        sum += (mid - m) * (mid - m) * static_cast<double>(count);
    });
    return std::sqrt(sum / static_cast<double>(total_));
}

int64_t Histogram::count_at_or_above(int64_t value) const {
    if (total_ == 0) return 0;
    int64_t n = 0;
    for (size_t i = index_of(value); i < counts_.size(); ++i) n += counts_[i];
    return n;
}

int64_t Histogram::value_at_percentile(double percentile) const {
    if (total_ == 0) return 0;
    percentile = std::clamp(percentile, 0.0, 100.0);
    // The epsilon keeps 99.9% of 2000 at rank 1998 when the product comes out as
    // 1998.0000000000002.
    auto wanted =
        static_cast<int64_t>(std::ceil(percentile / 100.0 * static_cast<double>(total_) - 1e-9));
    wanted = std::clamp<int64_t>(wanted, 1, total_);
    int64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= wanted) return std::min(highest_equivalent(value_from_index(i)), max_);
    }
    return max_;
}

}  // namespace pb::loadgen
