# Integration tests of the TPM layer (area "tpm"): each script starts its own
# swtpm through tests/harness/lib.sh and drives the layer with tpm_tool.
add_executable(tpm_tool ${CMAKE_CURRENT_LIST_DIR}/tpm_tool.c)
target_link_libraries(tpm_tool PRIVATE agentd_tpm agentd_warnings)

foreach(_t keys restart files ek demo attest)
    add_test(NAME tpm_${_t} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/tpm_${_t}.sh)
    set_tests_properties(tpm_${_t} PROPERTIES
        LABELS integration TIMEOUT 300
        ENVIRONMENT "TPM_TOOL=$<TARGET_FILE:tpm_tool>;TPM_DEMO=$<TARGET_FILE:agentd-tpm-demo>")
endforeach()
# The benchmark's own smoke test: it runs, plain and with --relay (speed is bench/'s job).
add_test(NAME tpm_bench COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/tpm_bench.sh)
set_tests_properties(tpm_bench PROPERTIES
    LABELS integration TIMEOUT 120 ENVIRONMENT "TPM_BENCH=$<TARGET_FILE:tpm_bench>")
