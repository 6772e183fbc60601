#include "proc_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "files.hpp"

namespace pb::bench {
namespace {

uint64_t field(const std::string& status, const char* key) {
    auto at = status.find(key);
    if (at == std::string::npos) return 0;
    return std::strtoull(status.c_str() + at + std::strlen(key), nullptr, 10);
}

}  // namespace

double tick_us() {
    static const double us = 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
    return us;
}

ProcReading read_proc(pid_t pid) {
    ProcReading r;
    std::string base = "/proc/" + std::to_string(pid);
    std::string stat = slurp(base + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) return r;
    // After "pid (comm) ": state is field 3, utime 14, stime 15.
    std::istringstream in(stat.substr(paren + 2));
    std::string item;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> item; ++i) {
        if (i == 14) utime = std::strtoull(item.c_str(), nullptr, 10);
        if (i == 15) stime = std::strtoull(item.c_str(), nullptr, 10);
    }
    r.cpu_ticks = utime + stime;
    std::string status = slurp(base + "/status");
    r.threads = field(status, "\nThreads:");
    r.hwm_kb = field(status, "\nVmHWM:");
    r.ok = !status.empty();
    return r;
}

namespace {

// Calls fn(pid, fields) for every process in /proc, `fields` reading its stat
// line from the field after "(comm)" (state, ppid, pgrp, ...).
template <typename Fn>
void for_each_process(Fn fn) {
    DIR* dir = ::opendir("/proc");
    if (!dir) return;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        std::string stat = slurp(std::string("/proc/") + e->d_name + "/stat");
        auto paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream in(stat.substr(paren + 2));
        fn(static_cast<pid_t>(std::atoi(e->d_name)), in);
    }
    ::closedir(dir);
}

// The processes of group `pgid`: /proc/<pid>/stat field 5 is the process group.
std::vector<pid_t> group_members(pid_t pgid, const std::string& cgroup_procs) {
    std::vector<pid_t> out;
    if (!cgroup_procs.empty()) {
        std::istringstream in(slurp(cgroup_procs));
        for (pid_t p; in >> p;) out.push_back(p);
        if (!out.empty()) return out;
    }
    for_each_process([&](pid_t pid, std::istringstream& after_comm) {
        std::string state, ppid, pgrp;
        if (after_comm >> state >> ppid >> pgrp && std::atoi(pgrp.c_str()) == pgid)
            out.push_back(pid);
    });
    return out;
}

// Adds the context switches of every thread of `pid`; false past `budget` threads.
bool add_switches(pid_t pid, size_t& budget, ProcReading& r) {
    std::string base = "/proc/" + std::to_string(pid) + "/task";
    DIR* dir = ::opendir(base.c_str());
    if (!dir) return true;  // gone meanwhile
    bool ok = true;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        if (budget == 0) {
            ok = false;
            break;
        }
        --budget;
        std::string status = slurp(base + "/" + e->d_name + "/status");
        r.vcsw += static_cast<double>(field(status, "\nvoluntary_ctxt_switches:"));
        r.ivcsw += static_cast<double>(field(status, "\nnonvoluntary_ctxt_switches:"));
    }
    ::closedir(dir);
    return ok;
}

}  // namespace

ProcReading read_group(pid_t pgid, const std::string& cgroup_procs, bool switches) {
    ProcReading sum;
    size_t budget = kGroupSwitchThreads;
    bool switches_ok = switches;
    if (switches) sum.vcsw = sum.ivcsw = 0;
    for (pid_t pid : group_members(pgid, cgroup_procs)) {
        ProcReading r = read_proc(pid);
        if (!r.ok) continue;  // exited since it was listed
        sum.ok = true;
        ++sum.processes;
        sum.cpu_ticks += r.cpu_ticks;
        sum.threads += r.threads;
        sum.hwm_kb += r.hwm_kb;
        if (switches_ok) switches_ok = add_switches(pid, budget, sum);
    }
    if (!switches_ok) sum.vcsw = sum.ivcsw = -1;
    return sum;
}

CpuTimes read_cpu_times() {
    CpuTimes t;
    std::string text = slurp("/proc/stat");
    if (text.rfind("cpu ", 0) != 0) return t;
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    std::istringstream in(text.substr(4, text.find('\n') - 4));
    uint64_t v[8] = {};
    for (auto& x : v)
        if (!(in >> x)) return t;
    const double tick = tick_us();
    t.irq_us = static_cast<double>(v[5] + v[6]) * tick;
    t.busy_us = static_cast<double>(v[0] + v[1] + v[2]) * tick + t.irq_us;
    t.busy_source = "proc-stat";
    t.stat_busy_us = t.busy_us;
    t.steal_us = static_cast<double>(v[7]) * tick;
    long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    t.cpus = online > 0 ? static_cast<unsigned>(online) : 0;
    t.ok = true;
    // The precise figure, where the root cpuacct cgroup is mounted (cgroup v1).
    for (const char* path :
         {"/sys/fs/cgroup/cpuacct/cpuacct.usage", "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage"}) {
        std::string ns = slurp(path);
        if (ns.empty()) continue;
        t.busy_us = static_cast<double>(std::strtoull(ns.c_str(), nullptr, 10)) / 1e3;
        t.busy_source = "cpuacct";
        break;
    }
    return t;
}

double self_runqueue_wait_us() {
    DIR* dir = ::opendir("/proc/self/task");
    if (!dir) return 0;
    double total_ns = 0;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        std::istringstream in(slurp(std::string("/proc/self/task/") + e->d_name + "/schedstat"));
        uint64_t on_cpu = 0, waiting = 0;
        if (in >> on_cpu >> waiting) total_ns += static_cast<double>(waiting);
    }
    ::closedir(dir);
    return total_ns / 1e3;
}

double self_cpu_us() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::vector<pid_t> kernel_thread_pids() {
    constexpr unsigned long kPfKthread = 0x00200000;  // include/linux/sched.h
    std::vector<pid_t> out;
    for_each_process([&](pid_t pid, std::istringstream& after_comm) {
        // After "pid (comm) ": flags is field 9.
        std::string item;
        unsigned long flags = 0;
        for (int i = 3; i <= 9 && after_comm >> item; ++i)
            if (i == 9) flags = std::strtoul(item.c_str(), nullptr, 10);
        if (flags & kPfKthread) out.push_back(pid);
    });
    return out;
}

double kernel_threads_cpu_us(const std::vector<pid_t>& pids) {
    double total_ns = 0;
    bool any = false;
    for (pid_t pid : pids) {
        std::string text = slurp("/proc/" + std::to_string(pid) + "/schedstat");
        if (text.empty()) continue;
        total_ns += std::strtod(text.c_str(), nullptr);
        any = true;
    }
    return any ? total_ns / 1e3 : -1;
}

TcpExt read_tcp_ext() {
    TcpExt t;
    std::istringstream in(slurp("/proc/net/netstat"));
    std::string names, values;
    // Pairs of lines: "TcpExt: <names>" then "TcpExt: <values>".
    while (std::getline(in, names) && std::getline(in, values)) {
        if (names.rfind("TcpExt:", 0) != 0) continue;
        std::istringstream n(names), v(values);
        std::string name, value;
        n >> name;
        v >> value;
        while (n >> name && v >> value)
            for (size_t i = 0; i < kTcpExtNames.size(); ++i)
                if (name == kTcpExtNames[i]) t.values[i] = std::strtoll(value.c_str(), nullptr, 10);
        t.ok = true;
    }
    return t;
}

}  // namespace pb::bench
