# workload area: caller identity from kernel facts (workload.c) and the
# thread that hashes executables off the event loop (hasher.c), process
# hardening and privilege drop (privs.c), and the agentctl admin tool.
add_library(agentd_workload STATIC ${CMAKE_CURRENT_LIST_DIR}/workload.c
    ${CMAKE_CURRENT_LIST_DIR}/hasher.c)
target_include_directories(agentd_workload PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_workload
    PUBLIC agentd_proto agentd_policy Threads::Threads
    PRIVATE PkgConfig::CRYPTO agentd_daemon_util agentd_warnings)

# Process hardening and the privilege drop (libcap-ng).
pkg_check_modules(CAPNG REQUIRED IMPORTED_TARGET GLOBAL libcap-ng)
add_library(agentd_privs STATIC ${CMAKE_CURRENT_LIST_DIR}/privs.c)
target_include_directories(agentd_privs PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_privs PUBLIC agentd_proto PRIVATE PkgConfig::CAPNG agentd_warnings)

# agentctl: admin commands over the socket; audit verify runs locally.
add_executable(agentctl ${CMAKE_CURRENT_LIST_DIR}/agentctl.c)
target_link_libraries(agentctl PRIVATE agentd_proto agentd_policy agentd_warnings)
install(TARGETS agentctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The hardened systemd unit (check: systemd-analyze verify agentd/agentd.service).
install(FILES ${CMAKE_CURRENT_LIST_DIR}/agentd.service DESTINATION lib/systemd/system)
