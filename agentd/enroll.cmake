# enroll area: the enrollment client (libcurl) of agentd-ca.
pkg_check_modules(ENROLL_CURL REQUIRED IMPORTED_TARGET libcurl)
add_library(agentd_enroll STATIC ${CMAKE_CURRENT_LIST_DIR}/enroll.c
    ${CMAKE_CURRENT_LIST_DIR}/tlskey.c)
target_include_directories(agentd_enroll PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_enroll PUBLIC agentd_attest PkgConfig::ENROLL_CURL
    PRIVATE agentd_warnings)

# agentd-enroll: the standalone enrollment client over agentd/tpm.h.
add_executable(agentd-enroll ${CMAKE_CURRENT_LIST_DIR}/enroll_main.c)
target_link_libraries(agentd-enroll PRIVATE agentd_enroll agentd_tpm agentd_warnings)
