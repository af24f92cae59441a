/* Internals of the MCP client shared by its files (not a public header). */
#ifndef TC_MCP_INT_H
#define TC_MCP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "mcp/mcp.h"

/* ---- SSE parser (incremental, bounded) ----------------------------------
 * Feed bytes as they arrive; every complete event with non-empty data is
 * handed to on_event (priming events with empty data are skipped). id: is
 * remembered in last_id, retry: in retry_ms. Lines end in \n, \r\n or \r. */
typedef void (*tc_mcp__sse_fn)(void *ud, const char *event, const char *data, size_t len);
typedef struct tc_mcp__sse {
    tc_buf line;
    tc_buf data;
    char event[64];
    char last_id[256];
    long retry_ms;
    bool last_cr;
    bool started;          /* BOM check done */
    tc_mcp__sse_fn on_event;
    void *ud;
} tc_mcp__sse;
void tc_mcp__sse_init(tc_mcp__sse *p, size_t max_event, tc_mcp__sse_fn fn, void *ud);
/* TC_TOO_LARGE when a line or an event's data passes max_event. */
tc_status tc_mcp__sse_feed(tc_mcp__sse *p, const char *buf, size_t n);
void tc_mcp__sse_free(tc_mcp__sse *p);

/* ---- JSON-RPC -------------------------------------------------------------- */
typedef enum {
    TC_MCP__MSG_INVALID,
    TC_MCP__MSG_REQUEST,       /* method + id */
    TC_MCP__MSG_NOTIFICATION,  /* method, no id */
    TC_MCP__MSG_RESPONSE,      /* id + result or error */
} tc_mcp__msg_kind;
/* Classifies one message; INVALID for anything not JSON-RPC 2.0. */
tc_mcp__msg_kind tc_mcp__msg_kind_of(json_t *m);
/* Parses a body holding one message or a batch into a new array of
 * messages (caller decrefs). TC_UPSTREAM with a message if it is not JSON
 * or not JSON-RPC. */
tc_status tc_mcp__parse_messages(const char *p, size_t n, json_t **out, tc_err *err);
/* Serialises compactly; caller frees. */
char *tc_mcp__dump(json_t *m);

/* ---- sessions ------------------------------------------------------------- */
typedef struct tc_mcp__pending {
    struct tc_mcp__pending *next;
    int64_t id;
    json_t *response;          /* the JSON-RPC response message, owned */
    tc_err fail;               /* transport failure delivered by a reader */
    atomic_bool done;
    tc_mcp_progress_fn progress;
    void *progress_ud;
} tc_mcp__pending;

typedef enum { TC_MCP__NEW, TC_MCP__READY, TC_MCP__BROKEN } tc_mcp__state;

typedef struct tc_mcp__transport tc_mcp__transport;

struct tc_mcp_session {
    tc_mcp_pool *pool;
    char *key;
    const tc_mcp__transport *tp;
    void *tps;                     /* transport state (tp->state_size bytes) */
    tc_mcp_transport_kind kind;
    char *url;
    char **argv, **env, *cwd;
    char *bearer;                  /* guarded by mu */
    tc_mcp_pool_opts opts;         /* copy of the pool's */
    pthread_mutex_t mu;            /* pendings, state, bearer, protocol */
    pthread_cond_t cond;
    pthread_mutex_t init_mu;       /* serialises (re)initialisation; taken before mu */
    int refs;                      /* guarded by the pool's lock */
    bool in_pool;
    atomic_llong next_id;
    tc_mcp__pending *pendings;
    tc_mcp__state state;
    bool opened;
    bool destroying;               /* final close: transports free everything */
    int generation;
    char protocol[32];
    json_t *server_info;
    int init_count;
    int fails;                     /* consecutive breaks, for restart backoff */
    int64_t broken_at_ms;
    int64_t last_used_ms;
    tc_mcp_session *next_in_pool;
};

/* A transport is a const table; state_size bytes of zeroed state are
 * allocated per session at s->tps.
 *  open:  connect / spawn; no MCP handshake (the session does that).
 *  send:  deliver one message. For a request (p != NULL) a transport that
 *         answers inline (Streamable HTTP) returns once p->done or on
 *         failure; the others return after writing and the caller waits.
 *         A session that is gone before delivery fails with code
 *         "session_gone" so the caller re-initialises and retries once.
 *  close: tear down (DELETE, kill the process group, stop the reader). */
struct tc_mcp__transport {
    const char *name;
    size_t state_size;
    tc_status (*open)(tc_mcp_session *s, tc_err *err);
    tc_status (*send)(tc_mcp_session *s, json_t *msg, tc_mcp__pending *p, int64_t deadline_ns,
                      const atomic_bool *cancel, tc_err *err);
    void (*close)(tc_mcp_session *s);
};

extern const tc_mcp__transport tc_mcp__http;
extern const tc_mcp__transport tc_mcp__sse_tp;
extern const tc_mcp__transport tc_mcp__stdio;

/* Called by transports for every message received (borrowed): responses
 * complete their pending request, progress reaches its callback (run with
 * the session lock held: it must not call into the session), server
 * requests get an answer (ping) or -32601. */
void tc_mcp__dispatch(tc_mcp_session *s, json_t *msg);
/* A reader saw the session die: fail every pending request with err and
 * mark the session broken so the next call re-initialises. */
void tc_mcp__fail_all(tc_mcp_session *s, const tc_err *err);
/* Copies the bearer (under the lock) into out as a header line, or "". */
void tc_mcp__auth_header(tc_mcp_session *s, char *out, size_t outsz);

#define TC_MCP__SESSION_GONE "session_gone"

#endif
