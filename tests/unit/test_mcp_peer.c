#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "test_mcp_peer.h"

extern char **environ;

const char *tc_peer_node(void)
{
    static char path[1024];
    if (path[0])
        return path;
    const char *p = getenv("PATH");
    char *dirs = strdup(p ? p : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, sizeof(path), "%s/node", d);
        if (access(path, X_OK) == 0)
            break;
        path[0] = '\0';
    }
    free(dirs);
    if (!path[0])
        tc_test_fail(__FILE__, __LINE__, "node not found in PATH");
    return path;
}

static const char *env_or(const char *name, char *buf, size_t n)
{
    const char *v = getenv(name);
    if (!v)
        return NULL;
    snprintf(buf, n, "%s=%s", name, v);
    return buf;
}

/* Peers still running when a test fails (exit) are killed here. */
static pid_t live[16];

static void kill_live(void)
{
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
        if (live[i] > 0)
            kill(-live[i], SIGKILL);
}

static void track(pid_t pid, bool add)
{
    static bool registered;
    if (!registered)
        atexit(kill_live), registered = true;
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
        if (add && live[i] == 0) {
            live[i] = pid;
            return;
        }
        if (!add && live[i] == pid) {
            live[i] = 0;
            return;
        }
    }
}

void tc_peer_start(tc_peer *p, const char *script, const char *const *args, const char *const *env)
{
    int out[2];
    char script_path[2048], pathvar[4096], homevar[1024];
    const char *argv[32], *envp[32];
    int na = 0, ne = 0;
    memset(p, 0, sizeof(*p));
    snprintf(script_path, sizeof(script_path), "%s", tc_test_source_path(script));
    argv[na++] = tc_peer_node();
    argv[na++] = script_path;
    for (; args && *args && na < 30; args++)
        argv[na++] = *args;
    argv[na] = NULL;
    if (env_or("PATH", pathvar, sizeof(pathvar)))
        envp[ne++] = pathvar;
    if (env_or("HOME", homevar, sizeof(homevar)))
        envp[ne++] = homevar;
    for (; env && *env && ne < 30; env++)
        envp[ne++] = *env;
    envp[ne] = NULL;
    if (pipe2(out, O_CLOEXEC) != 0)
        tc_test_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    int rc = posix_spawn(&p->pid, argv[0], &fa, &at, (char *const *)argv, (char *const *)envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(out[1]);
    if (rc != 0)
        tc_test_fail(__FILE__, __LINE__, "spawn %s: %s", script, strerror(rc));
    track(p->pid, true);
    char line[4096];
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long waited = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        if (waited > 15000 || poll(&pfd, 1, 15000 - (int)waited) <= 0)
            break;
        ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        line[len] = '\0';
        char *l = strstr(line, "LISTENING ");
        if (l && strchr(l, '\n')) {
            p->port = atoi(l + 10);
            break;
        }
        if (len == sizeof(line) - 1)
            len = 0;
    }
    /* Keep the pipe's read end open so the peer never gets EPIPE on stdout;
     * it is closed when the test process exits. */
    if (p->port <= 0) {
        tc_peer_stop(p);
        tc_test_fail(__FILE__, __LINE__, "peer %s did not start", script);
    }
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
}

void tc_peer_stop(tc_peer *p)
{
    if (p->pid <= 0)
        return;
    kill(-p->pid, SIGKILL);
    track(p->pid, false);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    p->pid = 0;
}
