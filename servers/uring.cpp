// server-uring: completion-based I/O on io_uring, sharded like server-reuseport.
//
//   main thread (ring 0): listen fd 0 ─┐
//   ring thread 1:        listen fd 1 ─┼─> own io_uring: multishot accept → multishot recv
//   ...                                │   into a ring-provided buffer → parse → work →
//   (N SO_REUSEPORT listeners on one   │   send from the output buffer → completion
//    port, one per ring; ring 0 also takes the signals)
//
// Same sharding as reuseport, another I/O model: the ring is told what has
// *completed* (a connection accepted, bytes received, a send done) instead of
// what is *ready*, and one io_uring_enter() submits every queued operation and
// waits for the next completions, so a busy ring makes a few system calls per
// batch instead of a read and a write per request. Costs: a Linux-only API
// (6.0+ for multishot receive) that seccomp profiles and container runtimes
// often forbid, buffers the kernel owns while operations are in flight, and
// the hash's blindness to load that every reuseport design shares. Seastar,
// TigerBeetle and recent releases of Netty (io_uring transport) work this way.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <exception>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"
#include "uring_reactor.hpp"

namespace {

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    pb::UringOptions uring;
    CLI::App app{"server-uring: N io_uring rings, each with its own SO_REUSEPORT listener"};
    pb::add_server_options(app, options);
    app.add_flag("--sqpoll", uring.sqpoll,
                 "IORING_SETUP_SQPOLL: a kernel thread per ring takes submissions, so "
                 "submitting needs no system call while it is awake (it burns a CPU)");
    app.add_flag("--fixed-files", uring.fixed_files,
                 "Accept into the ring's registered file table: no process descriptor per "
                 "connection; TCP_NODELAY comes from the listener");
    CLI11_PARSE(app, argc, argv);
    if (auto why = pb::uring_unavailable_reason()) throw pb::Unavailable(*why);
    pb::finish_server_options(options);

    // Listen: a socket per ring, as server-reuseport; the first picks the port.
    std::vector<pb::UniqueFd> listeners;
    uint16_t port = options.port;
    for (unsigned i = 0; i < options.threads; ++i) {
        listeners.push_back(pb::listen_tcp({.host = options.host,
                                            .port = port,
                                            .backlog = options.backlog,
                                            .reuseport = true,
                                            .fastopen = options.fastopen}));
        port = pb::local_port(listeners.back().get());
        if (uring.fixed_files && options.nodelay) {
            // Accepted sockets inherit it: a fixed file has no descriptor to set it on.
            int one = 1;
            pb::check_syscall(
                ::setsockopt(listeners.back().get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
                "setsockopt(TCP_NODELAY)");
        }
    }

    // Rings, and the thread-per-ring stats the snapshots read.
    std::vector<pb::ThreadStats> stats(options.threads);
    std::vector<std::unique_ptr<pb::UringReactor>> rings;
    std::vector<pb::StatsRegistration> registered;
    for (unsigned i = 0; i < options.threads; ++i) {
        registered.emplace_back(stats[i]);
        rings.push_back(
            std::make_unique<pb::UringReactor>(options, uring, stats[i], listeners[i].get()));
    }
    // Ring 0 takes the signals and tells every ring, itself included (before
    // any other thread exists: the signal mask is inherited).
    pb::ShutdownSignal shutdown([&] {
        for (auto& r : rings) r->post_shutdown();
    });
    rings[0]->watch(shutdown.fd(), [&] { shutdown.dispatch(); });

    // Spawn: every ring is set up on its own thread (a SINGLE_ISSUER ring
    // belongs to the thread that made it); a failure reaches main() here.
    rings[0]->setup();
    std::vector<std::thread> threads;
    std::vector<std::future<void>> ready;
    for (size_t i = 1; i < rings.size(); ++i) {
        std::promise<void> set_up;
        ready.push_back(set_up.get_future());
        threads.emplace_back([ring = rings[i].get(), set_up = std::move(set_up)]() mutable {
            try {
                ring->setup();
            } catch (...) {
                set_up.set_exception(std::current_exception());
                return;
            }
            set_up.set_value();
            ring->run();
        });
    }
    std::exception_ptr failed;
    for (auto& f : ready) {
        try {
            f.get();
        } catch (...) {
            if (!failed) failed = std::current_exception();
        }
    }
    if (failed) {
        // The rings that did start have no connections yet: they stop at once.
        for (auto& r : rings) r->post_shutdown();
        for (auto& t : threads) t.join();
        std::rethrow_exception(failed);
    }
    uint64_t peak_threads = pb::current_thread_count();
    pb::announce_listening(options, port);

    // Run: ring 0 here, the others on their threads, until SIGTERM drains them.
    rings[0]->run();

    // Shut down: join every ring, then write the stats.
    for (auto& t : threads) t.join();
    pb::write_stats_if_requested(options, "uring", stats, peak_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-uring", run, argc, argv);
}
