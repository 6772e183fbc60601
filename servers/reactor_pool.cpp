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
#include <thread>
#include <vector>

#include "event_loop.hpp"
#include "reactor.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

// One event-loop thread with its connections and counters.
struct LoopThread {
    explicit LoopThread(const pb::ServerOptions& options) : reactor(loop, options, stats) {}
    pb::EventLoop loop;
    pb::ThreadStats stats;
    pb::Reactor reactor;
    std::thread thread;
};

// Acceptor thread: gives a connection to reader `t`. The cap is per reader
// loop, as it is per loop in the other multi-loop patterns.
void hand_to(LoopThread& t, pb::UniqueFd fd) {
    auto conn = std::make_shared<pb::UniqueFd>(std::move(fd));  // closes if never run
    t.loop.post([&t, conn] { t.reactor.adopt(std::move(*conn)); });
}

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    CLI::App app{"server-reactor-pool: one acceptor loop, N reader loops, round-robin"};
    pb::add_server_options(app, options);
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen: only the acceptor opens descriptors, so the reserve-fd trick is safe.
    std::vector<std::unique_ptr<LoopThread>> readers;
    for (unsigned i = 0; i < options.threads; ++i)
        readers.push_back(std::make_unique<LoopThread>(options));
    LoopThread acceptor(options);
    acceptor.stats.role = "acceptor";
    std::vector<pb::StatsRegistration> registered;
    registered.emplace_back(acceptor.stats);
    for (auto& t : readers) registered.emplace_back(t->stats);
    size_t next = 0;
    acceptor.reactor.set_hand_off(
        [&](pb::UniqueFd fd) { hand_to(*readers[next++ % readers.size()], std::move(fd)); });
    // The readers' shutdown is posted by the acceptor once it stopped
    // accepting, so it queues behind every hand-off already posted.
    pb::ShutdownSignal shutdown(acceptor.loop, [&] {
        acceptor.loop.post([&] {
            acceptor.reactor.begin_shutdown([&] {
                for (auto& t : readers)
                    t->loop.post([&t = *t] { t.reactor.begin_shutdown([&t] { t.loop.stop(); }); });
                acceptor.loop.stop();
            });
        });
    });
    pb::UniqueFd listener = pb::listen_tcp({options.host, options.port, options.backlog});
    acceptor.reactor.listen_on(listener.get(), 0, pb::Reactor::FdLimitPolicy::kReserveFd);
    pb::announce_listening(options, pb::local_port(listener.get()));

    // Spawn: one thread per reader loop.
    for (auto& t : readers) t->thread = std::thread([&t = *t] { t.loop.run(); });
    uint64_t peak_threads = pb::current_thread_count();

    // Run: this thread accepts, and takes the signals, until SIGTERM; then the
    // readers drain.
    acceptor.loop.run();
    std::vector<pb::ThreadStats> stats{acceptor.stats};
    for (auto& t : readers) {
        t->thread.join();
        stats.push_back(t->stats);
    }

    // Shut down.
    pb::write_stats_if_requested(options, "reactor-pool", stats, peak_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-reactor-pool", run, argc, argv);
}
