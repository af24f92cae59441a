/* stdio transport: the server is a child process speaking newline-delimited
 * JSON-RPC on stdin/stdout. Spawned with posix_spawnp (no shell) in its own
 * process group, with a minimal environment (PATH, HOME, LANG from ours,
 * plus the target's env). One reader thread per session polls stdout and
 * stderr: stdout lines are dispatched, stderr keeps a bounded tail. When
 * stdout ends, every pending call fails with the exit status and the stderr
 * tail, and the next call restarts the process (with backoff). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcp/mcp_int.h"

typedef struct stdio_state {
    pid_t pid;
    int in_fd, out_fd, err_fd;
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t wmu;      /* one writer at a time on stdin */
    pthread_mutex_t emu;      /* stderr tail */
    bool mu_init;
    char *err_tail;           /* ring: the last max_stderr bytes */
    size_t err_len;
    atomic_bool exited;
    int exit_status;
} stdio_state;

static void append_stderr(tc_mcp_session *s, stdio_state *st, const char *p, size_t n)
{
    size_t max = s->opts.max_stderr;
    pthread_mutex_lock(&st->emu);
    if (n >= max) {
        memcpy(st->err_tail, p + n - max, max);
        st->err_len = max;
    } else {
        if (st->err_len + n > max) {
            size_t drop = st->err_len + n - max;
            memmove(st->err_tail, st->err_tail + drop, st->err_len - drop);
            st->err_len -= drop;
        }
        memcpy(st->err_tail + st->err_len, p, n);
        st->err_len += n;
    }
    pthread_mutex_unlock(&st->emu);
}

char *tc_mcp_session_stderr(tc_mcp_session *s)
{
    if (s->kind != TC_MCP_STDIO || !s->tps)
        return tc_strdup("");
    stdio_state *st = s->tps;
    if (!st->mu_init)
        return tc_strdup("");
    pthread_mutex_lock(&st->emu);
    char *out = tc_strndup(st->err_tail, st->err_len);
    pthread_mutex_unlock(&st->emu);
    return out;
}

/* Last line of stderr (up to 200 bytes) for error messages. */
static void stderr_hint(stdio_state *st, char *out, size_t outsz)
{
    pthread_mutex_lock(&st->emu);
    size_t end = st->err_len;
    while (end > 0 && (st->err_tail[end - 1] == '\n' || st->err_tail[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && st->err_tail[start - 1] != '\n' && end - start < 200)
        start--;
    snprintf(out, outsz, "%.*s", (int)(end - start), st->err_tail + start);
    pthread_mutex_unlock(&st->emu);
}

static void handle_line(tc_mcp_session *s, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return;
    json_t *msgs = NULL;
    tc_err e = {0};
    if (tc_mcp__parse_messages(line, len, &msgs, &e) != TC_OK) {
        tc_log(TC_LOG_DEBUG, "mcp stdio: ignored a line that is not JSON-RPC", "session", s->key, NULL);
        return;
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) tc_mcp__dispatch(s, m);
    json_decref(msgs);
}

/* Splits stdout into lines; false when a line passes max_message. */
static bool feed_stdout(tc_mcp_session *s, tc_buf *acc, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (tc_buf_append(acc, p, k) != TC_OK)
            return false;
        if (!nl)
            break;
        handle_line(s, acc->data ? acc->data : "", acc->len);
        tc_buf_reset(acc);
        p += k + 1;
        n -= k + 1;
    }
    return true;
}

static void *reader_main(void *arg)
{
    tc_mcp_session *s = arg;
    stdio_state *st = s->tps;
    tc_buf acc;
    char buf[65536];
    tc_err why = {0};
    tc_buf_init(&acc, s->opts.max_message);
    struct pollfd fds[2] = {{.fd = st->out_fd, .events = POLLIN}, {.fd = st->err_fd, .events = POLLIN}};
    while (fds[0].fd >= 0) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].fd >= 0 && fds[1].revents) {
            ssize_t n = read(fds[1].fd, buf, sizeof(buf));
            if (n > 0)
                append_stderr(s, st, buf, (size_t)n);
            else if (n == 0 || errno != EINTR)
                fds[1].fd = -1;
        }
        if (fds[0].revents) {
            ssize_t n = read(fds[0].fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (!feed_stdout(s, &acc, buf, (size_t)n)) {
                tc_failf(&why, TC_TOO_LARGE, NULL, "the MCP server sent a message over %zu bytes",
                         s->opts.max_message);
                kill(-st->pid, SIGKILL);
                break;
            }
        }
    }
    tc_buf_free(&acc);
    /* drain what is left of stderr so the hint below is complete */
    ssize_t n;
    while (fds[1].fd >= 0 && (n = read(fds[1].fd, buf, sizeof(buf))) > 0)
        append_stderr(s, st, buf, (size_t)n);
    int status = 0;
    while (waitpid(st->pid, &status, 0) < 0 && errno == EINTR)
        ;
    st->exit_status = status;
    atomic_store(&st->exited, true);
    if (why.status == TC_OK) {
        char hint[256];
        stderr_hint(st, hint, sizeof(hint));
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        tc_failf(&why, TC_UPSTREAM, NULL, "the MCP server process exited (%s %d)%s%s",
                 WIFEXITED(status) ? "status" : "signal", code < 0 ? -code : code, hint[0] ? ": " : "",
                 hint);
    }
    tc_mcp__fail_all(s, &why);
    return NULL;
}

extern char **environ;

static char **child_env(tc_mcp_session *s)
{
    static const char *const inherit[] = {"PATH", "HOME", "LANG", "TMPDIR"};
    size_t n = 0, cap = 8;
    for (char **e = s->env; e && *e; e++)
        cap++;
    char **env = tc_calloc(cap + 1, sizeof(char *));
    for (size_t i = 0; i < sizeof(inherit) / sizeof(inherit[0]); i++) {
        const char *v = getenv(inherit[i]);
        if (v)
            env[n++] = tc_asprintf("%s=%s", inherit[i], v);
    }
    for (char **e = s->env; e && *e; e++)
        env[n++] = tc_strdup(*e);
    return env;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        tc_free(v[i]);
    tc_free(v);
}

static tc_status spawn(tc_mcp_session *s, stdio_state *st, tc_err *err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    tc_status ret = TC_OK;
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC)) {
        ret = tc_failf(err, TC_INTERNAL, NULL, "pipe: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, er[1], 2);
    if (s->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, s->cwd);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&at, &def);
    char **env = child_env(s);
    int rc = posix_spawnp(&st->pid, s->argv[0], &fa, &at, s->argv, env);
    strv_free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        ret = tc_failf(err, TC_UNAVAILABLE, "command", "cannot start the MCP server \"%.100s\": %s",
                       s->argv[0], strerror(rc));
        goto out;
    }
    st->in_fd = in[1], in[1] = -1;
    st->out_fd = out[0], out[0] = -1;
    st->err_fd = er[0], er[0] = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (er[i] >= 0)
            close(er[i]);
    }
    return ret;
}

static tc_status stdio_open(tc_mcp_session *s, tc_err *err)
{
    stdio_state *st = s->tps;
    if (!st->mu_init) {
        pthread_mutex_init(&st->wmu, NULL);
        pthread_mutex_init(&st->emu, NULL);
        st->err_tail = tc_malloc(s->opts.max_stderr);
        st->mu_init = true;
    }
    st->in_fd = st->out_fd = st->err_fd = -1;
    st->err_len = 0;
    atomic_store(&st->exited, false);
    tc_status ret = spawn(s, st, err);
    if (ret != TC_OK)
        return ret;
    fcntl(st->in_fd, F_SETFL, fcntl(st->in_fd, F_GETFL) | O_NONBLOCK);
    if (pthread_create(&st->reader, NULL, reader_main, s) != 0) {
        kill(-st->pid, SIGKILL);
        waitpid(st->pid, NULL, 0);
        return tc_failf(err, TC_INTERNAL, NULL, "cannot start the stdio reader thread");
    }
    st->reader_started = true;
    return TC_OK;
}

/* Writes all of p before the deadline; stdin is non-blocking so a server
 * that stops reading cannot block us forever. */
static tc_status write_all(stdio_state *st, const char *p, size_t n, int64_t deadline_ns, tc_err *err)
{
    while (n > 0) {
        ssize_t w = write(st->in_fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN)
            return tc_failc(err, TC_UPSTREAM, TC_MCP__SESSION_GONE, NULL,
                            "cannot write to the MCP server process: %s", strerror(errno));
        int64_t left = (deadline_ns - tc_mono_ns()) / 1000000;
        if (left <= 0)
            return tc_failf(err, TC_TIMEOUT, NULL, "the MCP server process does not read its input");
        struct pollfd pfd = {.fd = st->in_fd, .events = POLLOUT};
        poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
    }
    return TC_OK;
}

static tc_status stdio_send(tc_mcp_session *s, json_t *msg, tc_mcp__pending *p, int64_t deadline_ns,
                            const atomic_bool *cancel, tc_err *err)
{
    stdio_state *st = s->tps;
    if (atomic_load(&st->exited) || st->in_fd < 0)
        return tc_failc(err, TC_UPSTREAM, TC_MCP__SESSION_GONE, NULL, "the MCP server process is not running");
    char *line = tc_mcp__dump(msg);
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps output never contains a raw newline */
    pthread_mutex_lock(&st->wmu);
    tc_status ret = write_all(st, line, n + 1, deadline_ns, err);
    pthread_mutex_unlock(&st->wmu);
    free(line);
    return ret;
}

/* Closes stdin, asks the group to stop (SIGTERM), and SIGKILLs it after
 * 500 ms; the reader thread reaps the child. */
static void stdio_close(tc_mcp_session *s)
{
    stdio_state *st = s->tps;
    if (!st->reader_started)
        goto out;
    if (st->in_fd >= 0)
        close(st->in_fd);
    st->in_fd = -1;
    kill(-st->pid, SIGTERM);
    for (int i = 0; i < 50 && !atomic_load(&st->exited); i++)
        usleep(10000);
    if (!atomic_load(&st->exited))
        kill(-st->pid, SIGKILL);
    pthread_join(st->reader, NULL);
    st->reader_started = false;
    close(st->out_fd);
    close(st->err_fd);
    st->out_fd = st->err_fd = -1;
out:
    if (st->mu_init && s->destroying) {
        /* final close (session_destroy): release the locks and the tail */
        pthread_mutex_destroy(&st->wmu);
        pthread_mutex_destroy(&st->emu);
        tc_free(st->err_tail);
        st->mu_init = false;
    }
}

const tc_mcp__transport tc_mcp__stdio = {
    .name = "stdio",
    .state_size = sizeof(stdio_state),
    .open = stdio_open,
    .send = stdio_send,
    .close = stdio_close,
};
