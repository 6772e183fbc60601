// patternbench: the Google Benchmark binary behind `make bench` and
// `make bench-nagle`. One registered benchmark per case of the chosen profile;
// each runs a fresh server child and reports the case's counters (bench/README.md).
//
//   patternbench [--profile quick|default|full|nagle|claims|scaling] [--out-dir DIR]
//                [--repetitions N] [--seed S]
//                [--server-cpus LIST] [--client-cpus LIST] [--duration D]
//                [--loop-threads N] [--worker-threads N] [--server-dir DIR]
//                [--benchmark_filter=REGEX] [any other --benchmark_* flag]
//
// Every case runs --repetitions times; all (case, repetition) runs go in one
// order shuffled with --seed, so that a slow drift of the machine spreads over
// every parameter instead of landing on one.
//
// Before the run each pattern's server is asked --check-available: a pattern this
// machine cannot run (exit 69) has its cases left out, named with the reason in
// OUT_DIR/unavailable.json, and the run goes on with the others.
//
// Our flags are taken out of argv before benchmark::Initialize sees the rest,
// so every Google Benchmark flag keeps working.
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "case_file.hpp"
#include "case_runner.hpp"
#include "cases.hpp"
#include "files.hpp"
#include "json.hpp"
#include "options.hpp"
#include "placement.hpp"
#include "server_child.hpp"

namespace {

namespace pbb = pb::bench;
using Clock = std::chrono::steady_clock;

struct Flags {
    std::string profile = "default";
    std::string out_dir;
    std::string server_cpus;
    std::string client_cpus;
    std::string reason;
    pbb::Duration duration{};
    unsigned loop_threads = 0;
    unsigned worker_threads = 0;
    std::string server_dir = PB_SERVER_DIR;
    std::string pingpong_bin = PB_PINGPONG_BIN;
    int repetitions = 0;  // 0: the profile's default
    uint64_t seed = 0;
    bool seed_given = false;
    std::vector<pbb::ExternalServer> externals;
};

constexpr const char* kUsage =
    "usage: patternbench [--profile quick|default|full|nagle|claims|scaling] [--out-dir DIR]\n"
    "                    [--server-cpus LIST] [--client-cpus LIST] [--placement-reason TEXT]\n"
    "                    [--repetitions N] [--seed S]\n"
    "                    [--duration D] [--loop-threads N] [--worker-threads N]\n"
    "                    [--server-dir DIR] [--pingpong PATH]\n"
    "                    [--external NAME=COMMAND ...] [--benchmark_* flags]\n"
    "Runs the pattern matrix (bench/README.md). --out-dir receives cases/<id>.json;\n"
    "tools/run-bench (make bench) wraps this with sysinfo, run.json and the report.\n"
    "  --repetitions N  runs of every case (default: quick 1, default 4, full and\n"
    "                   nagle, claims and scaling 3); the\n"
    "                   case file holds their medians and min-max ranges\n"
    "  --seed S         seed of the shuffled run order (default: random, printed)\n"
    "  --external NAME=COMMAND  (repeatable) one more server in the matrix: COMMAND is a\n"
    "                   shell line with {port} (and {cpus}, {threads}) that serves HTTP\n"
    "                   GET / there and exits on SIGTERM; it runs the HTTP tiny, churn and\n"
    "                   idle-heavy cases, e.g. --external 'nginx=bench/external/nginx {port} 1';\n"
    "                   split into words, the words up to the next option are COMMAND\n"
    "--benchmark_repetitions is refused: it would repeat a case back to back.\n";

// Takes our flags out of argv ("--flag value" or "--flag=value"), leaving the rest.
Flags parse_flags(int& argc, char** argv) {
    Flags f;
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string key = arg, value;
        bool has_value = false;
        if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            key = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            has_value = true;
        }
        auto take = [&]() -> std::string {
            if (has_value) return value;
            if (i + 1 >= argc) throw std::invalid_argument(key + " needs a value");
            return argv[++i];
        };
        if (key == "--help" || key == "-h") {
            std::fputs(kUsage, stdout);
            argv[out++] = argv[i];  // Google Benchmark prints its own flags too
        } else if (key == "--profile") {
            f.profile = take();
        } else if (key == "--out-dir") {
            f.out_dir = take();
        } else if (key == "--server-cpus") {
            f.server_cpus = take();
        } else if (key == "--client-cpus") {
            f.client_cpus = take();
        } else if (key == "--placement-reason") {
            f.reason = take();
        } else if (key == "--duration") {
            f.duration = std::chrono::duration_cast<pbb::Duration>(pb::parse_duration(take()));
        } else if (key == "--loop-threads") {
            f.loop_threads = static_cast<unsigned>(std::stoul(take()));
        } else if (key == "--worker-threads") {
            f.worker_threads = static_cast<unsigned>(std::stoul(take()));
        } else if (key == "--server-dir") {
            f.server_dir = take();
        } else if (key == "--pingpong") {
            f.pingpong_bin = take();
        } else if (key == "--repetitions") {
            std::string v = take();
            f.repetitions = std::stoi(v);
            if (f.repetitions < 1 || f.repetitions > 100)
                throw std::invalid_argument("--repetitions must be 1-100, not " + v);
        } else if (key == "--external") {
            // NAME=COMMAND arrives as one word, or split by a shell (make bench
            // ARGS="--external nginx=bench/external/nginx {port} 1"): then the words
            // up to the next option are the command's.
            std::string v = take();
            const bool split = v.find(' ') == std::string::npos;
            while (split && i + 1 < argc && argv[i + 1][0] != '-')
                v += std::string(" ") + argv[++i];
            f.externals.push_back(pbb::parse_external(v));
        } else if (key == "--seed") {
            f.seed = std::stoull(take()) & 0x7fffffffffffffffULL;  // fits a JSON integer
            f.seed_given = true;
        } else if (key == "--benchmark_repetitions") {
            throw std::invalid_argument(
                "--benchmark_repetitions repeats a case back to back; use --repetitions N, "
                "which shuffles the repetitions of every case together");
        } else {
            argv[out++] = argv[i];
        }
    }
    argc = out;
    argv[argc] = nullptr;
    return f;
}

// The placement: the rule of bench/placement.hpp over the CPUs this process
// may use, unless --server-cpus or --client-cpus say otherwise; a side the
// command line leaves out gets the CPUs the other does not take.
pbb::Placement choose_placement(const Flags& f) {
    const std::vector<int> all = pbb::affinity_cpus();
    pbb::Placement p = pbb::place(pbb::read_topology(all));
    const bool manual = !f.server_cpus.empty() || !f.client_cpus.empty();
    if (manual) {
        auto rest = [&](const std::vector<int>& taken) {
            std::vector<int> out;
            for (int c : all)
                if (std::find(taken.begin(), taken.end(), c) == taken.end()) out.push_back(c);
            return out.empty() ? all : out;
        };
        p.server_cpus =
            f.server_cpus.empty() ? std::vector<int>{} : pbb::parse_cpu_list(f.server_cpus);
        p.client_cpus =
            f.client_cpus.empty() ? rest(p.server_cpus) : pbb::parse_cpu_list(f.client_cpus);
        if (p.server_cpus.empty()) p.server_cpus = rest(p.client_cpus);
        p.loop_threads = pbb::loops_for(p.server_cpus.size());
        p.worker_threads = pbb::workers_for(p.server_cpus.size());
        p.reason = "chosen on the command line";
    }
    if (f.loop_threads) p.loop_threads = f.loop_threads;
    if (f.worker_threads) p.worker_threads = f.worker_threads;
    if (!f.reason.empty()) p.reason = f.reason;
    return p;
}

// Which registered cases the filter selects, the way Google Benchmark decides
// (a regex search over the full name; a leading '-' negates), so the progress
// line can say "case i of N" before anything runs.
bool selected(const std::string& full_name, const std::string& filter) {
    if (filter.empty() || filter == "all" || filter == ".") return true;
    bool negative = filter[0] == '-';
    std::string spec = negative ? filter.substr(1) : filter;
    try {
        bool match = std::regex_search(full_name, std::regex(spec, std::regex::extended));
        return match != negative;
    } catch (const std::regex_error&) {
        return true;  // Google Benchmark will report the bad regex itself
    }
}

struct Progress {
    int total = 0;
    int done = 0;
    double planned_total = 0;
    double planned_done = 0;
    Clock::time_point start = Clock::now();

    static std::string clock(double s) {
        long t = std::lround(std::max(0.0, s));
        return fmt::format("{}:{:02}", t / 60, t % 60);
    }
    void begin(const pbb::CaseSpec& spec, int repetition, int repetitions) {
        ++done;
        double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        // Scale the plan by how the run has kept to it so far.
        double pace = planned_done > 5 ? elapsed / planned_done : 1.0;
        double eta = std::max(0.0, planned_total - planned_done) * pace;
        std::string rep =
            repetitions > 1 ? fmt::format(" rep {}/{}", repetition, repetitions) : std::string();
        std::fprintf(stderr, "[%*d/%d] %s%s  (elapsed %s, eta %s)\n",
                     static_cast<int>(std::to_string(total).size()), done, total,
                     spec.name().c_str(), rep.c_str(), clock(elapsed).c_str(), clock(eta).c_str());
        std::fflush(stderr);
        planned_done += spec.planned_seconds();
    }
};

// Patterns this machine cannot run (results/README.md, "unavailable.json"): found
// by the server's --check-available before the run, or by its exit status 69 at
// a case's start. Their cases are not run; the run goes on with the others.
struct Unavailable {
    std::string pattern;
    std::string reason;
    std::string found;  // "check-available" | "case start"
    std::vector<std::string> cases;
};

Unavailable* find_unavailable(std::vector<Unavailable>& list, const std::string& pattern) {
    for (auto& u : list)
        if (u.pattern == pattern) return &u;
    return nullptr;
}

void write_unavailable(const std::string& out_dir, const std::vector<Unavailable>& list) {
    if (out_dir.empty() || list.empty()) return;
    pb::loadgen::Json patterns = pb::loadgen::Json::array();
    for (const auto& u : list) {
        pb::loadgen::Json j = pb::loadgen::Json::object();
        j.set("pattern", u.pattern);
        j.set("reason", u.reason);
        j.set("found", u.found);
        pb::loadgen::Json names = pb::loadgen::Json::array();
        for (const auto& c : u.cases) names.push(c);
        j.set("cases", names);
        patterns.push(j);
    }
    pb::loadgen::Json doc = pb::loadgen::Json::object();
    doc.set("schema", "patternbench.unavailable/1");
    doc.set("patterns", patterns);
    try {
        pb::write_file_atomic(out_dir + "/unavailable.json", doc.dump(1) + "\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "patternbench: cannot write unavailable.json: %s\n", e.what());
    }
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    Flags flags;
    std::vector<pbb::CaseSpec> cases;
    pbb::RunnerOptions options;
    std::string out_dir;
    try {
        flags = parse_flags(argc, argv);
        cases = pbb::profile_cases(flags.profile, flags.duration);
        for (const auto& e : flags.externals) {
            std::vector<std::pair<std::string, std::string>> skipped;
            auto more = pbb::external_cases(cases, e, &skipped);
            if (more.empty())
                throw std::invalid_argument("--external " + e.name + ": the " + flags.profile +
                                            " profile has no HTTP workload it can serve");
            for (const auto& [workload, reason] : skipped)
                std::fprintf(stderr, "patternbench: %s skips %s: %s\n", e.name.c_str(),
                             workload.c_str(), reason.c_str());
            cases.insert(cases.end(), more.begin(), more.end());
        }
        options.placement = choose_placement(flags);
        // A scaling point past the server CPUs the command line gave cannot run.
        std::erase_if(cases, [&](const pbb::CaseSpec& c) {
            return c.server_cpus > options.placement.server_cpus.size();
        });
        options.server_dir = flags.server_dir;
        options.pingpong_bin = flags.pingpong_bin;
        out_dir = flags.out_dir;
        // The harness and the load generator it links run on the client CPUs;
        // each server child moves itself to the server CPUs before exec.
        pbb::pin_process(options.placement.client_cpus);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "patternbench: %s\n%s", e.what(), kUsage);
        return 2;
    }

    if (flags.repetitions == 0) flags.repetitions = pbb::default_repetitions(flags.profile);
    if (!flags.seed_given) flags.seed = std::random_device{}();

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    const std::string filter = benchmark::GetBenchmarkFilter();
    auto chosen = [&](const pbb::CaseSpec& c) {
        return selected(c.name() + "/iterations:1/manual_time", filter);
    };

    // Each pattern of the run is asked once whether it can run on this machine.
    static std::vector<Unavailable> unavailable;
    std::vector<std::string> asked;
    for (const auto& c : cases) {
        if (c.kind == pbb::Kind::kBaseline || c.external() || !chosen(c)) continue;
        if (std::find(asked.begin(), asked.end(), c.pattern) != asked.end()) continue;
        asked.push_back(c.pattern);
        if (auto why = pbb::check_unavailable(options.server_dir + "/server-" + c.pattern))
            unavailable.push_back({c.pattern, *why, "check-available", {}});
    }
    for (auto& u : unavailable) {
        std::erase_if(cases, [&](const pbb::CaseSpec& c) {
            const bool out = c.pattern == u.pattern && c.kind != pbb::Kind::kBaseline &&
                             !c.external() && chosen(c);
            if (out) u.cases.push_back(c.name());
            return out;
        });
        std::fprintf(stderr,
                     "patternbench: %s: not available on this machine: %s; its %zu case(s) are "
                     "not run\n",
                     u.pattern.c_str(), u.reason.c_str(), u.cases.size());
    }
    write_unavailable(flags.out_dir, unavailable);
    // Every (case, repetition) run, in one shuffled order.
    struct Run {
        size_t case_index;
        int repetition;
    };
    std::vector<Run> runs;
    for (size_t i = 0; i < cases.size(); ++i)
        for (int r = 0; r < flags.repetitions; ++r) runs.push_back({i, r});
    std::mt19937_64 rng(flags.seed);
    std::shuffle(runs.begin(), runs.end(), rng);

    static Progress progress;
    // Repetitions done so far per case: the case file is rewritten after each,
    // so an interrupted run still leaves every finished repetition on disk.
    static std::map<std::string, std::vector<pb::loadgen::Json>> done_docs;
    static std::map<std::string, std::vector<int>> done_order;
    static int run_counter = 0;
    for (const Run& run : runs) {
        const pbb::CaseSpec spec = cases[run.case_index];
        const int reps = flags.repetitions;
        benchmark::RegisterBenchmark(
            spec.name().c_str(),
            [spec, reps, &options, &out_dir](benchmark::State& state) {
                for (auto _ : state) {
                    progress.begin(spec, static_cast<int>(done_docs[spec.id()].size()) + 1, reps);
                    if (Unavailable* u = find_unavailable(unavailable, spec.pattern);
                        u && !spec.external() && spec.kind != pbb::Kind::kBaseline) {
                        // Its server exited 69 at an earlier case's start.
                        if (std::find(u->cases.begin(), u->cases.end(), spec.name()) ==
                            u->cases.end())
                            u->cases.push_back(spec.name());
                        write_unavailable(out_dir, unavailable);
                        std::fprintf(stderr, "    skipped: not available on this machine\n");
                        state.SkipWithError(
                            ("not available on this machine: " + u->reason).c_str());
                        break;
                    }
                    const int order = run_counter++;
                    pbb::Outcome o = pbb::run_case(spec, options);
                    if (!o.ok && !o.unavailable.empty() && !spec.external() &&
                        spec.kind != pbb::Kind::kBaseline) {
                        unavailable.push_back(
                            {spec.pattern, o.unavailable, "case start", {spec.name()}});
                        write_unavailable(out_dir, unavailable);
                        std::fprintf(stderr,
                                     "    %s: not available on this machine: %s; its other cases "
                                     "are skipped\n",
                                     spec.pattern.c_str(), o.unavailable.c_str());
                        state.SkipWithError(o.error.c_str());
                        break;
                    }
                    if (!o.ok) {
                        std::fprintf(stderr, "    FAILED: %s\n", o.error.c_str());
                        state.SkipWithError(o.error.c_str());
                        break;
                    }
                    // Ran and measured, but an error (an external server that
                    // ignored SIGTERM): its case file is written, and the error
                    // reaches the report through Google Benchmark's record.
                    const bool failed = !o.error.empty();
                    if (failed) std::fprintf(stderr, "    ERROR: %s\n", o.error.c_str());
                    if (!o.warning.empty()) {
                        std::fprintf(stderr, "    warning: %s\n", o.warning.c_str());
                        state.SetLabel(o.warning.substr(0, 60));
                    }
                    state.SetIterationTime(o.measured_seconds);
                    for (const auto& [name, value] : o.counters)
                        state.counters[name] = benchmark::Counter(value);
                    if (!out_dir.empty()) {
                        done_docs[spec.id()].push_back(std::move(o.document));
                        done_order[spec.id()].push_back(order);
                        try {
                            pbb::write_case_file(out_dir, spec.id(),
                                                 pbb::aggregate_repetitions(done_docs[spec.id()],
                                                                            done_order[spec.id()]));
                        } catch (const std::exception& e) {
                            std::fprintf(stderr, "    cannot write the case file: %s\n", e.what());
                        }
                    }
                    if (failed) {
                        state.SkipWithError(o.error.c_str());
                        break;
                    }
                }
            })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    }

    for (const auto& spec : cases) {
        if (!selected(spec.name() + "/iterations:1/manual_time", filter)) continue;
        progress.total += flags.repetitions;
        progress.planned_total += spec.planned_seconds() * flags.repetitions;
    }
    std::fprintf(stderr,
                 "patternbench: profile %s, %d run(s) (%d repetition(s) per case, shuffled with "
                 "seed %llu), about %s; server on CPU %s, load generator on CPU %s\n",
                 flags.profile.c_str(), progress.total, flags.repetitions,
                 static_cast<unsigned long long>(flags.seed),
                 Progress::clock(progress.planned_total).c_str(),
                 pbb::format_cpu_list(options.placement.server_cpus).c_str(),
                 pbb::format_cpu_list(options.placement.client_cpus).c_str());
    std::fprintf(stderr, "placement: %s\n", options.placement.reason.c_str());
    if (!flags.out_dir.empty()) {
        // run-bench copies these into run.json; writing them here keeps a bare
        // run of this binary self-describing too.
        std::string path = flags.out_dir + "/placement.json";
        if (FILE* f = std::fopen(path.c_str(), "w")) {
            pb::loadgen::Json j = pb::loadgen::Json::object();
            j.set("profile", flags.profile);
            j.set("server_cpus", pbb::format_cpu_list(options.placement.server_cpus));
            j.set("client_cpus", pbb::format_cpu_list(options.placement.client_cpus));
            j.set("placement_reason", options.placement.reason);
            j.set("loop_threads", options.placement.loop_threads);
            j.set("worker_threads", options.placement.worker_threads);
            j.set("cases", progress.total / flags.repetitions);
            j.set("runs", progress.total);
            j.set("repetitions", flags.repetitions);
            j.set("seed", static_cast<int64_t>(flags.seed & 0x7fffffffffffffffULL));
            std::fputs((j.dump() + "\n").c_str(), f);
            std::fclose(f);
        }
    }
    progress.start = Clock::now();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    double wall = std::chrono::duration<double>(Clock::now() - progress.start).count();
    std::fprintf(stderr, "patternbench: %d case(s) in %s\n", progress.done,
                 Progress::clock(wall).c_str());
    return 0;
}
