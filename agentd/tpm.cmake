# Durable-write steps (fsio.h) shared by the key files here, the daemon's
# state files and the audit log.
add_library(agentd_fsio STATIC ${CMAKE_CURRENT_LIST_DIR}/fsio.c)
target_include_directories(agentd_fsio PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_fsio PUBLIC agentd_proto PRIVATE agentd_warnings)

# The TPM layer (area "tpm"): the only code that calls ESYS/TCTI, plus the
# pure key-file (keyblob) and signature-format (sigfmt) helpers.
add_library(agentd_tpm STATIC
    ${CMAKE_CURRENT_LIST_DIR}/keyblob.c
    ${CMAKE_CURRENT_LIST_DIR}/sigfmt.c
    ${CMAKE_CURRENT_LIST_DIR}/tpm.c
    ${CMAKE_CURRENT_LIST_DIR}/tpm_attest.c
    ${CMAKE_CURRENT_LIST_DIR}/tpm_info.c
    ${CMAKE_CURRENT_LIST_DIR}/tpm_nv.c)
target_include_directories(agentd_tpm PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_tpm PUBLIC agentd_proto PkgConfig::TSS2 PkgConfig::CRYPTO
    PRIVATE agentd_fsio agentd_warnings)

add_executable(agentd-tpm-demo ${CMAKE_CURRENT_LIST_DIR}/tpm_demo.c)
target_link_libraries(agentd-tpm-demo PRIVATE agentd_tpm agentd_warnings)
