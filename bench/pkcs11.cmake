# Benchmarks of the PKCS#11 module (area "pkcs11"): a script, not a test.
# bench/p11_bench.sh [BUILD_DIR] prints agentd's module, the raw TPM layer,
# tpm2-pkcs11 and SoftHSM2 side by side; the `p11_bench` target runs it.
if(TARGET agentd AND TARGET agentd-pkcs11)
    add_custom_target(p11_bench
        COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/p11_bench.sh ${CMAKE_BINARY_DIR}
        DEPENDS agentd agentd-pkcs11 p11_procs wake_rtt $<$<TARGET_EXISTS:tpm_bench>:tpm_bench>
        USES_TERMINAL)
endif()
# p11_procs: aggregate signing throughput of many client processes (bench/README.md).
add_executable(p11_procs ${CMAKE_CURRENT_LIST_DIR}/p11_procs.c)
target_include_directories(p11_procs PRIVATE ${P11KIT_INCLUDE_DIRS})
target_link_libraries(p11_procs PRIVATE PkgConfig::CRYPTO ${CMAKE_DL_LIBS} agentd_warnings)
# wake_rtt: a blocking round trip between two processes, same CPU and two CPUs.
add_executable(wake_rtt ${CMAKE_CURRENT_LIST_DIR}/wake_rtt.c)
target_link_libraries(wake_rtt PRIVATE agentd_warnings)
