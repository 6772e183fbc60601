#include "server.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <exception>

namespace pb {

namespace {
const auto kStart = std::chrono::steady_clock::now();
}

void announce_listening(const ServerOptions& options, uint16_t port) {
    if (!options.stats_file.empty()) open_snapshot_file(options.stats_file + ".snapshots");
    fmt::print("listening {}:{}\n", options.host, port);
    std::fflush(stdout);
}

void write_stats_if_requested(const ServerOptions& options, const char* pattern,
                              const std::vector<ThreadStats>& threads, uint64_t peak_threads) {
    if (options.stats_file.empty()) return;
    ProcessStats process;
    process.pattern = pattern;
    process.protocol = to_string(options.protocol);
    process.peak_threads = peak_threads;
    process.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - kStart).count();
    write_stats_file(options.stats_file, process, threads);
}

int guarded_main(const char* name, int (*body)(int, char**), int argc, char** argv) {
    try {
        return body(argc, argv);
    } catch (const Unavailable& e) {
        fmt::print(stderr, "{}: not available on this machine: {}\n", name, e.what());
        return kExitUnavailable;
    } catch (const std::exception& e) {
        fmt::print(stderr, "{}: {}\n", name, e.what());
        return 1;
    }
}

}  // namespace pb
