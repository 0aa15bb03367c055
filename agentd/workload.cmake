# workload area: caller identity from kernel facts (workload.c), process
# hardening and privilege drop (privs.c), and the agentctl admin tool.
add_library(agentd_workload STATIC ${CMAKE_CURRENT_LIST_DIR}/workload.c)
target_include_directories(agentd_workload PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agentd_workload
    PUBLIC agentd_proto agentd_policy
    PRIVATE PkgConfig::CRYPTO agentd_warnings)
