#include "reactor.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>

#include "accepted_socket.hpp"
#include "socket.hpp"

namespace pb {

struct Reactor::Connection {
    Connection(UniqueFd f, uint64_t s, const ServerOptions& o, Clock::time_point now)
        : fd(std::move(f)), serial(s), reader(o.protocol, o), last_active(now) {}

    UniqueFd fd;
    uint64_t serial;
    Buffer in;   // received bytes not yet parsed (only while parsing is held back)
    Buffer out;  // reply bytes not yet sent
    RequestReader reader;
    std::optional<Request> refused;  // parsed, waiting for dispatcher room
    Clock::time_point last_active;
    Clock::time_point request_started;      // valid while request_timing
    Clock::time_point write_blocked_since;  // valid while write_blocked
    bool request_timing = false;
    bool write_blocked = false;
    bool input_closed = false;       // peer sent FIN: answer what was asked, then close
    bool close_after_flush = false;  // protocol error or Connection: close
    bool busy = false;               // a dispatched request has not come back yet
};

namespace {

// Reads per wake-up are capped so one fast sender cannot starve the others on
// the loop; level-triggered polling brings us back for the rest.
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kAcceptBatch = 64;
constexpr auto kListenerPause = std::chrono::milliseconds(100);
constexpr size_t kIdleBufferKeep = 16 * 1024;

Clock::duration sweep_period(const ServerOptions& o) {
    // Deadlines are checked by one periodic sweep per loop, not a timer per
    // connection: a quarter of the shortest timeout, between 10 and 250 ms.
    auto shortest = std::min({o.idle_timeout, o.header_timeout, o.write_timeout});
    auto period = std::chrono::duration_cast<Clock::duration>(shortest / 4);
    return std::clamp<Clock::duration>(period, std::chrono::milliseconds(10),
                                       std::chrono::milliseconds(250));
}

}  // namespace

Reactor::Reactor(EventLoop& loop, const ServerOptions& options, ThreadStats& stats)
    : loop_(loop), options_(options), stats_(stats), scratch_(kReadChunk) {
    sweep_timer_ = loop_.run_every(sweep_period(options_), [this] { sweep(); });
    loop_.count_syscalls_in(stats_);  // the loop runs on this Reactor's thread
}

Reactor::~Reactor() {
    loop_.cancel(sweep_timer_);
    if (listen_fd_ >= 0 && !listener_paused_) loop_.unwatch(listen_fd_);
    for (auto& c : conns_) {
        if (c) loop_.unwatch(c->fd.get());
    }
}

// --- accepting ---------------------------------------------------------------

void Reactor::listen_on(int listen_fd, uint32_t flags, FdLimitPolicy policy) {
    listen_fd_ = listen_fd;
    listen_flags_ = flags;
    fd_policy_ = policy;
    if (policy == FdLimitPolicy::kReserveFd)
        reserve_fd_.reset(check_syscall(::open("/dev/null", O_RDONLY | O_CLOEXEC), "open"));
    loop_.watch(listen_fd_, kReadable | flags, [this](uint32_t) { on_acceptable(); });
}

void Reactor::on_acceptable() {
    for (int i = 0; i < kAcceptBatch; ++i) {
        AcceptResult r = accept_connection(listen_fd_);
        stats_.count(Syscall::kAccept);
        switch (r.status) {
            case AcceptStatus::kOk:
                ++stats_.accepted;
                if (!hand_off_) {
                    adopt(std::move(r.fd));
                } else if (!refuse_connection()) {
                    hand_off_(std::move(r.fd));
                }
                break;
            case AcceptStatus::kRetry:
                // Woken for a connection another loop took first: the thundering
                // herd, counted so `--accept-mode herd` can show it.
                if (i == 0) ++stats_.futile_wakeups;
                return;
            case AcceptStatus::kIgnore:
                stats_.count(ErrorKind::kAcceptAborted);
                break;
            case AcceptStatus::kFdLimit:
                stats_.count(ErrorKind::kAcceptFdLimit);
                if (fd_policy_ == FdLimitPolicy::kReserveFd && reserve_fd_) {
                    reserve_fd_.reset();
                    AcceptResult shed = accept_connection(listen_fd_);
                    stats_.count(Syscall::kAccept);
                    shed.fd.reset();
                    reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
                    if (shed.status == AcceptStatus::kOk) continue;
                }
                pause_listener();
                return;
            case AcceptStatus::kShutdown:
            case AcceptStatus::kFatal:
                pause_listener();
                return;
        }
    }
}

void Reactor::pause_listener() {
    if (listener_paused_ || listen_fd_ < 0) return;
    listener_paused_ = true;
    loop_.unwatch(listen_fd_);
    loop_.run_after(kListenerPause, [this] {
        listener_paused_ = false;
        if (shutting_down_) return;
        loop_.watch(listen_fd_, kReadable | listen_flags_, [this](uint32_t) { on_acceptable(); });
    });
}

bool Reactor::refuse_connection() {
    if (open_ < options_.max_connections && !shutting_down_) return false;
    stats_.count(ErrorKind::kConnectionCap);
    return true;
}

void Reactor::adopt(UniqueFd fd) {
    if (refuse_connection()) return;  // counted; fd closes here
    int n = fd.get();
    if (!prepare_accepted(n, options_, stats_)) return;  // counted; fd closes here
    auto index = static_cast<size_t>(n);
    if (conns_.size() <= index) conns_.resize(index + 1);
    conns_[index] =
        std::make_unique<Connection>(std::move(fd), next_serial_++, options_, loop_.now());
    ++open_;
    stats_.peak_connections = std::max<uint64_t>(stats_.peak_connections, open_);
    loop_.watch(n, kReadable, [this, n](uint32_t mask) { on_event(n, mask); });
}

// --- reading, parsing, writing -------------------------------------------------

void Reactor::on_event(int fd, uint32_t mask) {
    Connection* c = conns_[static_cast<size_t>(fd)].get();
    if (!c) return;
    // epoll reports a hang-up or error even when we asked for nothing; if we
    // are not reading (a worker holds the request), nobody would consume it and
    // the loop would spin. The peer is gone: close now, drop any late reply.
    if ((mask & kHangup) && !(loop_.interest(fd) & kReadable)) {
        stats_.count(ErrorKind::kRead);
        close(*c);
        return;
    }
    if (mask & kWritable) {
        if (!flush(*c)) return;
        drive(*c, nullptr, 0);
        if (!conns_[static_cast<size_t>(fd)]) return;
    }
    if ((mask & kReadable) && (loop_.interest(fd) & kReadable)) on_readable(*c);
}

void Reactor::on_readable(Connection& c) {
    ssize_t n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), 0);
    stats_.count(Syscall::kRead);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        stats_.count(ErrorKind::kRead);
        close(c);
        return;
    }
    c.last_active = loop_.now();
    if (n == 0) {
        c.input_closed = true;
        drive(c, nullptr, 0);
        return;
    }
    stats_.bytes_in += static_cast<uint64_t>(n);
    if (!c.request_timing) {
        // The deadline counts from the first byte of a request, and is not
        // pushed back by later bytes: a slowloris client cannot stretch it.
        c.request_timing = true;
        c.request_started = loop_.now();
    }
    drive(c, scratch_.data(), static_cast<size_t>(n));
}

// Parses and answers requests from [data, data+len) until it runs out of bytes
// or must hold back; `consumed` says how far it got.
Reactor::Stop Reactor::process(Connection& c, const char* data, size_t len, size_t& consumed) {
    consumed = 0;
    for (;;) {
        if (c.busy || c.refused) return Stop::kBusy;
        if (c.close_after_flush) return Stop::kClosing;
        if (c.out.readable() >= options_.output_high_water) return Stop::kHighWater;
        if (consumed == len) {
            // No bytes left: nothing can complete (and an empty buffer's data
            // pointer may be null, which the parsers must not be handed).
            if (!c.reader.in_progress()) c.request_timing = false;
            return Stop::kNeedMore;
        }
        Request r;
        auto status = next_request(c.reader, data, len, consumed, r, c.out, stats_);
        if (status == RequestReader::Status::kNeedMore) {
            if (!c.reader.in_progress()) c.request_timing = false;
            return Stop::kNeedMore;
        }
        if (status == RequestReader::Status::kError) {
            c.close_after_flush = true;
            return Stop::kClosing;
        }
        // A complete request: its deadline is met. If more bytes follow in this
        // buffer, they start the next request's clock now.
        c.request_timing = consumed < len;
        c.request_started = loop_.now();
        if (!r.keep_alive || shutting_down_) c.close_after_flush = true;
        if (dispatcher_) {
            offer(c, r);
            continue;  // the top of the loop stops on busy/refused
        }
        execute(r);
        write_reply(r, c.out);
        ++stats_.requests;
    }
}

bool Reactor::offer(Connection& c, const Request& r) {
    if (dispatcher_({c.fd.get(), c.serial}, r)) {
        c.busy = true;
        c.refused.reset();
        return true;
    }
    if (!c.refused) refused_.push_back(c.fd.get());
    c.refused = r;
    return false;
}

// Runs the connection forward as far as it can: parse what is buffered (and the
// fresh bytes just read), send what is owed, then decide what to wait for.
void Reactor::drive(Connection& c, const char* fresh, size_t fresh_len) {
    const int fd = c.fd.get();
    if (fresh_len > 0 && !c.in.empty()) {
        c.in.append(fresh, fresh_len);
        fresh_len = 0;
    }
    for (;;) {
        size_t consumed = 0;
        Stop stop;
        if (fresh_len > 0) {
            stop = process(c, fresh, fresh_len, consumed);
            // Held back (busy, high water): keep the rest for later.
            c.in.append(fresh + consumed, fresh_len - consumed);
            fresh_len = 0;
        } else {
            stop = process(c, c.in.peek(), c.in.readable(), consumed);
            c.in.consume(consumed);
        }
        if (!flush(c)) return;  // closed on a write error
        // Output drained below the mark while parsing was held back: go again.
        if (stop == Stop::kHighWater && c.out.readable() < options_.output_high_water &&
            !c.in.empty())
            continue;
        break;
    }
    if (!conns_[static_cast<size_t>(fd)]) return;
    if (done(c)) {
        close(c);
        return;
    }
    update_interest(c);
}

// True when nothing more is owed on this connection and it should close.
bool Reactor::done(const Connection& c) const {
    if (!c.out.empty() || c.busy || c.refused) return false;
    if (c.close_after_flush) return true;
    if (c.input_closed) return true;  // half-close: every complete request was answered
    return shutting_down_ && !c.reader.in_progress() && c.in.empty();
}

bool Reactor::flush(Connection& c) {
    stats_.output_high_water = std::max<uint64_t>(stats_.output_high_water, c.out.readable());
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.peek(), c.out.readable(), MSG_NOSIGNAL);
        stats_.count(Syscall::kWrite);
        if (n > 0) {
            c.out.consume(static_cast<size_t>(n));
            stats_.bytes_out += static_cast<uint64_t>(n);
            c.last_active = loop_.now();
            c.write_blocked = false;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (!c.write_blocked) {
                c.write_blocked = true;
                c.write_blocked_since = loop_.now();
            }
            return true;
        }
        stats_.count(ErrorKind::kWrite);
        close(c);
        return false;
    }
    c.write_blocked = false;
    c.out.shrink_if_idle(kIdleBufferKeep);
    return true;
}

void Reactor::update_interest(Connection& c) {
    bool want_read = !c.input_closed && !c.close_after_flush && !c.busy && !c.refused &&
                     c.out.readable() < options_.output_high_water &&
                     (!shutting_down_ || c.reader.in_progress());
    uint32_t mask = (want_read ? kReadable : 0u) | (c.out.empty() ? 0u : kWritable);
    loop_.update(c.fd.get(), mask);
}

void Reactor::close(Connection& c) {
    int fd = c.fd.get();
    loop_.unwatch(fd);
    ++stats_.connections_closed;
    --open_;
    conns_[static_cast<size_t>(fd)].reset();  // closes the fd
    if (shutting_down_ && open_ == 0) finish_drain();
}

// --- hand-off to workers ---------------------------------------------------------

void Reactor::set_hand_off(HandOff hand_off) {
    hand_off_ = std::move(hand_off);
}

void Reactor::set_dispatcher(Dispatcher dispatcher) {
    dispatcher_ = std::move(dispatcher);
}

Reactor::Connection* Reactor::find(ConnRef ref) {
    auto index = static_cast<size_t>(ref.fd);
    if (ref.fd < 0 || index >= conns_.size() || !conns_[index]) return nullptr;
    Connection* c = conns_[index].get();
    return c->serial == ref.serial ? c : nullptr;
}

void Reactor::complete(ConnRef ref, Buffer reply) {
    Connection* c = find(ref);
    if (!c) return;  // the connection closed while the worker ran
    c->busy = false;
    if (c->out.empty()) {
        c->out = std::move(reply);
    } else {
        c->out.append(reply.view());
    }
    drive(*c, nullptr, 0);
}

void Reactor::retry_dispatch() {
    std::vector<int> waiting;
    waiting.swap(refused_);
    for (size_t i = 0; i < waiting.size(); ++i) {
        auto index = static_cast<size_t>(waiting[i]);
        Connection* c = index < conns_.size() ? conns_[index].get() : nullptr;
        if (!c || !c->refused) continue;
        Request r = *c->refused;
        if (!offer(*c, r)) {
            // Still full: keep this one and the rest queued in their original
            // order (offer() does not queue a connection already refused).
            refused_.insert(refused_.end(), waiting.begin() + static_cast<long>(i), waiting.end());
            return;
        }
        drive(*c, nullptr, 0);
    }
}

// --- deadlines and shutdown ------------------------------------------------------

void Reactor::sweep() {
    auto now = loop_.now();
    for (auto& slot : conns_) {
        if (!slot) continue;
        Connection& c = *slot;
        if (c.write_blocked && now - c.write_blocked_since > options_.write_timeout) {
            stats_.count(ErrorKind::kWriteTimeout);
            close(c);
        } else if (c.request_timing && c.reader.in_progress() &&
                   now - c.request_started > options_.header_timeout) {
            stats_.count(ErrorKind::kHeaderTimeout);
            close(c);
        } else if (!c.request_timing && !c.busy && !c.refused && c.out.empty() &&
                   now - c.last_active > options_.idle_timeout) {
            stats_.count(ErrorKind::kIdleTimeout);
            close(c);
        }
    }
}

void Reactor::begin_shutdown(std::function<void()> on_drained) {
    shutting_down_ = true;
    on_drained_ = std::move(on_drained);
    if (listen_fd_ >= 0 && !listener_paused_) loop_.unwatch(listen_fd_);
    listener_paused_ = true;  // keeps a pending re-watch from re-arming it
    loop_.run_after(options_.shutdown_timeout, [this] {
        for (auto& slot : conns_) {
            if (slot) close(*slot);
        }
        finish_drain();
    });
    for (auto& slot : conns_) {
        if (!slot) continue;
        // Bytes that reached the socket before the signal are a request in
        // flight, even if this loop has not read them yet (it was running
        // another request, or adopted the connection in this same batch).
        // Read them now: drive() would otherwise see an idle connection and
        // close it, dropping a request the client sent before we stopped.
        if (loop_.interest(slot->fd.get()) & kReadable) {
            on_readable(*slot);
            if (!slot) continue;  // closed by what it read (EOF, error)
        }
        drive(*slot, nullptr, 0);
    }
    if (open_ == 0) finish_drain();
}

void Reactor::finish_drain() {
    if (!on_drained_) return;  // already called
    auto drained = std::move(on_drained_);
    on_drained_ = nullptr;
    drained();
}

}  // namespace pb
