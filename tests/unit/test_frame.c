/*
 * proto/frame.c and proto/io.c: header codec, frame writers, the incremental
 * reader fed byte by byte and in random chunks, oversized frames refused as
 * soon as the length is known, blocking frame I/O (a header that arrives in
 * pieces; waiting for a reply without being woken when the peer reads the
 * request) and the minimal client against an in-test server thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "io.h"
#include "msg.h"

static void test_header_round_trip(void **state)
{
    uint8_t hdr[FRAME_HEADER_LEN];
    static const uint8_t want[] = {0, 0, 0, 9, PROTO_VERSION, 0x84, 0x12, 0x34, 0x56, 0x78};
    struct frame_header h;

    (void)state;
    assert_int_equal(frame_header_encode(0x84, 0x12345678u, 3, hdr), 0);
    assert_memory_equal(hdr, want, sizeof(want));
    assert_int_equal(frame_header_decode(hdr, sizeof(hdr), &h), 0);
    assert_int_equal(h.length, 9);
    assert_int_equal(h.version, PROTO_VERSION);
    assert_int_equal(h.type, 0x84);
    assert_int_equal(h.request_id, 0x12345678u);
    assert_int_equal(frame_body_len(&h), 3);
    assert_int_equal(frame_header_encode(1, 1, FRAME_BODY_MAX + 1, hdr), AD_ERR_TOO_LARGE);
    assert_int_equal(frame_header_encode(1, 1, FRAME_BODY_MAX, hdr), 0);
}

static void test_header_negatives(void **state)
{
    uint8_t hdr[FRAME_HEADER_LEN] = {0, 0, 0, 6, PROTO_VERSION, 1, 0, 0, 0, 1};
    struct frame_header h;

    (void)state;
    assert_int_equal(frame_header_decode(hdr, 0, &h), AD_ERR_SHORT);
    assert_int_equal(frame_header_decode(hdr, 9, &h), AD_ERR_SHORT);
    assert_int_equal(frame_header_decode(hdr, 10, &h), 0); /* zero-length body */
    assert_int_equal(frame_body_len(&h), 0);
    hdr[3] = 5; /* shorter than the header rest */
    assert_int_equal(frame_header_decode(hdr, 10, &h), AD_ERR_FORMAT);
    hdr[3] = 6;
    hdr[4] = PROTO_VERSION + 1;
    assert_int_equal(frame_header_decode(hdr, 10, &h), AD_ERR_FORMAT);
    /* FRAME_MAX - 3: too large, known from 4 bytes alone */
    hdr[0] = 0;
    hdr[1] = (uint8_t)((FRAME_MAX - 3) >> 16);
    hdr[2] = (uint8_t)((FRAME_MAX - 3) >> 8);
    hdr[3] = (uint8_t)(FRAME_MAX - 3);
    assert_int_equal(frame_header_decode(hdr, 4, &h), AD_ERR_TOO_LARGE);
    memset(hdr, 0xff, 4);
    assert_int_equal(frame_header_decode(hdr, 4, &h), AD_ERR_TOO_LARGE);
}

static void test_writers(void **state)
{
    struct buf *out = buf_new(FRAME_MAX * 2);
    struct frame_header h;
    size_t mark;

    (void)state;
    assert_non_null(out);
    assert_int_equal(frame_write(out, 3, 7, (const uint8_t *)"abc", 3), 0);
    assert_int_equal(frame_begin(out, 4, 8, &mark), 0);
    assert_int_equal(mark, 13);
    assert_int_equal(buf_put_u32(out, 42), 0);
    assert_int_equal(frame_end(out, mark), 0);
    assert_int_equal(buf_len(out), 13 + 14);
    assert_int_equal(frame_header_decode(buf_data(out), 10, &h), 0);
    assert_int_equal(frame_body_len(&h), 3);
    assert_int_equal(frame_header_decode(buf_data(out) + 13, 10, &h), 0);
    assert_int_equal(frame_body_len(&h), 4);
    assert_int_equal(h.type, 4);
    assert_int_equal(h.request_id, 8);
    /* a body that makes the frame exceed FRAME_MAX is refused at frame_end and taken
     * back out, leaving the frames before it intact */
    assert_int_equal(frame_begin(out, 4, 9, &mark), 0);
    for (size_t i = 0; i < FRAME_BODY_MAX / 4 + 1; i++) {
        assert_int_equal(buf_put_u32(out, 0), 0);
    }
    assert_int_equal(frame_end(out, mark), AD_ERR_TOO_LARGE);
    assert_int_equal(buf_len(out), 27);
    /* frame_abort after a failed body encoding does the same */
    assert_int_equal(frame_begin(out, 5, 10, &mark), 0);
    assert_int_equal(buf_put_u32(out, 1), 0);
    frame_abort(out, mark);
    assert_int_equal(buf_len(out), 27);
    buf_free(out);
}

/* A stream of frames with bodies of assorted sizes (0, 1, small, large, maximal). */
static const size_t body_sizes[] = {0, 1, 5, 4096, 4095, 70000, FRAME_BODY_MAX, 3, 0};
#define N_FRAMES (sizeof(body_sizes) / sizeof(body_sizes[0]))

static struct buf *make_stream(void)
{
    struct buf *s = buf_new(N_FRAMES * FRAME_MAX);
    uint8_t *body;

    assert_non_null(s);
    for (size_t i = 0; i < N_FRAMES; i++) {
        body = malloc(body_sizes[i] + 1);
        assert_non_null(body);
        for (size_t j = 0; j < body_sizes[i]; j++) {
            body[j] = (uint8_t)(i * 31 + j);
        }
        assert_int_equal(
            frame_write(s, (uint8_t)(i + 1), (uint32_t)(1000 + i), body, body_sizes[i]), 0);
        free(body);
    }
    return s;
}

static void check_frame(size_t i, const struct frame_header *h, const struct buf *body)
{
    assert_true(i < N_FRAMES);
    assert_int_equal(h->type, i + 1);
    assert_int_equal(h->request_id, 1000 + i);
    assert_int_equal(buf_remaining(body), body_sizes[i]);
    for (size_t j = 0; j < body_sizes[i]; j++) {
        if (buf_ptr(body)[j] != (uint8_t)(i * 31 + j)) {
            fail_msg("frame %zu byte %zu differs", i, j);
        }
    }
}

/* Feed the stream in chunks of chunk() bytes, draining after each; returns frames seen. */
static size_t run_reader(const struct buf *s, size_t (*chunk)(void))
{
    struct frame_reader fr;
    struct frame_header h;
    struct buf body;
    size_t pos = 0;
    size_t seen = 0;
    size_t n;
    size_t used;
    int r;

    frame_reader_init(&fr);
    while (pos < buf_len(s)) {
        n = chunk();
        if (n > buf_len(s) - pos) {
            n = buf_len(s) - pos;
        }
        while (n > 0) {
            assert_int_equal(frame_reader_feed(&fr, buf_data(s) + pos, n, &used), 0);
            pos += used;
            n -= used;
            while ((r = frame_reader_next(&fr, &h, &body)) == 0) {
                check_frame(seen++, &h, &body);
            }
            assert_int_equal(r, AD_ERR_SHORT);
        }
    }
    assert_int_equal(frame_reader_pending(&fr), 0);
    assert_true(fr.cap <= FRAME_MAX);
    frame_reader_free(&fr);
    return seen;
}

static size_t one(void)
{
    return 1;
}

static size_t random_chunk(void)
{
    /* mostly small chunks, sometimes a large one that spans several frames */
    return (rand() % 8 == 0) ? (size_t)(rand() % (2 * FRAME_MAX)) + 1 : (size_t)(rand() % 64) + 1;
}

static size_t everything(void)
{
    return SIZE_MAX;
}

static void test_reader_byte_by_byte(void **state)
{
    struct buf *s = make_stream();

    (void)state;
    assert_int_equal(run_reader(s, one), N_FRAMES);
    buf_free(s);
}

static void test_reader_random_chunks(void **state)
{
    struct buf *s = make_stream();

    (void)state;
    srand(12345);
    for (int round = 0; round < 20; round++) {
        assert_int_equal(run_reader(s, random_chunk), N_FRAMES);
    }
    assert_int_equal(run_reader(s, everything), N_FRAMES);
    buf_free(s);
}

static void test_reader_too_large_before_body(void **state)
{
    static const uint8_t len[4] = {0, 0x04, 0, 0}; /* 256 KiB: one more than allowed */
    struct frame_reader fr;
    struct frame_header h;
    struct buf body;
    uint8_t *p;
    size_t n;
    size_t used;

    (void)state;
    frame_reader_init(&fr);
    assert_int_equal(frame_reader_feed(&fr, len, 3, &used), 0);
    assert_int_equal(frame_reader_next(&fr, &h, &body), AD_ERR_SHORT);
    assert_int_equal(frame_reader_feed(&fr, len + 3, 1, &used), 0);
    /* the 4 length bytes are in, no version/type/body yet: refused now */
    assert_int_equal(frame_reader_next(&fr, &h, &body), AD_ERR_TOO_LARGE);
    assert_true(fr.cap < FRAME_MAX); /* nothing was sized for the body */
    /* sticky */
    assert_int_equal(frame_reader_space(&fr, &p, &n), AD_ERR_TOO_LARGE);
    assert_int_equal(frame_reader_next(&fr, &h, &body), AD_ERR_TOO_LARGE);
    frame_reader_free(&fr);
}

static void test_reader_bad_header(void **state)
{
    static const uint8_t bad_version[10] = {0, 0, 0, 6, 9, 1, 0, 0, 0, 1};
    static const uint8_t bad_len[4] = {0, 0, 0, 2};
    struct frame_reader fr;
    struct frame_header h;
    struct buf body;
    size_t used;

    (void)state;
    frame_reader_init(&fr);
    assert_int_equal(frame_reader_feed(&fr, bad_version, 10, &used), 0);
    assert_int_equal(frame_reader_next(&fr, &h, &body), AD_ERR_FORMAT);
    frame_reader_free(&fr);
    frame_reader_init(&fr);
    assert_int_equal(frame_reader_feed(&fr, bad_len, 4, &used), 0);
    assert_int_equal(frame_reader_next(&fr, &h, &body), AD_ERR_FORMAT);
    frame_reader_free(&fr);
}

static void test_reader_no_growth_when_warm(void **state)
{
    struct buf *s = buf_new(1 << 20);
    struct frame_reader fr;
    struct frame_header h;
    struct buf body;
    size_t cap;
    size_t pos = 0;
    size_t used;
    int frames = 0;

    (void)state;
    assert_non_null(s);
    for (uint32_t i = 0; i < 2000; i++) {
        assert_int_equal(frame_write(s, 4, i, (const uint8_t *)"0123456789", 10), 0);
    }
    frame_reader_init(&fr);
    assert_int_equal(frame_reader_feed(&fr, buf_data(s), 100, &used), 0);
    pos += used;
    cap = fr.cap;
    while (pos < buf_len(s)) {
        while (frame_reader_next(&fr, &h, &body) == 0) {
            frames++;
        }
        assert_int_equal(frame_reader_feed(&fr, buf_data(s) + pos, buf_len(s) - pos, &used), 0);
        pos += used;
        assert_int_equal(fr.cap, cap); /* one buffer, reused */
    }
    while (frame_reader_next(&fr, &h, &body) == 0) {
        frames++;
    }
    assert_int_equal(frames, 2000);
    frame_reader_free(&fr);
    buf_free(s);
}

static void test_io_read_frame(void **state)
{
    int sv[2];
    struct buf *body = buf_new(FRAME_BODY_MAX);
    struct frame_header h;
    uint8_t frame[FRAME_HEADER_LEN + 3];
    static const uint8_t too_large[4] = {0, 0x04, 0, 0};

    (void)state;
    assert_non_null(body);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(frame_header_encode(0x83, 77, 3, frame), 0);
    memcpy(frame + FRAME_HEADER_LEN, "xyz", 3);
    assert_int_equal(io_write_all(sv[0], frame, sizeof(frame)), 0);
    assert_int_equal(io_read_frame(sv[1], body, &h), 0);
    assert_int_equal(h.request_id, 77);
    assert_int_equal(buf_remaining(body), 3);
    assert_memory_equal(buf_ptr(body), "xyz", 3);
    /* only the length is sent, then EOF: TOO_LARGE proves nothing more was read */
    assert_int_equal(io_write_all(sv[0], too_large, 4), 0);
    assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
    assert_int_equal(io_read_frame(sv[1], body, &h), AD_ERR_TOO_LARGE);
    assert_int_equal(io_read_frame(sv[1], body, &h), AD_ERR_CLOSED);
    close(sv[0]);
    /* writing to a closed peer is an error, not SIGPIPE */
    assert_int_equal(io_write_all(sv[1], frame, sizeof(frame)), AD_ERR_CLOSED);
    close(sv[1]);
    buf_free(body);
}

static void test_io_truncated_frame(void **state)
{
    int sv[2];
    struct buf *body = buf_new(16);
    struct frame_header h;
    uint8_t frame[FRAME_HEADER_LEN + 32];

    (void)state;
    assert_non_null(body);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(frame_header_encode(0x83, 1, 32, frame), 0);
    memset(frame + FRAME_HEADER_LEN, 0, 32);
    /* body larger than the reader's buffer max */
    assert_int_equal(io_write_all(sv[0], frame, sizeof(frame)), 0);
    assert_int_equal(io_read_frame(sv[1], body, &h), AD_ERR_TOO_LARGE);
    close(sv[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(io_write_all(sv[0], frame, FRAME_HEADER_LEN + 5), 0);
    close(sv[0]);
    buf_free(body);
    body = buf_new(FRAME_BODY_MAX);
    assert_non_null(body);
    assert_int_equal(io_read_frame(sv[1], body, &h), AD_ERR_CLOSED); /* EOF inside the body */
    close(sv[1]);
    buf_free(body);
}

/* Writes its bytes in pieces, pausing between them, so a reader sees short reads. */
struct slow_writer {
    int fd;
    const uint8_t *p;
    const size_t *cuts; /* piece ends, ascending; the last is the whole length */
    size_t n_cuts;
};

static void *slow_writer_main(void *arg)
{
    const struct slow_writer *w = arg;
    size_t from = 0;

    for (size_t i = 0; i < w->n_cuts; i++) {
        usleep(20000);
        if (io_write_all(w->fd, w->p + from, w->cuts[i] - from) != 0) {
            return NULL;
        }
        from = w->cuts[i];
    }
    return NULL;
}

static void test_io_header_in_pieces(void **state)
{
    int sv[2];
    struct buf *body = buf_new(FRAME_BODY_MAX);
    struct frame_header h;
    uint8_t frame[FRAME_HEADER_LEN + 3];
    /* 2 bytes of the length, the rest of it, 3 more header bytes, the rest */
    static const size_t cuts[] = {2, 4, 7, sizeof(frame)};
    struct slow_writer w = {-1, frame, cuts, 4};
    pthread_t t;

    (void)state;
    assert_non_null(body);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(frame_header_encode(0x85, 9, 3, frame), 0);
    memcpy(frame + FRAME_HEADER_LEN, "abc", 3);
    w.fd = sv[0];
    assert_int_equal(pthread_create(&t, NULL, slow_writer_main, &w), 0);
    assert_int_equal(io_read_frame(sv[1], body, &h), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(h.type, 0x85);
    assert_int_equal(h.request_id, 9);
    assert_int_equal(buf_remaining(body), 3);
    assert_memory_equal(buf_ptr(body), "abc", 3);
    close(sv[0]);
    close(sv[1]);
    buf_free(body);
}

static void test_io_wait_readable(void **state)
{
    int sv[2];
    uint8_t b = 7;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    errno = 0;
    assert_int_equal(io_wait_readable(sv[1], 50), AD_ERR_SYSTEM);
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(io_write_all(sv[0], &b, 1), 0);
    assert_int_equal(io_wait_readable(sv[1], 0), 0);
    assert_int_equal(io_read_all(sv[1], &b, 1), 0);
    close(sv[0]);
    assert_int_equal(io_wait_readable(sv[1], -1), 0); /* EOF counts: read() will say so */
    close(sv[1]);
}

/*
 * The peer: reads the request once the caller surely sleeps, answers later
 * still. Returns arg when both went through, NULL otherwise.
 */
static void *late_peer_main(void *arg)
{
    int fd = *(int *)arg;
    uint8_t req[FRAME_HEADER_LEN];

    usleep(50000);
    if (io_read_all(fd, req, sizeof(req)) != 0) {
        return NULL;
    }
    usleep(50000);
    /* the same empty frame back */
    return io_write_all(fd, req, sizeof(req)) == 0 ? arg : NULL;
}

/* Voluntary context switches of the calling thread. */
static long thread_sleeps(void)
{
    struct rusage ru;

    assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
    return ru.ru_nvcsw;
}

/*
 * Why the module waits in io_wait_readable: a caller that sleeps there
 * sleeps once per call, while one sleeping in read() is also woken when the
 * peer reads the request (and sleeps again): two sleeps.
 */
static void test_io_wait_not_woken_by_peer_reading(void **state)
{
    int sv[2];
    struct buf *body = buf_new(FRAME_BODY_MAX);
    struct buf *empty = buf_new(0);
    struct frame_header h;
    pthread_t t;
    void *peer_ok = NULL;
    long before;
    long slept;

    (void)state;
    assert_non_null(body);
    assert_non_null(empty);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pthread_create(&t, NULL, late_peer_main, &sv[1]), 0);
    assert_int_equal(io_write_frame(sv[0], 0x01, 5, empty), 0);
    before = thread_sleeps();
    assert_int_equal(io_wait_readable(sv[0], -1), 0);
    slept = thread_sleeps() - before;
    assert_int_equal(io_read_frame(sv[0], body, &h), 0);
    assert_int_equal(h.request_id, 5);
    assert_int_equal(pthread_join(t, &peer_ok), 0);
    assert_non_null(peer_ok);
    assert_int_equal(slept, 1);
    close(sv[0]);
    close(sv[1]);
    buf_free(body);
    buf_free(empty);
}

/* ---- proto_client against a server thread ---- */

struct server {
    int lfd;
    int bad_id; /* answer the second call with a wrong request id */
    int silent; /* answer HELLO only */
};

static void server_reply(int fd, const struct frame_header *h, const struct buf *req, int bad)
{
    struct buf *out = buf_new(FRAME_BODY_MAX);
    struct msg_hello_reply hello = {PROTO_VERSION, msg_str_c("agentd"), msg_str_c("test"),
                                    msg_str_c("0001"), msg_str_c("0.1")};
    struct msg_sign_reply sig;
    int r;

    assert_non_null(out);
    if (h->type == MSG_HELLO) {
        r = msg_hello_reply_encode(out, &hello);
    } else {
        sig.signature = msg_bytes_of(buf_ptr(req), buf_remaining(req)); /* echo */
        r = msg_sign_reply_encode(out, &sig);
    }
    assert_int_equal(r, 0);
    assert_int_equal(io_write_frame(fd, h->type | FRAME_REPLY, h->request_id + (bad ? 1 : 0), out),
                     0);
    buf_free(out);
}

static void *server_main(void *arg)
{
    struct server *s = arg;
    struct buf *req = buf_new(FRAME_BODY_MAX);
    struct frame_header h;
    int fd = accept(s->lfd, NULL, NULL);
    int n = 0;

    while (fd >= 0 && io_read_frame(fd, req, &h) == 0) {
        if (!s->silent || h.type == MSG_HELLO) {
            server_reply(fd, &h, req, s->bad_id && n == 2);
        }
        n++;
    }
    if (fd >= 0) {
        close(fd);
    }
    buf_free(req);
    return NULL;
}

static void test_client(void **state)
{
    char dir[] = "/tmp/proto-test.XXXXXX";
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct server srv = {-1, 1, 0};
    struct proto_client *c = NULL;
    struct buf *body = buf_new(64);
    struct buf *reply = buf_new(FRAME_BODY_MAX);
    struct msg_sign_reply sig;
    pthread_t t;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
    assert_true((srv.lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(srv.lfd, 1), 0);
    assert_int_equal(pthread_create(&t, NULL, server_main, &srv), 0);

    assert_int_equal(proto_client_connect(sa.sun_path, "test_frame", &c), 0);
    assert_true(msg_str_eq(proto_client_hello(c)->token_label, "agentd"));
    assert_true(proto_client_fd(c) >= 0);
    assert_int_equal(buf_put_raw(body, "sig!", 4), 0);
    assert_int_equal(proto_client_call(c, MSG_SIGN, body, reply), 0);
    assert_int_equal(msg_sign_reply_decode(reply, &sig), 0);
    assert_int_equal(sig.signature.len, 4);
    assert_memory_equal(sig.signature.ptr, "sig!", 4);
    /* third frame of the connection comes back with another id */
    assert_int_equal(proto_client_call(c, MSG_SIGN, body, reply), AD_ERR_FORMAT);
    proto_client_free(c);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(srv.lfd);
    unlink(sa.sun_path);
    rmdir(dir);
    /* nobody listening */
    assert_int_equal(proto_client_connect(sa.sun_path, "x", &c), AD_ERR_SYSTEM);
    buf_free(body);
    buf_free(reply);
}

static void test_client_timeout(void **state)
{
    char dir[] = "/tmp/proto-test.XXXXXX";
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct server srv = {-1, 0, 1};
    struct proto_client *c = NULL;
    struct buf *body = buf_new(64);
    struct buf *reply = buf_new(FRAME_BODY_MAX);
    pthread_t t;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
    assert_true((srv.lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(srv.lfd, 1), 0);
    assert_int_equal(pthread_create(&t, NULL, server_main, &srv), 0);
    assert_int_equal(proto_client_connect(sa.sun_path, "test_frame", &c), 0);
    assert_int_equal(proto_client_set_timeout(c, 100), 0);
    assert_int_equal(msg_empty_request_encode(body), 0);
    /* the server never answers: the call gives up instead of hanging */
    assert_int_equal(proto_client_call(c, MSG_WHOAMI, body, reply), AD_ERR_SYSTEM);
    proto_client_free(c);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(srv.lfd);
    unlink(sa.sun_path);
    rmdir(dir);
    buf_free(body);
    buf_free(reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_header_negatives),
        cmocka_unit_test(test_writers),
        cmocka_unit_test(test_reader_byte_by_byte),
        cmocka_unit_test(test_reader_random_chunks),
        cmocka_unit_test(test_reader_too_large_before_body),
        cmocka_unit_test(test_reader_bad_header),
        cmocka_unit_test(test_reader_no_growth_when_warm),
        cmocka_unit_test(test_io_read_frame),
        cmocka_unit_test(test_io_truncated_frame),
        cmocka_unit_test(test_io_header_in_pieces),
        cmocka_unit_test(test_io_wait_readable),
        cmocka_unit_test(test_io_wait_not_woken_by_peer_reading),
        cmocka_unit_test(test_client),
        cmocka_unit_test(test_client_timeout),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
