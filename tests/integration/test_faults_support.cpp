#include "test_faults_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include <catch2/catch.hpp>

#include "client.hpp"
#include "servers.hpp"
#include "socket.hpp"

namespace pbtest::faults {

std::vector<std::string> ServerInProtocol::args(std::vector<std::string> more) const {
    std::vector<std::string> all{"--threads", "2", "--protocol", protocol};
    all.insert(all.end(), more.begin(), more.end());
    return all;
}

std::ostream& operator<<(std::ostream& os, const ServerInProtocol& s) {
    return os << s.binary << " " << s.protocol;
}

const std::vector<ServerInProtocol>& every_server_in_both_protocols() {
    static const std::vector<ServerInProtocol> all = [] {
        std::vector<ServerInProtocol> out;
        for (const auto& binary : all_servers()) {
            out.push_back({binary, "frame"});
            out.push_back({binary, "http"});
        }
        return out;
    }();
    return all;
}

long raise_own_fd_limit() {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
        ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    return static_cast<long>(rl.rlim_cur);
}

namespace {

int64_t number_after(const std::string& text, size_t from, const std::string& key) {
    std::string needle = "\"" + key + "\": ";
    size_t at = text.find(needle, from);
    if (at == std::string::npos) return -1;
    at += needle.size();
    int64_t value = 0;
    bool any = false;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        value = value * 10 + (text[at++] - '0');
        any = true;
    }
    return any ? value : -1;
}

}  // namespace

int64_t Stats::total(const std::string& key) const {
    size_t at = text.find("\"total\": ");
    return at == std::string::npos ? -1 : number_after(text, at, key);
}

int64_t Stats::peak_threads() const {
    return number_after(text, 0, "peak_threads");
}

Stats read_stats(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return Stats{ss.str()};
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);
    }
}

size_t wait_for_fds(const ServerProcess& server, size_t n, std::chrono::milliseconds timeout) {
    size_t seen = server.open_fds();
    eventually([&] { return (seen = server.open_fds()) == n; }, timeout);
    return seen;
}

size_t settled(const std::function<size_t()>& count, std::chrono::milliseconds timeout,
               std::chrono::milliseconds step) {
    size_t last = 0;
    eventually(
        [&] {
            size_t now = count();
            bool same = now == last;
            last = now;
            return same;
        },
        timeout, step);
    return last;
}

size_t settled_fds(const ServerProcess& server, bool http) {
    CHECK((http ? serves_http(server.port()) : serves_frame(server.port(), 424242)));
    return settled([&] { return server.open_fds(); });
}

namespace {

sockaddr_in loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

}  // namespace

pb::UniqueFd connect_with_buffers(uint16_t port, int rcvbuf, int sndbuf) {
    pb::UniqueFd fd(pb::check_syscall(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    if (rcvbuf > 0)
        pb::check_syscall(::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf),
                          "setsockopt(SO_RCVBUF)");
    if (sndbuf > 0)
        pb::check_syscall(::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf),
                          "setsockopt(SO_SNDBUF)");
    sockaddr_in addr = loopback(port);
    pb::check_syscall(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
                      "connect");
    return fd;
}

pb::UniqueFd connect_nonblocking(uint16_t port) {
    pb::UniqueFd fd(pb::check_syscall(
        ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket"));
    sockaddr_in addr = loopback(port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
        errno != EINPROGRESS)
        pb::throw_errno("connect");
    return fd;
}

void close_with_rst(pb::UniqueFd& fd) {
    pb::set_linger_rst(fd.get());
    fd.reset();
}

Peer peek_peer(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return Peer::kQuiet;
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return Peer::kData;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Peer::kQuiet;
    return Peer::kClosed;  // EOF or RST
}

bool wait_eof(int fd, std::chrono::milliseconds timeout, size_t& extra) {
    auto deadline = Clock::now() + timeout;
    char buf[65536];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r == 0) return true;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return false;  // an RST is not the clean end the test asked for
        }
        extra += static_cast<size_t>(r);
    }
}

bool round_trip(int fd, uint64_t id, uint32_t size, std::chrono::milliseconds timeout) {
    try {
        send_all(fd, frame_request({.id = id, .body_len = size, .reply_len = size}));
    } catch (const std::exception&) {
        return false;
    }
    return !read_verified_reply(fd, id, size, timeout).has_value();
}

bool serves_frame(uint16_t port, uint64_t id) {
    auto fd = connect_local(port);
    return round_trip(fd.get(), id);
}

std::string http_get(const std::string& target, const std::string& extra) {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

bool serves_http(uint16_t port) {
    auto fd = connect_local(port);
    send_all(fd.get(), http_get("/"));
    auto resp = read_http_response(fd.get());
    return resp.status == 200 && resp.body == "Hello, World!";
}

bool round_trip_any(bool http, uint16_t port) {
    return http ? serves_http(port) : serves_frame(port, 31337);
}

std::string request_for(bool http, uint64_t id, uint32_t reply, uint32_t sleep_us) {
    if (http) {
        std::string target = "/r?size=" + std::to_string(reply);
        if (sleep_us) target += "&sleep_us=" + std::to_string(sleep_us);
        return http_get(target);
    }
    return frame_request({.id = id, .reply_len = reply, .sleep_us = sleep_us});
}

bool read_reply(bool http, int fd, uint64_t id, uint32_t reply, uint64_t& lost,
                std::chrono::milliseconds timeout) {
    if (http) {
        auto resp = read_http_response(fd, timeout);
        bool ok = resp.complete && resp.status == 200 && resp.body.size() == reply;
        for (size_t i = 0; ok && i < resp.body.size(); ++i)
            ok = static_cast<uint8_t>(resp.body[i]) == i % 251;
        if (!ok) lost += reply;
        return ok;
    }
    auto problem = read_verified_reply(fd, id, reply, timeout);
    if (problem) {
        UNSCOPED_INFO("id " << id << ": " << *problem);
        lost += reply;
    }
    return !problem;
}

Outcome ask(int fd, uint64_t id, uint32_t reply, uint32_t sleep_us,
            std::chrono::milliseconds timeout) {
    try {
        send_all(fd, frame_request(
                         {.id = id, .body_len = 16, .reply_len = reply, .sleep_us = sleep_us}));
    } catch (const std::exception&) {
        return Outcome::kRefused;  // reset before we finished sending
    }
    auto problem = read_verified_reply(fd, id, reply, timeout);
    if (!problem) return Outcome::kAnswered;
    if (*problem == "short reply header (0 bytes)" && wait_closed(fd, 100ms))
        return Outcome::kRefused;
    UNSCOPED_INFO("id " << id << ": " << *problem);
    return Outcome::kBroken;
}

PeakSampler::PeakSampler(const ServerProcess& server) : server_(server) {
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            fds_.store(std::max(fds_.load(), server_.open_fds()));
            threads_.store(std::max(threads_.load(), server_.threads()));
            rss_kb_.store(std::max(rss_kb_.load(), server_.rss_kb()));
            std::this_thread::sleep_for(20ms);
        }
    });
}

PeakSampler::~PeakSampler() {
    stop();
}

void PeakSampler::stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
}

void record_figure(const std::string& test_case, const std::string& server, const std::string& what,
                   double value) {
    const char* path = std::getenv("PB_FAULT_FIGURES");
    if (!path || !*path) return;
    static std::mutex mutex;  // client threads of one test may record at once
    std::lock_guard lock(mutex);
    std::ofstream out(path, std::ios::app);
    out << test_case << '\t' << server << '\t' << what << '\t' << value << '\n';
}

FaultRun::FaultRun(std::string test_case, const ServerProcess& server)
    : test_case_(std::move(test_case)), sampler_(server) {}

void FaultRun::stop(ServerProcess& server) {
    finish(server, server.stop());
}

void FaultRun::finish(ServerProcess& server, int exit_code) {
    sampler_.stop();
    INFO(server.binary() << " stderr:\n" << server.stderr_text());
    CHECK(exit_code == 0);
    CHECK_FALSE(server.sanitizer_report());
    const std::string& name = server.binary();
    record_figure(test_case_, name, "tried", static_cast<double>(tried_));
    record_figure(test_case_, name, "crashes", exit_code == 0 ? 0 : 1);
    record_figure(test_case_, name, "bytes_lost", static_cast<double>(lost_));
    record_figure(test_case_, name, "peak_fds", static_cast<double>(sampler_.fds()));
    record_figure(test_case_, name, "peak_threads", static_cast<double>(sampler_.threads()));
    record_figure(test_case_, name, "peak_rss_kb", static_cast<double>(sampler_.rss_kb()));
}

}  // namespace pbtest::faults
