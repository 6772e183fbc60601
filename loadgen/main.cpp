// loadgen: the command. `loadgen HOST:PORT [options]` runs load and prints a
// wrk-like summary (and the JSON record with --json); `loadgen merge A.json B.json
// ...` prints the exact merge of several records. Exit status: 0 ok, 1 the run had
// errors (unless --allow-errors), 2 bad usage or a setup failure.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "files.hpp"
#include "loadgen.hpp"

namespace {

// Ctrl-C ends the run early but still prints (and writes) what was measured; a
// second Ctrl-C kills at once.
std::atomic<bool> g_stop{false};

void on_sigint(int) {
    g_stop.store(true);
    std::signal(SIGINT, SIG_DFL);
}

constexpr const char* kMergeUsage =
    "usage: loadgen merge [--summary] A.json B.json ...\n"
    "Prints the exact merge of loadgen records that ran at the same time (several\n"
    "generator processes or hosts against one server) as JSON, or with --summary as\n"
    "the human summary.\n";

void write_file(const std::string& path, const std::string& text) {
    if (path == "-") {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return;
    }
    pb::write_file_atomic(path, text);  // a reader never sees half a record
}

int merge_main(const std::vector<std::string>& args) {
    bool summary = false;
    std::vector<pb::loadgen::Result> records;
    for (const auto& a : args) {
        if (a == "-h" || a == "--help") {
            std::fputs(kMergeUsage, stdout);
            return 0;
        }
        if (a == "--summary") {
            summary = true;
            continue;
        }
        records.push_back(pb::loadgen::from_json(pb::read_file(a)));
    }
    if (records.empty()) {
        std::fputs(kMergeUsage, stderr);
        return 2;
    }
    pb::loadgen::Result merged = pb::loadgen::merge(records);
    std::string text = summary ? pb::loadgen::format_summary(merged) : pb::loadgen::to_json(merged);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Writes use MSG_NOSIGNAL; this is for anything else that might write to a
    // closed socket.
    std::signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (!args.empty() && args[0] == "merge") return merge_main({args.begin() + 1, args.end()});

        pb::loadgen::Config config = pb::loadgen::parse_args(args);
        std::signal(SIGINT, on_sigint);
        pb::loadgen::Result result = pb::loadgen::run(config, &g_stop);
        if (!config.json_path.empty()) write_file(config.json_path, pb::loadgen::to_json(result));
        if (!config.quiet) {
            std::string text = pb::loadgen::format_summary(result);
            std::fwrite(text.data(), 1, text.size(), stdout);
        }
        return pb::loadgen::exit_status(result);
    } catch (const pb::loadgen::HelpRequested& h) {
        std::fputs(h.what(), stdout);
        return 0;
    } catch (const pb::loadgen::ArgsError& e) {
        std::fprintf(stderr, "loadgen: %s\nRun with --help for more information.\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loadgen: %s\n", e.what());
        return 2;
    }
}
