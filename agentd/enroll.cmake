# enroll area: the enrollment client (libcurl) of agentd-ca.
pkg_check_modules(ENROLL_CURL REQUIRED IMPORTED_TARGET libcurl)
add_library(agentd_enroll STATIC ${CMAKE_CURRENT_LIST_DIR}/enroll.c)
target_include_directories(agentd_enroll PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_enroll PUBLIC agentd_attest PkgConfig::ENROLL_CURL
    PRIVATE agentd_warnings)
