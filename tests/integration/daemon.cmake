# Integration tests of the daemon core (area "daemon"). Each test starts its
# own swtpm and agentd through tests/harness/lib.sh and lib_agentd.sh.
add_executable(daemon_client ${CMAKE_CURRENT_LIST_DIR}/daemon_client.c)
target_link_libraries(daemon_client PRIVATE agentd_daemon_util agentd_policy agentd_proto
    PkgConfig::CRYPTO Threads::Threads agentd_warnings)

if(TARGET agentd)
    foreach(_t malformed kill9 concurrency reload sigterm ops limits fdlimit auditfail auditorder
            tpmrestart priority)
        add_test(NAME daemon_${_t}
            COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/daemon_${_t}.sh)
        set_tests_properties(daemon_${_t} PROPERTIES
            LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77
            ENVIRONMENT "AGENTD_BIN=$<TARGET_FILE:agentd>;DAEMON_CLIENT=$<TARGET_FILE:daemon_client>")
    endforeach()
endif()
