/*
 * wake_rtt: what one blocking round trip between two processes costs on
 * this machine, with both on one CPU and with each on its own. A signature
 * through agentd has two such hops more than the raw TPM layer (client ->
 * daemon, daemon -> client) besides the daemon's own TPM round trip, so on
 * a machine where waking an idle CPU is slow this is the floor under the
 * module's one-thread ratio (bench/README.md).
 *
 *   wake_rtt [-n ROUND_TRIPS]
 *
 * A parent and a forked child ping-pong one byte over a Unix stream socket
 * pair, each waiting in poll() before it reads, as the module waits for
 * agentd (a thread blocked in read() would also be woken when the other
 * side reads its byte: proto/io.h, io_wait_readable): pinned to CPU 0 both,
 * to CPUs 0 and 1, and unpinned (where the scheduler puts them). Prints one
 * RESULT line with the mean round trip of each, in microseconds.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0) {
        return 0;
    }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

static int xfer(int fd, char *c, int is_write)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    if (!is_write && poll(&p, 1, -1) != 1) {
        return -1;
    }
    n = is_write ? write(fd, c, 1) : read(fd, c, 1);
    return n == 1 ? 0 : -1;
}

/* Mean round trip in us between this process on cpu_a and a child on cpu_b; < 0 on error. */
static double round_trip(int cpu_a, int cpu_b, long n)
{
    int sv[2];
    char c = 0;
    pid_t pid;
    int st = 0;
    double t0;
    double t;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        return -1;
    }
    if ((pid = fork()) < 0) {
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        if (pin(cpu_b) != 0) {
            _exit(2);
        }
        for (long i = 0; i < n + 100; i++) {
            if (xfer(sv[1], &c, 0) != 0 || xfer(sv[1], &c, 1) != 0) {
                _exit(1);
            }
        }
        _exit(0);
    }
    close(sv[1]);
    if (pin(cpu_a) != 0) {
        fprintf(stderr, "wake_rtt: pin to CPU %d: %s\n", cpu_a, strerror(errno));
    }
    t0 = 0;
    for (long i = 0; i < n + 100; i++) {
        if (i == 100) {
            t0 = now_us(); /* after a warm-up */
        }
        if (xfer(sv[0], &c, 1) != 0 || xfer(sv[0], &c, 0) != 0) {
            break;
        }
    }
    t = now_us() - t0;
    close(sv[0]);
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        return -1;
    }
    return t / (double)n;
}

int main(int argc, char **argv)
{
    long n = 20000;
    cpu_set_t all;
    double same;
    double apart;
    double free_;
    int opt;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n' || (n = strtol(optarg, NULL, 10)) < 1) {
            fprintf(stderr, "usage: wake_rtt [-n ROUND_TRIPS]\n");
            return 2;
        }
    }
    if (sched_getaffinity(0, sizeof(all), &all) != 0 || !CPU_ISSET(0, &all) ||
        !CPU_ISSET(1, &all)) {
        fprintf(stderr, "wake_rtt: needs CPUs 0 and 1\n");
        return 1;
    }
    same = round_trip(0, 0, n);
    apart = round_trip(0, 1, n);
    sched_setaffinity(0, sizeof(all), &all);
    free_ = round_trip(-1, -1, n);
    if (same < 0 || apart < 0 || free_ < 0) {
        fprintf(stderr, "wake_rtt: a ping-pong failed\n");
        return 1;
    }
    printf("RESULT tool=wake_rtt round_trips=%ld same_cpu_us=%.1f two_cpus_us=%.1f "
           "unpinned_us=%.1f\n",
           n, same, apart, free_);
    return 0;
}
