// server-multi-accept: multiple acceptor threads on a single listening socket.
//
//                    ┌─> main thread (loop 0): epoll ─> accept | read → parse → work → write
//   one listen fd ───┼─> loop thread 1: epoll ─> accept | read → parse → work → write
//                    └─> ...   (every loop waits on the same listener; loop 0 takes the signals)
//   --accept-mode blocking:  acceptor thread i: accept() ─post(adopt)─> loop thread i
//
// exclusive (default): EPOLLEXCLUSIVE wakes one waiting loop per connection,
// the most recently idle first (LIFO), so under light load one loop takes most
// connections. herd: every loop wakes for every connection and one wins. The
// kernel re-checks the listener before epoll_wait() returns, so most losers
// sleep again unseen, paid in context switches (3x exclusive's here); those
// that reach accept() and find EAGAIN are counted as futile_wakeups.
// blocking: N acceptor threads sleep in accept(), which the kernel hands out
// FIFO, so connections spread evenly; each posts to its own loop (2N threads,
// an eventfd wake-up per connection). Costs, all modes: one accept queue for
// all (a lock in the kernel); a slow request stalls its loop's other
// connections. nginx (accept_mutex, then EPOLLEXCLUSIVE since 1.11.3).
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "blocking_conn.hpp"
#include "loop_thread.hpp"
#include "poller.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

enum class AcceptMode { kExclusive, kHerd, kBlocking };

// Blocking mode: the thread that sleeps in accept() for one loop, and its counters.
struct Acceptor {
    pb::ThreadStats stats;
    std::thread thread;
};

// Blocking mode, acceptor thread: hands each connection to loop `t`, then,
// once the listener is shut, queues the loop's shutdown behind those hand-offs.
void accept_into(pb::LoopThread& t, int listener, pb::ThreadStats& stats) {
    while (pb::UniqueFd fd = pb::accept_blocking(listener, true, stats))
        if (t.post_adopt(std::move(fd))) stats.count(pb::Syscall::kWakeup);
    t.post_shutdown();
}

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    AcceptMode mode = AcceptMode::kExclusive;
    CLI::App app{"server-multi-accept: N loops accept from one shared listening socket"};
    pb::add_server_options(app, options);
    std::map<std::string, AcceptMode> modes{{"exclusive", AcceptMode::kExclusive},
                                            {"herd", AcceptMode::kHerd},
                                            {"blocking", AcceptMode::kBlocking}};
    app.add_option("--accept-mode", mode,
                   "exclusive (EPOLLEXCLUSIVE), herd (every loop woken) or blocking "
                   "(an accept() thread per loop)")
        ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case))
        ->default_str("exclusive");
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen: one socket for everyone. Every loop thread opens descriptors, so
    // EMFILE pauses instead of using a reserve fd that another thread could take.
    bool blocking = mode == AcceptMode::kBlocking;
    pb::UniqueFd listener = pb::listen_tcp({.host = options.host,
                                            .port = options.port,
                                            .backlog = options.backlog,
                                            .nonblocking = !blocking,
                                            .fastopen = options.fastopen});
    std::vector<std::unique_ptr<pb::LoopThread>> loops;
    std::vector<Acceptor> acceptors(blocking ? options.threads : 0);
    std::vector<pb::StatsRegistration> registered;
    for (unsigned i = 0; i < options.threads; ++i) {
        auto& t = *loops.emplace_back(std::make_unique<pb::LoopThread>(options));
        registered.emplace_back(t.stats);
        if (blocking) {
            acceptors[i].stats.role = "acceptor";
            registered.emplace_back(acceptors[i].stats);
        } else {
            uint32_t flags = mode == AcceptMode::kExclusive ? pb::kExclusive : 0u;
            t.reactor.listen_on(listener.get(), flags, pb::Reactor::FdLimitPolicy::kPause);
        }
    }
    // Loop 0 takes the signals and tells every loop, itself included.
    pb::ShutdownSignal shutdown(loops[0]->loop, [&] {
        if (blocking) {
            pb::stop_accepting(listener.get());  // each acceptor then drains its loop
            return;
        }
        for (auto& t : loops) t->post_shutdown();
    });
    pb::announce_listening(options, pb::local_port(listener.get()));

    // Spawn: a thread for every loop but loop 0, which this thread runs, plus
    // one acceptor per loop in blocking mode.
    for (size_t i = 1; i < loops.size(); ++i) loops[i]->start();
    for (size_t i = 0; i < acceptors.size(); ++i)
        acceptors[i].thread = std::thread(accept_into, std::ref(*loops[i]), listener.get(),
                                          std::ref(acceptors[i].stats));
    uint64_t peak_threads = pb::current_thread_count();

    // Run: loop 0 here, the others on their threads, until SIGTERM drains them.
    loops[0]->run();

    // Shut down: join every thread, then write the stats, each loop's followed
    // by its acceptor's in blocking mode.
    std::vector<pb::ThreadStats> stats;
    for (size_t i = 0; i < loops.size(); ++i) {
        if (blocking) acceptors[i].thread.join();
        loops[i]->join();
        stats.push_back(loops[i]->stats);
        if (blocking) stats.push_back(acceptors[i].stats);
    }
    pb::write_stats_if_requested(options, "multi-accept", stats, peak_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-multi-accept", run, argc, argv);
}
