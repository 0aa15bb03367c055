/*
 * path.head, the audit log's head file (what it is for: audit.h). It names
 * the newest record (seq and the SHA-256 of its line) and the first record
 * of the oldest kept file, so verification can tell records cut from either
 * end of the log.
 *
 * Layout: two slots a page apart (offsets 0 and HEAD_SLOT2_OFF), each one
 * line of HEAD_SLOT_LEN bytes:
 *   {"seq":N,"hash":"<hex>","first_seq":M,"check":"<hex>"}   (spaces) '\n'
 * where check is the SHA-256 of the text before ,"check". A write replaces
 * the slot holding the older head, in place (pwrite, fdatasync): no temp
 * file, rename or directory sync per write. A write torn by a power cut
 * fails its check and the other slot, the previous head, is read instead;
 * the pages never share a disk sector. The check finds tearing, not
 * tampering: anyone who can write the file can recompute it.
 *
 * A missing head file, or one in another layout (the single JSON line that
 * earlier versions wrote), is replaced whole the old way (temp file, fsync,
 * rename, directory fsync), and read as before until then.
 */
#ifndef AGENTD_AUDIT_HEAD_FILE_H
#define AGENTD_AUDIT_HEAD_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HEAD_SLOT_LEN 256
#define HEAD_SLOT2_OFF 4096
#define HEAD_FILE_LEN (HEAD_SLOT2_OFF + HEAD_SLOT_LEN)

struct audit_head {
    uint64_t seq;       /* newest record when written */
    uint8_t hash[32];   /* SHA-256 of that record's line */
    uint64_t first_seq; /* first record of the oldest kept file (0: unknown) */
};

/*
 * Parse the len bytes of a head file (either layout): the newer of the two
 * slots that pass their check, or the single old-layout line. AD_OK or
 * AD_ERR_FORMAT.
 */
AD_MUST_CHECK int audit_head_parse(const char *buf, size_t len, struct audit_head *ret);

/*
 * Read path.head: the newer of the two slots that pass their check (or the
 * single line of the old layout). AD_ERR_NOT_FOUND when absent,
 * AD_ERR_FORMAT when no slot is readable, AD_ERR_SYSTEM.
 */
AD_MUST_CHECK int audit_head_read(const char *path, struct audit_head *ret);

/*
 * Record (seq, hash) in path.head, with first_seq read from the oldest kept
 * file; 0600 when created. log_fd >= 0 (the log's fd, when its lines are
 * not synced one by one) is fdatasync'ed first: a head that reaches the disk
 * before the lines it names would, after a power cut, name records the log
 * no longer has, and verification would report them removed. One writer at
 * a time. AD_OK, AD_ERR_TOO_LARGE (path), AD_ERR_SYSTEM (nothing written
 * when the log's sync failed).
 */
AD_MUST_CHECK int audit_head_write(const char *path, uint64_t seq, const uint8_t hash[32],
                                   int log_fd);

#endif
