// Shared by the load generator's integration tests (test_loadgen*.cpp): a run
// against 127.0.0.1, the summary as the failure message, and FaultyFrameServer,
// a deliberately broken frame server whose acceptor can be held back.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "frame.hpp"
#include "loadgen.hpp"
#include "socket.hpp"

namespace pbtest::loadgen_test {

inline pb::loadgen::Result run_loadgen(uint16_t port, std::vector<std::string> args) {
    args.insert(args.begin(), "127.0.0.1:" + std::to_string(port));
    return pb::loadgen::run(pb::loadgen::parse_args(args));
}

inline std::string describe(const pb::loadgen::Result& r) {
    return pb::loadgen::format_summary(r);
}

// How FaultyFrameServer's acceptor lets connections in. The kernel completes
// every handshake before accept(), so a connection it has not reached looks
// connected to the client.
struct Accepting {
    int limit = 0;        // > 0: accept only this many; the rest wait unanswered
    int pause_after = 0;  // > 0: after this many, pause once for `pause`
    std::chrono::milliseconds pause{0};
};

// A frame server on 127.0.0.1:0, one blocking thread per connection, that
// breaks every `every`-th reply on purpose: the load generator must notice.
class FaultyFrameServer {
public:
    enum class Fault { kNone, kWrongByte, kWrongId };

    explicit FaultyFrameServer(Fault fault, int every = 10, Accepting accepting = {})
        : fault_(fault), every_(every), accepting_(accepting) {
        listener_ = pb::listen_tcp({"127.0.0.1", 0, 128, false, false});
        port_ = pb::local_port(listener_.get());
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~FaultyFrameServer() {
        stopping_ = true;
        ::shutdown(listener_.get(), SHUT_RDWR);
        acceptor_.join();
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mutex_);
            for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
            threads.swap(threads_);
        }
        // Joined without the lock: a connection thread takes it as it ends.
        for (auto& t : threads) t.join();
    }
    uint16_t port() const { return port_; }

private:
    void accept_loop() {
        for (int accepted = 0; !stopping_; ++accepted) {
            if (accepting_.limit > 0 && accepted == accepting_.limit) return;
            if (accepting_.pause_after > 0 && accepted == accepting_.pause_after)
                std::this_thread::sleep_for(accepting_.pause);
            pb::AcceptResult a = pb::accept_connection(listener_.get(), false);
            if (a.status == pb::AcceptStatus::kShutdown || a.status == pb::AcceptStatus::kFatal)
                return;
            if (a.status != pb::AcceptStatus::kOk) continue;
            std::lock_guard lock(mutex_);
            fds_.push_back(a.fd.get());
            threads_.emplace_back([this, fd = std::move(a.fd)]() mutable { serve(std::move(fd)); });
        }
    }

    static bool read_exact(int fd, uint8_t* p, size_t n) {
        while (n > 0) {
            ssize_t r = ::read(fd, p, n);
            if (r <= 0) return false;
            p += r;
            n -= static_cast<size_t>(r);
        }
        return true;
    }

    void serve(pb::UniqueFd fd) {
        uint8_t header[pb::frame::kRequestHeaderSize];
        std::vector<uint8_t> body, reply;
        for (uint64_t n = 1;; ++n) {
            if (!read_exact(fd.get(), header, sizeof header)) break;
            pb::frame::RequestHeader h;
            if (pb::frame::decode_request_header(header, pb::frame::kDefaultMaxFrame, h) !=
                pb::frame::HeaderError::kNone)
                break;
            body.resize(h.body_len);
            if (!read_exact(fd.get(), body.data(), body.size())) break;
            bool broken = fault_ != Fault::kNone && n % static_cast<uint64_t>(every_) == 0;
            uint64_t id = broken && fault_ == Fault::kWrongId ? h.id + 1 : h.id;
            reply.resize(pb::frame::kReplyHeaderSize + h.reply_len);
            pb::frame::encode_reply_header({h.reply_len, id}, reply.data());
            pb::frame::fill_payload(h.id, 0, reply.data() + pb::frame::kReplyHeaderSize,
                                    h.reply_len);
            if (broken && fault_ == Fault::kWrongByte && h.reply_len > 0)
                reply[pb::frame::kReplyHeaderSize + h.reply_len / 2] ^= 0x5A;
            if (::send(fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL) !=
                static_cast<ssize_t>(reply.size()))
                break;
        }
        // Leave the fd open until the destructor joins: it shuts fds down by number.
        std::lock_guard lock(mutex_);
        done_.push_back(std::move(fd));
    }

    Fault fault_;
    int every_;
    Accepting accepting_;
    pb::UniqueFd listener_;
    uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<int> fds_;
    std::vector<std::thread> threads_;
    std::vector<pb::UniqueFd> done_;
};

}  // namespace pbtest::loadgen_test
