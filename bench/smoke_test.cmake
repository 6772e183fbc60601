# ctest -R bench_smoke: runs patternbench on one tiny case and checks its case file.
# Inputs: -DPATTERNBENCH=<binary> -DWORK_DIR=<scratch dir>.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(case_id "matrix-single-frame-tiny-c16")
execute_process(
  COMMAND "${PATTERNBENCH}" --profile quick --duration 300ms --out-dir "${WORK_DIR}"
          "--benchmark_filter=^matrix/single/frame/tiny/c16/"
          "--benchmark_out=${WORK_DIR}/gbench.json" --benchmark_out_format=json
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT 50)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "patternbench exited with ${status}\nstdout:\n${out}\nstderr:\n${err}")
endif()
set(case_file "${WORK_DIR}/cases/${case_id}.json")
if(NOT EXISTS "${case_file}")
  message(FATAL_ERROR "no ${case_file}\nstderr:\n${err}")
endif()
file(READ "${case_file}" doc)
string(JSON schema ERROR_VARIABLE json_error GET "${doc}" schema)
if(json_error)
  message(FATAL_ERROR "${case_file} does not parse: ${json_error}")
endif()
string(JSON name GET "${doc}" case name)
string(JSON rps GET "${doc}" counters rps)
string(JSON errors GET "${doc}" counters errors)
if(NOT schema STREQUAL "patternbench.case/2" OR NOT name STREQUAL "matrix/single/frame/tiny/c16")
  message(FATAL_ERROR "unexpected schema '${schema}' or name '${name}'")
endif()
# The server accounted itself (SIGUSR1 snapshots) and the counters have ranges.
string(JSON source GET "${doc}" server window source)
string(JSON rps_low GET "${doc}" ranges rps 0)
if(NOT source STREQUAL "server-snapshot" OR NOT rps_low GREATER 0)
  message(FATAL_ERROR "window source '${source}', rps range low '${rps_low}'")
endif()
if(NOT rps GREATER 0 OR NOT errors EQUAL 0)
  message(FATAL_ERROR "rps ${rps}, errors ${errors}: the case served nothing or failed")
endif()
file(READ "${WORK_DIR}/gbench.json" gbench)
string(JSON row GET "${gbench}" benchmarks 0 name)
message(STATUS "bench smoke: ${row}: ${rps} req/s")
