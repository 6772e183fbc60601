#include "stats.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <system_error>

namespace pb {

const char* to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kProtocol: return "protocol";
        case ErrorKind::kTooLarge: return "too_large";
        case ErrorKind::kHeaderTimeout: return "header_timeout";
        case ErrorKind::kIdleTimeout: return "idle_timeout";
        case ErrorKind::kWriteTimeout: return "write_timeout";
        case ErrorKind::kRead: return "read";
        case ErrorKind::kWrite: return "write";
        case ErrorKind::kAcceptAborted: return "accept_aborted";
        case ErrorKind::kAcceptFdLimit: return "accept_fd_limit";
        case ErrorKind::kConnectionCap: return "connection_cap";
        case ErrorKind::kThreadCap: return "thread_cap";
        case ErrorKind::kThreadCreate: return "thread_create";
        case ErrorKind::kCount: break;
    }
    return "?";
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
    for (size_t i = 0; i < kErrorKinds; ++i) errors[i] += o.errors[i];
}

namespace {

void append_thread(std::string& out, const ThreadStats& t, const char* indent) {
    fmt::format_to(std::back_inserter(out),
                   "{{\n{0}  \"role\": \"{1}\",\n{0}  \"accepted\": {2},\n{0}  \"requests\": {3},\n"
                   "{0}  \"bytes_in\": {4},\n{0}  \"bytes_out\": {5},\n{0}  \"futile_wakeups\": {6},\n"
                   "{0}  \"connections_closed\": {7},\n{0}  \"peak_connections\": {8},\n"
                   "{0}  \"output_high_water\": {9},\n{0}  \"queue_high_water\": {10},\n"
                   "{0}  \"errors\": {{",
                   indent, t.role, t.accepted, t.requests, t.bytes_in, t.bytes_out,
                   t.futile_wakeups, t.connections_closed, t.peak_connections,
                   t.output_high_water, t.queue_high_water);
    for (size_t i = 0; i < kErrorKinds; ++i) {
        fmt::format_to(std::back_inserter(out), "{}\"{}\": {}", i ? ", " : "",
                       to_string(static_cast<ErrorKind>(i)), t.errors[i]);
    }
    fmt::format_to(std::back_inserter(out), "}}\n{}}}", indent);
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
    std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
    {
        std::ofstream file(tmp, std::ios::trunc);
        if (!file) throw std::system_error(errno, std::generic_category(), "open " + tmp);
        file << stats_json(process, threads);
        if (!file.flush()) throw std::system_error(errno, std::generic_category(), "write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw std::system_error(errno, std::generic_category(), "rename " + path);
}

uint64_t current_thread_count() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Threads:", 0) == 0) return std::stoull(line.substr(8));
    }
    return 0;
}

}  // namespace pb
