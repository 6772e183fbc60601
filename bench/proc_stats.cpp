#include "proc_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace pb::bench {
namespace {

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    if (!f) return {};
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

uint64_t field(const std::string& status, const char* key) {
    auto at = status.find(key);
    if (at == std::string::npos) return 0;
    return std::strtoull(status.c_str() + at + std::strlen(key), nullptr, 10);
}

}  // namespace

ProcSnapshot read_proc(pid_t pid, bool per_task) {
    ProcSnapshot s;
    s.at_ns = now_ns();
    std::string base = "/proc/" + std::to_string(pid);
    std::string stat = slurp(base + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) return s;
    // After "pid (comm) ": state is field 3, utime 14, stime 15.
    std::istringstream in(stat.substr(paren + 2));
    std::string item;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> item; ++i) {
        if (i == 14) utime = std::strtoull(item.c_str(), nullptr, 10);
        if (i == 15) stime = std::strtoull(item.c_str(), nullptr, 10);
    }
    s.cpu_ticks = utime + stime;
    std::string status = slurp(base + "/status");
    s.threads = field(status, "\nThreads:");
    s.hwm_kb = field(status, "\nVmHWM:");
    s.ok = !status.empty();
    if (!per_task || !s.ok) return s;

    DIR* dir = ::opendir((base + "/task").c_str());
    if (!dir) return s;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        std::string task = base + "/task/" + e->d_name;
        std::string ts = slurp(task + "/status");
        if (ts.empty()) continue;  // exited between readdir and open
        TaskCounters c;
        c.vcsw = field(ts, "\nvoluntary_ctxt_switches:");
        c.ivcsw = field(ts, "\nnonvoluntary_ctxt_switches:");
        c.cpu_ns = std::strtoull(slurp(task + "/schedstat").c_str(), nullptr, 10);
        s.tasks[static_cast<pid_t>(std::atoi(e->d_name))] = c;
    }
    ::closedir(dir);
    return s;
}

WindowCost window_cost(const ProcSnapshot& begin, const ProcSnapshot& end) {
    WindowCost w;
    w.seconds = static_cast<double>(end.at_ns - begin.at_ns) / 1e9;
    w.same_threads =
        begin.ok && end.ok && !begin.tasks.empty() && begin.tasks.size() == end.tasks.size();
    for (auto it_b = begin.tasks.begin(), it_e = end.tasks.begin();
         w.same_threads && it_b != begin.tasks.end(); ++it_b, ++it_e)
        w.same_threads = it_b->first == it_e->first;
    if (w.same_threads) {
        // schedstat is in nanoseconds, where /proc/<pid>/stat has 10 ms ticks:
        // at a few hundred ms of CPU per window the ticks alone would be 2-5% off.
        uint64_t cpu_ns = 0;
        for (auto it_b = begin.tasks.begin(), it_e = end.tasks.begin(); it_b != begin.tasks.end();
             ++it_b, ++it_e) {
            cpu_ns += it_e->second.cpu_ns - it_b->second.cpu_ns;
            w.vcsw += static_cast<double>(it_e->second.vcsw - it_b->second.vcsw);
            w.ivcsw += static_cast<double>(it_e->second.ivcsw - it_b->second.ivcsw);
        }
        w.cpu_us = static_cast<double>(cpu_ns) / 1e3;
        if (cpu_ns > 0) return w;  // else no schedstat on this kernel: ticks below
    } else {
        w.vcsw = w.ivcsw = 0;
    }
    static const double kTickUs = 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
    w.cpu_us = static_cast<double>(end.cpu_ticks - begin.cpu_ticks) * kTickUs;
    return w;
}

}  // namespace pb::bench
