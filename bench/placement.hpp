// Where the server and the load generator run: the CPU topology read from sysfs
// (online CPUs, SMT siblings, NUMA nodes) and the rule that splits the CPUs the
// process may use between the two (bench/README.md "CPU placement on N CPUs").
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "case_runner.hpp"

namespace pb::bench {

// One CPU the process may use: its SMT siblings (itself included, only those
// the process may use too) and its NUMA node.
struct CpuInfo {
    int cpu = 0;
    std::vector<int> siblings;  // sorted; the first one names the physical core
    int node = 0;
    int core() const { return siblings.empty() ? cpu : siblings.front(); }
};

struct Topology {
    std::vector<CpuInfo> cpus;  // ascending by cpu
    bool from_sysfs = true;     // false: sysfs unreadable, every CPU its own core on node 0
    int physical_cores() const;
    int nodes() const;
    bool smt() const;
};

struct SysfsRoots {
    std::string cpu = "/sys/devices/system/cpu";
    std::string node = "/sys/devices/system/node";
};

// The topology of `allowed` (the process's affinity mask), as `roots` describe
// it: CPUs not online are dropped; a CPU whose files are missing counts as a core
// of its own on node 0.
Topology read_topology(const std::vector<int>& allowed, const SysfsRoots& roots = {});

// The default split (the rule is in bench/README.md):
//   1 CPU: server and generator share it;
//   2 CPUs: the generator on the first, the server on the second;
//   more: the server gets one hardware thread on each of half the physical cores
//   (at least one), the last cores of the NUMA node with the most cores; the SMT siblings of
//   the server's CPUs stay idle; the generator gets every thread of every other
//   core. Loops: one per server CPU (at least 2); workers: 2 per server CPU (at
//   least 8). The reason says what was chosen and why.
Placement place(const Topology& topology);

// --threads for the loop patterns and for worker-queue on `server_cpus` CPUs:
// one loop per CPU (at least 2), two workers per CPU (at least 8).
unsigned loops_for(size_t server_cpus);
unsigned workers_for(size_t server_cpus);

// The scaling profile's server (CaseSpec::server_cpus): the first `n` of
// `p`'s server CPUs (1 to all of them), one loop per CPU, workers_for(n).
Placement first_server_cpus(const Placement& p, size_t n);

// The CPUs this process may run on (its affinity mask), ascending.
std::vector<int> affinity_cpus();

}  // namespace pb::bench
