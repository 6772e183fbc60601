// What one case's steps hand each other (case_runner.cpp runs the steps;
// case_json.cpp writes their results as the case document). Internal to the
// bench harness.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "case_runner.hpp"
#include "loadgen.hpp"
#include "server_child.hpp"
#include "window.hpp"

namespace pb::bench {

// Steps 1-3: the server's command line, the load's result, the sampler's ticks,
// and how the server ended.
struct Measured {
    std::vector<std::string> argv;
    pb::loadgen::Result result;
    std::vector<Tick> ticks;
    ProcReading last;  // just before SIGTERM
    Exit exit;
    std::string server_stderr;
};

// Step 4: the server's figures over the measured window.
struct Accounted {
    pb::loadgen::Json stats;  // the server's stats file (lifetime), null when absent
    WindowAccount window;
    double window_requests = 0;  // exact from the server, else rate x seconds
    std::string warning;
};

// Step 5: the counters Google Benchmark shows, in order.
using Counters = std::vector<std::pair<std::string, double>>;

// Step 6: the repetition's case document (schema patternbench.case/2).
pb::loadgen::Json case_document(const CaseSpec& spec, const RunnerOptions& options,
                                const Counters& c, const Measured& m, const Accounted& a,
                                const std::string& warning);

bool is_nagle(const CaseSpec& spec);

}  // namespace pb::bench
