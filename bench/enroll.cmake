# enroll area: agentd-ca enrollment and workload-certificate throughput.
#   cmake --build build --target bench_enroll
add_custom_target(bench_enroll
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/enroll_bench.sh ${PROJECT_SOURCE_DIR}/tests/harness
        ${PROJECT_BINARY_DIR}
    USES_TERMINAL)
if(TARGET test_attest_hostsim)
    add_dependencies(bench_enroll agentd-ca test_attest_hostsim)
endif()
