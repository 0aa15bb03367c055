# proto area unit tests: buffer, frames, messages.
agentd_unit_test(test_buf SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_buf.c LIBS agentd_proto)
