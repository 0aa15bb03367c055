# TPM area: fuzz the TSS2 PRIVATE KEY decoder (DER and PEM) and key info.
agentd_fuzz_target(fuzz_keyblob SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_keyblob.c LIBS agentd_tpm
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/keyblob)
