#include "cases.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "experiments.hpp"
#include "patterns.hpp"
#include "placement.hpp"

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
        case Kind::kClaims:
            return "claims";
        case Kind::kScaling:
            return "scaling";
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
// A serial pattern's keep-alive cases add the bring-up bound they wait out.
double overhead_seconds(const CaseSpec& c) {
    double bringup = 0;
    if (const Pattern* p = find_pattern(c.pattern);
        p && !serves_concurrently(*p) && c.workload != "churn" && c.connections > 1)
        bringup = std::chrono::duration<double>(kSerialBringup).count();
    return (c.connections >= 1000 ? 0.6 : 0.15) + bringup;
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
        case Kind::kClaims:
            return fmt::format("claims/{}/{}/{}{}c{}", experiment, pattern, variant,
                               variant.empty() ? "" : "/", connections);
        case Kind::kScaling:
            return fmt::format("scaling/{}/{}/cpus{}/c{}", pattern, workload, server_cpus,
                               connections);
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
        case Kind::kClaims:
            return fmt::format("claims-{}-{}-{}{}c{}", experiment, pattern, variant,
                               variant.empty() ? "" : "-", connections);
        case Kind::kScaling:
            return fmt::format("scaling-{}-{}-cpus{}-c{}", pattern, workload, server_cpus,
                               connections);
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
    // HTTP asks GET / and expects the 13-byte "Hello, World!" every server answers
    // it with, nginx or any other external server included (bench/README.md,
    // "External servers"): the same request for every row of an HTTP table.
    if (protocol == "http")
        c.response_size.reset();
    else
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
    if (const Pattern* p = find_pattern(pattern); p && !serves_concurrently(*p)) {
        // One connection at a time: the others never come up while the first
        // stays. How many did within this bound is the case's finding
        // (measurement.connections_up), so the bound is short and stated.
        c.bringup_timeout = kSerialBringup;
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

int default_repetitions(const std::string& profile) {
    if (profile == "quick") return 1;
    if (profile == "default") return 4;
    return 3;
}

const std::vector<std::string>& profile_names() {
    static const std::vector<std::string> names{"quick", "default", "full",
                                                "nagle", "claims",  "scaling"};
    return names;
}

namespace {

// What a profile runs. Each workload has its own connection counts, and each
// sweep its own offered rates.
struct Plan {
    std::vector<std::string> protocols;
    std::vector<std::pair<std::string, std::vector<int>>> workloads;  // workload, connections
    bool idle_heavy = false;
    std::vector<std::pair<std::string, std::vector<double>>> sweeps;  // workload, offered rates
    int sweep_connections = 64;
    Duration warmup{};
    Duration duration{};
    Duration sweep_duration{};
};

// A pattern that serves one connection at a time runs only where that is the
// lesson, up to 16 connections: tiny (how many keep-alive clients get served
// at all) and churn (a connection per request, which it can serve); not cpu,
// blocking-tail, idle-heavy or the sweeps, where it would only measure one
// client, nor 256 connections, which show nothing 16 do not.
bool runs(const Pattern& p, const std::string& workload, Kind kind, int connections) {
    return serves_concurrently(p) || (kind == Kind::kMatrix && connections <= 16 &&
                                      (workload == "tiny" || workload == "churn"));
}

std::vector<CaseSpec> pattern_cases(const Plan& plan, bool baseline = true) {
    std::vector<CaseSpec> out;
    auto add = [&](CaseSpec c) {
        c.warmup = plan.warmup;
        if (c.duration == Duration::zero()) c.duration = plan.duration;
        out.push_back(std::move(c));
    };
    // The order here only names the cases: the harness runs every repetition
    // of every case in one shuffled order (bench/main.cpp).
    CaseSpec base;
    base.kind = Kind::kBaseline;
    base.pattern = "pingpong";
    base.protocol = "frame";
    base.workload = "tiny";
    base.connections = 1;
    if (baseline) add(base);
    for (const auto& protocol : plan.protocols)
        for (const auto& [workload, connections] : plan.workloads)
            for (int conns : connections)
                for (const auto& pattern : pb::kPatterns) {
                    if (!runs(pattern, workload, Kind::kMatrix, conns)) continue;
                    CaseSpec c;
                    c.pattern = pattern.name;
                    c.protocol = protocol;
                    c.workload = workload;
                    c.connections = conns;
                    add(c);
                }
    if (plan.idle_heavy)
        for (const auto& protocol : plan.protocols)
            for (const auto& pattern : pb::kPatterns) {
                if (!runs(pattern, "idle-heavy", Kind::kMatrix, kIdleHeavyConnections)) continue;
                CaseSpec c;
                c.pattern = pattern.name;
                c.protocol = protocol;
                c.workload = "idle-heavy";
                c.connections = kIdleHeavyConnections;
                c.offered_rps = kIdleHeavyRps;
                add(c);
            }
    for (const auto& [workload, rates] : plan.sweeps)
        for (double rate : rates)
            for (const auto& pattern : pb::kPatterns) {
                if (!runs(pattern, workload, Kind::kSweep, plan.sweep_connections)) continue;
                CaseSpec c;
                c.kind = Kind::kSweep;
                c.pattern = pattern.name;
                c.protocol = "frame";
                c.workload = workload;
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
    // give 2 s * 8 / 45 ms = ~350 exchanges, over the 200 a p99 needs.
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

std::vector<CaseSpec> scaling_cases(size_t max_server_cpus) {
    std::vector<size_t> counts;
    for (size_t n = 1; n < max_server_cpus; n *= 2) counts.push_back(n);
    counts.push_back(std::max<size_t>(1, max_server_cpus));
    const std::pair<const char*, int> workloads[] = {
        {"tiny", kScalingConnections},
        {"churn", kScalingConnections},
        {"cpu", kScalingCpuConnections},
    };
    std::vector<CaseSpec> out;
    for (const auto& pattern : pb::kPatterns) {
        if (!serves_concurrently(pattern)) continue;
        for (const auto& [workload, connections] : workloads)
            for (size_t n : counts) {
                CaseSpec c;
                c.kind = Kind::kScaling;
                c.pattern = pattern.name;
                c.protocol = "frame";
                c.workload = workload;
                c.connections = connections;
                c.server_cpus = static_cast<unsigned>(n);
                // The default profile's windows: 18 cases a point, 3 runs each.
                c.warmup = milliseconds(200);
                c.duration = milliseconds(800);
                out.push_back(std::move(c));
            }
    }
    return out;
}

std::vector<CaseSpec> profile_cases(const std::string& profile, Duration duration_override) {
    std::vector<CaseSpec> cases;
    if (profile == "quick") {
        Plan p;
        p.protocols = {"frame"};
        p.workloads = {{"tiny", {16}}, {"blocking-tail", {16}}, {"churn", {16}}};
        p.sweeps = {{"cpu", {2000, 8000, 14000}}};
        p.warmup = milliseconds(150);
        p.duration = milliseconds(500);
        p.sweep_duration = milliseconds(500);
        cases = pattern_cases(p);
        // Every pattern in HTTP too, tiny and churn: the neighbours of an external
        // server's rows (--external), which can only speak HTTP.
        Plan http;
        http.protocols = {"http"};
        http.workloads = {{"tiny", {16}}, {"churn", {16}}};
        http.warmup = p.warmup;
        http.duration = p.duration;
        auto more = pattern_cases(http, false);
        cases.insert(cases.end(), more.begin(), more.end());
    } else if (profile == "default") {
        // Four repetitions of everything inside 10 minutes on 2 CPUs (the
        // reasoning is in bench/README.md): 800 ms windows; the 1-connection point
        // only where it is the latency floor (tiny); 64 connections only in the
        // open-loop sweeps, where latencies are compared at equal load.
        Plan p;
        p.protocols = {"frame"};
        p.workloads = {{"tiny", {1, 16, 256}},
                       {"cpu", {16, 256}},
                       {"blocking-tail", {16}},
                       {"churn", {16, 256}}};
        p.idle_heavy = true;
        p.sweeps = {{"cpu", {4000, 9000, 14000, 18000}},
                    {"tiny", {5000, 15000, 30000}},
                    {"blocking-tail", {2000, 6000, 12000}}};
        p.warmup = milliseconds(200);
        p.duration = milliseconds(800);
        p.sweep_duration = milliseconds(800);
        cases = pattern_cases(p);
    } else if (profile == "full") {
        Plan p;
        p.protocols = {"frame", "http"};
        p.workloads = {{"tiny", {1, 4, 16, 64, 256}},
                       {"cpu", {1, 4, 16, 64, 256}},
                       {"blocking-tail", {1, 4, 16, 64, 256}},
                       {"churn", {1, 4, 16, 64, 256}}};
        p.idle_heavy = true;
        p.sweeps = {{"cpu", {2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 18000, 20000}},
                    {"tiny", {5000, 10000, 20000, 30000, 40000}},
                    {"blocking-tail", {2000, 4000, 8000, 12000, 16000}}};
        p.warmup = milliseconds(1000);
        p.duration = milliseconds(5000);
        p.sweep_duration = milliseconds(4000);
        cases = pattern_cases(p);
    } else if (profile == "nagle") {
        cases = nagle_cases();
    } else if (profile == "claims") {
        cases = claims_cases();
    } else if (profile == "scaling") {
        cases = scaling_cases(place(read_topology(affinity_cpus())).server_cpus.size());
    } else {
        throw std::invalid_argument("unknown profile '" + profile +
                                    "' (quick, default, full, nagle, claims or scaling)");
    }
    if (duration_override > Duration::zero())
        for (auto& c : cases) c.duration = duration_override;
    return cases;
}

ExternalServer parse_external(const std::string& text) {
    auto eq = text.find('=');
    ExternalServer e;
    if (eq != std::string::npos) {
        e.name = text.substr(0, eq);
        e.command = text.substr(eq + 1);
    }
    auto bad = [&](const std::string& why) {
        return std::invalid_argument("--external '" + text + "': " + why +
                                     " (try --external 'nginx=bench/external/nginx {port} 1')");
    };
    if (e.name.empty() || e.command.empty()) throw bad("wants NAME=COMMAND");
    for (char ch : e.name)
        if (!(std::islower(static_cast<unsigned char>(ch)) ||
              std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
            throw bad("NAME must be lower-case letters, digits, '-', '_' or '.'");
    if (find_pattern(e.name) || e.name == "pingpong")
        throw bad("NAME '" + e.name + "' is taken by one of the project's servers");
    if (e.command.find("{port}") == std::string::npos)
        throw bad("COMMAND must say where to listen: {port}");
    return e;
}

std::vector<CaseSpec> external_cases(const std::vector<CaseSpec>& profile,
                                     const ExternalServer& server,
                                     std::vector<std::pair<std::string, std::string>>* skipped) {
    auto servable = [](const std::string& workload) {
        for (const char* w : kExternalWorkloads)
            if (workload == w) return true;
        return false;
    };
    std::vector<CaseSpec> out;
    std::vector<std::string> seen;  // workload/connections already planned
    auto skip = [&](const std::string& what, const std::string& why) {
        if (!skipped) return;
        for (const auto& [w, reason] : *skipped)
            if (w == what) return;
        skipped->emplace_back(what, why);
    };
    for (const auto& c : profile) {
        if (c.kind == Kind::kSweep) {
            skip("sweep/" + c.workload,
                 "the open-loop sweeps run the frame protocol only, which an external server does "
                 "not speak");
            continue;
        }
        if (c.kind != Kind::kMatrix || c.external()) continue;
        if (!servable(c.workload)) {
            skip(c.workload,
                 "each request asks the server to spin or sleep (a frame header field, or "
                 "?spin_us/?sleep_us in HTTP), which only the project's servers do");
            continue;
        }
        std::string key = c.workload + "/" + std::to_string(c.connections);
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
        seen.push_back(key);
        CaseSpec e = c;
        e.pattern = server.name;
        e.protocol = "http";
        e.external_command = server.command;
        out.push_back(std::move(e));
    }
    if (skipped)
        for (auto& e : out) e.external_skipped = *skipped;
    return out;
}

}  // namespace pb::bench
