// Claims experiment "queue" (Q5,Q6): not written yet.
#include "experiments.hpp"

namespace pb::bench {

Experiment queue_experiment() {
    Experiment e;
    e.name = "queue";
    e.claims = {"Q5", "Q6"};
    e.cases = [] { return std::vector<CaseSpec>{}; };
    return e;
}

}  // namespace pb::bench
