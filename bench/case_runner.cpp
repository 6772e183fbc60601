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
#include <cstring>
#include <ctime>
#include <limits>
#include <numeric>
#include <optional>
#include <thread>

#include "case_steps.hpp"
#include "clock.hpp"
#include "experiments.hpp"
#include "files.hpp"
#include "patterns.hpp"
#include "placement.hpp"
#include "sampler.hpp"
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
        case Threads::kSerial:
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

bool is_nagle(const CaseSpec& spec) {
    return spec.kind == Kind::kNagle || spec.kind == Kind::kNagleUpside;
}

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
    if (spec.threads > 0) {
        argv.push_back("--threads");
        argv.push_back(std::to_string(spec.threads));
    } else if (auto threads = server_threads(spec.pattern, options.placement)) {
        argv.push_back("--threads");
        argv.push_back(std::to_string(*threads));
    }
    argv.insert(argv.end(), spec.server_args.begin(), spec.server_args.end());
    return argv;
}

std::string external_command_line(const CaseSpec& spec, const RunnerOptions& options,
                                  uint16_t port) {
    const std::pair<const char*, std::string> values[] = {
        {"{port}", std::to_string(port)},
        {"{cpus}", format_cpu_list(options.placement.server_cpus)},
        {"{threads}", std::to_string(options.placement.loop_threads)},
    };
    std::string line = spec.external_command;
    for (const auto& [key, value] : values)
        for (size_t at = line.find(key); at != std::string::npos; at = line.find(key, at))
            line.replace(at, std::strlen(key), value), at += value.size();
    return line;
}

bool LoadWindow::wait(lg::Timeline& out) const {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return timeline_.has_value() || ended_; });
    if (!timeline_) return false;
    out = *timeline_;
    return true;
}

void LoadWindow::set(const lg::Timeline& t) {
    {
        std::lock_guard lock(mu_);
        timeline_ = t;
    }
    cv_.notify_all();
}

void LoadWindow::end() {
    {
        std::lock_guard lock(mu_);
        ended_ = true;
    }
    cv_.notify_all();
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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

// ---- step 2: the load -------------------------------------------------------------

lg::Result drive_load(const CaseSpec& spec, const RunnerOptions& options, uint16_t port,
                      Sampler& sampler, const CaseHooks& hooks, LoadWindow& window) {
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
    if (hooks.loadgen) hooks.loadgen(config);
    return lg::run(config, nullptr, [&](const lg::Timeline& t) {
        sampler.window(t.measure_start, t.measure_end);
        window.set(t);
    });
}

// ---- steps 1-3: start, load while sampling, stop ---------------------------------

Measured measure(const CaseSpec& spec, const RunnerOptions& options, const ScratchDir& dir,
                 const CaseHooks& hooks) {
    Measured m;
    std::optional<ServerChild> child;
    if (spec.external()) {
        const uint16_t port = free_loopback_port();
        m.argv = {"/bin/sh", "-c", external_command_line(spec, options, port)};
        child.emplace(ShellCommand{m.argv[2], port, spec.pattern}, options.placement.server_cpus,
                      options.external_start_timeout);
    } else {
        m.argv = server_argv(spec, options, dir.stats);
        child.emplace(m.argv, options.placement.server_cpus);
    }
    ServerChild& server = *child;
    Sampler::Options so;
    so.pid = server.pid();
    so.port = server.port();
    // Ping-pong has no SIGUSR1 handler; an external server may die of one.
    so.signal_server = spec.kind != Kind::kBaseline && !spec.external();
    so.segments = is_nagle(spec);
    so.server_cgroup_usage = server.cgroup_usage_path();
    so.process_group = server.process_group();
    so.server_cgroup_procs = server.cgroup_procs_path();
    so.period = sampler_period(spec.duration);
    {
        Sampler sampler(so);
        LoadWindow window;
        std::thread during;
        if (hooks.during) during = std::thread([&] { hooks.during(server, window); });
        struct Join {  // the hook's thread ends with the load, even on a throw
            LoadWindow& window;
            std::thread& t;
            ~Join() {
                window.end();
                if (t.joinable()) t.join();
            }
        } join{window, during};
        m.result = drive_load(spec, options, server.port(), sampler, hooks, window);
        m.ticks = sampler.finish();
    }
    m.last = spec.external() ? read_group(server.pid(), server.cgroup_procs_path(), false)
                             : read_proc(server.pid());
    m.exit = spec.external() ? server.stop(options.external_stop_grace) : server.stop();
    m.server_stderr = server.stderr_text();
    return m;
}

// ---- step 4: account --------------------------------------------------------------

Accounted account(const CaseSpec& spec, const Measured& m, const ScratchDir& dir) {
    Accounted a;
    if (spec.kind != Kind::kBaseline && !spec.external()) {
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
    double syscalls = 0;  // every kind (measurement.syscalls has them one by one)
    for (const auto& [kind, n] : w.syscalls) syscalls += n;
    put("syscalls_per_req", w.syscalls.empty() ? kNaN : syscalls * per);
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
    if (w.kernel.samples > 0) put("accept_queue_max", w.kernel.depth_max);
    if (w.kernel.tcp_ext_ok) {
        put("listen_overflows", static_cast<double>(w.kernel.tcp_ext[0]));
        put("listen_drops", static_cast<double>(w.kernel.tcp_ext[1]));
    }

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
    // An external server's shell may die of the SIGTERM its group was sent.
    const bool external_ok = spec.external() && m.exit.status == 128 + SIGTERM;
    if (m.exit.timed_out && spec.external()) return w;  // an error, said by external_error()
    if ((m.exit.status != expected_exit && !external_ok) || m.exit.timed_out)
        w += fmt::format("server exit status {}{}; ", m.exit.status,
                         m.exit.timed_out ? " (killed after the grace time)" : "");
    return w;
}

}  // namespace

Outcome run_case(const CaseSpec& spec, const RunnerOptions& options) {
    if (spec.server_cpus > 0) {  // the scaling profile: part of the server CPUs
        RunnerOptions scaled = options;
        scaled.placement = first_server_cpus(options.placement, spec.server_cpus);
        return run_case(spec, scaled, CaseHooks{});
    }
    if (spec.kind != Kind::kClaims) return run_case(spec, options, CaseHooks{});
    const Experiment* e = find_experiment(spec.experiment);
    if (!e) {
        Outcome out;
        out.error = "unknown experiment '" + spec.experiment + "'";
        return out;
    }
    if (e->run) return e->run(spec, options);
    return run_case(spec, options, e->hooks ? e->hooks(spec) : CaseHooks{});
}

Outcome run_case(const CaseSpec& spec, const RunnerOptions& options, const CaseHooks& hooks) {
    Outcome out;
    std::optional<ScratchDir> dir;
    Measured m;
    try {
        dir.emplace();
        m = measure(spec, options, *dir, hooks);
    } catch (const ServerUnavailable& e) {
        out.unavailable = e.what();
        out.error = "not available on this machine: " + out.unavailable;
        return out;
    } catch (const std::exception& e) {
        out.error = e.what();
        return out;
    }
    Accounted a = account(spec, m, *dir);
    out.counters = counters(spec, m, a);
    out.warning = run_warnings(spec, m) + a.warning;
    out.measured_seconds = m.result.duration_s;
    out.ok = true;
    Json experiment = Json::object();
    if (hooks.finish) {
        try {
            hooks.finish(m, a, out.counters, experiment);
        } catch (const std::exception& e) {
            out.warning += fmt::format("the experiment's figures failed: {}; ", e.what());
        }
    }
    out.document = case_document(spec, options, out.counters, m, a, out.warning);
    if (spec.kind == Kind::kClaims) out.document.set("experiment", std::move(experiment));
    if (spec.external() && m.exit.timed_out) {
        // Measured, but the server broke its contract: the case is reported as an
        // error, with its numbers kept.
        out.error = fmt::format(
            "external server '{}' did not exit within {:.1f} s of SIGTERM to its process group "
            "and was killed with SIGKILL (an external server must exit on SIGTERM)",
            spec.pattern, std::chrono::duration<double>(options.external_stop_grace).count());
        out.document.set("error", out.error);
    }
    return out;
}

}  // namespace pb::bench
