// Claims experiment "shard" (R3, R6): two server-reuseport processes, each one
// loop (--threads 1), share one port (the second is started with the first's
// --port; SO_REUSEPORT groups listeners of one user across processes). The
// loadgen opens a connection per request ("churn"), so the kernel's hash
// spreads requests over both shards all the time. Half-way through the window
// one shard is sent SIGKILL:
//   - R3 "isolates failures": the client's errors by class (at most the
//     requests in flight on the killed shard, plus connections waiting in its
//     accept queue, can fail), and the time until every new connection is
//     served again, from a probe that makes one verified request on a new
//     connection every few milliseconds;
//   - R6 "the same request may be processed twice": every reply is matched to
//     its request's id, once (a second reply for an id is a duplicate).
// The control case runs the same load with no kill.
// Not accounted: which shard a failed request was on (the client cannot
// tell), and the killed shard's own figures (it writes no stats file). The
// document's "server" object is the surviving shard's; no sampler runs, so no
// window CPU figures exist for this case.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "case_steps.hpp"
#include "clock.hpp"
#include "experiments.hpp"
#include "files.hpp"
#include "loadgen.hpp"
#include "proc_stats.hpp"
#include "request_builder.hpp"
#include "unique_fd.hpp"

namespace pb::bench {

namespace {

namespace lg = pb::loadgen;
using lg::Json;

constexpr int kConnections = 16;
constexpr auto kWarmup = std::chrono::milliseconds(100);
constexpr auto kDuration = std::chrono::milliseconds(600);
// A probe every 2 ms resolves recovery to a few ms; each waits at most 100 ms,
// far above a loopback round trip, so a slow probe is a failure, not noise.
constexpr auto kProbeEvery = std::chrono::milliseconds(2);
constexpr int kProbeTimeoutMs = 100;
// The probe's ids are out of the loadgen's range (connection numbers < 2^24).
constexpr uint64_t kProbeConn = uint64_t{1} << 23;
constexpr int64_t kNsPerMs = 1'000'000;

CaseSpec shard_case(const std::string& variant) {
    CaseSpec c;
    c.pattern = "reuseport";
    c.protocol = "frame";
    c.workload = "churn";
    c.connections = kConnections;
    c.warmup = kWarmup;
    c.duration = kDuration;
    c.threads = 1;
    c.variant = variant;
    return c;
}

std::vector<CaseSpec> shard_cases() {
    return {shard_case("kill"), shard_case("control")};
}

struct Scratch {
    std::string dir, stats[2];
    Scratch() {
        char t[] = "/tmp/pbbench-shard-XXXXXX";
        if (!::mkdtemp(t)) throw std::runtime_error("mkdtemp failed");
        dir = t;
        for (int i = 0; i < 2; ++i) stats[i] = fmt::format("{}/stats-{}.json", dir, i);
    }
    ~Scratch() {
        for (const auto& s : stats) {
            std::remove(s.c_str());
            std::remove((s + ".snapshots").c_str());
        }
        ::rmdir(dir.c_str());
    }
};

std::vector<std::string> with_port(std::vector<std::string> argv, uint16_t port) {
    auto it = std::find(argv.begin(), argv.end(), "--port");
    if (it != argv.end() && it + 1 != argv.end()) *(it + 1) = std::to_string(port);
    return argv;
}

// ---- the probe: one verified request on a new connection ---------------------------

struct Probe {
    int64_t at;  // CLOCK_MONOTONIC ns, when it started
    bool ok;
};

bool io_all(int fd, uint8_t* p, size_t n, bool writing) {
    while (n > 0) {
        ssize_t r = writing ? ::send(fd, p, n, MSG_NOSIGNAL) : ::recv(fd, p, n, 0);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

bool probe_once(uint16_t port, const lg::RequestBuilder& builder, uint64_t id) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    timeval tv{0, kProbeTimeoutMs * 1000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    std::vector<uint8_t> req(builder.size(false));
    builder.write(id, false, req.data());
    if (!io_all(fd.get(), req.data(), req.size(), true)) return false;
    lg::FrameReplyParser parser;
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n <= 0) return false;
        size_t off = 0;
        while (off < static_cast<size_t>(n)) {
            size_t used = 0;
            auto st = parser.feed(buf + off, static_cast<size_t>(n) - off, builder.expected(id),
                                  true, used);
            if (st == lg::ParseStatus::kError) return false;
            if (st == lg::ParseStatus::kReply) return true;
            off += used;
        }
    }
}

// Probes from the window's start until the load ends.
void run_probes(uint16_t port, const lg::Config& config, const LoadWindow& window,
                const std::atomic<bool>& done, std::vector<Probe>& out) {
    lg::Timeline t;
    if (!window.wait(t)) return;
    lg::RequestBuilder builder(config);
    uint64_t seq = 0;
    while (!done.load() && now_ns() < t.measure_end) {
        int64_t at = now_ns();
        out.push_back({at, probe_once(port, builder, (kProbeConn << 40) | seq++)});
        std::this_thread::sleep_for(kProbeEvery);
    }
}

// ---- the figures ---------------------------------------------------------------------

struct Recovery {
    double failed_before = 0, failed_after = 0, after = 0;
    // Kill -> the first probe of the unbroken run of successes that ends the
    // window; 0 when none failed after the kill; NaN when none succeeded.
    double ms = NAN;
};

Recovery recovery(const std::vector<Probe>& probes, int64_t kill_ns) {
    Recovery r;
    std::optional<int64_t> run_start;
    for (const Probe& p : probes) {
        const bool after = kill_ns > 0 && p.at >= kill_ns;
        if (!after) {
            r.failed_before += !p.ok;
            continue;
        }
        r.after++;
        r.failed_after += !p.ok;
        if (!p.ok)
            run_start.reset();
        else if (!run_start)
            run_start = p.at;
    }
    // No probe failed after the kill: nothing to recover from, within the probes' resolution.
    if (r.after > 0 && r.failed_after == 0)
        r.ms = 0;
    else if (run_start)
        r.ms = static_cast<double>(std::max<int64_t>(*run_start - kill_ns, 0)) / kNsPerMs;
    return r;
}

double shard_requests(const Json& stats) {
    const Json* total = stats.is_object() ? stats.find("total") : nullptr;
    const Json* v = total ? total->find("requests") : nullptr;
    return v && v->is_number() ? v->as_double() : NAN;
}

Json read_stats(const std::string& path) {
    std::string text = slurp(path);
    try {
        return text.empty() ? Json() : Json::parse(text);
    } catch (const std::exception&) {
        return Json();
    }
}

void put(Json& e, Counters& c, const char* key, double v) {
    e.set(key, std::isfinite(v) ? Json(v) : Json());
    if (std::isfinite(v)) c.emplace_back(key, v);
}

Counters base_counters(const lg::Result& r) {
    const auto& st = r.stats;
    return {
        {"rps", r.throughput_rps()},
        {"p50_us", lg::ns_to_us(st.latency.value_at_percentile(50))},
        {"p99_us", lg::ns_to_us(st.latency.value_at_percentile(99))},
        {"p999_us", lg::ns_to_us(st.latency.value_at_percentile(99.9))},
        {"errors", static_cast<double>(st.errors.total())},
    };
}

void put_figures(const lg::Result& r, const std::vector<Probe>& probes, int64_t kill_ns,
                 const Json& survivor, const Json& killed, Counters& c, Json& e) {
    const auto& st = r.stats;
    using EC = lg::ErrorClass;
    put(e, c, "sent", static_cast<double>(st.sent));
    put(e, c, "verified", static_cast<double>(st.requests));
    put(e, c, "lost", static_cast<double>(st.sent) - static_cast<double>(st.requests));
    put(e, c, "errors_connect", static_cast<double>(st.errors[EC::kConnect]));
    put(e, c, "errors_reset", static_cast<double>(st.errors[EC::kRead] + st.errors[EC::kWrite]));
    put(e, c, "errors_timeout", static_cast<double>(st.errors[EC::kTimeout]));
    put(e, c, "errors_reply",
        static_cast<double>(st.errors[EC::kProtocol] + st.errors[EC::kVerify]));
    put(e, c, "duplicates", static_cast<double>(st.duplicates));
    Recovery rec = recovery(probes, kill_ns);
    put(e, c, "probes", static_cast<double>(probes.size()));
    put(e, c, "probe_failures_before_kill", rec.failed_before);
    if (kill_ns > 0) {
        put(e, c, "probes_after_kill", rec.after);
        put(e, c, "probe_failures_after_kill", rec.failed_after);
        put(e, c, "recovery_ms", rec.ms);
    }
    put(e, c, "survivor_requests", shard_requests(survivor));
    put(e, c, "killed_requests", shard_requests(killed));
    Json timeline = Json::array();  // failed probes, ms from the window's middle
    const int64_t middle = (r.timeline.measure_start + r.timeline.measure_end) / 2;
    for (const Probe& p : probes)
        if (!p.ok) timeline.push(static_cast<double>(p.at - middle) / kNsPerMs);
    e.set("failed_probes_ms", timeline);
    e.set("note",
          "errors_reset: read/write failures (reset, or closed with the request in flight); "
          "recovery_ms: from the kill to the first probe of the unbroken run of successful "
          "probes (a new connection and one verified request each, every 2 ms) that ends the "
          "window; which shard a failed request was on is not known to the client");
}

Outcome shard_run(const CaseSpec& spec, const RunnerOptions& options) {
    Outcome out;
    const bool kill_one = spec.variant == "kill";
    try {
        Scratch dir;
        Measured m;
        m.argv = server_argv(spec, options, dir.stats[0]);
        ServerChild survivor(m.argv, options.placement.server_cpus);
        std::vector<std::string> argv_b =
            with_port(server_argv(spec, options, dir.stats[1]), survivor.port());
        ServerChild victim(argv_b, options.placement.server_cpus);
        if (victim.port() != survivor.port())
            throw std::runtime_error(fmt::format("the second shard listens on {}, not {}",
                                                 victim.port(), survivor.port()));

        lg::Config config = spec.loadgen_config();
        config.port = survivor.port();
        config.cpus = options.placement.client_cpus;
        config.threads = static_cast<int>(options.placement.client_cpus.size());
        LoadWindow window;
        std::atomic<bool> done{false};
        std::atomic<int64_t> kill_ns{0};
        std::vector<Probe> probes;
        std::thread prober([&] { run_probes(survivor.port(), config, window, done, probes); });
        std::thread killer([&] {
            lg::Timeline t;
            if (!kill_one || !window.wait(t)) return;
            const int64_t wait = (t.measure_start + t.measure_end) / 2 - now_ns();
            if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
            kill_ns = now_ns();
            ::kill(victim.pid(), SIGKILL);
        });
        try {
            m.result = lg::run(config, nullptr, [&](const lg::Timeline& t) { window.set(t); });
        } catch (...) {
            done = true;
            window.end();
            prober.join();
            killer.join();
            throw;
        }
        done = true;
        window.end();
        prober.join();
        killer.join();

        m.last = read_proc(survivor.pid());
        Exit victim_exit = victim.stop();
        m.exit = survivor.stop();
        m.server_stderr = survivor.stderr_text();
        Accounted a;
        a.stats = read_stats(dir.stats[0]);
        const Json killed_stats = read_stats(dir.stats[1]);
        if (a.stats.is_null()) a.warning += "the surviving shard wrote no stats file; ";
        if (!kill_one && killed_stats.is_null())
            a.warning += "the second shard wrote no stats file; ";

        Counters c = base_counters(m.result);
        Json e = Json::object();
        e.set("kill", kill_one);
        e.set("shards", 2);
        Json argv_json = Json::array();
        for (const auto& s : argv_b) argv_json.push(s);
        e.set("second_shard_argv", argv_json);
        e.set("second_shard_exit_status", victim_exit.status);
        put_figures(m.result, probes, kill_ns.load(), a.stats, killed_stats, c, e);

        std::string warning = a.warning;
        if (m.exit.status != 0)
            warning += fmt::format("surviving shard exit status {}; ", m.exit.status);
        const int expected_victim = kill_one ? 128 + SIGKILL : 0;
        if (victim_exit.status != expected_victim)
            warning += fmt::format("second shard exit status {}; ", victim_exit.status);
        if (!kill_one && m.result.stats.errors.total() > 0)
            warning +=
                fmt::format("{} client errors without a kill; ", m.result.stats.errors.total());
        out.counters = c;
        out.warning = warning;
        out.measured_seconds = m.result.duration_s;
        out.ok = true;
        out.document = case_document(spec, options, c, m, a, warning);
        out.document.set("experiment", std::move(e));
    } catch (const std::exception& ex) {
        out.ok = false;
        out.error = ex.what();
    }
    return out;
}

}  // namespace

Experiment shard_experiment() {
    Experiment e;
    e.name = "shard";
    e.claims = {"R3", "R6"};
    e.cases = shard_cases;
    e.run = shard_run;
    return e;
}

}  // namespace pb::bench
