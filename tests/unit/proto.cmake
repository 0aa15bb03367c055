# proto area unit tests: buffer, frames, messages.
agentd_unit_test(test_buf SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_buf.c LIBS agentd_proto
    WRAP malloc calloc realloc)
agentd_unit_test(test_frame SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_frame.c
    LIBS agentd_proto Threads::Threads)
# agentd_conf only for the check that conf/conf_mech.c has the same mechanism rows.
agentd_unit_test(test_msg SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_msg.c
    LIBS agentd_proto agentd_conf)
# test_msg checks the fuzz seed corpora are current (PROTO_WRITE_CORPUS=1 rewrites them).
target_compile_definitions(test_msg PRIVATE
    PROTO_CORPUS_DIR="${PROJECT_SOURCE_DIR}/tests/fuzz/corpus")
