// How the patterns accept, checked from outside the process: only
// server-reuseport has a listening socket per thread (/proc/net/tcp), every
// multi-accept mode serves split and pipelined frames and HTTP, and the herd
// mode wakes every loop where exclusive wakes one (context switches).
#include <dirent.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "client.hpp"
#include "patterns_support.hpp"
#include "server_process.hpp"
#include "temp_path.hpp"

using namespace pbtest;
using namespace pbtest::patterns;

namespace {

// LISTEN sockets on `port` in /proc/net/tcp that belong to process `pid`.
size_t listening_sockets(pid_t pid, uint16_t port) {
    std::set<std::string> inodes;
    std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd/";
    for (int fd = 0; fd < 4096; ++fd) {
        char link[256];
        std::string path = fd_dir + std::to_string(fd);
        ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
        if (n <= 0) continue;
        std::string target(link, static_cast<size_t>(n));
        if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
    }
    std::ifstream tcp("/proc/net/tcp");
    std::string line;
    std::getline(tcp, line);  // column titles
    size_t count = 0;
    while (std::getline(tcp, line)) {
        std::istringstream in(line);
        std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
        in >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
            inode;
        auto colon = local.find(':');
        if (colon == std::string::npos || state != "0A") continue;
        if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
        if (inodes.count(inode)) ++count;
    }
    return count;
}

// Voluntary context switches of every thread of `pid` so far.
uint64_t voluntary_switches(pid_t pid) {
    uint64_t total = 0;
    std::string task_dir = "/proc/" + std::to_string(pid) + "/task/";
    DIR* dir = ::opendir(task_dir.c_str());
    if (!dir) return 0;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream status(task_dir + e->d_name + "/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
                total += std::stoull(line.substr(line.find(':') + 1));
        }
    }
    ::closedir(dir);
    return total;
}

}  // namespace

TEST_CASE("only server-reuseport has one listening socket per thread", "[patterns][threaded]") {
    auto index = GENERATE(range(size_t{0}, threaded_variants().size()));
    const Variant& v = threaded_variants()[index];
    INFO(describe(v));
    ServerProcess server(v.binary, v.args);
    size_t expected = v.binary == "server-reuseport" ? 2 : 1;
    CHECK(listening_sockets(server.pid(), server.port()) == expected);
    // And every one of them accepts.
    for (uint64_t i = 0; i < 8; ++i) {
        auto fd = connect_local(server.port());
        CHECK(round_trip(fd.get(), i));
    }
    stop_cleanly(server);
}

TEST_CASE("server-multi-accept: every accept mode serves split, pipelined frames and HTTP",
          "[patterns][threaded]") {
    auto mode = GENERATE(as<std::string>{}, "exclusive", "herd", "blocking");
    INFO(mode);
    for (const char* protocol : {"frame", "http"}) {
        ServerProcess server("server-multi-accept",
                             {"--threads", "2", "--accept-mode", mode, "--protocol", protocol});
        auto fd = connect_local(server.port());
        if (std::string(protocol) == "frame") {
            std::string batch;
            for (uint64_t i = 0; i < 16; ++i)
                batch += frame_request({.id = i, .body_len = uint32_t(i * 41), .reply_len = 99});
            send_all(fd.get(), batch, 7);
            for (uint64_t i = 0; i < 16; ++i)
                CHECK_FALSE(read_verified_reply(fd.get(), i, 99).has_value());
        } else {
            std::string batch;
            for (int i = 0; i < 16; ++i)
                batch += "GET /?size=" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
            send_all(fd.get(), batch, 5);
            for (int i = 0; i < 16; ++i)
                CHECK(read_http_response(fd.get()).body.size() == size_t(i));
        }
        stop_cleanly(server);
    }
}

TEST_CASE("server-multi-accept: the herd wakes every loop, exclusive wakes one",
          "[patterns][threaded]") {
    // The kernel re-checks the listener before epoll_wait() returns, so most
    // herd losers sleep again inside the kernel and never reach accept(): the
    // futile_wakeups counter sees few of them, the context switches see all.
    // Other work on the machine adds switches to both modes alike and can hide
    // the difference in one round: up to three rounds, one must show it.
    auto switches_of = [](const std::string& mode) {
        TempPath stats_path;
        ServerProcess server("server-multi-accept", {"--threads", "2", "--accept-mode", mode,
                                                     "--stats-file", stats_path.str()});
        std::this_thread::sleep_for(100ms);
        uint64_t before = voluntary_switches(server.pid());
        // Connect and close, one at a time, with both loops idle in between.
        for (int i = 0; i < 300; ++i) {
            connect_local(server.port());
            std::this_thread::sleep_for(2ms);
        }
        std::this_thread::sleep_for(200ms);
        uint64_t n = voluntary_switches(server.pid()) - before;
        stop_cleanly(server);
        auto stats = read_stats(stats_path.str());
        REQUIRE(stats.ok);
        CHECK(stats.total.n["accepted"] == 300);
        CHECK(stats.total.n.count("futile_wakeups") == 1);
        return n;
    };
    bool shown = false;
    for (int round = 1; round <= 3 && !shown; ++round) {
        uint64_t herd = switches_of("herd");
        uint64_t exclusive = switches_of("exclusive");
        UNSCOPED_INFO("round " << round << ": herd " << herd << " vs exclusive " << exclusive);
        shown = herd * 2 > exclusive * 3;
    }
    CHECK(shown);
}
