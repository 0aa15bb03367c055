# The daemon core (area "daemon"): event loop, TPM worker, keystore, dispatch,
# admin, hashing/verification and logging, and the agentd executable.
add_library(agentd_daemon STATIC
    ${CMAKE_CURRENT_LIST_DIR}/digest.c
    ${CMAKE_CURRENT_LIST_DIR}/log.c
    ${CMAKE_CURRENT_LIST_DIR}/worker.c)
target_include_directories(agentd_daemon PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_daemon PUBLIC agentd_proto PkgConfig::CRYPTO Threads::Threads
    PRIVATE agentd_warnings)
