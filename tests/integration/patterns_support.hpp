// Shared by the pattern tests (test_patterns_*.cpp): the server variants they
// run on, the stats file a server writes on exit, and a verified frame round
// trip.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pbtest::patterns {

// A server binary with the flags that select one variant of its pattern.
struct Variant {
    std::string binary;
    std::vector<std::string> args;
};

// "binary arg arg ...", for INFO.
std::string describe(const Variant& v);

// Every threaded pattern, every accept mode, two threads where N applies.
const std::vector<Variant>& threaded_variants();

// The threaded variants, and server-single too where TSan is not running.
std::vector<Variant> every_variant();

// `args` followed by `more`.
std::vector<std::string> with(std::vector<std::string> args, std::vector<std::string> more);

// The stats file, read with the few rules its fixed layout allows: one object
// per thread in "threads", then "total"; every number is "key": value.
struct StatsFile {
    struct Entry {
        std::string role;
        std::map<std::string, uint64_t> n;
    };
    std::vector<Entry> threads;
    Entry total;
    uint64_t peak_threads = 0;
    bool ok = false;

    // `key` summed over the threads.
    uint64_t sum(const std::string& key) const;
};
StatsFile read_stats(const std::string& path);

// One frame round trip on `fd`, body and reply of `size` bytes, verified.
bool round_trip(int fd, uint64_t id, uint32_t size = 64);

}  // namespace pbtest::patterns
