# policy area: workload matching, policy decisions and the hash-chained audit
# log. json-c writes the audit lines: hand-rolled escaping of exe paths and
# names (quotes, backslashes, control bytes) is exactly where injected fake
# records come from, so a real JSON library does it.
pkg_check_modules(JSONC REQUIRED IMPORTED_TARGET json-c)
add_library(agentd_policy STATIC match.c policy.c audit.c audit_line.c audit_head.c audit_head_file.c
    audit_verify.c)
target_include_directories(agentd_policy PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_policy
    PUBLIC agentd_conf agentd_proto
    PRIVATE agentd_fsio PkgConfig::JSONC PkgConfig::CRYPTO Threads::Threads agentd_warnings)
