# policy area: fuzz the config loader.
agentd_fuzz_target(fuzz_conf SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_conf.c LIBS agentd_conf
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/conf)
# policy area: fuzz the audit log's record and head parsers.
agentd_fuzz_target(fuzz_audit SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_audit.c LIBS agentd_policy
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/audit)
