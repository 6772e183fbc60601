#include "placement.hpp"

#include <sched.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "server_child.hpp"

namespace pb::bench {

namespace fs = std::filesystem;

namespace {

// Loops and workers per server CPU, and their floors: the floors are what the
// 2-CPU reference results ran with (one server CPU), so they stay.
constexpr unsigned kMinLoops = 2;
constexpr unsigned kWorkersPerCpu = 2;
constexpr unsigned kMinWorkers = 8;

// A sysfs CPU list ("0-3,8"), or nothing when the file is missing or empty
// (a memory-only NUMA node has an empty cpulist).
std::optional<std::vector<int>> read_cpu_list(const fs::path& path) {
    std::ifstream in(path);
    std::string text;
    if (!in || !std::getline(in, text)) return std::nullopt;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.empty()) return std::nullopt;
    try {
        return parse_cpu_list(text);
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
}

bool contains(const std::vector<int>& v, int x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

// node of every CPU listed under node_root/node<N>/cpulist.
std::map<int, int> read_nodes(const fs::path& node_root) {
    std::map<int, int> node_of;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(node_root, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("node", 0) != 0 || name.size() == 4) continue;
        if (!std::all_of(name.begin() + 4, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        const int node = std::stoi(name.substr(4));
        if (auto cpus = read_cpu_list(entry.path() / "cpulist"))
            for (int c : *cpus) node_of[c] = node;
    }
    return node_of;
}

std::string describe(const Topology& t) {
    const int cores = t.physical_cores();
    std::string smt =
        t.smt() ? fmt::format("SMT: {} hardware threads on {} physical cores", t.cpus.size(), cores)
                : fmt::format("{} physical cores, no SMT", cores);
    if (!t.from_sysfs) smt = "topology unreadable from sysfs, each CPU taken as a core";
    return fmt::format("{}; {} NUMA node{}", smt, t.nodes(), t.nodes() == 1 ? "" : "s");
}

std::vector<int> cpus_of(const Topology& t) {
    std::vector<int> out;
    for (const auto& c : t.cpus) out.push_back(c.cpu);
    return out;
}

// Fewer than two physical cores among three or more CPUs: every CPU is an SMT
// sibling of every other, so the generator cannot avoid the server's core.
Placement place_on_one_core(const Topology& t) {
    Placement p;
    std::vector<int> all = cpus_of(t);
    p.client_cpus = {all.front()};
    p.server_cpus.assign(all.begin() + 1, all.end());
    p.loop_threads = loops_for(p.server_cpus.size());
    p.worker_threads = workers_for(p.server_cpus.size());
    p.reason = fmt::format(
        "{} CPUs on one physical core ({}): the generator gets CPU {} and the server CPU(s) {}; "
        "they are SMT siblings and share the core's execution units, so every number includes "
        "the generator's competition for them",
        all.size(), describe(t), all.front(), format_cpu_list(p.server_cpus));
    return p;
}

}  // namespace

unsigned loops_for(size_t server_cpus) {
    return std::max<unsigned>(kMinLoops, static_cast<unsigned>(server_cpus));
}

unsigned workers_for(size_t server_cpus) {
    return std::max<unsigned>(kMinWorkers, kWorkersPerCpu * static_cast<unsigned>(server_cpus));
}

int Topology::physical_cores() const {
    std::set<int> cores;
    for (const auto& c : cpus) cores.insert(c.core());
    return static_cast<int>(cores.size());
}

int Topology::nodes() const {
    std::set<int> nodes;
    for (const auto& c : cpus) nodes.insert(c.node);
    return std::max<int>(1, static_cast<int>(nodes.size()));
}

bool Topology::smt() const {
    return std::any_of(cpus.begin(), cpus.end(),
                       [](const CpuInfo& c) { return c.siblings.size() > 1; });
}

Topology read_topology(const std::vector<int>& allowed, const SysfsRoots& roots) {
    Topology t;
    const fs::path cpu_root(roots.cpu);
    std::vector<int> usable = allowed;
    if (auto online = read_cpu_list(cpu_root / "online")) {
        usable.clear();
        for (int c : allowed)
            if (contains(*online, c)) usable.push_back(c);
        if (usable.empty()) usable = allowed;  // a mask the online list disowns: trust the mask
    }
    std::sort(usable.begin(), usable.end());
    const std::map<int, int> node_of = read_nodes(roots.node);
    bool any_topology = false;
    for (int c : usable) {
        CpuInfo info;
        info.cpu = c;
        const fs::path topo = cpu_root / fmt::format("cpu{}", c) / "topology";
        // core_cpus_list is the newer name of thread_siblings_list (Linux 5.x).
        auto siblings = read_cpu_list(topo / "core_cpus_list");
        if (!siblings) siblings = read_cpu_list(topo / "thread_siblings_list");
        if (siblings) {
            any_topology = true;
            for (int s : *siblings)
                if (contains(usable, s)) info.siblings.push_back(s);
        }
        if (!contains(info.siblings, c)) info.siblings.push_back(c);
        std::sort(info.siblings.begin(), info.siblings.end());
        if (auto it = node_of.find(c); it != node_of.end()) info.node = it->second;
        t.cpus.push_back(std::move(info));
    }
    t.from_sysfs = any_topology;
    return t;
}

Placement place(const Topology& t) {
    Placement p;
    std::vector<int> all = cpus_of(t);
    if (all.empty()) all = {0};
    if (all.size() == 1) {
        p.server_cpus = p.client_cpus = all;
        p.loop_threads = loops_for(1);
        p.worker_threads = workers_for(1);
        p.reason =
            "one CPU: the server and the load generator share it, so every number includes the "
            "generator's own cost";
        return p;
    }
    if (all.size() == 2) {
        // The reference results ran this way: keep it exactly.
        p.client_cpus = {all[0]};
        p.server_cpus = {all[1]};
        p.loop_threads = loops_for(1);
        p.worker_threads = workers_for(1);
        const bool siblings = t.physical_cores() == 1 && t.from_sysfs;
        p.reason = fmt::format(
            "2 CPUs: the server gets CPU(s) {} to itself and the load generator CPU(s) {}, so the "
            "generator never takes the server's CPU and every pattern has the same CPU budget; the "
            "event-loop patterns run {} loops and worker-queue {} workers on it, so what differs "
            "is how each pattern spreads and hands off work, not how much hardware it gets ({}{})",
            format_cpu_list(p.server_cpus), format_cpu_list(p.client_cpus), p.loop_threads,
            p.worker_threads, describe(t),
            siblings ? "; the two are SMT siblings of one core, which they share" : "");
        return p;
    }
    if (t.physical_cores() < 2) return place_on_one_core(t);

    // Physical cores (named by their first usable thread), grouped by node.
    std::map<int, std::vector<int>> cores_on_node;
    for (const auto& c : t.cpus)
        if (c.cpu == c.core()) cores_on_node[c.node].push_back(c.cpu);
    int node = cores_on_node.begin()->first;
    for (const auto& [n, cores] : cores_on_node)
        if (cores.size() > cores_on_node[node].size()) node = n;
    const size_t half = std::max<size_t>(1, static_cast<size_t>(t.physical_cores()) / 2);
    const size_t server_n = std::min(half, cores_on_node[node].size());
    // The node's last cores, as on 2 CPUs: CPU 0, where the kernel's own
    // housekeeping tends to land, stays with the generator when it can.
    p.server_cpus.assign(cores_on_node[node].end() - static_cast<long>(server_n),
                         cores_on_node[node].end());
    std::vector<int> idle;
    for (const auto& c : t.cpus) {
        if (contains(p.server_cpus, c.core())) {
            if (!contains(p.server_cpus, c.cpu)) idle.push_back(c.cpu);
        } else {
            p.client_cpus.push_back(c.cpu);
        }
    }
    p.loop_threads = loops_for(p.server_cpus.size());
    p.worker_threads = workers_for(p.server_cpus.size());
    std::string idle_text = idle.empty()
                                ? std::string()
                                : fmt::format(
                                      "; their SMT siblings {} stay idle, so the generator never "
                                      "shares a core with the server",
                                      format_cpu_list(idle));
    p.reason = fmt::format(
        "{} CPUs ({}): the server gets CPU(s) {}, one hardware thread on each of {} physical "
        "core(s) of NUMA node {} (half the cores, on one node so its memory is local){}; the load "
        "generator runs one thread on each of CPU(s) {} (every other core), never on the "
        "server's cores; the event-loop patterns run {} loops (one per server CPU) and "
        "worker-queue {} workers",
        all.size(), describe(t), format_cpu_list(p.server_cpus), server_n, node, idle_text,
        format_cpu_list(p.client_cpus), p.loop_threads, p.worker_threads);
    return p;
}

Placement first_server_cpus(const Placement& p, size_t n) {
    Placement out = p;
    if (p.server_cpus.empty()) return out;
    n = std::clamp<size_t>(n, 1, p.server_cpus.size());
    out.server_cpus.resize(n);
    // One loop per CPU, without the 2-loop floor: the curve starts from one
    // loop on one CPU, so its slope is the pattern's own.
    out.loop_threads = static_cast<unsigned>(n);
    out.worker_threads = workers_for(n);
    return out;
}

std::vector<int> affinity_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

}  // namespace pb::bench
