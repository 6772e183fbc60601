// Claims experiment "accept" (M2,M5): not written yet.
#include "experiments.hpp"

namespace pb::bench {

Experiment accept_experiment() {
    Experiment e;
    e.name = "accept";
    e.claims = {"M2", "M5"};
    e.cases = [] { return std::vector<CaseSpec>{}; };
    return e;
}

}  // namespace pb::bench
