# TPM layer unit tests (area "tpm"): key files, signature formats, and the
# layer's retry/cache/recovery logic with ESYS mocked by --wrap.
agentd_unit_test(test_keyblob SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keyblob.c LIBS agentd_tpm
    WRAP malloc calloc)
agentd_unit_test(test_sigfmt SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sigfmt.c LIBS agentd_tpm)
agentd_unit_test(test_tpm SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tpm.c LIBS agentd_tpm
    WRAP Tss2_TctiLdr_Initialize Tss2_TctiLdr_Finalize Esys_Initialize Esys_Finalize
         Esys_CreatePrimary Esys_Load Esys_FlushContext Esys_Startup Esys_Sign
         Esys_Sign_Async Esys_Sign_Finish)
