# enroll area: the attest verifier, against artifacts from real swtpm runs.
foreach(_t test_attest_verify test_attest_makecred test_attest_svid)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${_t}.c)
        agentd_unit_test(${_t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${_t}.c LIBS agentd_attest)
        target_compile_definitions(${_t} PRIVATE
            ATTEST_TESTDATA="${PROJECT_SOURCE_DIR}/attest/testdata")
    endif()
endforeach()
