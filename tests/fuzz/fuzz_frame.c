/*
 * Fuzz struct frame_reader: the input is a byte stream from a client, fed in
 * a fixed cycle of chunk sizes (1 byte up to the whole rest) and drained
 * after each chunk, as the daemon's event loop does. Every frame it yields
 * must be consistent with its header, and each body also goes through the
 * request decoder of its type. A protocol error ends the stream, as it ends
 * the connection.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t chunks[] = {1, 3, 10, 64, 4096, 7, SIZE_MAX};

static int drain(struct frame_reader *fr)
{
    struct frame_header h;
    union msg_request req;
    struct buf body;
    int r;

    while ((r = frame_reader_next(fr, &h, &body)) == 0) {
        if (h.length < FRAME_LEN_MIN || h.length > FRAME_MAX - 4 ||
            buf_remaining(&body) != frame_body_len(&h) || h.version != PROTO_VERSION) {
            abort();
        }
        if (msg_request_decode(h.type, &body, &req) == 0 && msg_lookup(h.type) == NULL) {
            abort(); /* decoded a type the table does not know */
        }
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame_reader fr;
    size_t pos = 0;
    size_t i = 0;
    size_t n;
    size_t used;

    frame_reader_init(&fr);
    while (pos < size) {
        n = chunks[i++ % (sizeof(chunks) / sizeof(chunks[0]))];
        if (n > size - pos) {
            n = size - pos;
        }
        if (frame_reader_feed(&fr, data + pos, n, &used) != 0) {
            break;
        }
        pos += used;
        if (drain(&fr) != AD_ERR_SHORT) {
            break;
        }
        if (fr.cap > FRAME_MAX) {
            abort(); /* the reader's memory is capped at one frame */
        }
    }
    frame_reader_free(&fr);
    return 0;
}
