# workload area integration: the shared test client and the identity tests.
add_executable(adclient ${CMAKE_CURRENT_LIST_DIR}/adclient.c)
target_link_libraries(adclient PRIVATE agentd_ctlwire PkgConfig::CRYPTO agentd_warnings)
