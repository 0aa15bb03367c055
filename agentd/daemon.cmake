# The daemon core (area "daemon"): event loop, TPM worker, keystore, dispatch,
# admin, hashing/verification and logging, and the agentd executable.
if(NOT TARGET PkgConfig::JSONC)
    pkg_check_modules(JSONC REQUIRED IMPORTED_TARGET json-c)
endif()
add_library(agentd_daemon STATIC
    ${CMAKE_CURRENT_LIST_DIR}/admin.c
    ${CMAKE_CURRENT_LIST_DIR}/digest.c
    ${CMAKE_CURRENT_LIST_DIR}/log.c
    ${CMAKE_CURRENT_LIST_DIR}/worker.c)
target_include_directories(agentd_daemon PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_daemon PUBLIC agentd_policy agentd_conf agentd_proto
    PkgConfig::CRYPTO Threads::Threads PRIVATE PkgConfig::JSONC agentd_warnings)
