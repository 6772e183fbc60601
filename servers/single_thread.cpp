// server-single: a single listener, acceptor and reader thread.
//
//        main thread (one EventLoop)
//   listen fd ──┐
//   conn fds ───┴─> epoll_wait ─> accept | read → parse → work → write
//
// Costs: never more than one core; a request that spins or sleeps stalls every
// other connection on the server (head-of-line blocking across clients). In
// return: no locks, no hand-offs, no context switches between accepting,
// reading and replying, so tiny requests get the lowest latency. Redis, Node.js
// and nginx with one worker are built this way.
#include "loop_thread.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    CLI::App app{"server-single: one thread listens, accepts, reads, works and writes"};
    pb::add_server_options(app, options);
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen. One thread opens every descriptor, so the reserve-fd trick is safe.
    pb::UniqueFd listener = pb::listen_tcp({.host = options.host,
                                            .port = options.port,
                                            .backlog = options.backlog,
                                            .fastopen = options.fastopen});
    pb::LoopThread main_loop(options);
    pb::StatsRegistration registered(main_loop.stats);
    main_loop.reactor.listen_on(listener.get(), 0, pb::Reactor::FdLimitPolicy::kReserveFd);
    pb::ShutdownSignal shutdown(main_loop.loop, [&] { main_loop.post_shutdown(); });
    pb::announce_listening(options, pb::local_port(listener.get()));

    // Spawn: no other thread.
    uint64_t peak_threads = pb::current_thread_count();

    // Run: everything happens on this thread, signals included, until SIGTERM
    // drains the loop.
    main_loop.run();

    // Shut down.
    pb::write_stats_if_requested(options, "single", {main_loop.stats}, peak_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-single", run, argc, argv);
}
