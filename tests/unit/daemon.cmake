# daemon area unit tests: certificate parsing for the identity thread and
# LIST_OBJECTS, and the worker's synchronous jobs.
agentd_unit_test(test_certinfo SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_certinfo.c
    LIBS agentd_daemon_util PkgConfig::CRYPTO)
