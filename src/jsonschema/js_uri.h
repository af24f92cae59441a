/* jsonschema internal: URI reference resolution. */
#ifndef TC_JSONSCHEMA_URI_H
#define TC_JSONSCHEMA_URI_H

#include "core/core.h"

/* Resolves ref against base (RFC 3986 5.2). Caller frees. base may be NULL. */
char *tc_js__uri_resolve(const char *base, const char *ref);

#endif
