// The worker's requests: when a connection may send, the in-flight record of each
// request, and how its bytes reach the socket (the write modes, and flush() for
// what the socket did not take).
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "worker.hpp"

namespace pb::loadgen {

// ---- requests ------------------------------------------------------------------------

bool Worker::can_send(const Conn& c) const {
    if (config_.connect_per_request) return c.state == State::kClosed && c.count == 0;
    return c.state == State::kOpen && c.count < cap_;
}

void Worker::start_request(Conn& c, int64_t intended, int64_t now) {
    InFlight f;
    f.id = (static_cast<uint64_t>(c.number) << 40) | (c.next_seq++ & ((uint64_t{1} << 40) - 1));
    f.intended = intended;
    f.sent = now;
    f.slow = config_.slow_fraction > 0.0 && unit_(rng_) < config_.slow_fraction;
    f.measured = measuring(intended);
    if (f.measured) {
        stats_.sent++;
        // The generator's own delay: from when the send was both due and possible
        // (the connection had room) to when it happened.
        if (config_.open_loop()) stats_.lateness.record(now - std::max(intended, c.ready_since));
    }
    c.push(f);
    ++in_flight_;
    if (config_.connect_per_request) {
        open(c, now);  // the request goes out in on_connected
        return;
    }
    write_request(c, f);
}

void Worker::write_request(Conn& c, const InFlight& f) {
    size_t len = builder_.size(f.slow);
    if (config_.write_mode == WriteMode::kSingle || !c.out.empty()) {
        // One write for everything queued: flush() sends it.
        auto* p = reinterpret_cast<uint8_t*>(c.out.prepare(len));
        builder_.write(f.id, f.slow, p);
        c.out.commit(len);
        return;
    }
    scratch_.resize(len);
    builder_.write(f.id, f.slow, scratch_.data());
    size_t first = builder_.split_point(f.slow);
    int fd = c.fd.get();
    size_t done = 0;
    auto send_piece = [&](const uint8_t* p, size_t n, int flags = 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL | flags);
        if (w > 0) done += static_cast<size_t>(w);
        return w == static_cast<ssize_t>(n);
    };
    switch (config_.write_mode) {
        case WriteMode::kSplit:
            if (send_piece(scratch_.data(), first))
                send_piece(scratch_.data() + first, len - first);
            break;
        case WriteMode::kWritev: {
            iovec iov[2] = {{scratch_.data(), first}, {scratch_.data() + first, len - first}};
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = 2;
            ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
            if (w > 0) done = static_cast<size_t>(w);
            break;
        }
        case WriteMode::kCork:
            try_set_cork(fd, true);
            if (send_piece(scratch_.data(), first))
                send_piece(scratch_.data() + first, len - first);
            try_set_cork(fd, false);  // uncorking pushes out whatever is held back
            break;
        case WriteMode::kMsgMore:
            // MSG_MORE is a one-call cork: the kernel holds the first piece back
            // until the second (sent without it) completes the request.
            if (send_piece(scratch_.data(), first, MSG_MORE))
                send_piece(scratch_.data() + first, len - first);
            break;
        case WriteMode::kChunks:
            for (size_t off = 0; off < len;) {
                size_t n = std::min<size_t>(config_.write_chunk, len - off);
                if (!send_piece(scratch_.data() + off, n)) break;
                off += n;
            }
            break;
        case WriteMode::kSingle:
            break;
    }
    bytes_written_ += done;
    if (done < len) {
        if (done == 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            fail(c, ErrorClass::kWrite, std::strerror(errno));
            return;
        }
        // The socket is full: the rest waits in the buffer for kWritable.
        c.out.append(scratch_.data() + done, len - done);
    }
}

void Worker::flush(Conn& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.peek(), c.out.readable(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes_written_ += static_cast<uint64_t>(n);
            c.out.consume(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_interest(c, kReadable | kWritable);
            return;
        }
        fail(c, ErrorClass::kWrite, n < 0 ? std::strerror(errno) : "send returned 0");
        return;
    }
    set_interest(c, kReadable);
}

void Worker::top_up(Conn& c, int64_t now) {
    if (!running_ || now >= tl_.measure_end) return;
    if (config_.connect_per_request) {
        if (can_send(c) && now >= c.retry_at) start_request(c, now, now);
        return;
    }
    while (can_send(c)) start_request(c, now, now);
}

}  // namespace pb::loadgen
