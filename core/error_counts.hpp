// Counters by error class, for the server's ErrorKind (stats.hpp) and the load
// generator's ErrorClass (loadgen/run_stats.hpp). Such an enum numbers its
// classes from 0 and ends with kCount, so no count is kept by hand, and names
// them in a table in the same order, which error_name() checks against kCount.
//
// Thread rules: none of their own; an ErrorCounts belongs to the thread that
// counts into it and is merged with add() after join.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace pb {

// How many classes the error enum `E` has.
template <typename E>
inline constexpr size_t kErrorClasses = static_cast<size_t>(E::kCount);

template <typename E>
class ErrorCounts {
public:
    uint64_t& operator[](E e) { return counts_[static_cast<size_t>(e)]; }
    uint64_t operator[](E e) const { return counts_[static_cast<size_t>(e)]; }

    uint64_t total() const {
        uint64_t sum = 0;
        for (uint64_t n : counts_) sum += n;
        return sum;
    }

    void add(const ErrorCounts& other) {
        for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    }

    // Calls f(e, count) for every class `e`, in the enum's order: the order of
    // the JSON keys and of the printed summaries.
    template <typename F>
    void for_each(F&& f) const {
        for (size_t i = 0; i < counts_.size(); ++i) f(static_cast<E>(i), counts_[i]);
    }

private:
    std::array<uint64_t, kErrorClasses<E>> counts_{};
};

// The name of `e` in `names`, the enum's names in its order (std::to_array, so
// that a class added without a name fails to compile); "?" past the end.
template <typename E, size_t N>
constexpr const char* error_name(E e, const std::array<const char*, N>& names) {
    static_assert(N == kErrorClasses<E>, "one name per error class, in the enum's order");
    auto i = static_cast<size_t>(e);
    return i < N ? names[i] : "?";
}

}  // namespace pb
