# enroll area: agentd-ca request parsing and the TPM structure decoders.
agentd_fuzz_target(fuzz_ca_request SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_ca_request.c
    LIBS agentd_attest CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/ca_request)
agentd_fuzz_target(fuzz_ca_tpms SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_ca_tpms.c
    LIBS agentd_attest CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/ca_tpms)
