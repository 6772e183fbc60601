// Claims experiment "overload" (P4,P5): not written yet.
#include "experiments.hpp"

namespace pb::bench {

Experiment overload_experiment() {
    Experiment e;
    e.name = "overload";
    e.claims = {"P4", "P5"};
    e.cases = [] { return std::vector<CaseSpec>{}; };
    return e;
}

}  // namespace pb::bench
