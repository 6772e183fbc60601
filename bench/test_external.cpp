// External servers (--external NAME=COMMAND, bench/README.md "External servers"):
// run_case() end to end against shell lines that serve, fail to start, never
// listen, or ignore SIGTERM. Each bad command must give a clear error of its own
// and leave no process behind; a good one must be accounted as a whole group.
#define CATCH_CONFIG_MAIN
#include <dirent.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <string>

#include "case_runner.hpp"
#include "cases.hpp"
#include "json.hpp"

namespace pbb = pb::bench;
using pb::loadgen::Json;
using namespace std::chrono_literals;

namespace {

pbb::RunnerOptions runner_options() {
    pbb::RunnerOptions o;
    o.server_dir = PB_SERVER_DIR;
    o.pingpong_bin = PB_PINGPONG_BIN;
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    o.placement.client_cpus = {0};
    o.placement.server_cpus = {n > 1 ? static_cast<int>(n - 1) : 0};
    o.external_start_timeout = 1s;
    o.external_stop_grace = 1s;
    return o;
}

// The quick profile's HTTP tiny case for an external server running `command`,
// with a short window.
pbb::CaseSpec external_case(const std::string& command, const std::string& workload = "tiny") {
    auto e = pbb::parse_external("ext=" + command);
    for (auto& c : pbb::external_cases(pbb::profile_cases("quick", {}), e, nullptr))
        if (c.workload == workload) {
            c.warmup = 100ms;
            c.duration = 400ms;
            return c;
        }
    FAIL("no external " << workload << " case in the quick profile");
    return {};
}

double counter(const pbb::Outcome& o, const std::string& name) {
    for (const auto& [k, v] : o.counters)
        if (k == name) return v;
    return NAN;
}

// Processes whose command line holds `token` (every test's command carries a
// token of its own, so that a leftover is found).
int processes_with(const std::string& token) {
    int n = 0;
    DIR* dir = ::opendir("/proc");
    while (dirent* e = dir ? ::readdir(dir) : nullptr) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline");
        std::string cmd((std::istreambuf_iterator<char>(f)), {});
        if (cmd.find(token) != std::string::npos) ++n;
    }
    if (dir) ::closedir(dir);
    return n;
}

std::string server_single() {
    return std::string(PB_SERVER_DIR) + "/server-single --host 127.0.0.1 --protocol http";
}

}  // namespace

TEST_CASE("an external server is accounted as its whole process group", "[external]") {
    // server-single as the external server, beside a shell loop of the same group
    // that burns CPU: the group's CPU must include the loop, and stopping the
    // case must end it.
    const std::string token = "pb-external-burner-7431";
    auto spec = external_case("sh -c 'while :; do :; done' " + token + " & exec " +
                              server_single() + " --port {port}");
    pbb::Outcome o = pbb::run_case(spec, runner_options());
    REQUIRE(o.ok);
    INFO(o.warning);
    CHECK(o.error.empty());
    CHECK(counter(o, "errors") == 0);
    CHECK(counter(o, "rps") > 100);
    const Json& doc = o.document;
    CHECK(doc.at("case").at("external").at("name").as_string() == "ext");
    CHECK(doc.at("case").at("external").at("command").as_string() == spec.external_command);
    const Json& win = doc.at("server").at("window");
    if (win.at("source").as_string() == "cgroup") {
        // The loop keeps the one server CPU busy: most of the window's CPU time is
        // the group's. server-single alone uses a fraction of that.
        CHECK(win.at("cpu_us").as_double() > 0.5 * win.at("seconds").as_double() * 1e6);
        CHECK_FALSE(std::isnan(counter(o, "vcsw_per_req")));  // every thread's, at the edges
    } else {
        WARN("no cpuacct cgroup here: accounted from /proc of the group");
        CHECK(win.at("source").as_string() == "proc-stat");
    }
    CHECK(counter(o, "cpu_us_per_req") > 0);
    CHECK(counter(o, "peak_rss_kb") > 0);
    CHECK(counter(o, "peak_threads") >= 2);          // the loop's shell and the server
    CHECK(std::isnan(counter(o, "jain_requests")));  // no stats file: fairness n/a
    CHECK(processes_with(token) == 0);
}

TEST_CASE("an external command that exits at once is a clear error", "[external]") {
    auto spec = external_case("echo 'no such server here' >&2; exit 3 # {port}");
    pbb::Outcome o = pbb::run_case(spec, runner_options());
    CHECK_FALSE(o.ok);
    INFO(o.error);
    CHECK(o.error.find("exited with status 3 before it accepted connections") != std::string::npos);
    CHECK(o.error.find("no such server here") != std::string::npos);  // its stderr
}

TEST_CASE("an external command that never listens times out with its output", "[external]") {
    const std::string token = "pb-external-silent-5519";
    auto start = std::chrono::steady_clock::now();
    // The token is in the command line of sh -c, which waits for sleep.
    auto spec = external_case("echo starting >&2; sleep 30; : " + token + " {port}");
    pbb::Outcome o = pbb::run_case(spec, runner_options());
    CHECK_FALSE(o.ok);
    INFO(o.error);
    CHECK(o.error.find("did not accept connections on 127.0.0.1:") != std::string::npos);
    CHECK(o.error.find("within 1.0 s") != std::string::npos);
    CHECK(o.error.find("starting") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(processes_with(token) == 0);
}

TEST_CASE("an external server that ignores SIGTERM is measured, killed, and an error",
          "[external]") {
    // The server serves and exits on SIGTERM; the shell beside it ignores it, so
    // the group outlives the grace time.
    const std::string token = "pb-external-stubborn-2287";
    auto spec = external_case(server_single() + " --port {port} & trap '' TERM; while :; do " +
                              "sleep 0.05; done; : " + token);
    auto start = std::chrono::steady_clock::now();
    pbb::Outcome o = pbb::run_case(spec, runner_options());
    CHECK(o.ok);  // measured
    INFO(o.error);
    CHECK(counter(o, "rps") > 100);
    CHECK(o.error.find("did not exit within 1.0 s of SIGTERM") != std::string::npos);
    CHECK(o.error.find("killed with SIGKILL") != std::string::npos);
    CHECK(o.document.at("error").as_string() == o.error);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
    CHECK(processes_with(token) == 0);
}

TEST_CASE("external cases: HTTP workloads only, the others skipped with the reason", "[external]") {
    auto e = pbb::parse_external("nginx=bench/external/nginx {port} 1");
    CHECK(e.name == "nginx");
    CHECK(e.command == "bench/external/nginx {port} 1");
    CHECK_THROWS(pbb::parse_external("single=x {port}"));  // a pattern's name
    CHECK_THROWS(pbb::parse_external("nginx=nginx"));      // no {port}
    CHECK_THROWS(pbb::parse_external("Nginx Server=x {port}"));
    std::vector<std::pair<std::string, std::string>> skipped;
    auto cases = pbb::external_cases(pbb::profile_cases("quick", {}), e, &skipped);
    std::vector<std::string> names;
    for (const auto& c : cases) {
        names.push_back(c.name());
        CHECK(c.protocol == "http");
        CHECK(c.loadgen_config().reply_bytes() == 13);  // GET /, "Hello, World!"
    }
    CHECK(names ==
          std::vector<std::string>{"matrix/nginx/http/tiny/c16", "matrix/nginx/http/churn/c16"});
    std::vector<std::string> skipped_names;
    for (const auto& [w, why] : skipped) {
        skipped_names.push_back(w);
        CHECK_FALSE(why.empty());
    }
    CHECK(skipped_names == std::vector<std::string>{"blocking-tail", "sweep/cpu"});
    // The placeholders: the port given, the server CPUs, the loop threads.
    pbb::RunnerOptions o = runner_options();
    o.placement.server_cpus = {1, 2, 3};
    o.placement.loop_threads = 3;
    pbb::CaseSpec s = cases.front();
    s.external_command = "x --port {port} --cpus {cpus} -t {threads} {port}";
    CHECK(pbb::external_command_line(s, o, 8080) == "x --port 8080 --cpus 1-3 -t 3 8080");
}
