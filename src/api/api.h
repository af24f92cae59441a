/* api: the HTTP API's handlers, one file per resource, and the ONE route
 * table (routes.c). Handlers reach the process context as
 * (tc_app *)req->ctx. Each resource file declares its handlers here. */
#ifndef TC_API_H
#define TC_API_H

#include <stddef.h>

#include "http/http.h"

extern const tc_route tc_api_routes[];
extern const size_t tc_api_nroutes;

/* ops.c: health, readiness, metrics */
tc_status tc_api_healthz(tc_http_req *req, tc_err *err);
tc_status tc_api_readyz(tc_http_req *req, tc_err *err);
tc_status tc_api_metrics(tc_http_req *req, tc_err *err);

/* testroutes.c: only served with TC_TEST_ROUTES=1 (TC_ROUTE_TEST) */
tc_status tc_api_test_echo(tc_http_req *req, tc_err *err);
tc_status tc_api_test_slow(tc_http_req *req, tc_err *err);
tc_status tc_api_test_stream(tc_http_req *req, tc_err *err);
tc_status tc_api_test_whoami(tc_http_req *req, tc_err *err);

#endif
