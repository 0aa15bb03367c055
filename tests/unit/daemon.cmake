# daemon area unit tests: certificate parsing for the identity thread and
# LIST_OBJECTS, who runs the TPM worker's jobs (worker thread or inline), the
# sign gate that picks between them, and the open-file budget.
agentd_unit_test(test_certinfo SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_certinfo.c
    LIBS agentd_daemon_util PkgConfig::CRYPTO)
agentd_unit_test(test_worker SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker.c
    LIBS agentd_daemon_util)
agentd_unit_test(test_fdlimit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fdlimit.c
    LIBS agentd_daemon_util)
agentd_unit_test(test_sign_gate SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sign_gate.c
    LIBS agentd_daemon_util)
