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
#include <vector>

#include "loop_thread.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    CLI::App app{"server-reuseport: N loops, each with its own SO_REUSEPORT listener"};
    pb::add_server_options(app, options);
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen: a socket per loop; the first picks the port (--port 0), the others
    // join it. Every loop thread opens descriptors, so EMFILE pauses instead of
    // using a reserve fd that another thread could take.
    std::vector<pb::UniqueFd> listeners;
    std::vector<std::unique_ptr<pb::LoopThread>> loops;
    std::vector<pb::StatsRegistration> registered;
    uint16_t port = options.port;
    for (unsigned i = 0; i < options.threads; ++i) {
        listeners.push_back(pb::listen_tcp({.host = options.host,
                                            .port = port,
                                            .backlog = options.backlog,
                                            .reuseport = true,
                                            .fastopen = options.fastopen}));
        int listener = listeners.back().get();
        port = pb::local_port(listener);
        auto& t = *loops.emplace_back(std::make_unique<pb::LoopThread>(options));
        registered.emplace_back(t.stats);
        t.reactor.listen_on(listener, 0, pb::Reactor::FdLimitPolicy::kPause);
    }
    // Loop 0 takes the signals and tells every loop, itself included.
    pb::ShutdownSignal shutdown(loops[0]->loop, [&] {
        for (auto& t : loops) t->post_shutdown();
    });
    pb::announce_listening(options, port);

    // Spawn: a thread for every loop but loop 0, which this thread runs.
    for (size_t i = 1; i < loops.size(); ++i) loops[i]->start();
    uint64_t peak_threads = pb::current_thread_count();

    // Run: loop 0 here, the others on their threads, until SIGTERM drains them.
    loops[0]->run();

    // Shut down: join every loop, then write the stats.
    std::vector<pb::ThreadStats> stats;
    pb::join_loops(loops, stats);
    pb::write_stats_if_requested(options, "reuseport", stats, peak_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-reuseport", run, argc, argv);
}
