// One case, step by step, in the order of bench/README.md "What one case does":
// start the server, drive the load while the sampler ticks, stop the server,
// account the window, derive the counters, write the case file.
#include "case_runner.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <limits>
#include <numeric>
#include <optional>

#include "loadgen.hpp"
#include "patterns.hpp"
#include "sampler.hpp"
#include "server_child.hpp"
#include "slurp.hpp"
#include "small_writes.hpp"

namespace pb::bench {

namespace lg = pb::loadgen;
using lg::Json;

double jain_index(const std::vector<double>& xs) {
    double sum = std::accumulate(xs.begin(), xs.end(), 0.0);
    double squares = 0;
    for (double x : xs) squares += x * x;
    if (xs.empty() || squares == 0) return std::numeric_limits<double>::quiet_NaN();
    return sum * sum / (static_cast<double>(xs.size()) * squares);
}

double max_min_ratio(const std::vector<double>& xs) {
    if (xs.empty()) return std::numeric_limits<double>::quiet_NaN();
    auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
    if (*hi == 0) return std::numeric_limits<double>::quiet_NaN();
    if (*lo == 0) return std::numeric_limits<double>::infinity();
    return *hi / *lo;
}

std::optional<unsigned> server_threads(const std::string& pattern, const Placement& placement) {
    const Pattern* p = find_pattern(pattern);
    if (!p) return std::nullopt;
    switch (p->threads) {
        case Threads::kLoops:
            return placement.loop_threads;
        case Threads::kWorkers:
            return placement.worker_threads;
        case Threads::kSingle:
        case Threads::kPerConnection:
            return std::nullopt;
    }
    return std::nullopt;
}

int verdict_code(const std::string& kind) {
    if (kind == "server-saturated") return 1;
    if (kind == "generator-late") return 2;
    if (kind == "generator-busy") return 3;
    return 0;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string utc_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// A scratch directory for the server's stats and snapshot files, removed with it.
struct ScratchDir {
    std::string path, stats, snapshots;
    ScratchDir() {
        char dir_template[] = "/tmp/pbbench-case-XXXXXX";
        if (!::mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
        path = dir_template;
        stats = path + "/stats.json";
        snapshots = stats + ".snapshots";
    }
    ~ScratchDir() {
        std::remove(stats.c_str());
        std::remove(snapshots.c_str());
        ::rmdir(path.c_str());
    }
};

std::vector<std::string> server_argv(const CaseSpec& spec, const RunnerOptions& options,
                                     const std::string& stats_path) {
    if (spec.kind == Kind::kBaseline) return {options.pingpong_bin, "server"};
    std::vector<std::string> argv{options.server_dir + "/server-" + spec.pattern,
                                  "--host",
                                  "127.0.0.1",
                                  "--port",
                                  "0",
                                  "--protocol",
                                  spec.protocol,
                                  "--nodelay",
                                  spec.server_nodelay ? "on" : "off",
                                  "--stats-file",
                                  stats_path};
    // Pinned to one CPU, every server would default to one thread (N = CPUs in
    // its mask): the thread counts are set here instead, and recorded.
    if (auto threads = server_threads(spec.pattern, options.placement)) {
        argv.push_back("--threads");
        argv.push_back(std::to_string(*threads));
    }
    return argv;
}

bool is_nagle(const CaseSpec& spec) {
    return spec.kind == Kind::kNagle || spec.kind == Kind::kNagleUpside;
}

// ---- step 2: the load -------------------------------------------------------------

lg::Result drive_load(const CaseSpec& spec, const RunnerOptions& options, uint16_t port) {
    if (spec.kind == Kind::kNagleUpside) {
        SmallWritesConfig sw;
        sw.port = port;
        sw.writes = kUpsideWrites;
        sw.write_bytes = kUpsideWriteBytes;
        sw.reply_len = kNagleReplyBody;
        sw.pipeline = kUpsidePipeline;
        sw.nodelay = spec.client_nodelay;
        sw.warmup = spec.warmup;
        sw.duration = spec.duration;
        lg::Result r = run_small_writes(sw);
        r.started_at = utc_now();
        return r;
    }
    lg::Config config = spec.loadgen_config();
    config.port = port;
    config.cpus = options.placement.client_cpus;
    config.threads = static_cast<int>(options.placement.client_cpus.size());
    return lg::run(config);
}

// ---- steps 1-3: start, load while sampling, stop ---------------------------------

struct Measured {
    std::vector<std::string> argv;
    lg::Result result;
    std::vector<Tick> ticks;
    ProcReading last;  // just before SIGTERM
    Exit exit;
    std::string server_stderr;
};

Measured measure(const CaseSpec& spec, const RunnerOptions& options, const ScratchDir& dir) {
    Measured m;
    m.argv = server_argv(spec, options, dir.stats);
    ServerChild server(m.argv, options.placement.server_cpus);
    Sampler::Options so;
    so.pid = server.pid();
    so.port = server.port();
    so.signal_server = spec.kind != Kind::kBaseline;  // ping-pong has no SIGUSR1 handler
    so.segments = is_nagle(spec);
    so.period = sampler_period(spec.duration);
    {
        Sampler sampler(so);
        m.result = drive_load(spec, options, server.port());
        m.ticks = sampler.finish();
    }
    m.last = read_proc(server.pid());
    m.exit = server.stop();
    m.server_stderr = server.stderr_text();
    return m;
}

// ---- step 4: account --------------------------------------------------------------

struct Accounted {
    Json stats;  // the server's stats file (lifetime), null when absent
    WindowAccount window;
    double window_requests = 0;  // exact from the server, else rate x seconds
    std::string warning;
};

Accounted account(const CaseSpec& spec, const Measured& m, const ScratchDir& dir) {
    Accounted a;
    if (spec.kind != Kind::kBaseline) {
        std::string text = slurp(dir.stats);
        try {
            if (!text.empty()) a.stats = Json::parse(text);
        } catch (const std::exception& e) {
            a.warning += fmt::format("unreadable stats file: {}; ", e.what());
        }
        if (text.empty()) a.warning += "the server wrote no stats file; ";
    }
    a.window = account_window(m.result.timeline.measure_start, m.result.timeline.measure_end,
                              m.ticks, parse_snapshots(slurp(dir.snapshots)));
    if (!a.window.ok) a.warning += "the server was not accounted inside the window; ";
    a.window_requests =
        a.window.requests >= 0 ? a.window.requests : m.result.throughput_rps() * a.window.seconds;
    return a;
}

// ---- step 5: the counters ------------------------------------------------------------

using Counters = std::vector<std::pair<std::string, double>>;

double lifetime_cpu_us(const rusage& u) {
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Peaks {
    double rss_kb = 0;
    double threads = 0;
};

Peaks peaks(const Measured& m, const Accounted& a) {
    Peaks p;
    // VmHWM of the server's own address space, just before SIGTERM. Not the
    // rusage maxrss (wait4's or the snapshots' getrusage): Linux carries it
    // across exec, so it includes the pre-exec copy of this harness, which
    // grows from case to case.
    p.rss_kb = static_cast<double>(m.last.hwm_kb);
    uint64_t threads = std::max(m.last.threads, a.window.threads_max);
    if (a.stats.is_object() && a.stats.find("peak_threads"))
        threads = std::max(threads, static_cast<uint64_t>(a.stats.at("peak_threads").as_int()));
    p.threads = static_cast<double>(threads);
    return p;
}

Counters counters(const CaseSpec& spec, const Measured& m, const Accounted& a) {
    Counters c;
    auto put = [&](const char* name, double v) {
        if (!std::isnan(v)) c.emplace_back(name, v);
    };
    const auto& st = m.result.stats;
    const double rps = m.result.throughput_rps();
    const double requests = static_cast<double>(st.requests);
    put("rps", rps);
    put("p50_us", lg::ns_to_us(st.latency.value_at_percentile(50)));
    put("p99_us", lg::ns_to_us(st.latency.value_at_percentile(99)));
    put("p999_us", lg::ns_to_us(st.latency.value_at_percentile(99.9)));
    put("errors", static_cast<double>(st.errors.total()));

    // Server costs per request: the window's figures over the requests the
    // server itself counted in that window.
    const WindowAccount& w = a.window;
    const double per = w.ok && a.window_requests > 0 ? 1.0 / a.window_requests : kNaN;
    put("cpu_us_per_req", w.cpu_us * per);
    put("vcsw_per_req", w.vcsw >= 0 ? w.vcsw * per : kNaN);
    put("ivcsw_per_req", w.ivcsw >= 0 ? w.ivcsw * per : kNaN);
    Peaks pk = peaks(m, a);
    put("peak_rss_kb", pk.rss_kb);
    put("peak_threads", pk.threads);

    auto req = fairness_values(w.per_thread, false);
    auto acc = fairness_values(w.per_thread, true);
    put("jain_requests", jain_index(req));
    put("maxmin_requests", max_min_ratio(req));
    put("jain_accepts", jain_index(acc));
    put("maxmin_accepts", max_min_ratio(acc));
    if (spec.offered_rps > 0) put("offered_rps", spec.offered_rps);

    const std::string verdict = lg::to_string(m.result.verdict().kind);
    put("gen_busy", st.max_thread_busy);
    put("generator_bound", verdict == "generator-busy" ? 1.0 : 0.0);
    put("verdict_code", static_cast<double>(verdict_code(verdict)));
    if (w.foreign.ok) put("foreign_cpu", w.foreign.cpus);

    if (is_nagle(spec)) {
        // kStallUs is microseconds, the histogram nanoseconds; the same rule as
        // the loadgen record's stalls.count.
        int64_t stalls = st.latency.count_at_or_above(int64_t{kStallUs} * lg::kNsPerUs);
        put("stalls", static_cast<double>(stalls));
        put("stall_fraction", requests > 0 ? static_cast<double>(stalls) / requests : kNaN);
        put("segs_out_per_req",
            requests > 0 ? static_cast<double>(st.tcp.segs_out) / requests : kNaN);
        put("segs_in_per_req",
            requests > 0 ? static_cast<double>(st.tcp.segs_in) / requests : kNaN);
        if (w.segments.segs_out > 0 || w.segments.segs_in > 0) {
            put("srv_segs_out_per_req", static_cast<double>(w.segments.segs_out) * per);
            put("srv_segs_in_per_req", static_cast<double>(w.segments.segs_in) * per);
        }
    }
    return c;
}

// ---- step 6: the case file -----------------------------------------------------------

Json case_info(const CaseSpec& spec) {
    Json info = Json::object();
    info.set("id", spec.id());
    info.set("name", spec.name());
    info.set("kind", to_string(spec.kind));
    info.set("pattern", spec.pattern);
    info.set("protocol", spec.protocol);
    info.set("workload", spec.workload);
    info.set("connections", spec.connections);
    info.set("offered_rps", spec.offered_rps > 0 ? Json(spec.offered_rps) : Json());
    info.set("client_nodelay", spec.client_nodelay);
    info.set("server_nodelay", spec.server_nodelay);
    info.set("write_pattern", lg::to_string(spec.write_mode));
    info.set("quickack", spec.quickack);
    if (spec.kind == Kind::kNagleUpside) {
        info.set("writes_per_request", kUpsideWrites);
        info.set("bytes_per_write", kUpsideWriteBytes);
        info.set("pipeline", kUpsidePipeline);
    }
    info.set("warmup_s", std::chrono::duration<double>(spec.warmup).count());
    info.set("duration_s", std::chrono::duration<double>(spec.duration).count());
    return info;
}

Json maybe(double v) {
    return v >= 0 && !std::isnan(v) ? Json(v) : Json();
}

Json window_json(const Accounted& a) {
    const WindowAccount& w = a.window;
    Json win = Json::object();
    win.set("source", w.source);
    win.set("seconds", w.seconds);
    win.set("cpu_us", w.cpu_us);
    win.set("vcsw", maybe(w.vcsw));
    win.set("ivcsw", maybe(w.ivcsw));
    win.set("requests", maybe(w.requests));
    win.set("accepted", maybe(w.accepted));
    win.set("requests_estimated", w.requests >= 0 ? Json() : Json(a.window_requests));
    Json threads = Json::array();
    for (const auto& t : w.per_thread) {
        Json e = Json::object();
        e.set("id", t.id);
        e.set("role", t.role);
        e.set("requests", t.requests);
        e.set("accepted", t.accepted);
        e.set("accepted_total", t.accepted_total);
        threads.push(e);
    }
    win.set("per_thread", threads);
    if (w.segments.segs_out > 0 || w.segments.segs_in > 0) {
        win.set("segs_out", w.segments.segs_out);
        win.set("segs_in", w.segments.segs_in);
    }
    return win;
}

Json server_json(const Counters& c, const Measured& m, const Accounted& a,
                 const RunnerOptions& options) {
    auto counter = [&](const char* name) {
        for (const auto& [k, v] : c)
            if (k == name) return v;
        return kNaN;
    };
    const double requests = static_cast<double>(m.result.stats.requests);
    auto scaled = [&](double per) { return std::isnan(per) ? Json() : Json(per * requests); };
    Json server = Json::object();
    server.set("stats", a.stats);
    // cpu_us, vcsw and ivcsw cover the measured run (per request x its requests),
    // so that cpu_us / loadgen.requests is cpu_us_per_req, as the contract says.
    server.set("cpu_us", scaled(counter("cpu_us_per_req")));
    server.set("vcsw", scaled(counter("vcsw_per_req")));
    server.set("ivcsw", scaled(counter("ivcsw_per_req")));
    server.set("peak_rss_kb", counter("peak_rss_kb"));
    server.set("peak_threads", counter("peak_threads"));
    server.set("accounting", a.window.source);
    server.set("window", window_json(a));
    const Json* total = a.stats.is_object() ? a.stats.find("total") : nullptr;
    Json life = Json::object();
    life.set("cpu_us", lifetime_cpu_us(m.exit.usage));
    life.set("vcsw", static_cast<int64_t>(m.exit.usage.ru_nvcsw));
    life.set("ivcsw", static_cast<int64_t>(m.exit.usage.ru_nivcsw));
    life.set("maxrss_kb", static_cast<int64_t>(m.exit.usage.ru_maxrss));
    life.set("requests",
             total && total->find("requests") ? Json(total->at("requests").as_int()) : Json());
    server.set("lifetime", life);
    Json args = Json::array();
    for (const auto& arg : m.argv) args.push(arg);
    server.set("argv", args);
    server.set("cpus", format_cpu_list(options.placement.server_cpus));
    server.set("exit_status", m.exit.status);
    if (!m.server_stderr.empty()) server.set("stderr", m.server_stderr);
    return server;
}

Json measurement_json(const CaseSpec& spec, const Measured& m, const Accounted& a) {
    const WindowAccount& w = a.window;
    Json meas = Json::object();
    Json delays = Json::array(), costs = Json::array();
    for (int i = 0; i < 2; ++i) {
        delays.push(maybe(w.snapshot_delay_us[i]));
        costs.push(maybe(w.harness_cost_us[i]));
    }
    meas.set("snapshot_delay_us", delays);
    meas.set("harness_cost_us", costs);
    meas.set("sampler_ticks", static_cast<int64_t>(m.ticks.size()));
    meas.set("connections", spec.connections);
    const auto& up = m.result.bringup;
    meas.set("connections_up", up ? Json(up->up) : Json(spec.connections));
    meas.set("bringup_s", up ? Json(up->seconds) : Json());
    Json f = Json::object();
    f.set("cpu_s", w.foreign.ok ? Json(w.foreign.cpu_s) : Json());
    f.set("cpus", w.foreign.ok ? Json(w.foreign.cpus) : Json());
    f.set("steal_s", w.foreign.ok ? Json(w.foreign.steal_s) : Json());
    f.set("irq_s", w.foreign.ok ? Json(w.foreign.irq_s) : Json());
    f.set("generator_wait_s", w.foreign.ok ? Json(w.foreign.generator_wait_s) : Json());
    f.set("busy_source", w.foreign.busy_source);
    f.set("flag", w.foreign.flag);
    f.set("note",
          "machine-wide task CPU time (busy_source: cpuacct, ns; or proc-stat, tick-sampled) "
          "minus the server's and this harness's own over the window; steal_s and irq_s from "
          "/proc/stat (10 ms ticks; irq_s includes this run's loopback traffic); "
          "generator_wait_s: run-queue wait of the harness and generator threads");
    meas.set("foreign", f);
    return meas;
}

Json case_document(const CaseSpec& spec, const RunnerOptions& options, const Counters& c,
                   const Measured& m, const Accounted& a, const std::string& warning) {
    Json counters_json = Json::object();
    for (const auto& [k, v] : c) counters_json.set(k, v);
    const lg::Verdict v = m.result.verdict();
    Json verdict = Json::object();
    verdict.set("kind", lg::to_string(v.kind));
    verdict.set("reason", v.reason);

    Json doc = Json::object();
    doc.set("schema", "patternbench.case/2");
    doc.set("case", case_info(spec));
    doc.set("counters", counters_json);
    doc.set("verdict", verdict);
    doc.set("loadgen", Json::parse(lg::to_json(m.result)));
    doc.set("server", server_json(c, m, a, options));
    doc.set("measurement", measurement_json(spec, m, a));
    if (!warning.empty()) doc.set("warnings", warning);
    return doc;
}

std::string run_warnings(const CaseSpec& spec, const Measured& m) {
    std::string w;
    const auto& st = m.result.stats;
    if (const auto& up = m.result.bringup; up && !up->complete())
        w += fmt::format("{} of {} connections came up within {:.1f} s; ", up->up, up->connections,
                         up->seconds);
    if (st.errors.total() > 0)
        w += fmt::format("{} client errors ({}); ", st.errors.total(),
                         st.error_samples.empty() ? "" : st.error_samples.front());
    const int expected_exit = spec.kind == Kind::kBaseline ? 128 + SIGTERM : 0;
    if (m.exit.status != expected_exit || m.exit.timed_out)
        w += fmt::format("server exit status {}{}; ", m.exit.status,
                         m.exit.timed_out ? " (killed after the grace time)" : "");
    return w;
}

}  // namespace

Outcome run_case(const CaseSpec& spec, const RunnerOptions& options) {
    Outcome out;
    std::optional<ScratchDir> dir;
    Measured m;
    try {
        dir.emplace();
        m = measure(spec, options, *dir);
    } catch (const std::exception& e) {
        out.error = e.what();
        return out;
    }
    Accounted a = account(spec, m, *dir);
    out.counters = counters(spec, m, a);
    out.warning = run_warnings(spec, m) + a.warning;
    out.measured_seconds = m.result.duration_s;
    out.ok = true;
    out.document = case_document(spec, options, out.counters, m, a, out.warning);
    return out;
}

}  // namespace pb::bench
