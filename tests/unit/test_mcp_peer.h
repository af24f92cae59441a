/* Test helper shared by unit_net and unit_mcp: start a node peer script on
 * 127.0.0.1 and stop it by pid. The script prints "LISTENING <port>" on
 * stdout once it accepts connections (port 0 = the kernel picks a free one). */
#ifndef TC_TEST_MCP_PEER_H
#define TC_TEST_MCP_PEER_H

#include <sys/types.h>

typedef struct tc_peer {
    pid_t pid;
    int port;
    char url[128];  /* http://127.0.0.1:<port> */
} tc_peer;

/* Spawns `node <tests/mcp/script> args...` in its own process group with
 * env (NULL-terminated "K=V", added to a minimal environment) and waits up
 * to 15 s for its LISTENING line. Fails the test on error. */
void tc_peer_start(tc_peer *p, const char *script, const char *const *args, const char *const *env);
/* SIGKILLs the peer's process group and reaps it. */
void tc_peer_stop(tc_peer *p);
/* Absolute path of node (from PATH), static buffer. */
const char *tc_peer_node(void);

#endif
