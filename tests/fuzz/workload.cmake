# workload area: fuzz the /proc parsers (cgroup, stat start time, status uid).
agentd_fuzz_target(fuzz_proc SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_proc.c LIBS agentd_workload
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/proc)
