/*
 * The protocol limits under the name the project uses: "limits.h" gives
 * proto_limits.h. The name shadows the C library's <limits.h> for anyone
 * whose include path has proto/ in it, so this header also pulls in the real
 * one with #include_next: <limits.h> keeps working (CHAR_BIT, INT_MAX, ...) in
 * every target that links agentd_proto. Files inside proto/ include
 * "proto_limits.h" directly: clang rejects #include_next in a header that was
 * found relative to the including file (-Winclude-next-absolute-path).
 */
#include_next <limits.h>

#include "proto_limits.h"
