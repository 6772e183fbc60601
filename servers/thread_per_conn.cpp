// server-thread-per-conn: a single listener/acceptor, a thread per connection.
//
//   main thread: poll() → accept() ─spawn─> connection thread: blocking read → parse → work → write
//                                  ─spawn─> connection thread: ...
//                                  (one thread and one stack per open connection,
//                                   up to --max-threads; joined as they finish)
//
// Costs: a thread created and destroyed per connection (tens of microseconds),
// a stack reserved per connection (--stack-size), and the scheduler juggling
// one thread per client: a thousand mostly idle keep-alive clients mean a
// thousand threads, and every request costs a context switch into its thread.
// In return the code is straight-line blocking I/O and a slow request stalls
// only its own client. Apache's prefork MPM (a process per connection), CGI
// and Java servlets before NIO were built this way.
//
// Stats: one "acceptor" entry for the main thread (its peak_connections is the
// most connection threads alive at once) and one "connection" entry summing
// every connection thread when it finishes: a per-thread entry for thousands
// of short-lived threads would say nothing a sum does not. SIGUSR1 snapshots
// list the same two entries, the second summing live and finished threads.
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>
#include <vector>

#include "blocking_conn.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

// What the connection threads share with the acceptor. A thread takes the
// lock twice in its life, when it is spawned and when it ends: never per request.
struct Connections {
    std::mutex mutex;
    std::condition_variable all_done;
    size_t live = 0;
    size_t peak = 0;
    std::set<int> fds;              // open connections, cut at the shutdown deadline
    std::vector<pthread_t> exited;  // finished, waiting to be joined
    pb::ThreadStats finished;       // every finished thread's counters, summed
    size_t snapshot_group = 0;      // the snapshots' "connection" entry
};

struct ConnectionJob {
    pb::UniqueFd fd;
    const pb::ServerOptions& options;
    const pb::DrainSignal& drain;
    Connections& connections;
};

// Connection thread: serves one connection, then reports and leaves.
void* serve_connection(void* arg) {
    std::unique_ptr<ConnectionJob> job(static_cast<ConnectionJob*>(arg));
    Connections& c = job->connections;
    pb::ThreadStats stats;
    pb::StatsRegistration registered(stats, c.snapshot_group);
    pb::serve_blocking(job->fd.get(), job->options, job->drain, stats);
    std::lock_guard lock(c.mutex);
    c.fds.erase(job->fd.get());
    job->fd.reset();  // closed under the lock: the acceptor never cuts a reused fd
    c.finished.add(stats);
    c.exited.push_back(pthread_self());
    if (--c.live == 0) c.all_done.notify_all();
    return nullptr;  // after the unlock this thread only leaves the snapshot registry
}

void join_exited(Connections& c) {
    std::vector<pthread_t> exited;
    {
        std::lock_guard lock(c.mutex);
        exited.swap(c.exited);
    }
    for (pthread_t t : exited) pthread_join(t, nullptr);
}

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    size_t max_threads = 10000;
    size_t stack_size = 256 * 1024;
    CLI::App app{"server-thread-per-conn: blocking accept, one thread per connection"};
    pb::add_server_options(app, options);
    app.add_option("--max-threads", max_threads,
                   "Connection threads at once; a connection beyond is closed and counted")
        ->check(CLI::Range(size_t{1}, size_t{1} << 20))
        ->capture_default_str();
    app.add_option("--stack-size", stack_size, "Stack per connection thread (256K, 1M, ...)")
        ->transform(CLI::AsSizeValue(false))
        ->default_str("256K");
    // Fault injection for tests: a real pthread_create failure cannot be made
    // to strike one connection in K (RLIMIT_NPROC does not bind root; a huge
    // --stack-size fails every creation), so this takes the failure path
    // without calling pthread_create.
    size_t fail_every = 0;
    app.add_option("--fail-thread-create-every", fail_every,
                   "Fault injection (tests): every K-th thread creation fails as if "
                   "pthread_create returned EAGAIN; 0 = never")
        ->group("Fault injection")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen: the main thread sleeps in poll() on the listener and the signals
    // together, so it is the only thread besides the connections'.
    pb::UniqueFd listener = pb::listen_tcp({.host = options.host,
                                            .port = options.port,
                                            .backlog = options.backlog,
                                            .fastopen = options.fastopen});
    pb::DrainSignal drain;
    pb::ShutdownSignal shutdown([&] {
        drain.raise();  // idle connection threads close, busy ones finish first
        pb::stop_accepting(listener.get());
    });
    Connections connections;
    connections.finished.role = "connection";
    pb::ThreadStats acceptor;
    acceptor.role = "acceptor";
    pb::StatsRegistration registered(acceptor);
    connections.snapshot_group = pb::add_stats_group("connection");
    pb::announce_listening(options, pb::local_port(listener.get()));

    // Spawn: none yet; a thread per connection as they arrive, --stack-size each.
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (int err = pthread_attr_setstacksize(&attr, stack_size); err != 0)
        throw std::system_error(err, std::generic_category(), "pthread_attr_setstacksize");
    uint64_t base_threads = pb::current_thread_count();

    // Run: accept, and spawn a thread per connection, until SIGTERM.
    size_t creations = 0;  // for --fail-thread-create-every
    while (pb::UniqueFd fd = pb::accept_or_signal(listener.get(), shutdown, acceptor)) {
        join_exited(connections);
        std::lock_guard lock(connections.mutex);
        if (connections.live >= max_threads) {
            acceptor.count(pb::ErrorKind::kThreadCap);
            continue;  // the connection closes here
        }
        if (connections.live >= options.max_connections) {
            acceptor.count(pb::ErrorKind::kConnectionCap);
            continue;
        }
        int n = fd.get();
        auto job = std::make_unique<ConnectionJob>(
            ConnectionJob{std::move(fd), options, drain, connections});
        pthread_t thread;
        bool inject = fail_every > 0 && ++creations % fail_every == 0;
        if (inject || pthread_create(&thread, &attr, serve_connection, job.get()) != 0) {
            acceptor.count(pb::ErrorKind::kThreadCreate);  // EAGAIN: out of memory or tasks
            continue;
        }
        job.release();  // the thread owns it now
        connections.fds.insert(n);
        connections.peak = std::max(connections.peak, ++connections.live);
    }

    // Shut down: the drain signal closes idle connections and lets requests in
    // flight finish; past --shutdown-timeout, cut whatever is left.
    {
        std::unique_lock lock(connections.mutex);
        auto none_left = [&] { return connections.live == 0; };
        if (!connections.all_done.wait_for(lock, options.shutdown_timeout, none_left)) {
            for (int fd : connections.fds) ::shutdown(fd, SHUT_RDWR);
            connections.all_done.wait(lock, none_left);
        }
    }
    join_exited(connections);
    pthread_attr_destroy(&attr);
    acceptor.peak_connections = connections.peak;
    pb::write_stats_if_requested(options, "thread-per-conn", {acceptor, connections.finished},
                                 base_threads + connections.peak);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-thread-per-conn", run, argc, argv);
}
