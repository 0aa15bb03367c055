# workload area integration: the shared test client and the identity tests.
add_executable(adclient ${CMAKE_CURRENT_LIST_DIR}/adclient.c)
target_link_libraries(adclient PRIVATE agentd_proto PkgConfig::CRYPTO agentd_warnings)

# Identity tests: swtpm + agentd (lib_agentd.sh), run as root (setpriv to
# other uids); they exit 77 (skipped) otherwise.
if(TARGET agentd)
    foreach(_t uid exe exec pidreuse agentctl privs cgroup hasher)
        add_test(NAME workload_${_t} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/workload_${_t}.sh)
        set_tests_properties(workload_${_t} PROPERTIES
            LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77
            ENVIRONMENT "AGENTD_BIN=$<TARGET_FILE:agentd>;ADCLIENT=$<TARGET_FILE:adclient>;AGENTCTL=$<TARGET_FILE:agentctl>")
    endforeach()
endif()
# The shipped systemd unit: systemd-analyze verify and security (offline).
if(TARGET agentd)
    add_test(NAME workload_unit COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/workload_unit.sh)
    set_tests_properties(workload_unit PROPERTIES LABELS integration TIMEOUT 120
        SKIP_RETURN_CODE 77 ENVIRONMENT "AGENTD_BIN=$<TARGET_FILE:agentd>")
endif()
