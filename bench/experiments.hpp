// The claims experiments: the cases of `--profile claims` (make bench
// PROFILE=claims), each a set of cases that gives one or more of the textbook's
// claims (tools/pbtools/claims_text.py) the evidence the pattern matrix cannot.
//
// An experiment is a name, the claim ids it feeds, its cases (Kind::kClaims,
// named claims/<experiment>/<pattern>/<variant>/c<N>), and how a case runs:
//   - most are ordinary load cases (run_case: a server child, the loadgen, the
//     sampler, the accounting) with extra server flags and hooks that adjust the
//     loadgen, act on the server while the load runs, and add the experiment's
//     own figures to the case document's "experiment" object;
//   - an experiment whose cases are not one server under one load (two servers
//     on one port, a network namespace pair) runs them itself (`run`).
// Each experiment lives in its own file, bench/exp_<name>.cpp; bench/README.md
// ("The claims profile") says why each exists.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "case_runner.hpp"
#include "cases.hpp"

namespace pb::bench {

struct Experiment {
    std::string name;                 // "accept", as in claims/accept/...
    std::vector<std::string> claims;  // the claim ids it feeds: {"M2", "M5"}
    std::function<std::vector<CaseSpec>()> cases;
    // For ordinary load cases: the hooks of one case (may be empty).
    std::function<CaseHooks(const CaseSpec&)> hooks;
    // For cases that are not one server under one load: runs the case whole.
    // When set, `hooks` is not used.
    std::function<Outcome(const CaseSpec&, const RunnerOptions&)> run;
};

// Every experiment, in the order the report shows them.
const std::vector<Experiment>& experiments();
const Experiment* find_experiment(const std::string& name);
// The claims profile: every experiment's cases.
std::vector<CaseSpec> claims_cases();

// One per file (bench/exp_<name>.cpp).
Experiment accept_experiment();      // M2, M5: accept contention
Experiment overload_experiment();    // P4, P5: thread-per-connection overload
Experiment queue_experiment();       // Q5, Q6: worker-queue backpressure, order, loss
Experiment shard_experiment();       // R3, R6: shard failure isolation
Experiment nagle_size_experiment();  // N2: Nagle's size rule over a 1500-byte MTU
Experiment fastopen_experiment();    // C2: TCP Fast Open
Experiment connection_experiment();  // C1: a connection per request vs keep-alive

}  // namespace pb::bench
