#include "case_file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "files.hpp"

namespace pb::bench {

using pb::loadgen::Json;

double median(std::vector<double> values) {
    if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(values.begin(), values.end());
    size_t n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

namespace {

double counter_of(const Json& doc, const char* name) {
    const Json* c = doc.find("counters");
    const Json* v = c ? c->find(name) : nullptr;
    return v && v->is_number() ? v->as_double() : std::numeric_limits<double>::quiet_NaN();
}

// Index of the repetition whose rps is the median (lower middle for an even count).
size_t of_record(const std::vector<Json>& reps) {
    std::vector<std::pair<double, size_t>> by_rps;
    for (size_t i = 0; i < reps.size(); ++i) {
        double rps = counter_of(reps[i], "rps");
        by_rps.emplace_back(std::isnan(rps) ? -1.0 : rps, i);
    }
    std::sort(by_rps.begin(), by_rps.end());
    return by_rps[(by_rps.size() - 1) / 2].second;
}

Json copy_or_null(const Json& doc, const char* key) {
    const Json* v = doc.find(key);
    return v ? *v : Json();
}

}  // namespace

Json aggregate_repetitions(const std::vector<Json>& reps, const std::vector<int>& run_order) {
    if (reps.empty()) throw std::invalid_argument("aggregate_repetitions: no repetitions");
    const size_t rec = of_record(reps);
    Json doc = reps[rec];

    // Every counter any repetition has, in first-seen order.
    std::vector<std::string> names;
    std::map<std::string, std::vector<double>> values;
    for (const auto& r : reps)
        if (const Json* c = r.find("counters"); c && c->is_object())
            for (const auto& [k, v] : c->as_object()) {
                if (!values.count(k)) names.push_back(k);
                if (v.is_number()) values[k].push_back(v.as_double());
            }
    Json counters = Json::object();
    Json ranges = Json::object();
    for (const auto& k : names) {
        const auto& xs = values[k];
        if (xs.empty()) continue;
        counters.set(k, median(xs));
        auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
        Json range = Json::array();
        range.push(*lo);
        range.push(*hi);
        ranges.set(k, range);
    }
    doc.set("counters", counters);
    doc.set("ranges", ranges);

    Json list = Json::array();
    for (size_t i = 0; i < reps.size(); ++i) {
        Json e = Json::object();
        e.set("index", static_cast<int64_t>(i));
        e.set("run_order", i < run_order.size() ? Json(run_order[i]) : Json());
        e.set("counters", copy_or_null(reps[i], "counters"));
        e.set("verdict", copy_or_null(reps[i], "verdict"));
        e.set("measurement", copy_or_null(reps[i], "measurement"));
        const Json* server = reps[i].find("server");
        e.set("window", server ? copy_or_null(*server, "window") : Json());
        if (const Json* w = reps[i].find("warnings")) e.set("warnings", *w);
        if (const Json* x = reps[i].find("experiment")) e.set("experiment", *x);
        list.push(e);
    }
    doc.set("repetitions", list);
    doc.set("repetition_of_record", static_cast<int64_t>(rec));
    // Warnings of any repetition stay visible at the top.
    std::string warnings;
    for (size_t i = 0; i < reps.size(); ++i)
        if (const Json* w = reps[i].find("warnings"); w && !w->as_string().empty())
            warnings += "repetition " + std::to_string(i + 1) + ": " + w->as_string();
    if (!warnings.empty()) doc.set("warnings", warnings);
    return doc;
}

void write_case_file(const std::string& out_dir, const std::string& id, const Json& doc) {
    ::mkdir((out_dir + "/cases").c_str(), 0755);
    write_file_atomic(out_dir + "/cases/" + id + ".json", doc.dump(1) + "\n");
}

}  // namespace pb::bench
