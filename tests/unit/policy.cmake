# policy area unit tests: conf, match, policy, audit.
agentd_unit_test(test_conf SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_conf.c LIBS agentd_conf
    WRAP malloc calloc realloc strdup)
target_compile_definitions(test_conf PRIVATE
    AGENTD_CONF_EXAMPLE="${PROJECT_SOURCE_DIR}/conf/agentd.conf.example")
agentd_unit_test(test_match SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_match.c LIBS agentd_policy)
agentd_unit_test(test_policy SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_policy.c LIBS agentd_policy)
pkg_check_modules(TEST_JSONC REQUIRED IMPORTED_TARGET json-c)
agentd_unit_test(test_audit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_audit.c
    LIBS agentd_policy PkgConfig::TEST_JSONC)
agentd_unit_test(test_audit_head SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_audit_head.c
    LIBS agentd_policy)
agentd_unit_test(test_audit_line SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_audit_line.c
    LIBS agentd_policy PkgConfig::TEST_JSONC)
