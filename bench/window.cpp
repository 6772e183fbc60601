#include "window.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "json.hpp"

namespace pb::bench {

using pb::loadgen::Json;

namespace {

double number(const Json& j, const char* key) {
    const Json* v = j.find(key);
    return v && v->is_number() ? v->as_double() : 0.0;
}

// The latest tick sent at or before `t_ns`: the one that asked for the snapshot.
const Tick* tick_before(const std::vector<Tick>& ticks, int64_t t_ns) {
    const Tick* found = nullptr;
    for (const auto& t : ticks)
        if (t.sent_ns <= t_ns) found = &t;
    return found;
}

void account_foreign(WindowAccount& w, const Tick& a, const Tick& b, double server_cpu_us) {
    if (!a.cpu.ok || !b.cpu.ok || w.seconds <= 0) return;
    const double seconds = static_cast<double>(b.sent_ns - a.sent_ns) / 1e9;
    if (seconds <= 0) return;
    // Machine-wide busy time minus what the server and this process (harness
    // and load generator) used. /proc/stat counts in 10 ms ticks per CPU, so a
    // figure within a few ticks of 0 is 0; below zero is rounding.
    if (a.server_cgroup_us >= 0 && b.server_cgroup_us >= 0) {
        w.foreign.server_cgroup_s = (b.server_cgroup_us - a.server_cgroup_us) / 1e6;
        server_cpu_us = b.server_cgroup_us - a.server_cgroup_us;
    }
    double own = server_cpu_us + (b.self_cpu_us - a.self_cpu_us);
    if (a.kthread_us >= 0 && b.kthread_us >= 0) {
        w.foreign.kernel_threads_s = (b.kthread_us - a.kthread_us) / 1e6;
        own += b.kthread_us - a.kthread_us;
    }
    // Both edges must read busy time the same way: a cpuacct read that failed at
    // one edge fell back to /proc/stat there, and the two counters do not
    // compare; /proc/stat is at both.
    double busy_us = b.cpu.busy_us - a.cpu.busy_us;
    const char* source = b.cpu.busy_source;
    if (std::strcmp(a.cpu.busy_source, b.cpu.busy_source) != 0) {
        busy_us = b.cpu.stat_busy_us - a.cpu.stat_busy_us;
        source = "proc-stat";
    }
    // No machine is busier than all its CPUs (plus a few ticks of /proc/stat
    // rounding): beyond that the reading is broken, not load.
    if (b.cpu.cpus > 0 && busy_us > (seconds + 0.05) * 1e6 * b.cpu.cpus) {
        w.foreign.implausible = true;
        return;
    }
    double foreign_us = std::max(0.0, busy_us - own);
    w.foreign.ok = true;
    w.foreign.busy_source = source;
    w.foreign.cpu_s = foreign_us / 1e6;
    w.foreign.cpus = w.foreign.cpu_s / seconds;
    w.foreign.steal_s = (b.cpu.steal_us - a.cpu.steal_us) / 1e6;
    w.foreign.irq_s = (b.cpu.irq_us - a.cpu.irq_us) / 1e6;
    w.foreign.generator_wait_s = (b.self_wait_us - a.self_wait_us) / 1e6;
    w.foreign.flag =
        w.foreign.cpus > kForeignFlagCpus || w.foreign.steal_s / seconds > kForeignFlagCpus;
}

// What the harness read at the window's two edges, whichever source the
// server's figures came from: the readings' cost, the sockets' segments, and
// the foreign load (w.cpu_us must already be the server's).
void edge_readings(WindowAccount& w, const Tick& a, const Tick& b) {
    w.harness_cost_us[0] = static_cast<double>(a.cost_ns) / 1e3;
    w.harness_cost_us[1] = static_cast<double>(b.cost_ns) / 1e3;
    w.segments = segments_between(a.segments, b.segments);
    account_foreign(w, a, b, w.cpu_us);
    if (a.tcp_ext.ok && b.tcp_ext.ok) {
        w.kernel.tcp_ext_ok = true;
        for (size_t i = 0; i < kTcpExtNames.size(); ++i)
            w.kernel.tcp_ext[i] = b.tcp_ext.values[i] - a.tcp_ext.values[i];
    }
}

// The queues sampled at every tick sent inside the window.
void queues_seen(KernelQueues& k, const std::vector<Tick>& ticks, int64_t begin_ns,
                 int64_t end_ns) {
    std::map<uint64_t, double> per_listener;
    double depth_sum = 0;
    for (const auto& t : ticks) {
        if (t.sent_ns < begin_ns || t.sent_ns > end_ns) continue;
        if (!t.listen.empty()) {
            ++k.samples;
            for (const auto& l : t.listen) {
                const double depth = static_cast<double>(l.depth);
                depth_sum += depth;
                k.depth_max = std::max(k.depth_max, depth);
                k.backlog = std::max(k.backlog, l.backlog);
                per_listener[l.cookie] = std::max(per_listener[l.cookie], depth);
            }
        }
        if (!t.segments.empty()) {
            double unread = 0, unsent = 0;
            for (const auto& [cookie, s] : t.segments) {
                unread += s.unread;
                unsent += s.unsent;
            }
            k.unread_max = std::max(k.unread_max, unread);
            k.unsent_max = std::max(k.unsent_max, unsent);
        }
    }
    if (k.samples > 0) k.depth_mean = depth_sum / k.samples;
    for (const auto& [cookie, depth] : per_listener) k.listener_max.push_back(depth);
}

void threads_seen(WindowAccount& w, const std::vector<Tick>& ticks, int64_t begin_ns,
                  int64_t end_ns) {
    for (const auto& t : ticks)
        if (t.sent_ns >= begin_ns && t.sent_ns <= end_ns && t.proc.ok)
            w.threads_max = std::max(w.threads_max, t.proc.threads);
}

}  // namespace

std::vector<ServerSnapshot> parse_snapshots(const std::string& text) {
    std::vector<ServerSnapshot> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        try {
            Json j = Json::parse(line);
            ServerSnapshot s;
            s.seq = j.at("seq").as_int();
            s.t_ns = j.at("t_ns").as_int();
            s.cpu_us = number(j, "utime_us") + number(j, "stime_us");
            s.vcsw = number(j, "nvcsw");
            s.ivcsw = number(j, "nivcsw");
            s.maxrss_kb = number(j, "maxrss_kb");
            s.threads_now = number(j, "threads_now");
            s.requests = number(j, "requests");
            s.accepted = number(j, "accepted");
            if (const Json* sc = j.find("syscalls"); sc && sc->is_object())
                for (const auto& [kind, n] : sc->as_object())
                    if (n.is_number()) s.syscalls[kind] = n.as_double();
            if (const Json* pt = j.find("per_thread"); pt && pt->is_array())
                for (const auto& t : pt->as_array())
                    s.per_thread.push_back({t.at("id").as_int(), t.at("role").as_string(),
                                            number(t, "requests"), number(t, "accepted")});
            out.push_back(std::move(s));
        } catch (const std::exception&) {
            // a line cut short: the others still count
        }
    }
    std::sort(out.begin(), out.end(),
              [](const ServerSnapshot& a, const ServerSnapshot& b) { return a.t_ns < b.t_ns; });
    return out;
}

WindowAccount account_window(int64_t begin_ns, int64_t end_ns, const std::vector<Tick>& ticks,
                             const std::vector<ServerSnapshot>& snapshots) {
    WindowAccount w;
    const ServerSnapshot* first = nullptr;
    const ServerSnapshot* last = nullptr;
    for (const auto& s : snapshots) {
        if (s.t_ns < begin_ns || s.t_ns > end_ns) continue;
        if (!first) first = &s;
        last = &s;
    }
    if (first && last != first) {
        const Tick* a = tick_before(ticks, first->t_ns);
        const Tick* b = tick_before(ticks, last->t_ns);
        w.ok = true;
        w.source = "server-snapshot";
        w.seconds = static_cast<double>(last->t_ns - first->t_ns) / 1e9;
        w.cpu_us = last->cpu_us - first->cpu_us;
        w.vcsw = last->vcsw - first->vcsw;
        w.ivcsw = last->ivcsw - first->ivcsw;
        w.requests = last->requests - first->requests;
        w.accepted = last->accepted - first->accepted;
        // A kind the first snapshot lacks is not differenced from zero: the
        // server counts all its kinds from the start, or none.
        for (const auto& [kind, n] : last->syscalls)
            if (auto it = first->syscalls.find(kind); it != first->syscalls.end())
                w.syscalls[kind] = n - it->second;
        w.threads_max = static_cast<uint64_t>(std::max(first->threads_now, last->threads_now));
        for (const auto& t : last->per_thread) {
            ThreadDelta d{t.id, t.role, t.requests, t.accepted, t.accepted};
            for (const auto& t0 : first->per_thread)
                if (t0.id == t.id) {
                    d.requests -= t0.requests;
                    d.accepted -= t0.accepted;
                }
            w.per_thread.push_back(d);
        }
        if (a && b) {
            w.snapshot_delay_us[0] = static_cast<double>(first->t_ns - a->sent_ns) / 1e3;
            w.snapshot_delay_us[1] = static_cast<double>(last->t_ns - b->sent_ns) / 1e3;
            edge_readings(w, *a, *b);
        }
        threads_seen(w, ticks, begin_ns, end_ns);
        queues_seen(w.kernel, ticks, begin_ns, end_ns);
        return w;
    }

    // No snapshots: the server's process ticks from /proc/<pid>/stat.
    const Tick* a = nullptr;
    const Tick* b = nullptr;
    for (const auto& t : ticks) {
        if (t.sent_ns < begin_ns || t.sent_ns + t.cost_ns > end_ns || !t.proc.ok) continue;
        if (!a) a = &t;
        b = &t;
    }
    if (!a || b == a) return w;
    w.ok = true;
    w.source = "proc-stat";
    w.seconds = static_cast<double>(b->sent_ns - a->sent_ns) / 1e9;
    w.cpu_us = static_cast<double>(b->proc.cpu_ticks - a->proc.cpu_ticks) * tick_us();
    // An external server (a process group): its cgroup's CPU, exact and every
    // process's, and its threads' context switches when both edges read them.
    if (b->proc.processes > 0 && a->server_cgroup_us >= 0 && b->server_cgroup_us >= 0) {
        w.source = "cgroup";
        w.cpu_us = b->server_cgroup_us - a->server_cgroup_us;
    }
    // (A thread that exited in between takes its switches with it: then unknown.)
    if (a->proc.vcsw >= 0 && b->proc.vcsw >= a->proc.vcsw) {
        w.vcsw = b->proc.vcsw - a->proc.vcsw;
        w.ivcsw = b->proc.ivcsw - a->proc.ivcsw;
    }
    edge_readings(w, *a, *b);
    threads_seen(w, ticks, begin_ns, end_ns);
    queues_seen(w.kernel, ticks, begin_ns, end_ns);
    return w;
}

std::vector<double> fairness_values(const std::vector<ThreadDelta>& threads, bool accepts) {
    auto value = [&](const ThreadDelta& t) { return accepts ? t.accepted_total : t.requests; };
    std::vector<std::string> roles;
    for (const auto& t : threads)
        if (value(t) > 0) roles.push_back(t.role);
    std::vector<double> out;
    for (const auto& t : threads)
        if (std::find(roles.begin(), roles.end(), t.role) != roles.end()) out.push_back(value(t));
    if (out.size() < 2) out.clear();
    return out;
}

}  // namespace pb::bench
