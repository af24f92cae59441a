#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

typedef struct {
    const char *name;
    const char *file;
    tc_test_fn fn;
} test_entry;

#define MAX_TESTS 4096
static test_entry tests[MAX_TESTS];
static int ntests;
static char tmpdir[256];

void tc_test_register(const char *name, const char *file, tc_test_fn fn)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[ntests++] = (test_entry){name, file, fn};
}

void tc_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    exit(1);
}

const char *tc_test_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/tc-unit-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return tmpdir;
}

const char *tc_test_source_path(const char *rel)
{
    static char path[4096];
    const char *root = getenv("TC_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
    return path;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void cleanup_tmpdir(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs one test in a child process under a time limit; true if it passed. */
static bool run_forked(const test_entry *t, int timeout_s)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return false;
    }
    if (pid == 0) {
        alarm((unsigned)timeout_s);
        t->fn();
        cleanup_tmpdir();
        fflush(NULL);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        fprintf(stderr, "  killed by signal %d%s\n", sig, sig == SIGALRM ? " (timeout)" : "");
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
    bool fork_tests = true, list = false;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-fork"))
            fork_tests = false;
        else if (!strcmp(argv[i], "--list"))
            list = true;
        else
            filter = argv[i];
    }
    const char *to = getenv("TC_TEST_TIMEOUT");
    int timeout_s = to ? atoi(to) : 120;
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        const test_entry *t = &tests[i];
        if (filter && !strstr(t->name, filter))
            continue;
        if (list) {
            printf("%s\n", t->name);
            continue;
        }
        double start = now_ms();
        bool ok;
        if (fork_tests) {
            ok = run_forked(t, timeout_s);
        } else {
            t->fn();
            cleanup_tmpdir();
            ok = true;
        }
        printf("%s %s (%.1f ms)\n", ok ? "ok  " : "FAIL", t->name, now_ms() - start);
        fflush(stdout);
        ok ? passed++ : failed++;
    }
    if (!list)
        printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
