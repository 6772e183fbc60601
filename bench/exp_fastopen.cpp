// Claims experiment "fastopen" (C2: TCP Fast Open sends data in the handshake
// and cuts the first request's latency).
//
// A connection per request (churn) against server-single, at 1 and 16
// connections, with TFO on both ends (the loadgen's --fastopen:
// TCP_FASTOPEN_CONNECT; the server's --fastopen: TCP_FASTOPEN on the listener)
// or on neither. The server and the client sit in two network namespaces of
// the experiment's own, joined by a veth pair, where net.ipv4.tcp_fastopen is
// set to 3 (client and server); the host's setting is left alone. The figures:
// connect() to the first reply byte (first_byte_latency), connect() to
// established (connect_latency: with TFO connect() returns at once, so this is
// the syscall, not the handshake), and the kernel's own word that the SYNs
// carried data: the TcpExt TCPFastOpenActive (client namespace) and
// TCPFastOpenPassive (server namespace) counters over the window. A client
// needs one ordinary handshake to get the server's cookie: the warm-up's first
// connection does it, so every connection of the window may use TFO.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <thread>

#include "clock.hpp"
#include "experiments.hpp"
#include "loadgen.hpp"
#include "netns.hpp"

namespace pb::bench {

namespace {

namespace lg = pb::loadgen;

constexpr int kMtu = 1500;
constexpr int kConnectionCounts[] = {1, 16};
// Connections whose SYN carried data, not yet accepted, that the listener holds.
constexpr const char* kServerQueue = "1024";
// Client (1) and server (2) Fast Open, with a cookie; set in the namespaces only.
constexpr const char* kSysctlKey = "net.ipv4.tcp_fastopen";
constexpr const char* kSysctlValue = "3";
constexpr const char* kCounterPrefix = "TCPFastOpen";

bool tfo_of(const CaseSpec& spec) {
    return spec.variant == "tfo-on";
}

std::vector<CaseSpec> fastopen_cases() {
    std::vector<CaseSpec> out;
    for (bool tfo : {true, false})
        for (int conns : kConnectionCounts) {
            CaseSpec c;
            c.pattern = "single";
            c.protocol = "frame";
            c.workload = "churn";
            c.variant = tfo ? "tfo-on" : "tfo-off";
            c.connections = conns;
            if (tfo) c.server_args = {"--fastopen", kServerQueue};
            c.warmup = std::chrono::milliseconds(200);
            c.duration = std::chrono::milliseconds(600);
            out.push_back(c);
        }
    return out;
}

using TcpExtMap = std::map<std::string, int64_t>;

// The TCPFastOpen* counters of namespace `ns`.
TcpExtMap fastopen_counters(const std::string& ns) {
    TcpExtMap out;
    run_in_netns(ns, [&] {
        for (const auto& [k, v] : thread_tcp_ext())
            if (k.rfind(kCounterPrefix, 0) == 0) out[k] = v;
    });
    return out;
}

lg::Json delta_json(const TcpExtMap& before, const TcpExtMap& after) {
    lg::Json j = lg::Json::object();
    for (const auto& [k, v] : after) {
        auto b = before.find(k);
        j.set(k, v - (b == before.end() ? 0 : b->second));
    }
    return j;
}

int64_t delta(const TcpExtMap& before, const TcpExtMap& after, const std::string& name) {
    auto a = after.find(name), b = before.find(name);
    if (a == after.end() || b == before.end()) return -1;
    return a->second - b->second;
}

// Both namespaces' counters at the window's edges, read on a thread of its own
// that sleeps until each edge (the loadgen's timeline, steady clock).
struct EdgeReadings {
    TcpExtMap client[2], server[2];
    bool ok = false;
};

void sleep_until_ns(int64_t t) {
    int64_t now = now_ns();
    if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
}

void read_edges(const VethPair& net, const LoadWindow& window, EdgeReadings& r) {
    lg::Timeline t;
    if (!window.wait(t)) return;
    const int64_t edges[2] = {t.measure_start, t.measure_end};
    for (int i = 0; i < 2; ++i) {
        sleep_until_ns(edges[i]);
        r.client[i] = fastopen_counters(net.client_ns());
        r.server[i] = fastopen_counters(net.server_ns());
    }
    r.ok = true;
}

Outcome run_fastopen(const CaseSpec& spec, const RunnerOptions& options) {
    std::optional<VethPair> net;
    try {
        net.emplace(kMtu);
        net->sysctl_both(kSysctlKey, kSysctlValue);
    } catch (const NetnsUnavailable& e) {
        net.reset();
        return skipped_outcome(spec, options, e.what());
    }
    const bool tfo = tfo_of(spec);
    Measured m;
    Accounted a;
    EdgeReadings edges;
    try {
        run_across(
            *net, spec, options,
            [&](const std::string& host, uint16_t port) {
                lg::Config config = spec.loadgen_config();
                config.host = host;
                config.port = port;
                config.cpus = options.placement.client_cpus;
                config.threads = static_cast<int>(options.placement.client_cpus.size());
                config.fastopen = tfo;
                LoadWindow window;
                std::thread reader([&] { read_edges(*net, window, edges); });
                struct Join {  // the reader ends with the load, even on a throw
                    LoadWindow& window;
                    std::thread& t;
                    ~Join() {
                        window.end();
                        t.join();
                    }
                } join{window, reader};
                return lg::run(config, nullptr, [&](const lg::Timeline& t) { window.set(t); });
            },
            m, a);
    } catch (const std::exception& e) {
        Outcome out;
        out.error = e.what();
        return out;
    }

    const auto& st = m.result.stats;
    Counters c;
    auto put = [&](const char* name, double v) {
        if (!std::isnan(v) && v >= 0) c.emplace_back(name, v);
    };
    auto pct = [](const lg::Histogram& h, double p) {
        return h.count() > 0 ? lg::ns_to_us(h.value_at_percentile(p)) : NAN;
    };
    put("rps", m.result.throughput_rps());
    put("p50_us", lg::ns_to_us(st.latency.value_at_percentile(50)));
    put("p99_us", lg::ns_to_us(st.latency.value_at_percentile(99)));
    put("errors", static_cast<double>(st.errors.total()));
    put("connect_p50_us", pct(st.connect_latency, 50));
    put("connect_p99_us", pct(st.connect_latency, 99));
    put("first_byte_p50_us", pct(st.first_byte_latency, 50));
    put("first_byte_p99_us", pct(st.first_byte_latency, 99));
    const auto connects = static_cast<double>(st.first_byte_latency.count());
    int64_t active = -1, passive = -1;
    if (edges.ok) {
        active = delta(edges.client[0], edges.client[1], "TCPFastOpenActive");
        passive = delta(edges.server[0], edges.server[1], "TCPFastOpenPassive");
    }
    put("tfo_active", static_cast<double>(active));
    put("tfo_passive", static_cast<double>(passive));

    lg::Json exp = lg::Json::object();
    exp.set("fastopen", tfo);
    exp.set("sysctl", fmt::format("{}={} in both namespaces (the host's untouched)", kSysctlKey,
                                  kSysctlValue));
    exp.set("server_queue", tfo ? lg::Json(std::stoi(kServerQueue)) : lg::Json());
    exp.set("connects", connects);
    for (const auto& [k, v] : c) exp.set(k, v);
    if (edges.ok) {
        exp.set("client_tcp_ext", delta_json(edges.client[0], edges.client[1]));
        exp.set("server_tcp_ext", delta_json(edges.server[0], edges.server[1]));
    }
    exp.set("link", fmt::format("veth pair between two network namespaces, MTU {}", kMtu));
    exp.set("note",
            "TCPFastOpen* deltas over the window, TcpExt of each namespace (client: Active, "
            "server: Passive); the warm-up's first connection has no cookie yet and fetches it. "
            "With TFO, connect() returns at once: connect latency is the syscall's, not the "
            "handshake's; first-byte latency is the figure that can show the RTT saved");
    return across_outcome(spec, options, std::move(c), m, a, std::move(exp));
}

}  // namespace

Experiment fastopen_experiment() {
    Experiment e;
    e.name = "fastopen";
    e.claims = {"C2"};
    e.cases = fastopen_cases;
    e.run = run_fastopen;
    return e;
}

}  // namespace pb::bench
