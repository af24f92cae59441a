/* "format" assertions (only when tc_jsonschema_opts.format_assert is set):
 * date-time, date, time (RFC 3339), email (RFC 5321 dot-atom or quoted local
 * part, hostname or IP literal domain), hostname (RFC 1123), ipv4, ipv6,
 * uri (RFC 3986 absolute), uuid. Unknown formats pass. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "jsonschema/js_int.h"

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool date_ok(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
        !digits(s + 8, 2))
        return false;
    int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static bool time_ok(const char *s, size_t n)
{
    if (n < 9 || s[2] != ':' || s[5] != ':' || !digits(s, 2) || !digits(s + 3, 2) ||
        !digits(s + 6, 2))
        return false;
    int h = num(s, 2), mi = num(s + 3, 2), sec = num(s + 6, 2);
    size_t i = 8;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i >= n)
        return false;
    int off = 0;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        off = 0;
    } else if ((s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':' &&
               digits(s + i + 1, 2) && digits(s + i + 4, 2)) {
        int oh = num(s + i + 1, 2), om = num(s + i + 4, 2);
        if (oh > 23 || om > 59)
            return false;
        off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
    } else {
        return false;
    }
    if (h > 23 || mi > 59 || sec > 60)
        return false;
    if (sec == 60) { /* leap second: only at 23:59:60 UTC */
        int utc = ((h * 60 + mi - off) % 1440 + 1440) % 1440;
        return utc == 23 * 60 + 59;
    }
    return true;
}

static bool date_time_ok(const char *s, size_t n)
{
    return n > 11 && (s[10] == 'T' || s[10] == 't') && date_ok(s, 10) &&
           time_ok(s + 11, n - 11);
}

static bool ipv4_ok(const char *s, size_t n)
{
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 4)
            i++;
        size_t len = i - start;
        if (len == 0 || len > 3 || (len > 1 && s[start] == '0') || num(s + start, len) > 255)
            return false;
        parts++;
        if (parts < 4) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
    }
    return i == n;
}

static bool ipv6_ok(const char *s, size_t n)
{
    char buf[64];
    unsigned char out[16];
    if (n == 0 || n >= sizeof buf)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
            return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    return inet_pton(AF_INET6, buf, out) == 1;
}

static bool hostname_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)c) && !(c == '-' && label > 0))
            return false;
        /* "--" in positions 3-4 is reserved for A-labels ("xn--") */
        if (label == 3 && c == '-' && s[i - 1] == '-' && tolower((unsigned char)s[i - 3]) != 'x')
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0 && s[n - 1] != '-';
}

static bool email_ok(const char *s, size_t n)
{
    const char *at = memrchr(s, '@', n);
    if (!at || at == s || at == s + n - 1)
        return false;
    size_t ln = (size_t)(at - s), dn = n - ln - 1;
    const char *d = at + 1;
    if (s[0] == '"') {
        if (ln < 2 || s[ln - 1] != '"')
            return false;
    } else {
        static const char atext[] = "!#$%&'*+/=?^_`{|}~-";
        for (size_t i = 0; i < ln; i++) {
            char c = s[i];
            if (c == '.' && (i == 0 || i + 1 == ln || s[i + 1] == '.'))
                return false;
            if (c != '.' && !isalnum((unsigned char)c) && !strchr(atext, c))
                return false;
        }
    }
    if (d[0] == '[' && d[dn - 1] == ']') {
        if (dn > 7 && !strncmp(d + 1, "IPv6:", 5))
            return ipv6_ok(d + 6, dn - 7);
        return ipv4_ok(d + 1, dn - 2);
    }
    return hostname_ok(d, dn);
}

static bool uri_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return false;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (i >= n || s[i] != ':')
        return false;
    static const char allowed[] = "-._~:/?#[]@!$&'()*+,;=";
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return false;
            i += 2;
        } else if (!isalnum(c) && !strchr(allowed, c)) {
            return false;
        }
    }
    return true;
}

static bool uuid_ok(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static const struct {
    const char *name;
    bool (*ok)(const char *s, size_t n);
} formats[] = {
    {"date-time", date_time_ok}, {"date", date_ok},         {"time", time_ok},
    {"email", email_ok},         {"hostname", hostname_ok}, {"ipv4", ipv4_ok},
    {"ipv6", ipv6_ok},           {"uri", uri_ok},           {"uuid", uuid_ok},
};

bool js__format_ok(const char *format, const char *s, size_t n)
{
    if (memchr(s, 0, n))
        return false; /* embedded NUL never fits a format */
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(format, formats[i].name))
            return formats[i].ok(s, n);
    return true;
}
