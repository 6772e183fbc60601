// What makes each pattern the pattern it claims to be, checked from outside
// the process: listening sockets in /proc/net/tcp, threads in /proc/<pid>,
// queue depth and per-thread counters in --stats-file. Plus what every
// pattern owes under load: a clean SIGTERM and counters that add up to the
// replies the clients verified.
#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "client.hpp"
#include "server_process.hpp"

using namespace pbtest;

namespace {

// A server binary with the flags that select one variant of its pattern.
struct Variant {
    std::string binary;
    std::vector<std::string> args;
};

std::string describe(const Variant& v) {
    std::string s = v.binary;
    for (const auto& a : v.args) s += " " + a;
    return s;
}

// Every threaded pattern, every accept mode, two threads where N applies.
const std::vector<Variant>& threaded_variants() {
    static const std::vector<Variant> variants = {
        {"server-thread-per-conn", {}},
        {"server-worker-queue", {"--threads", "2"}},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "exclusive"}},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "herd"}},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "blocking"}},
        {"server-reuseport", {"--threads", "2"}},
        {"server-reactor-pool", {"--threads", "2"}},
    };
    return variants;
}

// The threaded variants, and server-single too where TSan is not running.
std::vector<Variant> every_variant() {
    std::vector<Variant> all = threaded_variants();
#ifndef PB_TSAN_BUILD
    all.insert(all.begin(), Variant{"server-single", {}});
#endif
    return all;
}

std::vector<std::string> with(std::vector<std::string> args, std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// A scratch path for --stats-file, removed when the test ends.
class TempPath {
public:
    TempPath() {
        char tmpl[] = "/tmp/pbtest-stats-XXXXXX";
        int fd = ::mkstemp(tmpl);
        if (fd >= 0) ::close(fd);
        path_ = tmpl;
    }
    ~TempPath() { ::unlink(path_.c_str()); }
    const std::string& str() const { return path_; }

private:
    std::string path_;
};

// The stats file, read with the few rules its fixed layout allows: one object
// per thread in "threads", then "total"; every number is "key": value.
struct StatsFile {
    struct Entry {
        std::string role;
        std::map<std::string, uint64_t> n;
    };
    std::vector<Entry> threads;
    Entry total;
    uint64_t peak_threads = 0;
    bool ok = false;

    uint64_t sum(const std::string& key) const {
        uint64_t s = 0;
        for (const auto& t : threads) s += t.n.at(key);
        return s;
    }
};

StatsFile::Entry parse_entry(const std::string& text) {
    StatsFile::Entry e;
    static const std::regex number("\"(\\w+)\": (\\d+)");
    static const std::regex role("\"role\": \"(\\w+)\"");
    for (std::sregex_iterator it(text.begin(), text.end(), number), end; it != end; ++it)
        e.n[(*it)[1]] = std::stoull((*it)[2]);
    std::smatch m;
    if (std::regex_search(text, m, role)) e.role = m[1];
    return e;
}

StatsFile read_stats(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    StatsFile s;
    size_t threads_at = text.find("\"threads\": [");
    size_t total_at = text.find("\"total\": ");
    if (threads_at == std::string::npos || total_at == std::string::npos) return s;
    // Split the array into its top-level objects by brace depth.
    int depth = 0;
    size_t start = 0;
    for (size_t i = threads_at; i < total_at; ++i) {
        if (text[i] == '{' && depth++ == 0) start = i;
        if (text[i] == '}' && --depth == 0)
            s.threads.push_back(parse_entry(text.substr(start, i - start + 1)));
    }
    s.total = parse_entry(text.substr(total_at));
    std::smatch m;
    if (std::regex_search(text, m, std::regex("\"peak_threads\": (\\d+)")))
        s.peak_threads = std::stoull(m[1]);
    s.ok = !s.threads.empty();
    return s;
}

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

// Polls until the server runs exactly `n` threads; returns the last count seen.
size_t wait_for_threads(const ServerProcess& server, size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t now = server.threads();
    while (now != n && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
        now = server.threads();
    }
    return now;
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

bool round_trip(int fd, uint64_t id, uint32_t size = 64) {
    send_all(fd, frame_request({.id = id, .body_len = size, .reply_len = size}));
    return !read_verified_reply(fd, id, size).has_value();
}

// One client connection: batches of `depth` pipelined frames, every reply
// verified, until `stop`, `max_requests`, or the server closes. A reply that
// never comes because the server closed between requests is not a problem; a
// wrong or truncated one is.
struct ClientResult {
    uint64_t verified = 0;
    std::string problem;
};

ClientResult drive_frames(uint16_t port, uint64_t client, size_t depth, uint64_t max_requests,
                          const std::atomic<bool>& stop) {
    ClientResult result;
    try {
        auto fd = connect_local(port);
        uint64_t next = 0;
        while (!stop.load() && next < max_requests) {
            std::string batch;
            std::vector<std::pair<uint64_t, uint32_t>> owed;
            for (size_t i = 0; i < depth && next < max_requests; ++i, ++next) {
                uint64_t id = client * 1'000'000 + next;
                auto size = static_cast<uint32_t>((next * 97) % 3000);
                uint32_t sleep_us = next % 5 == 0 ? 2000 : 0;  // some work in flight
                batch += frame_request(
                    {.id = id, .body_len = size / 2, .reply_len = size, .sleep_us = sleep_us});
                owed.emplace_back(id, size);
            }
            send_all(fd.get(), batch);
            for (auto [id, size] : owed) {
                auto problem = read_verified_reply(fd.get(), id, size, 10s);
                if (!problem) {
                    ++result.verified;
                    continue;
                }
                if (*problem != "short reply header (0 bytes)") result.problem = *problem;
                return result;  // closed by the server (shutdown), or wrong
            }
        }
    } catch (const std::exception&) {
        // connect or send failed: the server is shutting down; nothing was owed.
    }
    return result;
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

TEST_CASE("server-thread-per-conn: threads follow connections up to --max-threads",
          "[patterns][threaded]") {
    TempPath stats_path;
    ServerProcess server("server-thread-per-conn",
                         {"--max-threads", "4", "--stats-file", stats_path.str()});
    // Let one connection come and go first, so any lazily started runtime
    // thread (TSan has one) is already counted in the baseline.
    {
        auto fd = connect_local(server.port());
        REQUIRE(round_trip(fd.get(), 1));
    }
    std::this_thread::sleep_for(100ms);
    size_t base = server.threads();
    REQUIRE(base >= 1);  // main (acceptor, also takes the signals); TSan adds its own

    std::vector<pb::UniqueFd> conns;
    for (uint64_t i = 0; i < 3; ++i) {
        conns.push_back(connect_local(server.port()));
        REQUIRE(round_trip(conns.back().get(), 10 + i));
    }
    CHECK(wait_for_threads(server, base + 3, 2s) == base + 3);

    // Three more: one fits under the cap, two are closed at once.
    int served = 0;
    int refused = 0;
    for (uint64_t i = 0; i < 3; ++i) {
        auto fd = connect_local(server.port());
        send_all(fd.get(), frame_request({.id = 20 + i, .body_len = 8, .reply_len = 8}));
        if (!read_verified_reply(fd.get(), 20 + i, 8, 2s)) {
            ++served;
            conns.push_back(std::move(fd));
        } else {
            CHECK(wait_closed(fd.get()));
            ++refused;
        }
    }
    CHECK(served == 1);
    CHECK(refused == 2);
    CHECK(wait_for_threads(server, base + 4, 2s) == base + 4);

    // The capped ones were not a crash: the four still work.
    for (size_t i = 0; i < conns.size(); ++i) CHECK(round_trip(conns[i].get(), 30 + i));

    // Connections close, their threads end.
    conns.clear();
    CHECK(wait_for_threads(server, base, 3s) == base);
    stop_cleanly(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    REQUIRE(stats.threads.size() == 2);
    CHECK(stats.threads[0].role == "acceptor");
    CHECK(stats.threads[1].role == "connection");
    CHECK(stats.total.n["thread_cap"] == 2);
    CHECK(stats.threads[0].n["peak_connections"] == 4);
    CHECK(stats.peak_threads >= 5);  // the acceptor + 4 connection threads
    CHECK(stats.total.n["requests"] == 1 + 3 + 1 + 4);
    CHECK(stats.total.n["accepted"] == 1 + 3 + 3);
}

TEST_CASE("server-thread-per-conn: a failed thread creation closes that connection only",
          "[patterns][threaded]") {
    TempPath stats_path;
    // A 1 TiB stack cannot be mapped: every pthread_create fails.
    ServerProcess server("server-thread-per-conn",
                         {"--stack-size", "1T", "--stats-file", stats_path.str()});
    for (uint64_t i = 0; i < 3; ++i) {
        auto fd = connect_local(server.port());
        send_all(fd.get(), frame_request({.id = i, .body_len = 8, .reply_len = 8}));
        CHECK(wait_closed(fd.get()));
    }
    stop_cleanly(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    CHECK(stats.total.n["thread_create"] == 3);
    CHECK(stats.total.n["requests"] == 0);
}

TEST_CASE("server-thread-per-conn: deadlines, half-close and a client that never reads",
          "[patterns][threaded]") {
    TempPath stats_path;
    ServerProcess server(
        "server-thread-per-conn",
        {"--header-timeout", "600ms", "--idle-timeout", "500ms", "--write-timeout", "500ms",
         "--output-high-water", "65536", "--stats-file", stats_path.str()});
    using Clock = std::chrono::steady_clock;

    // Slowloris: a byte every 100 ms never completes a 32-byte header before
    // the deadline, which counts from the first byte and is not pushed back.
    auto slow = connect_local(server.port());
    std::string request = frame_request({.id = 1, .reply_len = 1});
    auto started = Clock::now();
    bool closed = false;
    for (size_t i = 0; i < request.size() && !closed; ++i) {
        try {
            send_all(slow.get(), request.substr(i, 1));
        } catch (const std::exception&) {
            closed = true;  // the server already closed: EPIPE/ECONNRESET
        }
        closed = closed || wait_closed(slow.get(), 100ms);
    }
    auto slow_elapsed = Clock::now() - started;
    CHECK(closed);
    CHECK(slow_elapsed >= 500ms);
    CHECK(slow_elapsed < 2s);

    // Idle keep-alive: closed after --idle-timeout with nothing in progress.
    auto idle = connect_local(server.port());
    REQUIRE(round_trip(idle.get(), 2));
    started = Clock::now();
    CHECK(wait_closed(idle.get(), 3s));
    CHECK(Clock::now() - started >= 400ms);

    // Half-close: what was asked is answered, then EOF.
    auto half = connect_local(server.port());
    send_all(half.get(), frame_request({.id = 3, .body_len = 10, .reply_len = 5000}) +
                             frame_request({.id = 4, .reply_len = 7}));
    ::shutdown(half.get(), SHUT_WR);
    CHECK_FALSE(read_verified_reply(half.get(), 3, 5000).has_value());
    CHECK_FALSE(read_verified_reply(half.get(), 4, 7).has_value());
    CHECK(wait_closed(half.get()));

    // Never reads: 64 pipelined 1 MiB replies fill both socket buffers; the
    // server gives up after --write-timeout instead of blocking forever.
    auto deaf = connect_local(server.port());
    std::string flood;
    for (uint64_t i = 0; i < 64; ++i)
        flood += frame_request({.id = 100 + i, .reply_len = 1u << 20});
    send_all(deaf.get(), flood);
    std::this_thread::sleep_for(1500ms);
    CHECK(wait_closed(deaf.get(), 5s));

    // None of it touched anyone else.
    auto fresh = connect_local(server.port());
    CHECK(round_trip(fresh.get(), 5));
    stop_cleanly(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    CHECK(stats.total.n["header_timeout"] == 1);
    CHECK(stats.total.n["idle_timeout"] >= 1);
    CHECK(stats.total.n["write_timeout"] == 1);
}

TEST_CASE("server-worker-queue: the queue never passes --queue-depth", "[patterns][threaded]") {
    TempPath stats_path;
    ServerProcess server("server-worker-queue", {"--threads", "2", "--queue-depth", "3",
                                                 "--stats-file", stats_path.str()});
    // Twelve clients, two slow workers: most requests must wait for room.
    std::vector<pb::UniqueFd> conns;
    for (int i = 0; i < 12; ++i) conns.push_back(connect_local(server.port()));
    for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < conns.size(); ++i) {
            uint64_t id = round * 100 + i;
            auto request = frame_request({.id = id, .reply_len = 50, .sleep_us = 20'000});
            send_all(conns[i].get(), request);
        }
        for (size_t i = 0; i < conns.size(); ++i) {
            auto problem = read_verified_reply(conns[i].get(), round * 100 + i, 50);
            INFO(problem.value_or(""));
            CHECK_FALSE(problem.has_value());
        }
    }
    stop_cleanly(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    CHECK(stats.total.n["queue_high_water"] == 3);  // filled, never passed
    CHECK(stats.sum("requests") == 36);
    CHECK(stats.threads[0].role == "loop");
    for (size_t i = 1; i < stats.threads.size(); ++i) CHECK(stats.threads[i].role == "worker");
}

TEST_CASE("server-worker-queue: SIGTERM with a full queue answers every request",
          "[patterns][threaded]") {
    ServerProcess server("server-worker-queue", {"--threads", "1", "--queue-depth", "2"});
    std::vector<pb::UniqueFd> conns;
    for (int i = 0; i < 10; ++i) conns.push_back(connect_local(server.port()));
    for (size_t i = 0; i < conns.size(); ++i)
        send_all(conns[i].get(), frame_request({.id = i, .reply_len = 10, .sleep_us = 50'000}));
    std::this_thread::sleep_for(100ms);  // one running, two queued, the rest refused
    ::kill(server.pid(), SIGTERM);
    for (size_t i = 0; i < conns.size(); ++i) {
        auto problem = read_verified_reply(conns[i].get(), i, 10);
        INFO("client " << i << ": " << problem.value_or(""));
        CHECK_FALSE(problem.has_value());
        CHECK(wait_closed(conns[i].get()));
    }
    CHECK(server.wait(10s) == 0);
    CHECK_FALSE(server.sanitizer_report());
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
    std::map<std::string, uint64_t> switches;
    for (std::string mode : {"herd", "exclusive"}) {
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
        switches[mode] = voluntary_switches(server.pid()) - before;
        stop_cleanly(server);
        auto stats = read_stats(stats_path.str());
        REQUIRE(stats.ok);
        CHECK(stats.total.n["accepted"] == 300);
        CHECK(stats.total.n.count("futile_wakeups") == 1);
    }
    INFO("herd " << switches["herd"] << " vs exclusive " << switches["exclusive"]);
    CHECK(switches["herd"] * 2 > switches["exclusive"] * 3);
}

TEST_CASE("per-thread stats add up to the replies the clients verified", "[patterns][threaded]") {
    auto variants = every_variant();
    auto index = GENERATE_COPY(range(size_t{0}, variants.size()));
    const Variant& v = variants[index];
    INFO(describe(v));
    TempPath stats_path;
    ServerProcess server(v.binary, with(v.args, {"--stats-file", stats_path.str()}));
    constexpr int kClients = 6;
    constexpr uint64_t kPerClient = 60;
    std::atomic<bool> stop{false};
    std::vector<ClientResult> results(kClients);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
            results[size_t(c)] = drive_frames(server.port(), uint64_t(c), 4, kPerClient, stop);
        });
    }
    for (auto& t : clients) t.join();
    uint64_t verified = 0;
    for (const auto& r : results) {
        CHECK(r.problem.empty());
        verified += r.verified;
    }
    CHECK(verified == kClients * kPerClient);
    stop_cleanly(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    CHECK(stats.sum("requests") == verified);
    CHECK(stats.total.n["requests"] == verified);
    CHECK(stats.sum("accepted") == kClients);
    CHECK(stats.sum("bytes_out") > 0);
}

TEST_CASE("every pattern shuts down cleanly under load", "[patterns][threaded]") {
    auto variants = every_variant();
    auto index = GENERATE_COPY(range(size_t{0}, variants.size()));
    const Variant& v = variants[index];
    INFO(describe(v));
    TempPath stats_path;
    ServerProcess server(v.binary, with(v.args, {"--stats-file", stats_path.str()}));
    constexpr int kClients = 8;
    std::atomic<bool> stop{false};
    std::vector<ClientResult> results(kClients);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        // One request at a time: a server closing between requests never
        // leaves unread requests behind, so no RST can eat a reply owed.
        clients.emplace_back([&, c] {
            results[size_t(c)] = drive_frames(server.port(), uint64_t(c), 1, UINT64_MAX, stop);
        });
    }
    std::this_thread::sleep_for(400ms);
    ::kill(server.pid(), SIGTERM);
    int code = server.wait(15s);
    stop = true;  // the server closed every connection; this only ends stragglers
    for (auto& t : clients) t.join();
    INFO(server.stderr_text());
    CHECK(code == 0);
    CHECK_FALSE(server.sanitizer_report());

    uint64_t verified = 0;
    for (const auto& r : results) {
        INFO(r.problem);
        CHECK(r.problem.empty());
        verified += r.verified;
    }
    CHECK(verified > 0);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    // Every reply the server produced reached its client, and nothing else counted.
    CHECK(stats.sum("requests") == verified);
}
