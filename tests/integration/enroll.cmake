# enroll area: attestation and enrollment against swtpm, with tpm2-tools
# making the TPM side where agentd's own client is not used.
foreach(_t enroll_makecred)
    add_test(NAME ${_t} COMMAND ${CMAKE_CURRENT_LIST_DIR}/${_t}.sh ${AGENTD_TEST_HARNESS}
        $<TARGET_FILE:agentd-attest>)
    set_tests_properties(${_t} PROPERTIES LABELS integration TIMEOUT 300)
endforeach()
