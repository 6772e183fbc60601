// Every server counts its own system calls by kind (the stats file's
// "syscalls", servers/README.md "System calls"). Checked here against the
// kernel's view: the same short run under `strace -f -c`, on an event-loop
// pattern (server-single) and on one that hands every request to another
// thread (server-worker-queue), and on the completion-based one
// (server-uring: uring_enter -> io_uring_enter). The kinds a server counts map onto syscalls
// strace names: read -> recvfrom, write -> sendto, poll -> epoll_wait (or
// poll), accept -> accept4. Startup and shutdown make a few calls of those
// kinds that no count covers (none today, but the tolerance allows for them),
// so each kind must agree within 5% and a few calls.
//
// Skipped, with the reason printed, where strace is missing or ptrace is not
// permitted (a container without CAP_SYS_PTRACE, a Yama ptrace_scope of 3).
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "client.hpp"
#include "files.hpp"
#include "json.hpp"
#include "server_process.hpp"

using namespace pbtest;
using pb::loadgen::Json;

namespace {

constexpr const char* kStrace = "/usr/bin/strace";
constexpr int kConnections = 4;
constexpr int kRequestsEach = 500;
constexpr double kRelativeTolerance = 0.05;
constexpr uint64_t kStartupCalls = 10;

// Why strace cannot be used here, or nullopt when it can.
std::optional<std::string> strace_unusable() {
    if (::access(kStrace, X_OK) != 0) return std::string(kStrace) + " not installed";
    // ptrace may still be refused (containers, Yama): try it on `true`.
    std::string cmd = std::string(kStrace) + " -f -c -o /dev/null /bin/true >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return "strace cannot trace here (ptrace not permitted?)";
    return std::nullopt;
}

// `strace -c` summary: syscall name -> calls (errors included).
std::map<std::string, uint64_t> strace_counts(const std::string& path) {
    std::map<std::string, uint64_t> calls;
    std::istringstream in(pb::slurp(path));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::vector<std::string> f;
        for (std::string w; fields >> w;) f.push_back(w);
        // "% time  seconds  usecs/call  calls  [errors]  syscall"
        if (f.size() < 5 || f.back() == "total" || f[0] == "%" || f[0][0] == '-') continue;
        try {
            calls[f.back()] += std::stoull(f[3]);
        } catch (const std::exception&) {
        }
    }
    return calls;
}

// The server strace started: its only child.
pid_t traced_child(pid_t strace_pid) {
    for (int i = 0; i < 200; ++i) {
        std::ifstream f("/proc/" + std::to_string(strace_pid) + "/task/" +
                        std::to_string(strace_pid) + "/children");
        pid_t child = 0;
        if (f >> child && child > 0) return child;
        std::this_thread::sleep_for(10ms);
    }
    return -1;
}

// kConnections clients, each kRequestsEach HTTP requests one at a time.
void run_load(uint16_t port) {
    std::vector<std::thread> clients;
    std::vector<int> ok(kConnections, 0);
    for (int c = 0; c < kConnections; ++c)
        clients.emplace_back([&, c] {
            auto fd = connect_local(port);
            for (int i = 0; i < kRequestsEach; ++i) {
                send_all(fd.get(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                if (read_http_response(fd.get()).status == 200) ++ok[c];
            }
        });
    for (auto& t : clients) t.join();
    for (int n : ok) CHECK(n == kRequestsEach);
}

uint64_t kind(const Json& syscalls, const char* name) {
    return static_cast<uint64_t>(syscalls.at(name).as_int());
}

uint64_t sum(const std::map<std::string, uint64_t>& calls, std::vector<const char*> names) {
    uint64_t s = 0;
    for (const char* n : names)
        if (auto it = calls.find(n); it != calls.end()) s += it->second;
    return s;
}

void check_close(const char* what, uint64_t ours, uint64_t traced) {
    INFO(what << ": the server counted " << ours << ", strace saw " << traced);
    double slack = kRelativeTolerance * static_cast<double>(traced) + kStartupCalls;
    CHECK(static_cast<double>(ours) >= static_cast<double>(traced) - slack);
    CHECK(static_cast<double>(ours) <= static_cast<double>(traced) + slack);
}

struct Counts {
    Json ours;  // the stats file's total "syscalls"
    std::map<std::string, uint64_t> traced;
};

Counts run_traced(const std::string& binary, std::vector<std::string> args) {
    char tmpl[] = "/tmp/pbtest-strace-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl, trace = dir + "/strace.txt", stats = dir + "/stats.json";
    args.insert(args.end(), {"--protocol", "http", "--stats-file", stats});
    // LeakSanitizer refuses to run under ptrace and would end an ASan build's
    // traced server with status 1: the leak check is the other tests' job.
    const char* asan = std::getenv("ASAN_OPTIONS");
    std::string asan_options =
        "ASAN_OPTIONS=" + std::string(asan ? asan : "") + (asan ? ":" : "") + "detect_leaks=0";
    ServerProcess strace(binary, args,
                         {.start_timeout = 30s,
                          .prefix = {kStrace, "-f", "-c", "-o", trace, "-E", asan_options, "--"}});
    pid_t server = traced_child(strace.pid());
    REQUIRE(server > 0);
    run_load(strace.port());
    // strace blocks SIGTERM while it runs a command of its own: stop the
    // server itself; strace writes its summary once the server is gone.
    REQUIRE(::kill(server, SIGTERM) == 0);
    REQUIRE(strace.wait(60s) == 0);
    Counts c;
    c.ours = Json::parse(pb::slurp(stats)).at("total").at("syscalls");
    c.traced = strace_counts(trace);
    ::unlink(trace.c_str());
    ::unlink(stats.c_str());
    ::rmdir(dir.c_str());
    return c;
}

void check_io_kinds(const Counts& c) {
    const uint64_t requests = kConnections * kRequestsEach;
    // Depth 1: at least a read and a write per request, as counted.
    CHECK(kind(c.ours, "read") >= requests);
    CHECK(kind(c.ours, "write") >= requests);
    check_close("read (recvfrom)", kind(c.ours, "read"), sum(c.traced, {"recvfrom", "recv"}));
    check_close("write (sendto)", kind(c.ours, "write"), sum(c.traced, {"sendto", "send"}));
    check_close("poll (epoll_wait)", kind(c.ours, "poll"),
                sum(c.traced, {"epoll_wait", "epoll_pwait", "epoll_pwait2"}));
    check_close("accept (accept4)", kind(c.ours, "accept"), sum(c.traced, {"accept4", "accept"}));
}

}  // namespace

TEST_CASE("a server's own system call counts agree with strace", "[syscalls]") {
    if (auto why = strace_unusable()) {
        WARN("skipped: " << *why);
        return;
    }

    SECTION("server-single: reads, writes, waits and accepts; no hand-offs") {
        Counts c = run_traced("server-single", {});
        check_io_kinds(c);
        // One thread: nothing to hand off, and no eventfd written.
        CHECK(kind(c.ours, "wakeup") == 0);
    }

    SECTION("server-uring: io_uring_enter() only; no read, write, poll or accept of its own") {
        if (skip_unavailable("server-uring")) return;
        Counts c = run_traced("server-uring", {"--threads", "1"});
        check_close("uring_enter (io_uring_enter)", kind(c.ours, "uring_enter"),
                    sum(c.traced, {"io_uring_enter"}));
        // Its I/O happens inside the ring: the kernel does the recv, send and
        // accept, which strace (ptrace) does not see as system calls.
        for (const char* k : {"read", "write", "poll", "accept", "wakeup"}) {
            INFO(k);
            CHECK(kind(c.ours, k) == 0);
        }
        CHECK(sum(c.traced, {"recvfrom", "sendto", "epoll_wait", "accept4"}) == 0);
        // One client waiting for each reply: at most a few enters per request
        // (the wait for its bytes, the one that submits the send).
        CHECK(kind(c.ours, "uring_enter") <= 3u * kConnections * kRequestsEach);
    }

    SECTION("server-worker-queue: the same, plus the hand-offs both ways") {
        Counts c = run_traced("server-worker-queue", {"--threads", "2"});
        check_io_kinds(c);
        // The eventfd writes (workers posting replies) and drains (the loop)
        // are read()s and write()s strace sees; the condition variable's
        // notify and wait reach futex() only when a thread sleeps or must be
        // woken. So the count lies between the eventfd calls alone and those
        // plus every futex() call (which include mutex contention, not
        // counted). read()/write() also hold a few calls of startup and the
        // stats file: the slack.
        const uint64_t ours = kind(c.ours, "wakeup");
        const uint64_t eventfd_and_more = sum(c.traced, {"read", "write"});
        const uint64_t futex = sum(c.traced, {"futex"});
        INFO("wakeup: the server counted " << ours << "; strace saw read+write " << eventfd_and_more
                                           << ", futex " << futex);
        CHECK(ours >= kConnections * kRequestsEach);  // at least the reply's post
        CHECK(static_cast<double>(ours) + kStartupCalls >=
              (1 - kRelativeTolerance) * static_cast<double>(eventfd_and_more));
        CHECK(static_cast<double>(ours) <=
              (1 + kRelativeTolerance) * static_cast<double>(eventfd_and_more + futex) +
                  kStartupCalls);
    }
}
