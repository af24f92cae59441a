#include "http/http.h"
#include "runner.h"

TEST(route_match_literal)
{
    ASSERT(tc_http_route_match("/healthz", "/healthz", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/healthz", "/healthz/", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/healthz", "/health", NULL, 0, NULL));
    ASSERT(tc_http_route_match("/", "/", NULL, 0, NULL));
}
