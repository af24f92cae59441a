/* Internal to the connections module. */
#ifndef TC_CONN_INT_H
#define TC_CONN_INT_H

#include "connections/connections.h"

/* Runs the connector's verification request (auth.verify) with the secret.
 * *verified is false when the connector declares none (TC_OK then). */
tc_status tc_conn__verify(const tc_connections *cx, const json_t *def, const json_t *secret,
                          bool *verified, tc_err *err);

#endif
