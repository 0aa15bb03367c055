# policy area: fuzz the config loader.
agentd_fuzz_target(fuzz_conf SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_conf.c LIBS agentd_conf
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/conf)
