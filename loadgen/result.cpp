// Result: the rates and the verdict derived from a run, and merge() of runs that
// ran at the same time.
#include "result.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "report_format.hpp"

namespace pb::loadgen {

double Result::throughput_rps() const {
    // Replies that arrived inside the window: requests due in the window but
    // answered during the drain must not lift the rate of a server that fell behind.
    return duration_s > 0.0 ? static_cast<double>(stats.window_replies) / duration_s : 0.0;
}

double Result::achieved_rps() const {
    return duration_s > 0.0 ? static_cast<double>(stats.requests) / duration_s : 0.0;
}

const char* to_string(VerdictKind k) {
    switch (k) {
        case VerdictKind::kOk:
            return "ok";
        case VerdictKind::kServerSaturated:
            return "server-saturated";
        case VerdictKind::kGeneratorLate:
            return "generator-late";
        case VerdictKind::kGeneratorBusy:
            return "generator-busy";
    }
    return "?";
}

Verdict Result::verdict() const {
    // Every finding, in precedence order: the first names the verdict, the
    // others follow in the reason. A busy generator reads replies late, which no
    // send-time measure can see, so it outranks lateness; a late generator
    // explains a shortfall, so lateness outranks the server.
    std::vector<std::pair<VerdictKind, std::string>> found;
    if (generator_bound())
        found.emplace_back(VerdictKind::kGeneratorBusy,
                           fmt::format("a generator thread was busy {:.0f}% of the window "
                                       "(bound: over {:.0f}%)",
                                       100.0 * stats.max_thread_busy, 100.0 * kGeneratorBoundBusy));
    if (open_loop()) {
        int64_t bound_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(config.max_lateness).count();
        int64_t p99 = stats.lateness.value_at_percentile(99.0);
        if (!stats.lateness.empty() && p99 > bound_ns)
            found.emplace_back(
                VerdictKind::kGeneratorLate,
                fmt::format("p99 send lateness {} over the {} bound", format_us(ns_to_us(p99)),
                            format_duration(config.max_lateness)));
        double achieved = achieved_rps();
        if (achieved < 0.99 * target_rps)
            found.emplace_back(VerdictKind::kServerSaturated,
                               fmt::format("achieved {:.0f} req/s, under 99% of the planned {:.0f}",
                                           achieved, target_rps));
    }
    Verdict v;
    if (found.empty()) return v;
    v.kind = found.front().first;
    for (const auto& f : found) {
        if (!v.reason.empty()) v.reason += "; ";
        v.reason += f.second;
    }
    return v;
}

bool Result::could_not_keep_up(std::string* reason) const {
    if (!open_loop()) return false;
    Verdict v = verdict();
    if (reason) *reason = v.reason;
    return !v.ok();
}

Result merge(const std::vector<Result>& results) {
    if (results.empty()) throw std::invalid_argument("merge: no records");
    Result out = results.front();
    out.stats = RunStats{};
    out.hosts.clear();
    out.runs = 0;
    out.threads = 0;
    out.duration_s = 0.0;
    out.target_rps = 0.0;
    out.bringup.reset();
    out.timeline = Timeline{};
    out.window_start.reset();
    for (const Result& r : results) {
        if (r.bringup) {
            Bringup& b = out.bringup ? *out.bringup : out.bringup.emplace();
            b.connections += r.bringup->connections;
            b.up += r.bringup->up;
            b.seconds = std::max(b.seconds, r.bringup->seconds);
        }
        out.stats.add(r.stats);
        out.hosts.insert(out.hosts.end(), r.hosts.begin(), r.hosts.end());
        out.runs += r.runs;
        out.threads += r.threads;
        out.duration_s = std::max(out.duration_s, r.duration_s);
        out.target_rps += r.target_rps;
        out.started_at = std::min(out.started_at, r.started_at);
        if (r.window_start)
            out.window_start =
                std::min(out.window_start.value_or(*r.window_start), *r.window_start);
    }
    return out;
}

}  // namespace pb::loadgen
