/* Reply shapes shared by the resource handlers. */
#include <stdlib.h>

#include "api/api.h"

tc_status tc_api__reply_list(tc_http_req *req, json_t *items, char *next_cursor)
{
    json_t *body = json_pack("{s:o, s:s?}", "items", items, "next_cursor", next_cursor);
    free(next_cursor);
    return tc_http_reply_json(req, 200, body);
}
