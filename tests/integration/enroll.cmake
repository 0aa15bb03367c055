# enroll area: attestation and enrollment against swtpm. tpm2-tools make the
# TPM side for MakeCredential; test_attest_hostsim (ESYS, with fault
# injection) plays the host for the refusal tests; enroll_agentd runs the real
# client, agentd-enroll, over agentd's TPM layer.
add_test(NAME enroll_makecred COMMAND ${CMAKE_CURRENT_LIST_DIR}/enroll_makecred.sh
    ${AGENTD_TEST_HARNESS} $<TARGET_FILE:agentd-attest>)
set_tests_properties(enroll_makecred PROPERTIES LABELS integration TIMEOUT 300)
foreach(_t enroll_e2e enroll_refusals enroll_pkcs11 enroll_agentd enroll_mtls)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${_t}.sh AND TARGET test_attest_hostsim)
        add_test(NAME ${_t} COMMAND ${CMAKE_CURRENT_LIST_DIR}/${_t}.sh ${AGENTD_TEST_HARNESS}
            ${PROJECT_BINARY_DIR})
        set_tests_properties(${_t} PROPERTIES LABELS integration TIMEOUT 600 SKIP_RETURN_CODE 77)
    endif()
endforeach()
# The daemon's own enrollment and renewal (agentctl enroll, PKCS#11 view of
# the certificates): real agentd, agentd-ca, pkcs11-tool and openssl.
if(TARGET agentd AND TARGET agentd-pkcs11 AND TARGET agentd-ca)
    set(_enroll_env "P11_MODULE=$<TARGET_FILE:agentd-pkcs11>")
    list(APPEND _enroll_env ${AGENTD_P11_CLIENT_ENV})
    foreach(_t enroll_daemon enroll_renew enroll_reenroll)
        if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${_t}.sh)
            add_test(NAME ${_t} COMMAND ${CMAKE_CURRENT_LIST_DIR}/${_t}.sh
                ${AGENTD_TEST_HARNESS} ${PROJECT_BINARY_DIR})
            set_tests_properties(${_t} PROPERTIES LABELS integration TIMEOUT 300
                SKIP_RETURN_CODE 77 ENVIRONMENT "${_enroll_env}")
        endif()
    endforeach()
endif()
