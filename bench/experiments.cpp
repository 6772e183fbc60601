#include "experiments.hpp"

namespace pb::bench {

const std::vector<Experiment>& experiments() {
    static const std::vector<Experiment> all{
        accept_experiment(),     overload_experiment(), queue_experiment(),      shard_experiment(),
        nagle_size_experiment(), fastopen_experiment(), connection_experiment(),
    };
    return all;
}

const Experiment* find_experiment(const std::string& name) {
    for (const auto& e : experiments())
        if (e.name == name) return &e;
    return nullptr;
}

std::vector<CaseSpec> claims_cases() {
    std::vector<CaseSpec> out;
    for (const auto& e : experiments()) {
        for (CaseSpec c : e.cases()) {
            c.kind = Kind::kClaims;
            c.experiment = e.name;
            out.push_back(std::move(c));
        }
    }
    return out;
}

}  // namespace pb::bench
