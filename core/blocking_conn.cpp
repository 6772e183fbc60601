#include "blocking_conn.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>

#include "accepted_socket.hpp"
#include "buffer.hpp"
#include "clock.hpp"
#include "request.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace pb {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kIdleBufferKeep = 16 * 1024;
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

// Milliseconds for poll() until `deadline`, rounded up so a deadline is never
// met early and the caller never spins on a 0 ms timeout.
int ms_until(Clock::time_point deadline) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

// One connection served by one thread. The thread blocks in poll() rather than
// in recv()/send() because poll() is the one call that waits on the socket
// and the drain signal at once, with a deadline; the thread still waits for
// its own connection and nothing else.
class BlockingConnection {
public:
    BlockingConnection(int fd, const ServerOptions& options, const DrainSignal& drain,
                       ThreadStats& stats, ShutdownSignal* signals)
        : fd_(fd),
          options_(options),
          drain_(drain),
          stats_(stats),
          signals_(signals),
          reader_(options.protocol, options),
          last_active_(Clock::now()) {}

    void serve();

private:
    enum class Wait { kReady, kDrain, kTimeout, kError };

    Wait wait_for(short events, Clock::time_point deadline, bool watch_drain);
    bool receive();
    bool answer_buffered();
    bool flush();

    const int fd_;
    const ServerOptions& options_;
    const DrainSignal& drain_;
    ThreadStats& stats_;
    ShutdownSignal* signals_;  // may be null: signals are taken on another thread
    RequestReader reader_;
    Buffer in_;   // received bytes the reader has not consumed yet
    Buffer out_;  // replies not sent yet
    Clock::time_point last_active_;
    Clock::time_point request_started_;  // valid while request_timing_
    bool request_timing_ = false;
    bool input_closed_ = false;  // peer sent FIN: answer what was asked, then close
    bool close_after_ = false;   // protocol error, Connection: close, or draining
    // Draining: the socket has had its last look for a request (serve()).
    bool drain_read_done_ = false;
};

void BlockingConnection::serve() {
    for (;;) {
        if (!answer_buffered()) return;
        if (input_closed_) return;  // half-close: every complete request was answered
        // Draining and between requests: nothing is owed, close. But bytes
        // already in the socket are a request sent before the drain, which
        // this thread had not read yet (it had just started, or was sending
        // the previous reply): read once more, without waiting, and answer
        // them first, as the Reactor does in begin_shutdown().
        if (drain_.raised() && !reader_.in_progress()) {
            if (drain_read_done_) return;
            drain_read_done_ = true;
            size_t had = in_.readable();
            if (!receive()) return;
            if (in_.readable() == had) return;
            continue;
        }
        // The header deadline counts from a request's first byte and is not
        // pushed back by later bytes, so a slowloris client cannot stretch it.
        bool in_request = request_timing_ && reader_.in_progress();
        auto deadline = in_request ? request_started_ + options_.header_timeout
                                   : last_active_ + options_.idle_timeout;
        // Once raised, the drain signal stays readable: stop watching it while
        // a request finishes arriving, or poll() would spin.
        switch (wait_for(POLLIN, deadline, !drain_.raised())) {
            case Wait::kReady:
                if (!receive()) return;
                break;
            case Wait::kDrain:
                break;
            case Wait::kTimeout:
                stats_.count(in_request ? ErrorKind::kHeaderTimeout : ErrorKind::kIdleTimeout);
                return;
            case Wait::kError:
                stats_.count(ErrorKind::kRead);
                return;
        }
    }
}

BlockingConnection::Wait BlockingConnection::wait_for(short events, Clock::time_point deadline,
                                                      bool watch_drain) {
    // poll() skips an entry whose fd is negative: no signals to watch.
    pollfd fds[3] = {
        {fd_, events, 0}, {signals_ ? signals_->fd() : -1, POLLIN, 0}, {drain_.fd(), POLLIN, 0}};
    for (;;) {
        int n = ::poll(fds, watch_drain ? 3 : 2, ms_until(deadline));
        stats_.count(Syscall::kPoll);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Wait::kError;
        }
        // Any event on the socket, errors and hang-ups included: the next
        // recv() or send() says what it was.
        if (n > 0 && fds[0].revents != 0) return Wait::kReady;
        if (n > 0 && fds[1].revents != 0) {
            signals_->dispatch();  // a snapshot, or SIGTERM raising the drain
            if (drain_.raised()) return Wait::kDrain;
            continue;
        }
        if (n > 0) return Wait::kDrain;
        if (Clock::now() >= deadline) return Wait::kTimeout;
    }
}

bool BlockingConnection::receive() {
    ssize_t n = ::recv(fd_, in_.prepare(kReadChunk), kReadChunk, MSG_DONTWAIT);
    stats_.count(Syscall::kRead);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
        stats_.count(ErrorKind::kRead);
        return false;
    }
    last_active_ = Clock::now();
    if (n == 0) {
        input_closed_ = true;
        return true;
    }
    in_.commit(static_cast<size_t>(n));
    stats_.bytes_in += static_cast<uint64_t>(n);
    if (!request_timing_) {
        request_timing_ = true;
        request_started_ = last_active_;
    }
    return true;
}

// Parses, runs and answers every complete request buffered. Returns false when
// the connection must close (after sending what it owes, where it can).
bool BlockingConnection::answer_buffered() {
    while (!close_after_) {
        Request r;
        size_t used = 0;
        auto status = reader_.next(in_.peek(), in_.readable(), used, r);
        in_.consume(used);
        if (status == RequestReader::Status::kNeedMore) {
            if (!reader_.in_progress()) request_timing_ = false;
            break;
        }
        if (status == RequestReader::Status::kError) {
            stats_.count(reader_.error_kind());
            reader_.write_error_reply(out_);
            close_after_ = true;
            break;
        }
        if (!r.keep_alive || drain_.raised()) close_after_ = true;
        execute(r);
        write_reply(r, out_);
        ++stats_.requests;
        // Pipelined bytes already here start the next request's clock now.
        request_timing_ = !in_.empty();
        request_started_ = Clock::now();
        // A client that pipelines without reading cannot grow our memory.
        if (out_.readable() >= options_.output_high_water && !flush()) return false;
    }
    return flush() && !close_after_;
}

bool BlockingConnection::flush() {
    stats_.output_high_water = std::max<uint64_t>(stats_.output_high_water, out_.readable());
    bool blocked = false;
    Clock::time_point blocked_since;
    while (!out_.empty()) {
        ssize_t n = ::send(fd_, out_.peek(), out_.readable(), MSG_NOSIGNAL | MSG_DONTWAIT);
        stats_.count(Syscall::kWrite);
        if (n > 0) {
            out_.consume(static_cast<size_t>(n));
            stats_.bytes_out += static_cast<uint64_t>(n);
            last_active_ = Clock::now();
            blocked = false;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            // The write deadline runs while the peer makes no room at all.
            if (!blocked) {
                blocked = true;
                blocked_since = Clock::now();
            }
            Wait w = wait_for(POLLOUT, blocked_since + options_.write_timeout, false);
            if (w == Wait::kTimeout) {
                stats_.count(ErrorKind::kWriteTimeout);
                return false;
            }
            if (w == Wait::kError) break;
            continue;
        }
        stats_.count(ErrorKind::kWrite);
        return false;
    }
    out_.shrink_if_idle(kIdleBufferKeep);
    return true;
}

}  // namespace

void DrainSignal::raise() {
    if (raised_.exchange(true, std::memory_order_acq_rel)) return;
    wake_fd_.notify();  // if that fails, pollers still see raised() on their deadline
}

void serve_blocking(int fd, const ServerOptions& options, const DrainSignal& drain,
                    ThreadStats& stats, ShutdownSignal* signals) {
    if (!prepare_accepted(fd, options, stats)) return;  // counted; the caller closes fd
    BlockingConnection(fd, options, drain, stats, signals).serve();
    ++stats.connections_closed;
}

namespace {

// What an acceptor does after one accept_connection().
enum class AcceptStep {
    kReturn,  // hand r.fd to the caller: a connection, or invalid once the listener is shut
    kNext,    // one connection died before it was taken: take the next
    kEmpty,   // nothing to take now (EAGAIN, EINTR)
    kPause,   // out of descriptors, or an unexpected error: wait kAcceptPause, then retry
};

// Counts `status` in `stats` and classifies it.
AcceptStep classify_accept(AcceptStatus status, ThreadStats& stats) {
    switch (status) {
        case AcceptStatus::kOk:
            ++stats.accepted;
            return AcceptStep::kReturn;
        case AcceptStatus::kShutdown:
            return AcceptStep::kReturn;
        case AcceptStatus::kIgnore:
            stats.count(ErrorKind::kAcceptAborted);
            return AcceptStep::kNext;
        case AcceptStatus::kRetry:
            return AcceptStep::kEmpty;
        case AcceptStatus::kFdLimit:
            stats.count(ErrorKind::kAcceptFdLimit);
            return AcceptStep::kPause;
        case AcceptStatus::kFatal:
            return AcceptStep::kPause;
    }
    return AcceptStep::kPause;
}

// Sleeps in poll() on `signals` and, unless it is -1, on `listen_fd`, for up
// to `timeout_ms` (-1: no limit), and handles any signal that arrived.
void wait_accept_or_signal(int listen_fd, ShutdownSignal& signals, int timeout_ms,
                           ThreadStats& stats) {
    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {listen_fd, POLLIN, 0}};
    int n = ::poll(fds, listen_fd < 0 ? 1 : 2, timeout_ms);
    stats.count(Syscall::kPoll);
    if (n > 0 && fds[0].revents != 0) signals.dispatch();
}

}  // namespace

UniqueFd accept_blocking(int listen_fd, bool nonblocking, ThreadStats& stats) {
    for (;;) {
        AcceptResult r = accept_connection(listen_fd, nonblocking);
        stats.count(Syscall::kAccept);
        switch (classify_accept(r.status, stats)) {
            case AcceptStep::kReturn:
                return std::move(r.fd);
            case AcceptStep::kNext:
                break;
            case AcceptStep::kEmpty:  // a non-blocking listener: do not spin
            case AcceptStep::kPause:
                std::this_thread::sleep_for(kAcceptPause);
                break;
        }
    }
}

UniqueFd accept_or_signal(int listen_fd, ShutdownSignal& signals, ThreadStats& stats) {
    for (;;) {
        // Poll first, every time: under a stream of connections accept() would
        // never come back empty, and a signal would wait behind all of them.
        wait_accept_or_signal(listen_fd, signals, -1, stats);
        AcceptResult r = accept_connection(listen_fd, false);
        stats.count(Syscall::kAccept);
        switch (classify_accept(r.status, stats)) {
            case AcceptStep::kReturn:
                return std::move(r.fd);
            case AcceptStep::kNext:
            case AcceptStep::kEmpty:  // woken by a signal, or the connection died
                break;
            case AcceptStep::kPause:
                wait_accept_or_signal(-1, signals, static_cast<int>(kAcceptPause.count()), stats);
                break;
        }
    }
}

void stop_accepting(int listen_fd) {
    ::shutdown(listen_fd, SHUT_RD);
}

}  // namespace pb
