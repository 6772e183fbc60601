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
#include "event_loop.hpp"
#include "reactor.hpp"
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
    pb::EventLoop loop;
    pb::ThreadStats stats;
    pb::StatsRegistration registered(stats);
    pb::Reactor reactor(loop, options, stats);
    pb::ShutdownSignal shutdown(
        loop, [&] { loop.post([&] { reactor.begin_shutdown([&] { loop.stop(); }); }); });
    pb::UniqueFd listener = pb::listen_tcp({options.host, options.port, options.backlog});
    reactor.listen_on(listener.get(), 0, pb::Reactor::FdLimitPolicy::kReserveFd);
    pb::announce_listening(options, pb::local_port(listener.get()));

    // Run: everything happens on this thread, signals included, until SIGTERM
    // drains the loop.
    loop.run();

    // Shut down.
    pb::write_stats_if_requested(options, "single", {stats}, pb::current_thread_count());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-single", run, argc, argv);
}
