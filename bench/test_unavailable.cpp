// A pattern this machine cannot run (its server exits 69, pb::kExitUnavailable):
// patternbench leaves its cases out, measures the others, exits 0, and names the
// pattern with its reason in unavailable.json (results/README.md). Runs the real
// patternbench binary on a tiny filtered quick run: a stand-in server that says
// "not available" to --check-available, one that passes the check and exits 69
// at case start, and server-uring under PB_SIMULATE_NO_URING=1. About 5 s.
#define CATCH_CONFIG_MAIN
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "json.hpp"
#include "patterns.hpp"
#include "server_child.hpp"

namespace fs = std::filesystem;
using pb::loadgen::Json;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    return std::string((std::istreambuf_iterator<char>(f)), {});
}

struct TempDir {
    fs::path path;
    TempDir() {
        char t[] = "/tmp/pbbench-unavailable-XXXXXX";
        REQUIRE(::mkdtemp(t) != nullptr);
        path = t;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// A server directory of links to the built servers, with server-`pattern`
// replaced by the shell script `script`.
fs::path server_dir_with(const fs::path& root, const std::string& pattern,
                         const std::string& script) {
    fs::path dir = root / "servers";
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(PB_SERVER_DIR)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("server-", 0) == 0 && e.is_regular_file())
            fs::create_symlink(e.path(), dir / name);
    }
    fs::path stand_in = dir / ("server-" + pattern);
    fs::remove(stand_in);
    std::ofstream(stand_in) << "#!/bin/sh\n" << script;
    fs::permissions(stand_in, fs::perms::owner_all);
    return dir;
}

struct BenchRun {
    int status = -1;
    std::string err;  // patternbench's stderr: the console progress
    fs::path out;     // its --out-dir
    Json entry;       // run_beside_stand_in(): the stand-in's unavailable.json entry
};

// patternbench on the quick profile's frame tiny cases at 16 connections of
// `patterns` ("single|reuseport"), short windows, `env` added to its environment.
BenchRun run_patternbench(const fs::path& root, const std::string& patterns,
                          const std::string& server_dir, const std::vector<std::string>& env = {}) {
    BenchRun r;
    r.out = root / "run";
    fs::create_directories(r.out);
    const fs::path err_path = root / "stderr.txt";
    std::vector<std::string> args{PB_PATTERNBENCH_BIN,
                                  "--profile",
                                  "quick",
                                  "--duration",
                                  "200ms",
                                  "--out-dir",
                                  r.out.string(),
                                  "--benchmark_filter=^matrix/(" + patterns + ")/frame/tiny/c16/",
                                  "--benchmark_out=" + (r.out / "gbench.json").string(),
                                  "--benchmark_out_format=json"};
    if (!server_dir.empty()) args.push_back("--server-dir=" + server_dir);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_copy = env;
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (auto& e : env_copy) ::putenv(e.data());
        int null = ::open("/dev/null", O_WRONLY);
        int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (null < 0 || err < 0) ::_exit(126);
        ::dup2(null, STDOUT_FILENO);
        ::dup2(err, STDERR_FILENO);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    if (done != pid) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL("patternbench did not finish within 60 s; stderr:\n" << slurp(err_path));
    }
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.err = slurp(err_path);
    return r;
}

Json read_json(const fs::path& p) {
    INFO(p.string());
    REQUIRE(fs::exists(p));
    return Json::parse(slurp(p));
}

// The unavailable.json entry of `pattern`, if any.
std::optional<Json> unavailable_entry(const fs::path& out, const std::string& pattern) {
    Json doc = read_json(out / "unavailable.json");
    CHECK(doc.at("schema").as_string() == "patternbench.unavailable/1");
    for (const auto& p : doc.at("patterns").as_array())
        if (p.at("pattern").as_string() == pattern) return p;
    return std::nullopt;
}

// The other pattern's case was measured: its case file has requests served.
void check_measured(const fs::path& out, const std::string& pattern) {
    Json doc = read_json(out / "cases" / ("matrix-" + pattern + "-frame-tiny-c16.json"));
    CHECK(doc.at("counters").at("rps").as_double() > 0);
}

bool has_case_file(const fs::path& out, const std::string& pattern) {
    return fs::exists(out / "cases" / ("matrix-" + pattern + "-frame-tiny-c16.json"));
}

// gbench.json rows by name prefix: (name, error message or "").
std::vector<std::pair<std::string, std::string>> gbench_rows(const fs::path& out,
                                                             const std::string& prefix) {
    std::vector<std::pair<std::string, std::string>> rows;
    Json doc = read_json(out / "gbench.json");
    for (const auto& b : doc.at("benchmarks").as_array()) {
        const std::string name = b.at("name").as_string();
        if (name.rfind(prefix, 0) != 0) continue;
        const Json* msg = b.find("error_message");
        rows.emplace_back(name, msg ? msg->as_string() : "");
    }
    return rows;
}

constexpr const char* kStandInReason = "stand-in for a pattern this machine cannot run";

// Runs single beside a stand-in server-reuseport (`script`), and checks what
// both ways of being unavailable share: the run completes, single is measured,
// reuseport has no case file and is recorded with the stand-in's reason, found
// as `found`. Returns the run for the caller's own checks.
BenchRun run_beside_stand_in(const fs::path& root, const std::string& script, const char* found) {
    fs::path dir = server_dir_with(root, "reuseport", script);
    BenchRun r = run_patternbench(root, "single|reuseport", dir.string());
    INFO("stderr:\n" << r.err);
    REQUIRE(r.status == 0);
    check_measured(r.out, "single");
    CHECK_FALSE(has_case_file(r.out, "reuseport"));
    auto entry = unavailable_entry(r.out, "reuseport");
    REQUIRE(entry);
    CHECK(entry->at("reason").as_string() == kStandInReason);
    CHECK(entry->at("found").as_string() == found);
    r.entry = *entry;
    return r;
}

}  // namespace

TEST_CASE("the reason is read from the server's one line", "[unavailable]") {
    namespace pbb = pb::bench;
    CHECK(pbb::unavailable_reason("server-uring: not available on this machine: no io_uring\n") ==
          "no io_uring");
    CHECK(pbb::unavailable_reason(
              "warning\nserver-x: not available on this machine:  why \nmore") == "why");
    CHECK(pbb::unavailable_reason("  something else  \n") == "something else");
    CHECK(pbb::unavailable_reason("").find("69") != std::string::npos);
}

TEST_CASE("asking --check-available: 69 is a reason, 0 and other failures are not",
          "[unavailable]") {
    namespace pbb = pb::bench;
    TempDir tmp;
    auto script = [&](const std::string& name, const std::string& body) {
        fs::path p = tmp.path / name;
        std::ofstream(p) << "#!/bin/sh\n" << body;
        fs::permissions(p, fs::perms::owner_all);
        return p.string();
    };
    CHECK(pbb::check_unavailable(script("no",
                                        "echo 'server-no: not available on this machine: "
                                        "because' >&2\nexit 69\n")) == "because");
    CHECK_FALSE(pbb::check_unavailable(script("yes", "echo available\nexit 0\n")));
    CHECK_FALSE(pbb::check_unavailable(script("broken", "echo 'unknown option' >&2\nexit 106\n")));
    CHECK_FALSE(pbb::check_unavailable((tmp.path / "missing").string()));
    // A real server answers "available" (every server accepts the flag).
    CHECK_FALSE(pbb::check_unavailable(std::string(PB_SERVER_DIR) + "/server-single"));
}

TEST_CASE("a pattern whose --check-available says 69 is left out and the run goes on",
          "[unavailable]") {
    TempDir tmp;
    const std::string line =
        std::string("echo 'server-reuseport: not available on this machine: ") + kStandInReason +
        "' >&2\nexit 69\n";
    BenchRun r = run_beside_stand_in(tmp.path, line, "check-available");
    INFO("stderr:\n" << r.err);
    REQUIRE(r.entry.at("cases").as_array().size() == 1);
    CHECK(r.entry.at("cases").as_array()[0].as_string() == "matrix/reuseport/frame/tiny/c16");
    CHECK_FALSE(unavailable_entry(r.out, "single"));
    // Never registered: no row, so no error, in Google Benchmark's record.
    CHECK(gbench_rows(r.out, "matrix/reuseport/").empty());
    CHECK(gbench_rows(r.out, "matrix/single/").size() == 1);
    // One line on the console says so, with the reason.
    CHECK(r.err.find(std::string("patternbench: reuseport: not available on this machine: ") +
                     kStandInReason) != std::string::npos);
}

TEST_CASE("a server that passes the check but exits 69 at case start is not available either",
          "[unavailable]") {
    TempDir tmp;
    const std::string script =
        std::string("if [ \"$1\" = --check-available ]; then echo available; exit 0; fi\n") +
        "echo 'server-reuseport: not available on this machine: " + kStandInReason +
        "' >&2\nexit 69\n";
    BenchRun r = run_beside_stand_in(tmp.path, script, "case start");
    INFO("stderr:\n" << r.err);
    // Registered before it was known: its row carries the reason, not a generic error.
    auto rows = gbench_rows(r.out, "matrix/reuseport/");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].second == std::string("not available on this machine: ") + kStandInReason);
    CHECK(r.err.find(std::string("reuseport: not available on this machine: ") + kStandInReason) !=
          std::string::npos);
}

TEST_CASE("server-uring under PB_SIMULATE_NO_URING=1: the bench completes without it",
          "[unavailable]") {
    if (!pb::find_pattern("uring")) {
        WARN("skipped: the uring pattern is not in servers/patterns.txt (pb::kPatterns) yet");
        return;
    }
    TempDir tmp;
    BenchRun r = run_patternbench(tmp.path, "single|uring", "", {"PB_SIMULATE_NO_URING=1"});
    INFO("stderr:\n" << r.err);
    REQUIRE(r.status == 0);
    check_measured(r.out, "single");
    CHECK_FALSE(has_case_file(r.out, "uring"));
    auto entry = unavailable_entry(r.out, "uring");
    REQUIRE(entry);
    CHECK(entry->at("reason").as_string() ==
          "io_uring disabled by PB_SIMULATE_NO_URING=1 (a test switch)");
    CHECK(entry->at("found").as_string() == "check-available");
    CHECK(gbench_rows(r.out, "matrix/uring/").empty());
}
