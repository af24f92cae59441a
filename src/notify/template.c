/* Email templates: one row per alert type with a subject, a plain-text body
 * and an HTML body; {{var}} placeholders filled from a JSON object of
 * strings (HTML-escaped in the HTML body). The HTML layout wraps every body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"

#define BODY_MAX (256u << 10)

typedef struct {
    const char *type;
    const char *alias;    /* accepted on input, stored as type */
    const char *subject;
    const char *text;
    const char *html;
} alert_template;

static const alert_template templates[] = {
    {TC_NOTIFY_HEALTH_DOWN, NULL, "{{name}} is down",
     "{{name}} ({{connector}}) failed its health check at {{time}}.\n\n"
     "Error: {{error}}\n\n"
     "Tool calls through this connector will probably fail until it recovers. "
     "We will email you again when it does.\n\n{{url}}\n",
     "<p><strong>{{name}}</strong> ({{connector}}) failed its health check at {{time}}.</p>"
     "<p>Error: <code>{{error}}</code></p>"
     "<p>Tool calls through this connector will probably fail until it recovers. "
     "We will email you again when it does.</p><p><a href=\"{{url}}\">Open Tool Connect</a></p>"},
    {TC_NOTIFY_HEALTH_RECOVERED, NULL, "{{name}} has recovered",
     "{{name}} ({{connector}}) passed its health check again at {{time}} (status {{status}}).\n\n"
     "{{url}}\n",
     "<p><strong>{{name}}</strong> ({{connector}}) passed its health check again at {{time}} "
     "(status {{status}}).</p><p><a href=\"{{url}}\">Open Tool Connect</a></p>"},
    {TC_NOTIFY_CONNECTION_RECONNECT, "connection.expired", "Your {{name}} connection needs reconnecting",
     "Your connection \"{{label}}\" to {{name}} stopped working: {{detail}}\n\n"
     "Reconnect it to keep your tools and schedules running.\n\n{{url}}\n",
     "<p>Your connection <strong>{{label}}</strong> to {{name}} stopped working: {{detail}}</p>"
     "<p>Reconnect it to keep your tools and schedules running.</p>"
     "<p><a href=\"{{url}}\">Open Tool Connect</a></p>"},
    {TC_NOTIFY_WEBHOOK_DISABLED, NULL, "Webhook endpoint disabled",
     "Your webhook endpoint {{endpoint}} was disabled: {{detail}}\n\n"
     "Fix the endpoint and enable it again; deliveries made while it was disabled can be "
     "retried.\n\n{{url}}\n",
     "<p>Your webhook endpoint <code>{{endpoint}}</code> was disabled: {{detail}}</p>"
     "<p>Fix the endpoint and enable it again; deliveries made while it was disabled can be "
     "retried.</p><p><a href=\"{{url}}\">Open Tool Connect</a></p>"},
    {TC_NOTIFY_SCHEDULE_FAILING, NULL, "Schedule \"{{name}}\" keeps failing",
     "Your schedule \"{{name}}\" failed {{count}} times in a row: {{detail}}\n\n{{url}}\n",
     "<p>Your schedule <strong>{{name}}</strong> failed {{count}} times in a row: {{detail}}</p>"
     "<p><a href=\"{{url}}\">Open Tool Connect</a></p>"},
    {TC_NOTIFY_SCHEDULE_PAUSED, NULL, "Schedule \"{{name}}\" was paused",
     "Your schedule \"{{name}}\" paused itself: {{detail}}\n\nResume it once the cause is fixed."
     "\n\n{{url}}\n",
     "<p>Your schedule <strong>{{name}}</strong> paused itself: {{detail}}</p>"
     "<p>Resume it once the cause is fixed.</p><p><a href=\"{{url}}\">Open Tool Connect</a></p>"},
};
#define NTEMPLATES (sizeof(templates) / sizeof(templates[0]))

static const char *const type_names[] = {
    TC_NOTIFY_HEALTH_DOWN,    TC_NOTIFY_HEALTH_RECOVERED, TC_NOTIFY_CONNECTION_RECONNECT,
    TC_NOTIFY_WEBHOOK_DISABLED, TC_NOTIFY_SCHEDULE_FAILING, TC_NOTIFY_SCHEDULE_PAUSED, NULL,
};

const char *const *tc_notify_alert_types(void)
{
    return type_names;
}

static const alert_template *find_template(const char *name)
{
    for (size_t i = 0; name && i < NTEMPLATES; i++)
        if (!strcmp(templates[i].type, name) || (templates[i].alias && !strcmp(templates[i].alias, name)))
            return &templates[i];
    return NULL;
}

const char *tc_notify_alert_type_canonical(const char *name)
{
    const alert_template *t = find_template(name);
    return t ? t->type : NULL;
}

static void put_escaped(tc_buf *b, const char *s, bool html)
{
    for (; *s; s++) {
        if (!html) {
            tc_buf_append(b, s, 1);
            continue;
        }
        switch (*s) {
        case '<': tc_buf_puts(b, "&lt;"); break;
        case '>': tc_buf_puts(b, "&gt;"); break;
        case '&': tc_buf_puts(b, "&amp;"); break;
        case '"': tc_buf_puts(b, "&quot;"); break;
        case '\'': tc_buf_puts(b, "&#39;"); break;
        case '\n': tc_buf_puts(b, "<br>"); break;
        default: tc_buf_append(b, s, 1);
        }
    }
}

/* Fills {{name}} placeholders from vars. One line only when oneline (CR/LF
 * become spaces: subjects go into a mail header). */
static char *fill(const char *tpl, const json_t *vars, bool html, bool oneline)
{
    tc_buf b;
    tc_buf_init(&b, BODY_MAX);
    for (const char *p = tpl; *p;) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!open || !close) {
            tc_buf_puts(&b, p);
            break;
        }
        tc_buf_append(&b, p, (size_t)(open - p));
        char key[64];
        size_t klen = (size_t)(close - open - 2);
        snprintf(key, sizeof(key), "%.*s", (int)(klen < sizeof(key) ? klen : sizeof(key) - 1), open + 2);
        const char *v = json_string_value(json_object_get(vars, key));
        if (v)
            put_escaped(&b, v, html);
        p = close + 2;
    }
    char *s = tc_buf_steal(&b);
    if (!s)
        s = tc_strdup("");
    for (char *q = s; oneline && *q; q++)
        if (*q == '\r' || *q == '\n')
            *q = ' ';
    return s;
}

char *tc_notify_html_from_text(const char *subject, const char *text)
{
    tc_buf b;
    tc_buf_init(&b, BODY_MAX);
    tc_buf_puts(&b, "<!doctype html><html><body style=\"font-family:sans-serif;color:#0f172a\">"
                    "<h2 style=\"font-size:18px\">");
    put_escaped(&b, subject ? subject : "", true);
    tc_buf_puts(&b, "</h2><div>");
    put_escaped(&b, text ? text : "", true);
    tc_buf_puts(&b, "</div><p style=\"color:#64748b;font-size:12px\">Tool Connect. Change which "
                    "emails you get in Settings, Notifications.</p></body></html>");
    char *s = tc_buf_steal(&b);
    return s ? s : tc_strdup("");
}

static char *wrap_html(const char *subject, const char *inner)
{
    tc_buf b;
    tc_buf_init(&b, BODY_MAX);
    tc_buf_puts(&b, "<!doctype html><html><body style=\"font-family:sans-serif;color:#0f172a\">"
                    "<h2 style=\"font-size:18px\">");
    put_escaped(&b, subject, true);
    tc_buf_puts(&b, "</h2>");
    tc_buf_puts(&b, inner);
    tc_buf_puts(&b, "<p style=\"color:#64748b;font-size:12px\">Tool Connect. Change which emails "
                    "you get in Settings, Notifications.</p></body></html>");
    char *s = tc_buf_steal(&b);
    return s ? s : tc_strdup("");
}

tc_status tc_notify_render(const char *type, const json_t *vars, const char *public_url,
                           tc_notify_rendered *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const alert_template *t = find_template(type);
    if (!t)
        return tc_failf(err, TC_NOT_FOUND, "type", "no template for alert type \"%s\"",
                        type ? type : "");
    json_t *v = json_is_object(vars) ? json_deep_copy(vars) : json_object();
    if (!json_object_get(v, "url") && public_url)
        json_object_set_new(v, "url", json_string(public_url));
    out->subject = fill(t->subject, v, false, true);
    out->text = fill(t->text, v, false, false);
    char *inner = fill(t->html, v, true, false);
    out->html = wrap_html(out->subject, inner);
    free(inner);
    json_decref(v);
    return TC_OK;
}

void tc_notify_rendered_free(tc_notify_rendered *r)
{
    free(r->subject);
    free(r->text);
    free(r->html);
    memset(r, 0, sizeof(*r));
}
