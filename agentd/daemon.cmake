# The daemon core (area "daemon"): event loop, TPM worker, keystore, dispatch,
# admin, hashing/verification and logging, and the agentd executable.
if(NOT TARGET PkgConfig::JSONC)
    pkg_check_modules(JSONC REQUIRED IMPORTED_TARGET json-c)
endif()

# Pure helpers (no TPM): also linked by tests and tools.
add_library(agentd_daemon_util STATIC
    ${CMAKE_CURRENT_LIST_DIR}/atomic_file.c
    ${CMAKE_CURRENT_LIST_DIR}/certinfo.c
    ${CMAKE_CURRENT_LIST_DIR}/digest.c
    ${CMAKE_CURRENT_LIST_DIR}/fdlimit.c
    ${CMAKE_CURRENT_LIST_DIR}/log.c
    ${CMAKE_CURRENT_LIST_DIR}/sign_gate.c
    ${CMAKE_CURRENT_LIST_DIR}/spans.c
    ${CMAKE_CURRENT_LIST_DIR}/worker.c)
target_include_directories(agentd_daemon_util PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_daemon_util PUBLIC agentd_proto PkgConfig::CRYPTO Threads::Threads
    PRIVATE agentd_fsio agentd_warnings)
# A measuring build: per-request time spans on the sign path in the log (spans.h).
option(AGENTD_SPANS "Log where a SIGN's time goes in the daemon (measuring builds only)" OFF)
if(AGENTD_SPANS)
    target_compile_definitions(agentd_daemon_util PUBLIC AGENTD_SPANS)
endif()

# The daemon proper needs the tpm area's library; it is defined in another
# fragment (included after this one), so the targets are created at the end
# of the directory, and only once that library exists.
function(agentd_daemon_targets)
    if(NOT TARGET agentd_tpm OR NOT TARGET agentd_workload OR NOT TARGET agentd_privs)
        message(STATUS "agentd: agentd_tpm/agentd_workload not defined yet; no agentd executable")
        return()
    endif()
    set(_d ${CMAKE_CURRENT_SOURCE_DIR})
    add_library(agentd_daemon STATIC
        ${_d}/admin.c ${_d}/conn.c ${_d}/dispatch.c ${_d}/dispatch_admin.c ${_d}/dispatch_sign.c ${_d}/dispatch_wire.c ${_d}/keystore.c ${_d}/server.c)
    target_include_directories(agentd_daemon PUBLIC ${_d})
    target_link_libraries(agentd_daemon
        PUBLIC agentd_daemon_util agentd_workload agentd_policy agentd_conf agentd_tpm agentd_proto
        PRIVATE agentd_identity PkgConfig::JSONC agentd_warnings)
    # The identity thread (enrollment client in the daemon). Its own library:
    # it includes attest's msg.h (through enroll.h), the rest of the daemon
    # proto's msg.h, and the two must not share an include path.
    add_library(agentd_identity STATIC ${_d}/identity.c ${_d}/identity_certs.c ${_d}/identity_host.c
        ${_d}/identity_tpm.c)
    target_include_directories(agentd_identity PRIVATE ${_d})
    target_link_libraries(agentd_identity
        PRIVATE agentd_enroll agentd_tpm agentd_conf agentd_daemon_util PkgConfig::JSONC
                agentd_warnings)
    add_executable(agentd ${_d}/main.c)
    target_compile_definitions(agentd PRIVATE AGENTD_VERSION="${PROJECT_VERSION}")
    target_link_libraries(agentd PRIVATE agentd_daemon agentd_privs agentd_warnings)
    install(TARGETS agentd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} CALL agentd_daemon_targets)
