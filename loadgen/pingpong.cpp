// pingpong: the loopback floor. A blocking frame-protocol server (one thread per
// connection) and a blocking client that sends one request, waits for the whole
// reply, and sends the next. Nothing between the two but read() and write(), so
// its latency is what a round trip over loopback costs on this machine; the
// load generator is measured against it (bench/loadgen_vs_wrk.sh).
//
//   pingpong server [--port P]       prints "listening 127.0.0.1:P", serves until SIGTERM
//   pingpong client HOST:PORT [-d 2s] [--response-size N] [--warmup 500ms]
//                                    prints "requests N rps R p50_us X p99_us Y max_us Z"
//                                    (microseconds with 3 decimals: ns resolution)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "frame.hpp"
#include "histogram.hpp"
#include "socket.hpp"

namespace {

using Clock = std::chrono::steady_clock;

bool read_exact(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t r = ::read(fd, p, n);
        if (r > 0) {
            p += r;
            n -= static_cast<size_t>(r);
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

bool write_exact(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= static_cast<size_t>(w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

void serve_connection(pb::UniqueFd fd) {
    pb::set_nodelay(fd.get(), true);
    uint8_t header[pb::frame::kRequestHeaderSize];
    std::vector<uint8_t> body;
    std::vector<uint8_t> reply;
    for (;;) {
        if (!read_exact(fd.get(), header, sizeof header)) return;
        pb::frame::RequestHeader h;
        if (pb::frame::decode_request_header(header, pb::frame::kDefaultMaxFrame, h) !=
            pb::frame::HeaderError::kNone)
            return;
        body.resize(h.body_len);
        if (!read_exact(fd.get(), body.data(), body.size())) return;
        // spin_us and sleep_us are ignored: this is the floor, not a workload.
        reply.resize(pb::frame::kReplyHeaderSize + h.reply_len);
        pb::frame::encode_reply_header({h.reply_len, h.id}, reply.data());
        pb::frame::fill_payload(h.id, 0, reply.data() + pb::frame::kReplyHeaderSize, h.reply_len);
        if (!write_exact(fd.get(), reply.data(), reply.size())) return;
    }
}

int server_main(const std::vector<std::string>& args) {
    uint16_t port = 0;
    for (size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--port") port = static_cast<uint16_t>(std::stoul(args[i + 1]));
    pb::UniqueFd listener = pb::listen_tcp({"127.0.0.1", port, 128, false, false});
    std::printf("listening 127.0.0.1:%u\n", pb::local_port(listener.get()));
    std::fflush(stdout);
    for (;;) {
        pb::AcceptResult a = pb::accept_connection(listener.get(), false);
        if (a.status == pb::AcceptStatus::kOk) {
            std::thread(serve_connection, std::move(a.fd)).detach();
        } else if (a.status == pb::AcceptStatus::kShutdown ||
                   a.status == pb::AcceptStatus::kFatal) {
            return 1;
        }
    }
}

int client_main(const std::vector<std::string>& args) {
    if (args.empty()) throw std::invalid_argument("pingpong client HOST:PORT [-d 2s]");
    std::string host;
    uint16_t port = 0;
    pb::split_host_port(args[0], host, port);
    auto duration = std::chrono::nanoseconds(std::chrono::seconds(2));
    auto warmup = std::chrono::nanoseconds(std::chrono::milliseconds(500));
    uint32_t response_size = 13;
    for (size_t i = 1; i + 1 < args.size(); i += 2) {
        if (args[i] == "-d")
            duration = pb::loadgen::parse_duration(args[i + 1]);
        else if (args[i] == "--warmup")
            warmup = pb::loadgen::parse_duration(args[i + 1]);
        else if (args[i] == "--response-size")
            response_size = static_cast<uint32_t>(std::stoul(args[i + 1]));
        else
            throw std::invalid_argument("unknown option " + args[i]);
    }
    pb::UniqueFd fd = pb::connect_tcp(host, port, false);
    pb::set_nodelay(fd.get(), true);

    uint8_t request[pb::frame::kRequestHeaderSize];
    std::vector<uint8_t> reply(pb::frame::kReplyHeaderSize + response_size);
    pb::loadgen::Histogram latency;
    uint64_t id = 0;
    auto start = Clock::now();
    auto measure_start = start + warmup;
    auto end = measure_start + duration;
    for (;;) {
        auto t0 = Clock::now();
        if (t0 >= end) break;
        pb::frame::RequestHeader h;
        h.reply_len = response_size;
        h.id = ++id;
        pb::frame::encode_request_header(h, request);
        if (!write_exact(fd.get(), request, sizeof request) ||
            !read_exact(fd.get(), reply.data(), reply.size()))
            throw std::runtime_error("connection lost");
        auto t1 = Clock::now();
        pb::frame::ReplyHeader rh;
        if (!pb::frame::decode_reply_header(reply.data(), rh) || rh.id != id ||
            pb::frame::verify_payload(id, 0, reply.data() + pb::frame::kReplyHeaderSize,
                                      response_size) != response_size)
            throw std::runtime_error("bad reply");
        if (t0 >= measure_start)
            latency.record(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
    double seconds = std::chrono::duration<double>(duration).count();
    std::printf("requests %lld rps %.1f p50_us %.3f p99_us %.3f max_us %.3f\n",
                static_cast<long long>(latency.count()),
                static_cast<double>(latency.count()) / seconds,
                pb::loadgen::ns_to_us(latency.value_at_percentile(50)),
                pb::loadgen::ns_to_us(latency.value_at_percentile(99)),
                pb::loadgen::ns_to_us(latency.max()));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (!args.empty() && args[0] == "server")
            return server_main({args.begin() + 1, args.end()});
        if (!args.empty() && args[0] == "client")
            return client_main({args.begin() + 1, args.end()});
        std::fputs(
            "usage: pingpong server [--port P] | pingpong client HOST:PORT [-d 2s] [--warmup "
            "500ms] "
            "[--response-size N]\n",
            stderr);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pingpong: %s\n", e.what());
        return 2;
    }
}
