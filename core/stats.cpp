#include "stats.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <system_error>

#include "files.hpp"
#include "unique_fd.hpp"

namespace pb {

namespace {

constexpr auto kErrorKindNames = std::to_array({
    "protocol",
    "too_large",
    "header_timeout",
    "idle_timeout",
    "write_timeout",
    "read",
    "write",
    "accept_aborted",
    "accept_fd_limit",
    "connection_cap",
    "thread_cap",
    "thread_create",
    "socket_option",
});

constexpr auto kSyscallNames =
    std::to_array({"read", "write", "poll", "accept", "wakeup", "uring_enter"});

}  // namespace

const char* to_string(ErrorKind kind) {
    return error_name(kind, kErrorKindNames);
}

const char* to_string(Syscall kind) {
    return error_name(kind, kSyscallNames);
}

uint64_t SyscallCounts::total() const {
    uint64_t sum = 0;
    for (const Counter& n : counts_) sum += n.load();
    return sum;
}

void SyscallCounts::add(const SyscallCounts& other) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i].load();
}

void ThreadStats::add(const ThreadStats& o) {
    accepted += o.accepted;
    requests += o.requests;
    bytes_in += o.bytes_in;
    bytes_out += o.bytes_out;
    futile_wakeups += o.futile_wakeups;
    connections_closed += o.connections_closed;
    peak_connections += o.peak_connections;
    output_high_water = std::max(output_high_water, o.output_high_water);
    queue_high_water = std::max(queue_high_water, o.queue_high_water);
    errors.add(o.errors);
    syscalls.add(o.syscalls);
}

namespace {

// {"read": N, "write": N, ...}: the same keys in the stats file and the snapshots.
void append_syscalls(std::string& out, const SyscallCounts& counts) {
    out += '{';
    const char* separator = "";
    counts.for_each([&](Syscall kind, uint64_t n) {
        fmt::format_to(std::back_inserter(out), "{}\"{}\": {}", separator, to_string(kind), n);
        separator = ", ";
    });
    out += '}';
}

void append_thread(std::string& out, const ThreadStats& t, const char* indent) {
    fmt::format_to(
        std::back_inserter(out),
        "{{\n{0}  \"role\": \"{1}\",\n{0}  \"accepted\": {2},\n{0}  \"requests\": {3},\n"
        "{0}  \"bytes_in\": {4},\n{0}  \"bytes_out\": {5},\n{0}  \"futile_wakeups\": {6},\n"
        "{0}  \"connections_closed\": {7},\n{0}  \"peak_connections\": {8},\n"
        "{0}  \"output_high_water\": {9},\n{0}  \"queue_high_water\": {10},\n"
        "{0}  \"errors\": {{",
        indent, t.role, t.accepted.load(), t.requests.load(), t.bytes_in, t.bytes_out,
        t.futile_wakeups, t.connections_closed, t.peak_connections, t.output_high_water,
        t.queue_high_water);
    const char* separator = "";
    t.errors.for_each([&](ErrorKind kind, uint64_t n) {
        fmt::format_to(std::back_inserter(out), "{}\"{}\": {}", separator, to_string(kind), n);
        separator = ", ";
    });
    fmt::format_to(std::back_inserter(out), "}},\n{}  \"syscalls\": ", indent);
    append_syscalls(out, t.syscalls);
    fmt::format_to(std::back_inserter(out), "\n{}}}", indent);
}

}  // namespace

std::string stats_json(const ProcessStats& process, const std::vector<ThreadStats>& threads) {
    std::string out;
    ThreadStats total;
    total.role = "total";
    for (const auto& t : threads) total.add(t);
    fmt::format_to(std::back_inserter(out),
                   "{{\n  \"schema\": \"patternbench.server-stats/1\",\n  \"pattern\": \"{}\",\n"
                   "  \"protocol\": \"{}\",\n  \"peak_threads\": {},\n  \"wall_seconds\": {:.3f},\n"
                   "  \"threads\": [",
                   process.pattern, process.protocol, process.peak_threads, process.wall_seconds);
    for (size_t i = 0; i < threads.size(); ++i) {
        out += i ? ", " : "";
        append_thread(out, threads[i], "    ");
    }
    out += "],\n  \"total\": ";
    append_thread(out, total, "  ");
    out += "\n}\n";
    return out;
}

void write_stats_file(const std::string& path, const ProcessStats& process,
                      const std::vector<ThreadStats>& threads) {
    write_file_atomic(path, stats_json(process, threads));
}

uint64_t current_thread_count() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Threads:", 0) == 0) return std::stoull(line.substr(8));
    }
    return 0;
}

namespace {

// One entry of a snapshot's per_thread: a long-lived thread, or a group of
// short-lived ones.
struct Entry {
    std::string role;
    uint64_t requests = 0;  // folded in from registrations that ended
    uint64_t accepted = 0;
    SyscallCounts syscalls;
    std::vector<const ThreadStats*> live;
};

struct Registry {
    std::mutex mutex;
    std::vector<Entry> entries;  // the index is the id
    UniqueFd snapshot_fd;
    uint64_t seq = 0;
};

Registry& registry() {
    static Registry r;
    return r;
}

int64_t micros(const timeval& tv) {
    return int64_t{tv.tv_sec} * 1'000'000 + tv.tv_usec;
}

}  // namespace

StatsRegistration::StatsRegistration(const ThreadStats& stats)
    : StatsRegistration(stats, add_stats_group(stats.role)) {}

StatsRegistration::StatsRegistration(const ThreadStats& stats, size_t group)
    : stats_(&stats), entry_(group) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.entries.at(entry_).live.push_back(stats_);
}

StatsRegistration::StatsRegistration(StatsRegistration&& other) noexcept
    : stats_(std::exchange(other.stats_, nullptr)), entry_(other.entry_) {}

StatsRegistration::~StatsRegistration() {
    if (!stats_) return;  // moved from
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    Entry& e = r.entries[entry_];
    e.requests += stats_->requests.load();
    e.accepted += stats_->accepted.load();
    e.syscalls.add(stats_->syscalls);
    e.live.erase(std::find(e.live.begin(), e.live.end(), stats_));
}

size_t add_stats_group(const std::string& role) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.entries.emplace_back().role = role;
    return r.entries.size() - 1;
}

void open_snapshot_file(const std::string& path) {
    UniqueFd fd(check_syscall(
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644),
        ("open " + path).c_str()));
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.snapshot_fd = std::move(fd);
}

void write_snapshot() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    uint64_t threads = current_thread_count();

    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    if (!r.snapshot_fd) return;
    std::string line;
    auto out = std::back_inserter(line);
    fmt::format_to(out,
                   "{{\"seq\": {}, \"t_ns\": {}, \"utime_us\": {}, \"stime_us\": {}, "
                   "\"nvcsw\": {}, \"nivcsw\": {}, \"maxrss_kb\": {}, \"threads_now\": {}, ",
                   r.seq, int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec, micros(usage.ru_utime),
                   micros(usage.ru_stime), usage.ru_nvcsw, usage.ru_nivcsw, usage.ru_maxrss,
                   threads);
    std::string per_thread;
    uint64_t requests = 0;
    uint64_t accepted = 0;
    SyscallCounts syscalls;  // every thread's, live and finished: the process's
    for (size_t id = 0; id < r.entries.size(); ++id) {
        const Entry& e = r.entries[id];
        uint64_t req = e.requests;
        uint64_t acc = e.accepted;
        syscalls.add(e.syscalls);
        for (const ThreadStats* t : e.live) {
            req += t->requests.load();
            acc += t->accepted.load();
            syscalls.add(t->syscalls);
        }
        requests += req;
        accepted += acc;
        fmt::format_to(std::back_inserter(per_thread),
                       "{}{{\"id\": {}, \"role\": \"{}\", \"requests\": {}, \"accepted\": {}}}",
                       id ? ", " : "", id, e.role, req, acc);
    }
    fmt::format_to(out, "\"requests\": {}, \"accepted\": {}, \"syscalls\": ", requests, accepted);
    append_syscalls(line, syscalls);
    fmt::format_to(out, ", \"per_thread\": [{}]}}\n", per_thread);
    // One write(2) on an O_APPEND descriptor: a reader never sees half a line
    // from us, and lines never interleave.
    ssize_t n = ::write(r.snapshot_fd.get(), line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size()))
        fmt::print(stderr, "snapshot {}: write failed ({})\n", r.seq,
                   n < 0 ? std::generic_category().message(errno) : "short write");
    ++r.seq;
}

}  // namespace pb
