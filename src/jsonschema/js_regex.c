/* ECMA-262 regular expressions (what JSON Schema specifies) mapped onto PCRE2.
 * The source is rewritten before pcre2_compile():
 *   \uXXXX, \u{X...} (and surrogate pairs)  -> \x{...}
 *   \p{Letter}, \p{gc=Lu}, \p{General_Category=Letter} -> \p{L}, \p{Lu}
 *   \p{Script=Greek}, \p{sc=Greek}       -> \p{Greek}
 *   \p{Script_Extensions=Greek}, scx=     -> \p{scx:Greek}
 *   \s / \S outside a class               -> ECMA's Unicode white space set
 *   \s inside a class                     -> the same set, inlined
 *   \cX                                   -> \x{..} (control letter)
 * Everything else is passed through; the remaining differences are listed in
 * docs/jsonschema.md. */
#include <stdio.h>
#include <string.h>

#include "jsonschema/js_int.h"

#define ECMA_SPACE "\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}" \
                   "\\x{202f}\\x{205f}\\x{3000}\\x{feff}"

static const struct {
    const char *ecma, *pcre;
} gc_names[] = {
    {"Letter", "L"}, {"Cased_Letter", "L&"}, {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"}, {"Titlecase_Letter", "Lt"}, {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"}, {"Mark", "M"}, {"Combining_Mark", "M"}, {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"}, {"Enclosing_Mark", "Me"}, {"Number", "N"},
    {"Decimal_Number", "Nd"}, {"digit", "Nd"}, {"Letter_Number", "Nl"}, {"Other_Number", "No"},
    {"Punctuation", "P"}, {"punct", "P"}, {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"}, {"Open_Punctuation", "Ps"}, {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"}, {"Final_Punctuation", "Pf"}, {"Other_Punctuation", "Po"},
    {"Symbol", "S"}, {"Math_Symbol", "Sm"}, {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"}, {"Other_Symbol", "So"}, {"Separator", "Z"},
    {"Space_Separator", "Zs"}, {"Line_Separator", "Zl"}, {"Paragraph_Separator", "Zp"},
    {"Other", "C"}, {"Control", "Cc"}, {"cntrl", "Cc"}, {"Format", "Cf"},
    {"Surrogate", "Cs"}, {"Private_Use", "Co"}, {"Unassigned", "Cn"},
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses exactly 4 hex digits at s; -1 if not. */
static long hex4(const char *s, const char *end)
{
    if (end - s < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* \u escapes at p (pointing after "\u"); returns bytes consumed or 0. */
static size_t unicode_escape(const char *p, const char *end, tc_buf *out)
{
    if (p < end && *p == '{') {
        const char *q = p + 1;
        long v = 0;
        while (q < end && hexval(*q) >= 0 && v <= 0x10FFFF)
            v = v * 16 + hexval(*q++);
        if (q == p + 1 || q >= end || *q != '}' || v > 0x10FFFF)
            return 0;
        tc_buf_printf(out, "\\x{%lx}", v);
        return (size_t)(q + 1 - p);
    }
    long hi = hex4(p, end);
    if (hi < 0)
        return 0;
    if (hi >= 0xD800 && hi <= 0xDBFF && end - p >= 10 && p[4] == '\\' && p[5] == 'u') {
        long lo = hex4(p + 6, end);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            tc_buf_printf(out, "\\x{%lx}", 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
            return 10;
        }
    }
    tc_buf_printf(out, "\\x{%lx}", hi);
    return 4;
}

/* \p{...}/\P{...} at p (pointing at "{"); returns bytes consumed or 0. */
static size_t property_escape(char kind, const char *p, const char *end, tc_buf *out)
{
    const char *close = memchr(p, '}', (size_t)(end - p));
    if (*p != '{' || !close)
        return 0;
    char name[96];
    size_t n = (size_t)(close - p - 1);
    if (n == 0 || n >= sizeof name)
        return 0;
    memcpy(name, p + 1, n);
    name[n] = 0;
    const char *value = name, *eq = strchr(name, '=');
    bool scx = false;
    if (eq) {
        size_t klen = (size_t)(eq - name);
        scx = (klen == 3 && !strncmp(name, "scx", 3)) ||
              (klen == 18 && !strncmp(name, "Script_Extensions", 17));
        value = eq + 1;
    }
    for (size_t i = 0; i < sizeof gc_names / sizeof gc_names[0]; i++) {
        if (!strcmp(value, gc_names[i].ecma)) {
            value = gc_names[i].pcre;
            break;
        }
    }
    tc_buf_printf(out, "\\%c{%s%s}", kind, scx ? "scx:" : "", value);
    return (size_t)(close + 1 - p);
}

char *js__ecma_to_pcre(const char *src, size_t len, size_t *outlen)
{
    tc_buf out;
    tc_buf_init(&out, len * 8 + 256);
    const char *p = src, *end = src + len;
    bool in_class = false;
    while (p < end) {
        char c = *p;
        if (c != '\\' || p + 1 >= end) {
            if (c == '[' && !in_class)
                in_class = true;
            else if (c == ']' && in_class)
                in_class = false;
            tc_buf_append(&out, p++, 1);
            continue;
        }
        char e = p[1];
        size_t used = 0;
        if (e == 'u')
            used = unicode_escape(p + 2, end, &out);
        else if (e == 'p' || e == 'P')
            used = property_escape(e, p + 2, end, &out);
        if (!used && e == 's') {
            tc_buf_puts(&out, in_class ? ECMA_SPACE : "[" ECMA_SPACE "]");
            p += 2;
            continue;
        }
        if (!used && e == 'S' && !in_class) {
            tc_buf_puts(&out, "[^" ECMA_SPACE "]");
            p += 2;
            continue;
        }
        if (!used && e == 'c' && p + 2 < end &&
            ((p[2] >= 'a' && p[2] <= 'z') || (p[2] >= 'A' && p[2] <= 'Z'))) {
            tc_buf_printf(&out, "\\x{%x}", (unsigned)(p[2] & 0x1f));
            p += 3;
            continue;
        }
        if (used) {
            p += 2 + used;
            continue;
        }
        tc_buf_append(&out, p, 2);
        p += 2;
    }
    *outlen = out.len;
    return tc_buf_steal(&out);
}
