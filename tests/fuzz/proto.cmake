# proto area: fuzz the frame reader and every request and reply decoder.
agentd_fuzz_target(fuzz_frame SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_frame.c LIBS agentd_proto
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/frame)
agentd_fuzz_target(fuzz_request SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_request.c
    LIBS agentd_proto CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/request)
agentd_fuzz_target(fuzz_reply SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_reply.c LIBS agentd_proto
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/reply)
