# enroll area: the enrollment client (libcurl) of agentd-ca.
pkg_check_modules(ENROLL_CURL REQUIRED IMPORTED_TARGET libcurl)
add_library(agentd_enroll STATIC ${CMAKE_CURRENT_LIST_DIR}/enroll.c)
target_include_directories(agentd_enroll PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_enroll PUBLIC agentd_attest PkgConfig::ENROLL_CURL
    PRIVATE agentd_warnings)

# agentd-enroll runs the protocol through agentd/tpm.h. Its attestation verbs
# live in tpm_attest.c (area "tpm"); until that file is part of agentd_tpm the
# client is only compiled (an object library), so a missing verb cannot
# break anyone's link.
add_library(agentd_enroll_main OBJECT ${CMAKE_CURRENT_LIST_DIR}/enroll_main.c)
target_link_libraries(agentd_enroll_main PRIVATE agentd_enroll agentd_tpm agentd_warnings)
set(_enroll_has_attest -1)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/tpm.cmake)
    file(READ ${CMAKE_CURRENT_LIST_DIR}/tpm.cmake _enroll_tpm_cmake)
    string(FIND "${_enroll_tpm_cmake}" "tpm_attest.c" _enroll_has_attest)
endif()
if(NOT _enroll_has_attest EQUAL -1)
    add_executable(agentd-enroll $<TARGET_OBJECTS:agentd_enroll_main>)
    target_link_libraries(agentd-enroll PRIVATE agentd_enroll agentd_tpm agentd_warnings)
endif()
