// The placement rule (bench/placement.hpp) on fixture sysfs trees written here:
// 4, 16 and 64 CPUs, with and without SMT, on one and two NUMA nodes, with the
// two sibling numberings in use (Intel: i and i + cores; AMD: 2i and 2i + 1).
// Each topology is checked against the rule's properties, computed from the
// fixture's own truth rather than from what the reader made of it.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "patterns.hpp"
#include "placement.hpp"
#include "server_child.hpp"

namespace pbb = pb::bench;
namespace fs = std::filesystem;

namespace {

struct Shape {
    int cores = 2;
    int threads_per_core = 1;
    int nodes = 1;
    bool adjacent_siblings = false;  // AMD numbering: a core's threads are 2i, 2i+1
    bool new_names = true;           // core_cpus_list (newer kernels) or thread_siblings_list
};

// A fixture tree: cpu/online, cpu/cpuN/topology/*_list, node/nodeK/cpulist,
// and the truth the checks use.
struct Fixture {
    fs::path root;
    std::map<int, int> core_of;  // cpu -> physical core index
    std::map<int, int> node_of;  // cpu -> node
    pbb::SysfsRoots roots() const { return {(root / "cpu").string(), (root / "node").string()}; }
    std::vector<int> all() const {
        std::vector<int> out;
        for (const auto& [cpu, core] : core_of) out.push_back(cpu);
        return out;
    }
    ~Fixture() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
};

void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text << "\n";
}

std::unique_ptr<Fixture> make_fixture(const Shape& s) {
    auto f = std::make_unique<Fixture>();
    std::string dir = (fs::temp_directory_path() / "pb-sysfs-XXXXXX").string();
    REQUIRE(::mkdtemp(dir.data()) != nullptr);
    f->root = dir;
    const int n = s.cores * s.threads_per_core;
    std::map<int, std::vector<int>> cpus_of_core;
    for (int core = 0; core < s.cores; ++core)
        for (int t = 0; t < s.threads_per_core; ++t) {
            const int cpu =
                s.adjacent_siblings ? core * s.threads_per_core + t : t * s.cores + core;
            cpus_of_core[core].push_back(cpu);
            f->core_of[cpu] = core;
            f->node_of[cpu] = core * s.nodes / s.cores;  // contiguous halves of the cores
        }
    write(f->root / "cpu" / "online", fmt::format("0-{}", n - 1));
    for (auto& [core, cpus] : cpus_of_core) {
        std::sort(cpus.begin(), cpus.end());
        for (int cpu : cpus)
            write(f->root / "cpu" / fmt::format("cpu{}", cpu) / "topology" /
                      (s.new_names ? "core_cpus_list" : "thread_siblings_list"),
                  pbb::format_cpu_list(cpus));
    }
    std::map<int, std::vector<int>> node_cpus;
    for (const auto& [cpu, node] : f->node_of) node_cpus[node].push_back(cpu);
    for (const auto& [node, cpus] : node_cpus)
        write(f->root / "node" / fmt::format("node{}", node) / "cpulist",
              pbb::format_cpu_list(cpus));
    write(f->root / "node" / "online", fmt::format("0-{}", s.nodes - 1));  // not a node dir
    return f;
}

bool has(const std::vector<int>& v, int x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

// The rule's properties for a placement over `allowed` of fixture `f`.
void check_rule(const Fixture& f, const std::vector<int>& allowed, const pbb::Placement& p) {
    INFO("server " << pbb::format_cpu_list(p.server_cpus) << ", client "
                   << pbb::format_cpu_list(p.client_cpus) << ": " << p.reason);
    REQUIRE_FALSE(p.server_cpus.empty());
    REQUIRE_FALSE(p.client_cpus.empty());
    // Only CPUs the process may use; the two sets disjoint.
    for (int c : p.server_cpus) CHECK(has(allowed, c));
    for (int c : p.client_cpus) CHECK(has(allowed, c));
    for (int c : p.client_cpus) CHECK_FALSE(has(p.server_cpus, c));
    // The generator never on an SMT sibling of a server CPU.
    std::set<int> server_cores;
    for (int c : p.server_cpus) server_cores.insert(f.core_of.at(c));
    for (int c : p.client_cpus) CHECK(server_cores.count(f.core_of.at(c)) == 0);
    // Cores before siblings: one server CPU per physical core.
    CHECK(server_cores.size() == p.server_cpus.size());
    // The server on one NUMA node.
    std::set<int> server_nodes;
    for (int c : p.server_cpus) server_nodes.insert(f.node_of.at(c));
    CHECK(server_nodes.size() == 1);
    // Half the usable physical cores (at least one), as far as one node holds them.
    std::set<int> cores;
    std::map<int, std::set<int>> cores_on_node;
    for (int c : allowed) {
        cores.insert(f.core_of.at(c));
        cores_on_node[f.node_of.at(c)].insert(f.core_of.at(c));
    }
    size_t biggest = 0;
    for (const auto& [node, set] : cores_on_node) biggest = std::max(biggest, set.size());
    CHECK(p.server_cpus.size() == std::min(std::max<size_t>(1, cores.size() / 2), biggest));
    // Nothing wasted but the server's siblings: every other usable CPU loads.
    for (int c : allowed)
        if (!has(p.server_cpus, c) && server_cores.count(f.core_of.at(c)) == 0)
            CHECK(has(p.client_cpus, c));
    // One loop per server CPU, two workers per server CPU, above the 2-CPU floors.
    CHECK(p.loop_threads == std::max<unsigned>(2, static_cast<unsigned>(p.server_cpus.size())));
    CHECK(p.worker_threads ==
          std::max<unsigned>(8, 2 * static_cast<unsigned>(p.server_cpus.size())));
    CHECK(p.reason.find(pbb::format_cpu_list(p.server_cpus)) != std::string::npos);
}

}  // namespace

TEST_CASE("placement follows the rule on every fixture topology", "[bench][placement]") {
    struct Named {
        const char* name;
        Shape shape;
    };
    const Named shapes[] = {
        {"4 CPUs, no SMT, 1 node", {4, 1, 1}},
        {"4 CPUs, SMT, 1 node", {2, 2, 1}},
        {"4 CPUs, SMT adjacent, 1 node", {2, 2, 1, true}},
        {"16 CPUs, no SMT, 1 node", {16, 1, 1}},
        {"16 CPUs, SMT, 1 node", {8, 2, 1}},
        {"16 CPUs, SMT, 2 nodes", {8, 2, 2}},
        {"16 CPUs, no SMT, 2 nodes, old names", {16, 1, 2, false, false}},
        {"64 CPUs, no SMT, 1 node", {64, 1, 1}},
        {"64 CPUs, SMT, 1 node", {32, 2, 1}},
        {"64 CPUs, SMT, 2 nodes", {32, 2, 2}},
        {"64 CPUs, SMT adjacent, 2 nodes", {32, 2, 2, true}},
        {"64 CPUs, no SMT, 2 nodes", {64, 1, 2}},
    };
    for (const auto& [name, shape] : shapes) {
        SECTION(name) {
            auto f = make_fixture(shape);
            const auto topology = pbb::read_topology(f->all(), f->roots());
            CHECK(topology.from_sysfs);
            CHECK(topology.physical_cores() == shape.cores);
            CHECK(topology.smt() == (shape.threads_per_core > 1));
            CHECK(topology.nodes() == shape.nodes);
            check_rule(*f, f->all(), pbb::place(topology));
        }
    }
}

TEST_CASE("placement uses only the CPUs of the affinity mask", "[bench][placement]") {
    auto f = make_fixture({8, 2, 2});  // 16 CPUs: cores 0-3 on node 0, 4-7 on node 1
    // Node 0 gets only one core's two threads, node 1 all its four cores: the
    // server goes where the cores are.
    const std::vector<int> allowed{0, 8, 4, 5, 6, 7, 12, 13, 14, 15};
    std::vector<int> sorted = allowed;
    std::sort(sorted.begin(), sorted.end());
    const auto topology = pbb::read_topology(allowed, f->roots());
    CHECK(topology.physical_cores() == 5);
    const auto p = pbb::place(topology);
    check_rule(*f, sorted, p);
    CHECK(p.server_cpus == std::vector<int>{6, 7});
    for (int c : p.server_cpus) CHECK(f->node_of.at(c) == 1);
}

TEST_CASE("an offline CPU is never placed", "[bench][placement]") {
    auto f = make_fixture({4, 1, 1});
    write(f->root / "cpu" / "online", "0-2");
    const auto topology = pbb::read_topology(f->all(), f->roots());
    CHECK(topology.cpus.size() == 3);
    const auto p = pbb::place(topology);
    CHECK_FALSE(has(p.server_cpus, 3));
    CHECK_FALSE(has(p.client_cpus, 3));
}

TEST_CASE("1 and 2 CPUs keep the reference placement", "[bench][placement]") {
    auto f = make_fixture({2, 1, 1});
    const auto two = pbb::place(pbb::read_topology({0, 1}, f->roots()));
    CHECK(two.client_cpus == std::vector<int>{0});
    CHECK(two.server_cpus == std::vector<int>{1});
    CHECK(two.loop_threads == 2);
    CHECK(two.worker_threads == 8);
    CHECK(two.reason.rfind("2 CPUs: the server gets CPU(s) 1 to itself", 0) == 0);
    const auto one = pbb::place(pbb::read_topology({1}, f->roots()));
    CHECK(one.client_cpus == std::vector<int>{1});
    CHECK(one.server_cpus == std::vector<int>{1});
    CHECK(one.loop_threads == 2);
    CHECK(one.worker_threads == 8);
    // Two SMT siblings of one core: the same split, and the reason says so.
    auto smt = make_fixture({1, 2, 1});
    const auto siblings = pbb::place(pbb::read_topology({0, 1}, smt->roots()));
    CHECK(siblings.server_cpus == std::vector<int>{1});
    CHECK(siblings.reason.find("SMT siblings of one core") != std::string::npos);
}

TEST_CASE("without sysfs every CPU is a core of its own", "[bench][placement]") {
    const auto t =
        pbb::read_topology({0, 1, 2, 3, 4, 5}, {"/nonexistent/cpu", "/nonexistent/node"});
    CHECK_FALSE(t.from_sysfs);
    CHECK(t.physical_cores() == 6);
    const auto p = pbb::place(t);
    CHECK(p.server_cpus == std::vector<int>{3, 4, 5});
    CHECK(p.client_cpus == std::vector<int>{0, 1, 2});
    CHECK(p.reason.find("unreadable") != std::string::npos);
}

TEST_CASE("three or more CPUs on one core share it, and say so", "[bench][placement]") {
    auto f = make_fixture({1, 4, 1});
    const auto p = pbb::place(pbb::read_topology({0, 1, 2, 3}, f->roots()));
    CHECK(p.client_cpus == std::vector<int>{0});
    CHECK(p.server_cpus == std::vector<int>{1, 2, 3});
    CHECK(p.reason.find("one physical core") != std::string::npos);
}

TEST_CASE("the scaling profile doubles the server's CPUs up to the placement's",
          "[bench][placement]") {
    auto counts = [](size_t max) {
        std::map<std::string, std::vector<unsigned>> per_series;
        for (const auto& c : pbb::scaling_cases(max)) {
            CHECK(c.kind == pbb::Kind::kScaling);
            CHECK(c.name().rfind("scaling/" + c.pattern + "/" + c.workload + "/cpus", 0) == 0);
            CHECK(c.connections == (c.workload == "cpu" ? 64 : 256));
            per_series[c.pattern + "/" + c.workload].push_back(c.server_cpus);
        }
        return per_series;
    };
    auto two_cpus = counts(1);  // this machine: one point per pattern and workload
    size_t concurrent = 0;
    for (const auto& p : pb::kPatterns) concurrent += pb::serves_concurrently(p) ? 1 : 0;
    CHECK(two_cpus.size() == concurrent * 3);
    for (const auto& [series, points] : two_cpus) CHECK(points == std::vector<unsigned>{1});
    for (const auto& [series, points] : counts(8))
        CHECK(points == std::vector<unsigned>{1, 2, 4, 8});
    for (const auto& [series, points] : counts(6))
        CHECK(points == std::vector<unsigned>{1, 2, 4, 6});
    // A scaling case's server: the first N server CPUs, one loop on each.
    pbb::Placement p;
    p.server_cpus = {4, 5, 6, 7};
    p.loop_threads = 4;
    auto two = pbb::first_server_cpus(p, 2);
    CHECK(two.server_cpus == std::vector<int>{4, 5});
    CHECK(two.loop_threads == 2);
    CHECK(two.worker_threads == 8);
    CHECK(pbb::first_server_cpus(p, 1).loop_threads == 1);
    CHECK(pbb::first_server_cpus(p, 9).server_cpus.size() == 4);
}
