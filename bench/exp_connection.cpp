// Claims experiment "connection" (C1): not written yet.
#include "experiments.hpp"

namespace pb::bench {

Experiment connection_experiment() {
    Experiment e;
    e.name = "connection";
    e.claims = {"C1"};
    e.cases = [] { return std::vector<CaseSpec>{}; };
    return e;
}

}  // namespace pb::bench
