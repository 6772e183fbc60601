// The load generator's error classes against peers that misbehave: a server
// that corrupts replies (verify errors, exit status 1 unless --allow-errors,
// also from the command itself) and a port where nothing listens (connect
// errors, not fatal). Every run is short and bounded.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "loadgen.hpp"
#include "loadgen_test_support.hpp"
#include "server_process.hpp"
#include "socket.hpp"

extern char** environ;

using namespace std::chrono_literals;
namespace lg = pb::loadgen;
using namespace pbtest::loadgen_test;

namespace {

// Runs a binary to completion with stdout/stderr discarded; returns its exit code.
int run_binary(const std::string& path, const std::vector<std::string>& args) {
    std::vector<std::string> all{path};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return -1;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("a server that corrupts replies is caught as verify errors", "[loadgen]") {
    for (auto fault : {FaultyFrameServer::Fault::kWrongByte, FaultyFrameServer::Fault::kWrongId}) {
        FaultyFrameServer server(fault, 10);
        auto r = run_loadgen(server.port(), {"-c", "2", "-d", "300ms", "--response-size", "100"});
        INFO(describe(r));
        CHECK(r.stats.errors[lg::ErrorClass::kVerify] > 0);
        CHECK(r.stats.errors.total() == r.stats.errors[lg::ErrorClass::kVerify]);
        CHECK(lg::exit_status(r) == 1);
        CHECK(lg::to_json_value(r).at("ok").as_bool() == false);
        CHECK(lg::format_summary(r).find("ERRORS") != std::string::npos);
    }
    FaultyFrameServer honest(FaultyFrameServer::Fault::kNone);
    auto r = run_loadgen(honest.port(), {"-c", "2", "-d", "200ms", "--response-size", "100"});
    INFO(describe(r));
    CHECK(r.stats.errors.total() == 0);
    CHECK(r.stats.requests > 0);
}

TEST_CASE("the loadgen command exits non-zero on verify errors unless --allow-errors",
          "[loadgen][cli]") {
    std::string loadgen = pbtest::bin_path("loadgen");
    if (::access(loadgen.c_str(), X_OK) != 0) FAIL("not built: " << loadgen);
    FaultyFrameServer server(FaultyFrameServer::Fault::kWrongByte, 5);
    std::string target = "127.0.0.1:" + std::to_string(server.port());
    CHECK(run_binary(loadgen, {target, "-c", "1", "-d", "200ms", "--response-size", "64"}) == 1);
    CHECK(run_binary(loadgen, {target, "-c", "1", "-d", "200ms", "--response-size", "64",
                               "--allow-errors"}) == 0);
    CHECK(run_binary(loadgen, {target, "--no-such-option"}) == 2);
    CHECK(run_binary(loadgen, {"--help"}) == 0);
}

TEST_CASE("refused connections are counted, not fatal", "[loadgen]") {
    // A port that was just free: bind, note it, close.
    uint16_t port;
    {
        pb::UniqueFd l = pb::listen_tcp({"127.0.0.1", 0, 1, false, false});
        port = pb::local_port(l.get());
    }
    for (bool cpr : {false, true}) {
        std::vector<std::string> args{"-c", "2", "-d", "200ms"};
        if (cpr) args.push_back("--connect-per-request");
        auto r = run_loadgen(port, args);
        INFO(describe(r));
        CHECK(r.stats.errors[lg::ErrorClass::kConnect] > 0);
        CHECK(r.stats.requests == 0);
        CHECK(lg::exit_status(r) == 1);
    }
}
