# TPM area: sign throughput and latency through agentd/tpm.h (bench/README.md).
add_executable(tpm_bench ${CMAKE_CURRENT_LIST_DIR}/tpm_bench.c)
target_link_libraries(tpm_bench PRIVATE agentd_tpm agentd_warnings)
