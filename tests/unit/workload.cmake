# workload area unit tests: caller identity from kernel facts, privilege drop.
agentd_unit_test(test_workload SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_workload.c
    LIBS agentd_workload agentd_privs PkgConfig::CRYPTO PkgConfig::CAPNG)
