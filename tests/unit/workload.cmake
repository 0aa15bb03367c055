# workload area unit tests: caller identity from kernel facts, privilege drop.
agentd_unit_test(test_workload SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_workload.c
    LIBS agentd_workload agentd_privs PkgConfig::CRYPTO PkgConfig::CAPNG)
# The same tests with SO_PEERPIDFD refused (getsockopt wrapped), as on the
# 6.1 kernels that lack it: they exercise the pidfd_open fallback.
agentd_unit_test(test_workload_nopeerpidfd SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_workload.c
    LIBS agentd_workload agentd_privs PkgConfig::CRYPTO PkgConfig::CAPNG WRAP getsockopt)
target_compile_definitions(test_workload_nopeerpidfd PRIVATE TEST_NO_PEERPIDFD)
# The hasher thread's queue and job lifecycle (real files, a gated hash function).
agentd_unit_test(test_hasher SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hasher.c
    LIBS agentd_workload)
