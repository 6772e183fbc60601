// Claims experiment "shard" (R3,R6): not written yet.
#include "experiments.hpp"

namespace pb::bench {

Experiment shard_experiment() {
    Experiment e;
    e.name = "shard";
    e.claims = {"R3", "R6"};
    e.cases = [] { return std::vector<CaseSpec>{}; };
    return e;
}

}  // namespace pb::bench
