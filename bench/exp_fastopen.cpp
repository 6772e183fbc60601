// Claims experiment "fastopen" (C2): not written yet.
#include "experiments.hpp"

namespace pb::bench {

Experiment fastopen_experiment() {
    Experiment e;
    e.name = "fastopen";
    e.claims = {"C2"};
    e.cases = [] { return std::vector<CaseSpec>{}; };
    return e;
}

}  // namespace pb::bench
