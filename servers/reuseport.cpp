// server-reuseport: multiple listeners, acceptors and readers (socket sharding).
//
//   main thread (loop 0): listen fd 0 ─┐
//   loop thread 1:        listen fd 1 ─┼─> own epoll ─> accept | read → parse → work → write
//   ...                   (N SO_REUSEPORT listeners bound to one port, one per loop;
//                          loop 0 also takes the signals)
//
// The kernel hashes each new connection's 4-tuple to one listener, so the loops
// accept in parallel with no shared queue, no lock and no herd. Costs: the hash
// is blind to load: a loop busy with slow requests keeps getting its share of
// new connections, which wait in its own backlog while other loops idle; a slow
// request still stalls the other connections of its loop. nginx
// `listen ... reuseport`, Envoy and HAProxy shard this way.
#include <memory>
#include <thread>
#include <vector>

#include "event_loop.hpp"
#include "reactor.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

// One event-loop thread with its own listener, connections and counters.
struct LoopThread {
    explicit LoopThread(const pb::ServerOptions& options) : reactor(loop, options, stats) {}
    pb::EventLoop loop;
    pb::ThreadStats stats;
    pb::Reactor reactor;
    pb::UniqueFd listener;
    std::thread thread;
};

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    CLI::App app{"server-reuseport: N loops, each with its own SO_REUSEPORT listener"};
    pb::add_server_options(app, options);
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen: the first listener picks the port (--port 0), the others join it.
    // Every loop thread opens descriptors, so EMFILE pauses instead of using a
    // reserve fd that another thread could take.
    std::vector<std::unique_ptr<LoopThread>> loops;
    std::vector<pb::StatsRegistration> registered;
    uint16_t port = options.port;
    for (unsigned i = 0; i < options.threads; ++i) {
        auto& t = *loops.emplace_back(std::make_unique<LoopThread>(options));
        registered.emplace_back(t.stats);
        t.listener = pb::listen_tcp(
            {.host = options.host, .port = port, .backlog = options.backlog, .reuseport = true});
        port = pb::local_port(t.listener.get());
        t.reactor.listen_on(t.listener.get(), 0, pb::Reactor::FdLimitPolicy::kPause);
    }
    // Loop 0 takes the signals and tells every loop, itself included.
    pb::ShutdownSignal shutdown(loops[0]->loop, [&] {
        for (auto& t : loops)
            t->loop.post([&t = *t] { t.reactor.begin_shutdown([&t] { t.loop.stop(); }); });
    });
    pb::announce_listening(options, port);

    // Spawn: a thread for every loop but loop 0, which this thread runs.
    for (size_t i = 1; i < loops.size(); ++i)
        loops[i]->thread = std::thread([&t = *loops[i]] { t.loop.run(); });
    uint64_t peak_threads = pb::current_thread_count();

    // Run: loop 0 here, the others on their threads, until SIGTERM drains them.
    loops[0]->loop.run();
    std::vector<pb::ThreadStats> stats;
    for (auto& t : loops) {
        if (t->thread.joinable()) t->thread.join();
        stats.push_back(t->stats);
    }

    // Shut down.
    pb::write_stats_if_requested(options, "reuseport", stats, peak_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-reuseport", run, argc, argv);
}
