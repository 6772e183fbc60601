#include "case_runner.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include "loadgen.hpp"
#include "proc_stats.hpp"
#include "server_child.hpp"
#include "small_writes.hpp"
#include "sock_diag.hpp"

namespace pb::bench {

namespace lg = pb::loadgen;
using Clock = std::chrono::steady_clock;
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

namespace {

bool multi_loop(const std::string& pattern) {
    return pattern == "multi-accept" || pattern == "reuseport" || pattern == "reactor-pool";
}

std::string utc_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
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
    if (multi_loop(spec.pattern)) {
        argv.push_back("--threads");
        argv.push_back(std::to_string(options.placement.loop_threads));
    } else if (spec.pattern == "worker-queue") {
        argv.push_back("--threads");
        argv.push_back(std::to_string(options.placement.worker_threads));
    }
    return argv;
}

// Reads the server at two moments inside the load generator's measured window,
// from its own thread so that loadgen::run() can block the caller meanwhile.
class WindowSampler {
public:
    WindowSampler(pid_t pid, uint16_t port, bool segments, Clock::time_point begin,
                  Clock::time_point end)
        : thread_([=, this] { sample(pid, port, segments, begin, end); }) {}
    ~WindowSampler() { stop(); }

    // Returns once both readings are taken, or at once if the run ended early.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            cancelled_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    bool complete = false;
    ProcSnapshot proc_begin, proc_end;
    std::map<uint64_t, SocketSegments> segs_begin, segs_end;

private:
    // False when cancelled before `t`. A reading that is due is still taken
    // when the cancel comes late: on a busy machine this thread may be woken
    // after the load generator has already returned.
    bool wait_until(Clock::time_point t) {
        std::unique_lock lock(mutex_);
        cv_.wait_until(lock, t, [this] { return cancelled_; });
        return Clock::now() >= t;
    }
    void sample(pid_t pid, uint16_t port, bool segments, Clock::time_point begin,
                Clock::time_point end) {
        // The readings share the client CPU with a busy load generator; a
        // real-time priority (where allowed) makes them land on time, which the
        // per-request figures rely on. Without it they are merely later.
        sched_param param{};
        param.sched_priority = 1;
        ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param);
        if (!wait_until(begin)) return;
        proc_begin = read_proc(pid);
        if (segments) segs_begin = server_socket_segments(port);
        if (!wait_until(end)) return;
        proc_end = read_proc(pid);
        if (segments) segs_end = server_socket_segments(port);
        complete = proc_begin.ok && proc_end.ok;
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    bool cancelled_ = false;
    std::thread thread_;  // last: starts after the members it uses exist
};

struct ThreadValues {
    std::vector<double> requests, accepted;
};

// Per-thread values over the roles that do that work: reactor-pool's acceptor
// counts for accepts but not requests, its loops the other way round (the same
// rule as tools/pbtools/rundir.py thread_values, so report and harness agree).
std::vector<double> values_for(const Json::Array& threads, const char* key) {
    std::vector<std::string> roles;
    auto role_of = [](const Json& t) {
        const Json* r = t.find("role");
        return r ? r->as_string() : std::string("loop");
    };
    for (const auto& t : threads) {
        const Json* v = t.find(key);
        if (v && v->as_int() > 0) roles.push_back(role_of(t));
    }
    std::vector<double> out;
    for (const auto& t : threads)
        if (std::find(roles.begin(), roles.end(), role_of(t)) != roles.end())
            out.push_back(static_cast<double>(t.at(key).as_int()));
    return out;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    if (!f) return {};
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void write_file_atomically(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << text;
        if (!f.flush()) throw std::runtime_error("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

int64_t count_at_or_above(const lg::Histogram& h, int64_t threshold) {
    int64_t n = 0;
    h.for_each_bucket([&](int64_t value, int64_t count) {
        if (value >= threshold) n += count;
    });
    return n;
}

}  // namespace

Outcome run_case(const CaseSpec& spec, const RunnerOptions& options) {
    Outcome out;
    char dir_template[] = "/tmp/pbbench-case-XXXXXX";
    if (!::mkdtemp(dir_template)) {
        out.error = "mkdtemp failed";
        return out;
    }
    const std::string work_dir = dir_template;
    const std::string stats_path = work_dir + "/stats.json";
    const auto argv = server_argv(spec, options, stats_path);

    lg::Result result;
    Exit exit;
    std::string server_stderr;
    bool sampled = false;
    WindowCost window;
    SocketSegments srv_segs;
    ProcSnapshot last;
    uint64_t sampled_threads = 0;
    const bool nagle = spec.kind == Kind::kNagle || spec.kind == Kind::kNagleUpside;
    try {
        ServerChild server(argv, options.placement.server_cpus);

        // The sampler reads the server inside the loadgen window: from `margin`
        // after its start (connects and the 2 ms start delay come first) to its
        // nominal end, which the real end never precedes.
        auto margin = std::chrono::milliseconds(50 + spec.connections / 10);
        margin = std::min(margin,
                          std::chrono::duration_cast<std::chrono::milliseconds>(spec.duration / 3));
        auto t0 = Clock::now();
        WindowSampler sampler(server.pid(), server.port(), nagle, t0 + spec.warmup + margin,
                              t0 + spec.warmup + spec.duration);
        if (spec.kind == Kind::kNagleUpside) {
            SmallWritesConfig sw;
            sw.port = server.port();
            sw.writes = kUpsideWrites;
            sw.write_bytes = kUpsideWriteBytes;
            sw.reply_len = kNagleReplyBody;
            sw.pipeline = kUpsidePipeline;
            sw.nodelay = spec.client_nodelay;
            sw.warmup = spec.warmup;
            sw.duration = spec.duration;
            result = run_small_writes(sw);
            result.started_at = utc_now();
        } else {
            lg::Config config = spec.loadgen_config();
            config.port = server.port();
            config.cpus = options.placement.client_cpus;
            config.threads = static_cast<int>(options.placement.client_cpus.size());
            result = lg::run(config);
        }
        sampler.stop();
        sampled = sampler.complete;
        if (sampled) {
            window = window_cost(sampler.proc_begin, sampler.proc_end);
            srv_segs = segments_between(sampler.segs_begin, sampler.segs_end);
            sampled_threads = std::max(sampler.proc_begin.threads, sampler.proc_end.threads);
        }
        last = read_proc(server.pid(), false);
        exit = server.stop();
        server_stderr = server.stderr_text();
    } catch (const std::exception& e) {
        out.error = e.what();
        std::remove(stats_path.c_str());
        ::rmdir(work_dir.c_str());
        return out;
    }

    Json stats;
    if (spec.kind != Kind::kBaseline) {
        std::string text = slurp(stats_path);
        try {
            if (!text.empty()) stats = Json::parse(text);
        } catch (const std::exception& e) {
            out.warning += fmt::format("unreadable stats file: {}; ", e.what());
        }
        if (text.empty()) out.warning += "the server wrote no stats file; ";
    }
    std::remove(stats_path.c_str());
    ::rmdir(work_dir.c_str());

    // ---- counters ------------------------------------------------------------
    const auto& st = result.stats;
    const double rps = result.throughput_rps();
    const double requests = static_cast<double>(st.requests);
    auto& c = out.counters;
    auto put = [&](const char* name, double v) {
        if (!std::isnan(v)) c.emplace_back(name, v);
    };
    put("rps", rps);
    put("p50_us", static_cast<double>(st.latency.value_at_percentile(50)));
    put("p99_us", static_cast<double>(st.latency.value_at_percentile(99)));
    put("p999_us", static_cast<double>(st.latency.value_at_percentile(99.9)));
    put("errors", static_cast<double>(st.errors.total()));

    // Server costs per request: the window's figures over the requests that
    // window saw (rate x length; the window sits inside the measured one).
    const double window_requests = rps * window.seconds;
    const Json* total = stats.is_object() ? stats.find("total") : nullptr;
    const double lifetime_requests =
        total && total->find("requests") ? static_cast<double>(total->at("requests").as_int()) : 0;
    const double lifetime_cpu_us =
        static_cast<double>(exit.usage.ru_utime.tv_sec + exit.usage.ru_stime.tv_sec) * 1e6 +
        static_cast<double>(exit.usage.ru_utime.tv_usec + exit.usage.ru_stime.tv_usec);
    std::string accounting = "none";
    double cpu_per = std::numeric_limits<double>::quiet_NaN();
    double vcsw_per = cpu_per, ivcsw_per = cpu_per;
    if (sampled && window_requests > 0) {
        cpu_per = window.cpu_us / window_requests;
        if (window.same_threads) {
            vcsw_per = window.vcsw / window_requests;
            ivcsw_per = window.ivcsw / window_requests;
            accounting = "window";
        } else if (lifetime_requests > 0) {
            // Threads came and went (a thread per connection under churn): their
            // switches left /proc with them, and only the lifetime rusage has them.
            vcsw_per = static_cast<double>(exit.usage.ru_nvcsw) / lifetime_requests;
            ivcsw_per = static_cast<double>(exit.usage.ru_nivcsw) / lifetime_requests;
            accounting = "window cpu, lifetime context switches";
        } else {
            accounting = "window cpu";
        }
    }
    put("cpu_us_per_req", cpu_per);
    put("vcsw_per_req", vcsw_per);
    put("ivcsw_per_req", ivcsw_per);
    const double peak_rss = static_cast<double>(
        std::max<uint64_t>(last.hwm_kb, static_cast<uint64_t>(exit.usage.ru_maxrss)));
    put("peak_rss_kb", peak_rss);
    uint64_t peak_threads = std::max({last.threads, sampled_threads});
    {
        uint64_t from_stats = 0;
        if (stats.is_object() && stats.find("peak_threads"))
            from_stats = static_cast<uint64_t>(stats.at("peak_threads").as_int());
        peak_threads = std::max(peak_threads, from_stats);
    }
    put("peak_threads", static_cast<double>(peak_threads));

    const Json* threads = stats.is_object() ? stats.find("threads") : nullptr;
    if (threads && threads->is_array()) {
        auto req = values_for(threads->as_array(), "requests");
        auto acc = values_for(threads->as_array(), "accepted");
        put("jain_requests", jain_index(req));
        put("maxmin_requests", max_min_ratio(req));
        put("jain_accepts", jain_index(acc));
        put("maxmin_accepts", max_min_ratio(acc));
    }
    if (spec.offered_rps > 0) put("offered_rps", spec.offered_rps);
    if (nagle) {
        int64_t stalls = count_at_or_above(st.latency, kStallUs);
        put("stalls", static_cast<double>(stalls));
        put("stall_fraction", requests > 0 ? static_cast<double>(stalls) / requests : NAN);
        put("segs_out_per_req",
            requests > 0 ? static_cast<double>(st.tcp.segs_out) / requests : NAN);
        put("segs_in_per_req", requests > 0 ? static_cast<double>(st.tcp.segs_in) / requests : NAN);
        if (window_requests > 0 && (srv_segs.segs_out > 0 || srv_segs.segs_in > 0)) {
            put("srv_segs_out_per_req", static_cast<double>(srv_segs.segs_out) / window_requests);
            put("srv_segs_in_per_req", static_cast<double>(srv_segs.segs_in) / window_requests);
        }
    }
    out.measured_seconds = result.duration_s;
    out.ok = true;

    if (st.errors.total() > 0)
        out.warning += fmt::format("{} client errors ({}); ", st.errors.total(),
                                   st.error_samples.empty() ? "" : st.error_samples.front());
    const int expected_exit = spec.kind == Kind::kBaseline ? 128 + SIGTERM : 0;
    if (exit.status != expected_exit || exit.timed_out)
        out.warning += fmt::format("server exit status {}{}; ", exit.status,
                                   exit.timed_out ? " (killed after the grace time)" : "");
    if (!sampled) out.warning += "the server was not sampled inside the window; ";

    if (options.out_dir.empty()) return out;

    // ---- the case file ---------------------------------------------------------
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

    Json counters = Json::object();
    for (const auto& [k, v] : c) counters.set(k, v);

    Json server = Json::object();
    server.set("stats", stats);
    auto scaled = [&](double per) { return std::isnan(per) ? Json() : Json(per * requests); };
    // cpu_us, vcsw and ivcsw cover the measured run (per request x its requests),
    // so that cpu_us / loadgen.requests is cpu_us_per_req, as the contract says.
    server.set("cpu_us", scaled(cpu_per));
    server.set("vcsw", scaled(vcsw_per));
    server.set("ivcsw", scaled(ivcsw_per));
    server.set("peak_rss_kb", peak_rss);
    server.set("peak_threads", peak_threads);
    server.set("accounting", accounting);
    Json win = Json::object();
    win.set("seconds", window.seconds);
    win.set("cpu_us", window.cpu_us);
    win.set("vcsw", window.same_threads ? Json(window.vcsw) : Json());
    win.set("ivcsw", window.same_threads ? Json(window.ivcsw) : Json());
    win.set("requests_estimated", window_requests);
    if (nagle) {
        win.set("segs_out", srv_segs.segs_out);
        win.set("segs_in", srv_segs.segs_in);
    }
    server.set("window", win);
    Json life = Json::object();
    life.set("cpu_us", lifetime_cpu_us);
    life.set("vcsw", static_cast<int64_t>(exit.usage.ru_nvcsw));
    life.set("ivcsw", static_cast<int64_t>(exit.usage.ru_nivcsw));
    life.set("maxrss_kb", static_cast<int64_t>(exit.usage.ru_maxrss));
    life.set("requests", lifetime_requests > 0 ? Json(lifetime_requests) : Json());
    server.set("lifetime", life);
    Json args = Json::array();
    for (const auto& a : argv) args.push(a);
    server.set("argv", args);
    server.set("cpus", format_cpu_list(options.placement.server_cpus));
    server.set("exit_status", exit.status);
    if (!server_stderr.empty()) server.set("stderr", server_stderr);

    Json doc = Json::object();
    doc.set("schema", "patternbench.case/1");
    doc.set("case", info);
    doc.set("counters", counters);
    doc.set("loadgen", Json::parse(lg::to_json(result)));
    doc.set("server", server);
    if (!out.warning.empty()) doc.set("warnings", out.warning);
    ::mkdir((options.out_dir + "/cases").c_str(), 0755);
    write_file_atomically(options.out_dir + "/cases/" + spec.id() + ".json", doc.dump(1) + "\n");
    return out;
}

}  // namespace pb::bench
