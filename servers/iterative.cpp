// server-iterative: one thread, one connection at a time, blocking I/O: the
// naive server of the textbooks.
//
//   main thread: accept() ─> read → parse → work → write ─> ... until the client closes
//                   ^                                                     │
//                   └──────────────── then the next connection ───────────┘
//
// Costs: one client at a time. While a keep-alive client stays, every other
// client waits in the kernel's accept queue with no reply: its connect()
// succeeded, because the kernel completes the handshake, and nothing more
// happens until the first client leaves or --idle-timeout closes it. A
// connection per request works, one after the other. In return: the shortest
// server there is, and a thread that sleeps in the kernel, not spins, while
// it waits. Early inetd-style and textbook servers are built this way.
#include "blocking_conn.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    CLI::App app{
        "server-iterative: one thread accepts a connection and serves it to the end, "
        "then takes the next"};
    pb::add_server_options(app, options);
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen: the thread sleeps in poll() on the listener, or on its one
    // connection, together with the signals.
    pb::UniqueFd listener = pb::listen_tcp({.host = options.host,
                                            .port = options.port,
                                            .backlog = options.backlog,
                                            .fastopen = options.fastopen});
    pb::DrainSignal drain;
    pb::ShutdownSignal shutdown([&] {
        drain.raise();  // the connection being served finishes its request, then closes
        pb::stop_accepting(listener.get());
    });
    pb::ThreadStats stats;
    pb::StatsRegistration registered(stats);
    pb::announce_listening(options, pb::local_port(listener.get()));

    // Run: take a connection, serve it until it ends, take the next, until SIGTERM.
    while (pb::UniqueFd fd = pb::accept_or_signal(listener.get(), shutdown, stats)) {
        stats.peak_connections = 1;
        pb::serve_blocking(fd.get(), options, drain, stats, &shutdown);
    }

    // Shut down: nothing is left; the connections still queued are reset.
    pb::write_stats_if_requested(options, "iterative", {stats}, pb::current_thread_count());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-iterative", run, argc, argv);
}
