#include "uring_reactor.hpp"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "accepted_socket.hpp"
#include "buffer.hpp"
#include "request.hpp"

namespace pb {

// What each operation in flight is, in the low byte of its user_data; the
// connection's slot is in the bits above.
enum class UringReactor::Op : uint8_t {
    kAccept = 1,  // the listener's multishot accept
    kRecv,        // a connection's multishot receive
    kSend,        // a connection's send
    kTick,        // the sweep's periodic timeout
    kResume,      // accepting paused by EMFILE: resume
    kDeadline,    // --shutdown-timeout ran out
    kWake,        // the eventfd read post_shutdown() completes
    kWatch,       // the watched descriptor (signals) is readable
    kClosed,      // a connection's close (or an unserved one's) completed
    kIgnore,      // cancels: nothing to do when they complete
};

struct UringReactor::Connection {
    Connection(int f, const ServerOptions& o, Clock::time_point now)
        : fd(f), reader(o.protocol, o), last_active(now) {}

    int fd;          // a descriptor, or an index in the ring's file table (fixed files)
    Buffer in;       // received bytes not yet parsed (only while parsing is held back)
    Buffer out;      // replies waiting for the send in flight to finish
    Buffer sending;  // the bytes of the send in flight: stable until it completes
    RequestReader reader;
    Clock::time_point last_active;
    Clock::time_point request_started;  // valid while request_timing
    Clock::time_point send_started;     // valid while send_in_flight
    int in_flight = 0;                  // operations whose completion names this slot
    bool request_timing = false;
    bool recv_armed = false;
    bool recv_cancelled = false;
    bool send_in_flight = false;
    bool input_closed = false;       // peer sent FIN: answer what was asked, then close
    bool close_after_flush = false;  // protocol error or Connection: close
    bool closed = false;             // closing: the slot is freed when nothing is in flight
};

namespace {

constexpr unsigned kSqEntries = 4096;
constexpr unsigned kCqEntries = 8192;
// Receive buffers the ring hands out: a completion carries the index of the
// one it filled, which goes back to the ring once its bytes are parsed.
constexpr unsigned kBufferCount = 512;  // a power of two
constexpr unsigned kBufferSize = 4096;
constexpr uint16_t kBufferGroup = 0;
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr size_t kIdleBufferKeep = 16 * 1024;
constexpr unsigned kSqpollIdleMs = 50;
// After the last connection closed: how long run() waits for the closes and
// cancels still in flight before it returns anyway.
constexpr auto kFinalWait = std::chrono::seconds(2);
// Connections a listener may hold beyond --backlog (the kernel's accept
// queue is full at backlog + 1).
constexpr unsigned kSomaxconnMargin = 16;

uint64_t tag(uint8_t op, uint32_t slot) {
    return (static_cast<uint64_t>(slot) << 8) | op;
}

Clock::duration sweep_period(const ServerOptions& o) {
    // As the Reactor's sweep: a quarter of the shortest timeout, 10-250 ms.
    auto shortest = std::min({o.idle_timeout, o.header_timeout, o.write_timeout});
    auto period = std::chrono::duration_cast<Clock::duration>(shortest / 4);
    return std::clamp<Clock::duration>(period, std::chrono::milliseconds(10),
                                       std::chrono::milliseconds(250));
}

[[noreturn]] void fail(int negative_errno, const char* what) {
    throw std::system_error(-negative_errno, std::generic_category(), what);
}

bool kernel_at_least(int major, int minor) {
    utsname u{};
    if (::uname(&u) != 0) return true;  // cannot tell: let the ring itself decide
    int ma = 0, mi = 0;
    if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return true;
    return ma > major || (ma == major && mi >= minor);
}

std::string setup_refused(int err) {
    std::string why = fmt::format("io_uring_setup failed: {}", std::strerror(err));
    if (err == ENOSYS) return why + " (a kernel without io_uring)";
    if (err == EPERM) {
        FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r");
        int disabled = 0;
        if (f) {
            if (std::fscanf(f, "%d", &disabled) != 1) disabled = 0;
            std::fclose(f);
        }
        if (disabled != 0) return why + fmt::format(" (kernel.io_uring_disabled = {})", disabled);
        return why + " (a seccomp or container profile forbids io_uring)";
    }
    return why;
}

// Ring flags, most wanted first: the kernel may not know the newer ones.
std::vector<unsigned> flag_choices(const UringOptions& u) {
    if (u.sqpoll) return {IORING_SETUP_SQPOLL};
    // SINGLE_ISSUER + DEFER_TASKRUN (6.1): completions are posted only when
    // this thread enters the kernel to wait for them, never by interrupting it.
    return {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0};
}

int init_ring(io_uring& ring, const UringOptions& u, unsigned entries, unsigned cq_entries) {
    int r = -EINVAL;
    for (unsigned flags : flag_choices(u)) {
        io_uring_params p{};
        p.flags = flags | IORING_SETUP_CQSIZE;
        p.cq_entries = cq_entries;
        if (u.sqpoll) p.sq_thread_idle = kSqpollIdleMs;
        r = io_uring_queue_init_params(entries, &ring, &p);
        if (r != -EINVAL) return r;
    }
    return r;
}

}  // namespace

std::optional<std::string> uring_unavailable_reason() {
    if (const char* sim = std::getenv("PB_SIMULATE_NO_URING"); sim && *sim && std::strcmp(sim, "0"))
        return fmt::format("io_uring disabled by PB_SIMULATE_NO_URING={} (a test switch)", sim);
    // Multishot receive into provided buffers is the newest thing used (6.0).
    if (!kernel_at_least(6, 0))
        return "the kernel is older than 6.0, which added multishot receive";
    // The probe ring never polls (a --sqpoll ring's kernel thread would outlive
    // it for a moment and be counted as one of ours); a refused SQPOLL fails
    // setup() instead, naming io_uring_setup.
    io_uring ring{};
    if (int r = init_ring(ring, UringOptions{}, 8, 16); r < 0) return setup_refused(-r);
    std::optional<std::string> why;
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
        for (int op :
             {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_TIMEOUT,
              IORING_OP_ASYNC_CANCEL, IORING_OP_CLOSE, IORING_OP_POLL_ADD, IORING_OP_READ}) {
            if (!io_uring_opcode_supported(probe, op)) {
                why = fmt::format("the kernel's io_uring lacks operation {}", op);
                break;
            }
        }
        io_uring_free_probe(probe);
    } else {
        why = "io_uring's probe failed";
    }
    io_uring_queue_exit(&ring);
    return why;
}

UringReactor::UringReactor(const ServerOptions& options, const UringOptions& uring,
                           ThreadStats& stats, int listen_fd)
    : options_(options),
      uring_(uring),
      stats_(stats),
      listen_fd_(listen_fd),
      ring_(std::make_unique<io_uring>()) {}

UringReactor::~UringReactor() {
    // run() returned once no connection operation was in flight (or after
    // kFinalWait); exiting the ring cancels the rest (the listener's accept,
    // the timers, the eventfd read), none of which writes into the buffers.
    if (ring_ready_) io_uring_queue_exit(ring_.get());
    if (buf_ring_) ::munmap(buf_ring_, buf_ring_bytes_);
}

void UringReactor::setup() {
    if (int r = init_ring(*ring_, uring_, kSqEntries, kCqEntries); r < 0) fail(r, "io_uring_setup");
    ring_ready_ = true;

    // The provided buffer ring: the kernel takes a free buffer from it for each
    // receive completion.
    buf_ring_bytes_ = kBufferCount * sizeof(io_uring_buf);
    void* mem = ::mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) fail(-errno, "mmap");
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = kBufferCount;
    reg.bgid = kBufferGroup;
    if (int r = io_uring_register_buf_ring(ring_.get(), &reg, 0); r < 0)
        fail(r, "io_uring_register_buf_ring");
    io_uring_buf_ring_init(buf_ring_);
    buffers_.resize(size_t{kBufferCount} * kBufferSize);
    for (unsigned i = 0; i < kBufferCount; ++i)
        io_uring_buf_ring_add(buf_ring_, buffers_.data() + size_t{i} * kBufferSize, kBufferSize,
                              static_cast<uint16_t>(i), io_uring_buf_ring_mask(kBufferCount),
                              static_cast<int>(i));
    io_uring_buf_ring_advance(buf_ring_, kBufferCount);

    if (uring_.fixed_files) {
        // The file table stands in for the descriptor table: as many slots as
        // this process may have descriptors (the kernel allows no more).
        rlimit lim{};
        uint64_t slots = 65536;
        if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
            slots = lim.rlim_cur;
        file_slots_ = static_cast<unsigned>(std::min<uint64_t>(slots, 1u << 20));
        if (int r = io_uring_register_files_sparse(ring_.get(), file_slots_); r < 0)
            fail(r, "io_uring_register_files_sparse");
    }
}

void UringReactor::watch(int fd, std::function<void()> on_ready) {
    watch_fd_ = fd;
    on_watch_ = std::move(on_ready);
}

void UringReactor::post_shutdown() {
    shutdown_requested_.store(true, std::memory_order_release);
    wake_.notify();
}

// --- the loop ------------------------------------------------------------------

void UringReactor::run() {
    now_ = Clock::now();
    // The eventfd read that post_shutdown() completes.
    io_uring_prep_read(sqe(Op::kWake), wake_.fd(), &wake_value_, sizeof wake_value_, 0);
    if (watch_fd_ >= 0) io_uring_prep_poll_multishot(sqe(Op::kWatch), watch_fd_, POLLIN);
    arm_accept();
    arm_timer(Op::kTick, sweep_period(options_));
    if (shutdown_requested_.load(std::memory_order_acquire)) begin_shutdown();
    while (!stopped_) {
        wait_for_completions();
        reap();
        after_batch();
    }
    // The last closes (and the cancels before them) are still in flight: wait
    // for them, so every socket is closed when run() returns and no operation
    // can still reach a connection's buffers or the receive buffers.
    auto until = Clock::now() + kFinalWait;
    while ((closes_in_flight_ > 0 || !closing_.empty()) && Clock::now() < until) {
        wait_for_completions(std::chrono::milliseconds(100));  // bounded: no timer runs now
        reap();
        release_closed();
    }
}

io_uring_sqe* UringReactor::sqe(Op op, uint32_t slot) {
    io_uring_sqe* s = io_uring_get_sqe(ring_.get());
    if (!s) {
        // The submission queue is full: hand it to the kernel now. Without
        // SQPOLL that empties it; with it, the kernel's poller takes entries
        // when it gets to them, so wait until it has freed one.
        submit_pending();
        s = io_uring_get_sqe(ring_.get());
        while (!s && uring_.sqpoll) {
            int r = io_uring_sqring_wait(ring_.get());
            stats_.count(Syscall::kUringEnter);
            if (r < 0 && r != -EINTR && r != -EAGAIN) fail(r, "io_uring_enter(SQ_WAIT)");
            s = io_uring_get_sqe(ring_.get());
        }
        if (!s) throw std::runtime_error("io_uring submission queue stays full");
    }
    io_uring_sqe_set_data64(s, tag(static_cast<uint8_t>(op), slot));
    return s;
}

void UringReactor::submit_pending() {
    // Without SQPOLL, submitting is an io_uring_enter(); with it, only when the
    // kernel's poller thread has gone to sleep and must be woken.
    bool enters = uring_.sqpoll ? (IO_URING_READ_ONCE(*ring_->sq.kflags) & IORING_SQ_NEED_WAKEUP)
                                : io_uring_sq_ready(ring_.get()) > 0;
    int r = io_uring_submit(ring_.get());
    if (enters) stats_.count(Syscall::kUringEnter);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) fail(r, "io_uring_enter");
}

void UringReactor::wait_for_completions(std::optional<Clock::duration> at_most) {
    // One system call submits everything queued and waits for a completion.
    int r = 0;
    if (at_most) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*at_most).count();
        __kernel_timespec ts{.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
        io_uring_cqe* cqe = nullptr;
        r = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
    } else {
        r = io_uring_submit_and_wait(ring_.get(), 1);
    }
    stats_.count(Syscall::kUringEnter);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME)
        fail(r, "io_uring_enter");
    now_ = Clock::now();
}

void UringReactor::reap() {
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
        ++seen;
        complete(cqe->user_data, cqe->res, cqe->flags);
    }
    io_uring_cq_advance(ring_.get(), seen);
}

void UringReactor::after_batch() {
    // Receives that ended for want of a buffer: every buffer of the batch is
    // back in the ring now. Re-armed even while shutting down: the bytes they
    // were to bring may be a request sent before the signal, which
    // drain_pass() then collects.
    std::vector<uint32_t> rearm;
    rearm.swap(rearm_);
    for (uint32_t slot : rearm) {
        Connection* c = slots_[slot].get();
        if (c && !c->closed && !c->recv_armed && !c->input_closed) arm_recv(slot);
    }
    if (drain_pending_) drain_pass();
    release_closed();
    if (shutting_down_ && open_ == 0) stopped_ = true;
}

void UringReactor::complete(uint64_t user_data, int res, uint32_t flags) {
    auto op = static_cast<Op>(user_data & 0xff);
    auto slot = static_cast<uint32_t>(user_data >> 8);
    switch (op) {
        case Op::kAccept:
            on_accept(res, flags);
            break;
        case Op::kRecv:
            on_recv(slot, res, flags);
            break;
        case Op::kSend:
            on_send(slot, res);
            break;
        case Op::kTick:
            sweep();
            if (!stopped_) arm_timer(Op::kTick, sweep_period(options_));
            break;
        case Op::kResume:
            accept_paused_ = false;
            if (!accept_armed_ && !shutting_down_) arm_accept();
            break;
        case Op::kDeadline:
            for (uint32_t i = 0; i < slots_.size(); ++i) {
                if (slots_[i] && !slots_[i]->closed) close(i);
            }
            stopped_ = true;
            break;
        case Op::kWake:
            if (shutdown_requested_.load(std::memory_order_acquire) && !shutting_down_)
                begin_shutdown();
            io_uring_prep_read(sqe(Op::kWake), wake_.fd(), &wake_value_, sizeof wake_value_, 0);
            break;
        case Op::kWatch:
            if (on_watch_) on_watch_();
            if (!(flags & IORING_CQE_F_MORE) && !stopped_)
                io_uring_prep_poll_multishot(sqe(Op::kWatch), watch_fd_, POLLIN);
            break;
        case Op::kClosed:
            --closes_in_flight_;
            if (uring_.fixed_files) {
                --files_in_use_;
                // A slot of the file table is free again.
                if (!accept_armed_ && !accept_paused_ && !shutting_down_ && accept_room())
                    arm_accept();
            }
            break;
        case Op::kIgnore:
            break;
    }
}

// --- accepting -------------------------------------------------------------------

void UringReactor::arm_accept() {
    io_uring_sqe* s = sqe(Op::kAccept);
    if (uring_.fixed_files) {
        // A direct accept takes a connection off the backlog before it looks
        // for a free slot, and one that finds none is lost (ENFILE); a
        // multishot accept takes the whole backlog at once. So multishot only
        // while the free slots outnumber any backlog, and one at a time near
        // the table's end, stopping when it is full (accept_room()).
        accept_multishot_ = room_for_backlog();
        if (accept_multishot_) {
            io_uring_prep_multishot_accept_direct(s, listen_fd_, nullptr, nullptr, 0);
        } else {
            // liburing 2.3 adds one to the index it is given: ALLOC - 1 asks
            // the kernel to allocate a slot.
            io_uring_prep_accept_direct(s, listen_fd_, nullptr, nullptr, 0,
                                        IORING_FILE_INDEX_ALLOC - 1);
        }
    } else {
        io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        accept_multishot_ = true;
    }
    accept_armed_ = true;
    accept_cancelled_ = false;
}

bool UringReactor::room_for_backlog() const {
    return file_slots_ - files_in_use_ > static_cast<unsigned>(options_.backlog) + kSomaxconnMargin;
}

void UringReactor::on_accept(int res, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) accept_armed_ = false;
    if (res >= 0) {
        ++stats_.accepted;
        if (uring_.fixed_files) ++files_in_use_;
        adopt(res);
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        // Out of descriptors (or file-table slots): the connection waits in the
        // backlog while we stop accepting for a while, so the ring cannot spin.
        stats_.count(ErrorKind::kAcceptFdLimit);
        if (!accept_paused_) {
            accept_paused_ = true;
            if (accept_armed_) cancel_accept();
            arm_timer(Op::kResume, kAcceptPause);
        }
    } else if (res != -ECANCELED) {
        stats_.count(ErrorKind::kAcceptAborted);
    }
    if (!accept_room()) {
        // Fixed files: the table is full. Stop accepting (newcomers wait in the
        // backlog) until closes free slots (Op::kClosed).
        if (accept_armed_) cancel_accept();
        return;
    }
    if (uring_.fixed_files && accept_armed_ && accept_multishot_ && !room_for_backlog()) {
        // No longer room for a whole backlog: end the multishot accept; its
        // final completion re-arms one accept at a time.
        cancel_accept();
        return;
    }
    if (!accept_armed_ && !accept_paused_ && !shutting_down_) arm_accept();
}

bool UringReactor::accept_room() const {
    return !uring_.fixed_files || files_in_use_ < file_slots_;
}

void UringReactor::cancel_accept() {
    if (accept_cancelled_) return;  // once per armed accept
    accept_cancelled_ = true;
    io_uring_prep_cancel64(sqe(Op::kIgnore), tag(static_cast<uint8_t>(Op::kAccept), 0), 0);
}

void UringReactor::close_unserved(int fd) {
    if (uring_.fixed_files) {
        io_uring_prep_close_direct(sqe(Op::kClosed), static_cast<unsigned>(fd));
        ++closes_in_flight_;
    } else {
        ::close(fd);
    }
}

void UringReactor::adopt(int fd) {
    if (shutting_down_) {
        // Accepted by the multishot accept before its cancel took effect: the
        // Reactor would have left it in the backlog; closed, and no error.
        close_unserved(fd);
        return;
    }
    if (open_ >= options_.max_connections) {
        stats_.count(ErrorKind::kConnectionCap);
        close_unserved(fd);
        return;
    }
    // A fixed file has no descriptor to setsockopt: it inherited TCP_NODELAY
    // from the listener (servers/uring.cpp sets it there).
    if (!uring_.fixed_files && !prepare_accepted(fd, options_, stats_)) {
        close_unserved(fd);  // counted
        return;
    }
    uint32_t slot = 0;
    if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
    } else {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    slots_[slot] = std::make_unique<Connection>(fd, options_, now_);
    ++open_;
    stats_.peak_connections = std::max<uint64_t>(stats_.peak_connections, open_);
    arm_recv(slot);
}

// --- receiving, parsing, sending ---------------------------------------------------

void UringReactor::arm_recv(uint32_t slot) {
    Connection& c = *slots_[slot];
    io_uring_sqe* s = sqe(Op::kRecv, slot);
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT | (uring_.fixed_files ? IOSQE_FIXED_FILE : 0);
    s->buf_group = kBufferGroup;
    c.recv_armed = true;
    c.recv_cancelled = false;
    ++c.in_flight;
}

void UringReactor::give_back(uint16_t buffer_id) {
    io_uring_buf_ring_add(buf_ring_, buffers_.data() + size_t{buffer_id} * kBufferSize, kBufferSize,
                          buffer_id, io_uring_buf_ring_mask(kBufferCount), 0);
    io_uring_buf_ring_advance(buf_ring_, 1);
}

void UringReactor::on_recv(uint32_t slot, int res, uint32_t flags) {
    Connection& c = *slots_[slot];
    if (!(flags & IORING_CQE_F_MORE)) {
        c.recv_armed = false;
        --c.in_flight;
    }
    if (flags & IORING_CQE_F_BUFFER) {
        auto id = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        if (res > 0 && !c.closed) {
            stats_.bytes_in += static_cast<uint64_t>(res);
            c.last_active = now_;
            if (!c.request_timing) {
                // The deadline counts from a request's first byte and is not
                // pushed back by later ones.
                c.request_timing = true;
                c.request_started = now_;
            }
            drive(slot, buffers_.data() + size_t{id} * kBufferSize, static_cast<size_t>(res));
        }
        give_back(id);
    } else if (c.closed) {
        // a completion of a connection already closing: nothing to do
    } else if (res == 0) {
        c.input_closed = true;
        c.last_active = now_;
        drive(slot, nullptr, 0);
    } else if (res == -ENOBUFS) {
        rearm_.push_back(slot);  // every buffer was in use: again after this batch
    } else if (res < 0 && res != -ECANCELED) {
        stats_.count(ErrorKind::kRead);
        close(slot);
    } else if (!c.recv_armed) {
        update_io(slot);
    }
}

void UringReactor::start_send(uint32_t slot) {
    Connection& c = *slots_[slot];
    if (c.send_in_flight || c.closed) return;
    if (c.sending.empty()) {
        if (c.out.empty()) return;
        std::swap(c.sending, c.out);  // `out` keeps collecting while this is sent
    }
    io_uring_sqe* s = sqe(Op::kSend, slot);
    io_uring_prep_send(s, c.fd, c.sending.peek(), c.sending.readable(), MSG_NOSIGNAL);
    if (uring_.fixed_files) s->flags |= IOSQE_FIXED_FILE;
    c.send_in_flight = true;
    c.send_started = now_;
    ++c.in_flight;
}

void UringReactor::on_send(uint32_t slot, int res) {
    Connection& c = *slots_[slot];
    c.send_in_flight = false;
    --c.in_flight;
    if (c.closed) return;
    if (res < 0) {
        stats_.count(ErrorKind::kWrite);
        close(slot);
        return;
    }
    c.sending.consume(static_cast<size_t>(res));
    stats_.bytes_out += static_cast<uint64_t>(res);
    c.last_active = now_;
    if (c.sending.empty()) c.sending.shrink_if_idle(kIdleBufferKeep);
    drive(slot, nullptr, 0);  // sends the rest, or what came meanwhile
}

// Parses and answers requests from [data, data+len) until it runs out of bytes
// or must hold back; `consumed` says how far it got.
UringReactor::Stop UringReactor::process(Connection& c, const char* data, size_t len,
                                         size_t& consumed) {
    consumed = 0;
    for (;;) {
        if (c.close_after_flush) return Stop::kClosing;
        if (c.out.readable() + c.sending.readable() >= options_.output_high_water)
            return Stop::kHighWater;
        if (consumed == len) {
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
        c.request_timing = consumed < len;
        c.request_started = now_;
        if (!r.keep_alive || shutting_down_) c.close_after_flush = true;
        execute(r);
        write_reply(r, c.out);
        ++stats_.requests;
    }
}

void UringReactor::drive(uint32_t slot, const char* fresh, size_t fresh_len) {
    Connection& c = *slots_[slot];
    if (fresh_len > 0 && !c.in.empty()) {
        c.in.append(fresh, fresh_len);
        fresh_len = 0;
    }
    size_t consumed = 0;
    if (fresh_len > 0) {
        process(c, fresh, fresh_len, consumed);
        c.in.append(fresh + consumed, fresh_len - consumed);  // held back: keep the rest
    } else if (!c.in.empty() || c.close_after_flush) {
        process(c, c.in.peek(), c.in.readable(), consumed);
        c.in.consume(consumed);
    }
    stats_.output_high_water =
        std::max<uint64_t>(stats_.output_high_water, c.out.readable() + c.sending.readable());
    start_send(slot);
    if (done(c)) {
        close(slot);
        return;
    }
    update_io(slot);
}

// True when nothing more is owed on this connection and it should close.
bool UringReactor::done(const Connection& c) const {
    if (!c.out.empty() || !c.sending.empty() || c.send_in_flight) return false;
    if (c.close_after_flush || c.input_closed) return true;
    return shutting_down_ && !c.reader.in_progress() && c.in.empty();
}

// Receives while the connection may read, and cancels the receive while it may
// not (output above the high-water mark, shutting down with nothing begun).
void UringReactor::update_io(uint32_t slot) {
    Connection& c = *slots_[slot];
    bool want_read = !c.input_closed && !c.close_after_flush &&
                     c.out.readable() + c.sending.readable() < options_.output_high_water &&
                     (!shutting_down_ || c.reader.in_progress());
    if (want_read && !c.recv_armed) {
        arm_recv(slot);
    } else if (!want_read && c.recv_armed && !c.recv_cancelled) {
        io_uring_prep_cancel64(sqe(Op::kIgnore), tag(static_cast<uint8_t>(Op::kRecv), slot), 0);
        c.recv_cancelled = true;
    }
}

void UringReactor::close(uint32_t slot) {
    Connection& c = *slots_[slot];
    if (c.closed) return;
    c.closed = true;
    closing_.push_back(slot);
    --open_;
    ++stats_.connections_closed;
    // Cancel whatever is in flight on the socket, then close it: hard-linked, so
    // the close runs after the cancel even when there was nothing to cancel.
    // Their completions name no slot; the slot itself is freed once every
    // operation that names it has completed (release_closed()).
    io_uring_sqe* cancel = sqe(Op::kIgnore);
    unsigned cancel_flags = IORING_ASYNC_CANCEL_ALL;
    if (uring_.fixed_files) cancel_flags |= IORING_ASYNC_CANCEL_FD_FIXED;
    io_uring_prep_cancel_fd(cancel, c.fd, cancel_flags);
    cancel->flags |= IOSQE_IO_HARDLINK;
    io_uring_sqe* shut = sqe(Op::kClosed);
    ++closes_in_flight_;
    if (uring_.fixed_files) {
        io_uring_prep_close_direct(shut, static_cast<unsigned>(c.fd));
    } else {
        io_uring_prep_close(shut, c.fd);
    }
}

void UringReactor::release_closed() {
    // A closed connection's slot is reused only once no operation in flight
    // names it: a late completion must not reach the slot's next connection.
    auto released = [this](uint32_t slot) {
        if (slots_[slot]->in_flight > 0) return false;
        slots_[slot].reset();
        free_slots_.push_back(slot);
        return true;
    };
    closing_.erase(std::remove_if(closing_.begin(), closing_.end(), released), closing_.end());
}

// --- deadlines and shutdown ----------------------------------------------------------

void UringReactor::arm_timer(Op op, Clock::duration after) {
    // The timespec is read when the operation is submitted: kept per kind of
    // timer until then.
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(after).count();
    __kernel_timespec& ts = timer_specs_.at(static_cast<uint8_t>(op));
    ts.tv_sec = ns / 1'000'000'000;
    ts.tv_nsec = ns % 1'000'000'000;
    io_uring_prep_timeout(sqe(op), &ts, 0, 0);
}

void UringReactor::sweep() {
    for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
        if (!slots_[slot] || slots_[slot]->closed) continue;
        Connection& c = *slots_[slot];
        if (c.send_in_flight && now_ - c.send_started > options_.write_timeout) {
            stats_.count(ErrorKind::kWriteTimeout);
            close(slot);
        } else if (c.request_timing && c.reader.in_progress() &&
                   now_ - c.request_started > options_.header_timeout) {
            stats_.count(ErrorKind::kHeaderTimeout);
            close(slot);
        } else if (!c.request_timing && !c.send_in_flight && c.out.empty() &&
                   now_ - c.last_active > options_.idle_timeout) {
            stats_.count(ErrorKind::kIdleTimeout);
            close(slot);
        }
    }
}

void UringReactor::begin_shutdown() {
    shutting_down_ = true;
    if (accept_armed_) cancel_accept();
    arm_timer(Op::kDeadline, options_.shutdown_timeout);
    // Bytes that reached a socket before the signal are a request in flight,
    // but their receive completion may not be posted yet: collect every
    // completion the kernel has first, then close the connections with none.
    drain_pending_ = true;
}

void UringReactor::drain_pass() {
    drain_pending_ = false;
    submit_pending();
    int r = io_uring_get_events(ring_.get());
    stats_.count(Syscall::kUringEnter);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) fail(r, "io_uring_enter");
    reap();
    for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
        if (slots_[slot] && !slots_[slot]->closed) drive(slot, nullptr, 0);
    }
}

}  // namespace pb
