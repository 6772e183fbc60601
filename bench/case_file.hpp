// cases/<id>.json across repetitions. Each repetition of a case is a full case
// document (case_runner.cpp); the file holds their medians, so that every
// table and chart shows a typical run and the spread around it:
//
//   counters     the median of each counter over the repetitions
//   ranges       {counter: [min, max]} over the repetitions
//   repetitions  [{index, run_order, counters, verdict, measurement, window}, ...]
//   loadgen, server, verdict, measurement
//                those of the repetition of record: the one whose rps is the
//                median (the lower middle when the count is even), a real run
//                whose histogram the spectrum charts draw.
#pragma once

#include <string>
#include <vector>

#include "json.hpp"

namespace pb::bench {

// One document from several repetitions of the same case (in the order they ran).
// With one repetition it is that document plus ranges of zero width.
pb::loadgen::Json aggregate_repetitions(const std::vector<pb::loadgen::Json>& repetitions,
                                        const std::vector<int>& run_order);

// Writes `doc` to out_dir/cases/<id>.json through a temporary file and rename.
// Throws std::runtime_error when it cannot.
void write_case_file(const std::string& out_dir, const std::string& id,
                     const pb::loadgen::Json& doc);

// The median of the values (the mean of the two middle ones for an even count);
// NaN when empty.
double median(std::vector<double> values);

}  // namespace pb::bench
