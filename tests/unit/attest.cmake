# enroll area: the attest verifier, against artifacts from real swtpm runs.
foreach(_t test_attest_verify test_attest_makecred test_attest_svid test_attest_msg
        test_attest_store test_attest_conf test_attest_peercert)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${_t}.c)
        agentd_unit_test(${_t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${_t}.c LIBS agentd_attest)
        target_compile_definitions(${_t} PRIVATE
            ATTEST_TESTDATA="${PROJECT_SOURCE_DIR}/attest/testdata"
            ATTEST_CONF_EXAMPLE="${PROJECT_SOURCE_DIR}/attest/agentd-ca.conf.example")
    endif()
endforeach()

# Not a unit test: the simulated host (ESYS on swtpm) that the enrollment
# integration tests and bench/ drive against agentd-ca.
if(TARGET agentd_enroll)
    add_executable(test_attest_hostsim ${CMAKE_CURRENT_LIST_DIR}/test_attest_hostsim.c)
    target_link_libraries(test_attest_hostsim PRIVATE agentd_enroll PkgConfig::TSS2
        agentd_warnings)
    agentd_unit_test(test_enroll_tlskey SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_enroll_tlskey.c
        LIBS agentd_enroll)
endif()
