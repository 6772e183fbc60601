#include "cases.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace pb::bench {

const char* to_string(Kind kind) {
    switch (kind) {
        case Kind::kMatrix:
            return "matrix";
        case Kind::kSweep:
            return "sweep";
        case Kind::kBaseline:
            return "baseline";
        case Kind::kNagle:
            return "nagle";
        case Kind::kNagleUpside:
            return "nagle-upside";
    }
    return "?";
}

namespace {

using std::chrono::milliseconds;

const char* on_off(bool b) {
    return b ? "on" : "off";
}

std::string rate_text(double rps) {
    return fmt::format("{:.0f}", rps);
}

// Server start, connect, SIGTERM and reading the stats file, measured here at
// 0.1-0.2 s; a thousand connection threads take longer to start and to join.
double overhead_seconds(const CaseSpec& c) {
    return c.connections >= 1000 ? 0.6 : 0.15;
}

}  // namespace

std::string CaseSpec::name() const {
    switch (kind) {
        case Kind::kMatrix:
        case Kind::kBaseline:
            return fmt::format("{}/{}/{}/{}/c{}", to_string(kind), pattern, protocol, workload,
                               connections);
        case Kind::kSweep:
            return fmt::format("sweep/{}/{}/{}/c{}/r{}", pattern, protocol, workload, connections,
                               rate_text(offered_rps));
        case Kind::kNagle:
            return fmt::format("nagle/{}/{}/c_nodelay={}/s_nodelay={}/{}/quickack={}", pattern,
                               protocol, on_off(client_nodelay), on_off(server_nodelay),
                               loadgen::to_string(write_mode), on_off(quickack));
        case Kind::kNagleUpside:
            return fmt::format("nagle-upside/{}/{}/c_nodelay={}", pattern, protocol,
                               on_off(client_nodelay));
    }
    return "?";
}

std::string CaseSpec::id() const {
    switch (kind) {
        case Kind::kMatrix:
        case Kind::kBaseline:
            return fmt::format("{}-{}-{}-{}-c{}", to_string(kind), pattern, protocol, workload,
                               connections);
        case Kind::kSweep:
            return fmt::format("sweep-{}-{}-{}-c{}-r{}", pattern, protocol, workload, connections,
                               rate_text(offered_rps));
        case Kind::kNagle:
            return fmt::format("nagle-c{}-s{}-{}-qa{}", on_off(client_nodelay),
                               on_off(server_nodelay), loadgen::to_string(write_mode),
                               on_off(quickack));
        case Kind::kNagleUpside:
            return fmt::format("nagle-upside-c{}", on_off(client_nodelay));
    }
    return "?";
}

loadgen::Config CaseSpec::loadgen_config() const {
    loadgen::Config c;
    c.connections = connections;
    c.threads = 1;
    c.warmup = warmup;
    c.duration = duration;
    c.rate = offered_rps;
    c.protocol = protocol == "http" ? loadgen::Protocol::kHttp : loadgen::Protocol::kFrame;
    c.request_size = protocol == "http" ? 0 : kTinyBytes;
    c.response_size = kTinyBytes;
    c.nodelay = client_nodelay;
    c.write_mode = write_mode;
    c.quickack = quickack;
    c.quiet = true;
    c.seed = 42;
    if (offered_rps > 0 && kind == Kind::kSweep) {
        // Past the knee the plan falls behind and loadgen keeps sending what
        // came due in the window after the window ends; the default 2 s drain
        // would cut that off and count timeouts. A backlog built over the run
        // drains in less than the run itself at up to twice the capacity.
        c.timeout = warmup + duration + std::chrono::seconds(2);
    }
    if (workload == "cpu") {
        c.spin_us = kCpuSpinUs;
    } else if (workload == "blocking-tail") {
        c.slow_fraction = kSlowFraction;
        c.slow_sleep_us = kSlowSleepUs;
    } else if (workload == "churn") {
        c.connect_per_request = true;
    } else if (workload == "nagle") {
        c.request_size = kNagleBody;
        c.response_size = kNagleReplyBody;
        if (write_mode != loadgen::WriteMode::kSingle) c.split_at = kNagleSplitAt;
    }
    return c;
}

double CaseSpec::planned_seconds() const {
    return std::chrono::duration<double>(warmup + duration).count() + overhead_seconds(*this);
}

const std::vector<std::string>& profile_names() {
    static const std::vector<std::string> names{"quick", "default", "full", "nagle"};
    return names;
}

namespace {

const std::vector<std::string> kPatterns{"single",       "thread-per-conn", "worker-queue",
                                         "multi-accept", "reuseport",       "reactor-pool"};

struct Plan {
    std::vector<std::string> protocols;
    std::vector<std::string> workloads;
    std::vector<int> connections;
    bool idle_heavy = false;
    std::string sweep_workload;
    int sweep_connections = 64;
    std::vector<double> sweep_rates;
    Duration warmup{};
    Duration duration{};
    Duration sweep_duration{};
};

std::vector<CaseSpec> pattern_cases(const Plan& plan) {
    std::vector<CaseSpec> out;
    auto add = [&](CaseSpec c) {
        c.warmup = plan.warmup;
        if (c.duration == Duration::zero()) c.duration = plan.duration;
        out.push_back(std::move(c));
    };
    // The floor first, then workload-major, pattern-minor: patterns compared in
    // one chart run minutes apart at most, so drifting background load hits
    // them alike.
    CaseSpec base;
    base.kind = Kind::kBaseline;
    base.pattern = "pingpong";
    base.protocol = "frame";
    base.workload = "tiny";
    base.connections = 1;
    add(base);
    for (const auto& protocol : plan.protocols)
        for (const auto& workload : plan.workloads)
            for (int conns : plan.connections)
                for (const auto& pattern : kPatterns) {
                    CaseSpec c;
                    c.pattern = pattern;
                    c.protocol = protocol;
                    c.workload = workload;
                    c.connections = conns;
                    add(c);
                }
    if (plan.idle_heavy)
        for (const auto& protocol : plan.protocols)
            for (const auto& pattern : kPatterns) {
                CaseSpec c;
                c.pattern = pattern;
                c.protocol = protocol;
                c.workload = "idle-heavy";
                c.connections = kIdleHeavyConnections;
                c.offered_rps = kIdleHeavyRps;
                add(c);
                // A thousand connections to accept (and threads to start) before
                // the measured window: they must not be in it.
                out.back().warmup = std::max(plan.warmup, Duration(std::chrono::seconds(1)));
            }
    if (!plan.sweep_workload.empty())
        for (double rate : plan.sweep_rates)
            for (const auto& pattern : kPatterns) {
                CaseSpec c;
                c.kind = Kind::kSweep;
                c.pattern = pattern;
                c.protocol = "frame";
                c.workload = plan.sweep_workload;
                c.connections = plan.sweep_connections;
                c.offered_rps = rate;
                c.duration = plan.sweep_duration;
                add(c);
            }
    return out;
}

std::vector<CaseSpec> nagle_cases() {
    std::vector<CaseSpec> out;
    // The cases that stall run ~45 ms per exchange: 8 connections in parallel
    // give 2 s * 8 / 45 ms = ~350 exchanges, over the 200 the issue asks for.
    for (bool client : {false, true})
        for (bool server : {true, false})
            for (auto mode : {loadgen::WriteMode::kSingle, loadgen::WriteMode::kSplit,
                              loadgen::WriteMode::kWritev, loadgen::WriteMode::kCork})
                for (bool quickack : {false, true}) {
                    CaseSpec c;
                    c.kind = Kind::kNagle;
                    c.pattern = "single";
                    c.protocol = "frame";
                    c.workload = "nagle";
                    c.connections = kNagleConnections;
                    c.client_nodelay = client;
                    c.server_nodelay = server;
                    c.write_mode = mode;
                    c.quickack = quickack;
                    // Long enough to leave the kernel's quick-ACK start-up mode.
                    c.warmup = milliseconds(500);
                    c.duration = milliseconds(2000);
                    out.push_back(c);
                }
    for (bool client : {false, true}) {
        CaseSpec c;
        c.kind = Kind::kNagleUpside;
        c.pattern = "single";
        c.protocol = "frame";
        c.workload = "many-small-writes";
        c.connections = 1;
        c.client_nodelay = client;
        c.write_mode = loadgen::WriteMode::kSplit;
        c.warmup = milliseconds(300);
        c.duration = milliseconds(2000);
        out.push_back(c);
    }
    return out;
}

}  // namespace

std::vector<CaseSpec> profile_cases(const std::string& profile, Duration duration_override) {
    std::vector<CaseSpec> cases;
    if (profile == "quick") {
        Plan p;
        p.protocols = {"frame"};
        p.workloads = {"tiny", "blocking-tail", "churn"};
        p.connections = {16};
        p.sweep_workload = "cpu";
        p.sweep_rates = {2000, 8000, 14000};
        p.warmup = milliseconds(150);
        p.duration = milliseconds(500);
        p.sweep_duration = milliseconds(500);
        cases = pattern_cases(p);
    } else if (profile == "default") {
        Plan p;
        p.protocols = {"frame"};
        p.workloads = {"tiny", "cpu", "blocking-tail", "churn"};
        p.connections = {1, 16, 64, 256};
        p.idle_heavy = true;
        p.sweep_workload = "cpu";
        p.sweep_rates = {2000, 5000, 8000, 11000, 14000, 17000};
        p.warmup = milliseconds(300);
        p.duration = milliseconds(2000);
        p.sweep_duration = milliseconds(2000);
        cases = pattern_cases(p);
    } else if (profile == "full") {
        Plan p;
        p.protocols = {"frame", "http"};
        p.workloads = {"tiny", "cpu", "blocking-tail", "churn"};
        p.connections = {1, 4, 16, 64, 256};
        p.idle_heavy = true;
        p.sweep_workload = "cpu";
        p.sweep_rates = {2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 18000, 20000};
        p.warmup = milliseconds(1000);
        p.duration = milliseconds(5000);
        p.sweep_duration = milliseconds(4000);
        cases = pattern_cases(p);
    } else if (profile == "nagle") {
        cases = nagle_cases();
    } else {
        throw std::invalid_argument("unknown profile '" + profile +
                                    "' (quick, default, full or nagle)");
    }
    if (duration_override > Duration::zero())
        for (auto& c : cases) c.duration = duration_override;
    return cases;
}

}  // namespace pb::bench
