// server-reactor-pool: one acceptor loop hands connections round-robin to N
// reader loops (the memcached / muduo / Netty boss-worker model).
//
//   main thread (acceptor loop): listen fd ─> accept ─round robin─┬─post(adopt)─> reader loop 0
//                                                                 ├─post(adopt)─> reader loop 1
//                                                                 └─ ...
//   reader loop i: epoll ─> read → parse → work → write   (for life, on its connections)
//
// Costs: every connection crosses threads once (a post and an eventfd wake-up),
// and one acceptor thread bounds how fast connections can be opened, which
// matters under connection churn, not keep-alive. Round-robin is blind to load:
// a reader stuck on a slow request still gets its turn of new connections, and
// that request stalls the other connections of its loop. In return accepting
// never competes with reading, the listener has one waiter (no herd), only the
// acceptor opens descriptors (the reserve-fd trick is safe), and connections
// spread evenly by construction. memcached, muduo's TcpServer with
// setThreadNum(N) and Netty's boss/worker groups are built this way.
#include <memory>
#include <vector>

#include "loop_thread.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    CLI::App app{"server-reactor-pool: one acceptor loop, N reader loops, round-robin"};
    pb::add_server_options(app, options);
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen: only the acceptor opens descriptors, so the reserve-fd trick is safe.
    pb::UniqueFd listener = pb::listen_tcp({.host = options.host,
                                            .port = options.port,
                                            .backlog = options.backlog,
                                            .fastopen = options.fastopen});
    pb::LoopThread acceptor(options);
    acceptor.stats.role = "acceptor";
    std::vector<std::unique_ptr<pb::LoopThread>> readers;
    std::vector<pb::StatsRegistration> registered;
    registered.emplace_back(acceptor.stats);
    for (unsigned i = 0; i < options.threads; ++i) {
        auto& t = *readers.emplace_back(std::make_unique<pb::LoopThread>(options));
        registered.emplace_back(t.stats);
    }
    // Round-robin. The cap is per reader loop (post_adopt()), as it is per
    // loop in the other multi-loop patterns.
    size_t next = 0;
    acceptor.reactor.set_hand_off([&](pb::UniqueFd fd) {
        if (readers[next++ % readers.size()]->post_adopt(std::move(fd)))
            acceptor.stats.count(pb::Syscall::kWakeup);
    });
    acceptor.reactor.listen_on(listener.get(), 0, pb::Reactor::FdLimitPolicy::kReserveFd);
    // The acceptor takes the signals. The readers' shutdown is posted once it
    // has stopped accepting, so it queues behind every hand-off already posted.
    pb::ShutdownSignal shutdown(acceptor.loop, [&] {
        acceptor.post_shutdown([&] {
            for (auto& t : readers) t->post_shutdown();
        });
    });
    pb::announce_listening(options, pb::local_port(listener.get()));

    // Spawn: one thread per reader loop.
    for (auto& t : readers) t->start();
    uint64_t peak_threads = pb::current_thread_count();

    // Run: this thread accepts, and takes the signals, until SIGTERM; then the
    // readers drain.
    acceptor.run();

    // Shut down: join every reader loop, then write the stats.
    std::vector<pb::ThreadStats> stats{acceptor.stats};
    pb::join_loops(readers, stats);
    pb::write_stats_if_requested(options, "reactor-pool", stats, peak_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-reactor-pool", run, argc, argv);
}
