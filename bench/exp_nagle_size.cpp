// Claims experiment "nagle-size" (N2): not written yet.
#include "experiments.hpp"

namespace pb::bench {

Experiment nagle_size_experiment() {
    Experiment e;
    e.name = "nagle-size";
    e.claims = {"N2"};
    e.cases = [] { return std::vector<CaseSpec>{}; };
    return e;
}

}  // namespace pb::bench
