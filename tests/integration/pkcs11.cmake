# Integration tests of the PKCS#11 module (area "pkcs11"): real clients
# (pkcs11-tool, p11tool, the OpenSSL engine, ssh-keygen, s_client/curl mTLS,
# Python's PyKCS11)
# and the cmocka API test, each against its own swtpm + agentd.
if(TARGET agentd AND TARGET agentd-pkcs11)
    set(_p11_env
        "AGENTD_BIN=$<TARGET_FILE:agentd>"
        "P11_MODULE=$<TARGET_FILE:agentd-pkcs11>")
    if(TARGET test_pkcs11_api)
        list(APPEND _p11_env "P11_API_TEST=$<TARGET_FILE:test_pkcs11_api>")
    endif()
    # bench/ is added after tests/: the generator expression resolves p11_procs then.
    list(APPEND _p11_env "P11_PROCS=$<TARGET_FILE:p11_procs>")
    # Sanitizer builds: the runtime for the clients (tests/CMakeLists.txt).
    list(APPEND _p11_env ${AGENTD_P11_CLIENT_ENV})
    foreach(_t tool p11tool engine ssh mtls api p11kit python procs)
        add_test(NAME pkcs11_${_t} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/pkcs11_${_t}.sh)
        set_tests_properties(pkcs11_${_t} PROPERTIES
            LABELS integration TIMEOUT 300 ENVIRONMENT "${_p11_env}")
    endforeach()
endif()
