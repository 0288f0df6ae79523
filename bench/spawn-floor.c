/*
 * The floor under envd's Start: posix_spawn + waitpid of a command in a loop, p50/p90 over 200 runs.
 * Build and run as the sandbox user, e.g. for the command the E2B SDK sends for commands.run('true'):
 *   gcc -O2 -o /tmp/spawn-floor bench/spawn-floor.c
 *   env -i HOME=/home/user PATH=/usr/bin:/bin setpriv --reuid=user --regid=user --init-groups \
 *       /tmp/spawn-floor /bin/bash -l -c true
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

enum { RUNS = 200 };

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROGRAM [ARG...]\n", argv[0]);
        return 2;
    }
    double ms[RUNS];
    for (int i = 0; i < RUNS; i++) {
        double start = now_ms();
        pid_t pid;
        int err = posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ);
        if (err != 0) {
            fprintf(stderr, "posix_spawn %s: error %d\n", argv[1], err);
            return 1;
        }
        int status;
        waitpid(pid, &status, 0);
        ms[i] = now_ms() - start;
    }
    qsort(ms, RUNS, sizeof ms[0], by_value);
    printf("%s: p50 %.3f ms, p90 %.3f ms (%d runs)\n", argv[1], ms[RUNS / 2], ms[RUNS * 9 / 10], RUNS);
    return 0;
}
