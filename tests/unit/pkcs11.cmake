# PKCS#11 module tests (area "pkcs11").
# test_pkcs11_core: tables and rules on the module's own objects, no daemon (unit).
# test_pkcs11_api: the dlopen()ed module against a running agentd, so it is not
# registered here: tests/integration/pkcs11_api.sh starts swtpm + agentd and
# runs it (label integration).
if(TARGET agentd_pkcs11_objs)
    agentd_unit_test(test_pkcs11_core
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pkcs11_core.c
        LIBS agentd_pkcs11_objs)
endif()
if(TARGET agentd-pkcs11)
    add_executable(test_pkcs11_api ${CMAKE_CURRENT_LIST_DIR}/test_pkcs11_api.c)
    target_include_directories(test_pkcs11_api PRIVATE ${P11KIT_INCLUDE_DIRS}
        ${PROJECT_SOURCE_DIR}/pkcs11)
    target_link_libraries(test_pkcs11_api PRIVATE PkgConfig::CMOCKA PkgConfig::CRYPTO
        Threads::Threads ${CMAKE_DL_LIBS} agentd_proto agentd_warnings)
    add_dependencies(test_pkcs11_api agentd-pkcs11)
endif()
