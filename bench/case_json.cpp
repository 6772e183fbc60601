// Step 6 of a case: the case document (schema patternbench.case/2,
// results/README.md) from what the earlier steps measured and accounted.
#include <cmath>
#include <limits>

#include "case_steps.hpp"

namespace pb::bench {

namespace lg = pb::loadgen;
using lg::Json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double lifetime_cpu_us(const rusage& u) {
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

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
    if (spec.kind == Kind::kClaims) {
        info.set("experiment", spec.experiment);
        info.set("variant", spec.variant);
        Json args = Json::array();
        for (const auto& a : spec.server_args) args.push(a);
        info.set("server_args", std::move(args));
        if (spec.threads > 0) info.set("threads", static_cast<int>(spec.threads));
    }
    if (spec.server_cpus > 0) info.set("server_cpus", static_cast<int>(spec.server_cpus));
    if (spec.external()) {  // --external: not one of the project's servers
        Json ext = Json::object(), skipped = Json::object();
        ext.set("name", spec.pattern);
        ext.set("command", spec.external_command);
        for (const auto& [workload, reason] : spec.external_skipped) skipped.set(workload, reason);
        ext.set("skipped", std::move(skipped));
        info.set("external", std::move(ext));
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

Json kernel_json(const KernelQueues& k) {
    Json kernel = Json::object();
    Json tcp = Json::object();
    if (k.tcp_ext_ok)
        for (size_t i = 0; i < kTcpExtNames.size(); ++i) tcp.set(kTcpExtNames[i], k.tcp_ext[i]);
    kernel.set("tcp_ext", k.tcp_ext_ok ? tcp : Json());
    kernel.set("tcp_ext_scope",
               "machine-wide: every socket of this network namespace, between the window's "
               "edge readings (/proc/net/netstat)");
    Json queue = Json::object();
    queue.set("samples", k.samples);
    queue.set("max", k.samples > 0 ? Json(k.depth_max) : Json());
    queue.set("mean", k.samples > 0 ? Json(k.depth_mean) : Json());
    queue.set("backlog", k.samples > 0 ? Json(static_cast<int64_t>(k.backlog)) : Json());
    Json listeners = Json::array();
    for (double d : k.listener_max) listeners.push(d);
    queue.set("listener_max", listeners);
    queue.set("note",
              "connections completed by the kernel, not yet accepted (ss -lnt Recv-Q), per "
              "listener, sampled at every sampler tick inside the window");
    kernel.set("accept_queue", queue);
    if (k.unread_max >= 0) {
        Json sockets = Json::object();
        sockets.set("unread_max", k.unread_max);
        sockets.set("unsent_max", k.unsent_max);
        sockets.set("note",
                    "the server's connections, summed, the most seen at one tick: bytes "
                    "received and not yet read by the server (Recv-Q); bytes it wrote that the "
                    "kernel has not yet sent (tcpi_notsent_bytes: held by Nagle or corking)");
        kernel.set("socket_queues", sockets);
    }
    return kernel;
}

// The server's system calls per request by kind over the window (its own
// counts, servers/README.md "System calls"); null when its snapshots had none.
Json syscalls_json(const Accounted& a) {
    const WindowAccount& w = a.window;
    if (!w.ok || w.syscalls.empty() || a.window_requests <= 0) return Json();
    Json per_request = Json::object();
    for (const auto& [kind, n] : w.syscalls) per_request.set(kind, n / a.window_requests);
    return per_request;
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
    f.set("kernel_threads_s", w.foreign.ok ? maybe(w.foreign.kernel_threads_s) : Json());
    f.set("server_cgroup_s", w.foreign.ok ? maybe(w.foreign.server_cgroup_s) : Json());
    if (w.foreign.implausible)
        f.set("discarded",
              "the machine read busier than all its CPUs over the window: a broken "
              "reading, not load");
    f.set("busy_source", w.foreign.busy_source);
    f.set("flag", w.foreign.flag);
    f.set("note",
          "machine-wide task CPU time (busy_source: cpuacct, ns; or proc-stat, tick-sampled) "
          "minus the server's (server_cgroup_s: its own cpuacct cgroup, where it has one; else "
          "its getrusage snapshots), this harness's own and the kernel threads' (kernel_threads_s: "
          "kworker, ksoftirqd, rcu; on a quiet machine this case's kernel work) over the "
          "window; steal_s and irq_s from "
          "/proc/stat (10 ms ticks; irq_s includes this run's loopback traffic); "
          "generator_wait_s: run-queue wait of the harness and generator threads");
    meas.set("foreign", f);
    meas.set("kernel", kernel_json(w.kernel));
    meas.set("syscalls", syscalls_json(a));
    return meas;
}

}  // namespace

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

}  // namespace pb::bench
