/* JSON Schema value semantics jansson does not give us: numbers compared by
 * value across integer/real, exact multipleOf, structural equality (1 == 1.0,
 * key order ignored), a hash consistent with that equality, code-point
 * lengths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema/js_int.h"

/* Compares an integer with a double exactly (no rounding of i). */
static int cmp_int_real(long long i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    long long t = (long long)d; /* truncation is exact: |d| < 2^63 */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

int js__num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_integer(a))
        return cmp_int_real(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -cmp_int_real(json_integer_value(b), json_real_value(a));
    double x = json_real_value(a), y = json_real_value(b);
    return x < y ? -1 : x > y;
}

bool js__is_integer(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

/* Shortest decimal text ("%.*e") that reads back as d. If any text of 15
 * significant digits or fewer round-trips, the 15-digit rounding is that text
 * padded with zeros (d is within 2^-53 relative of it), so trying 15, 16 and
 * 17 digits and dropping trailing zeros later finds the shortest. */
static void shortest_exp(double d, char *out, size_t n)
{
    for (int prec = 14; prec < 17; prec++) {
        snprintf(out, n, "%.*e", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* v = mant * 10^exp exactly for the decimal text of v (sign dropped);
 * trailing zeros of mant move into exp. */
void js__decimal(const json_t *v, uint64_t *mant, int *exp)
{
    *mant = 0;
    *exp = 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        *mant = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    } else {
        double d = fabs(json_real_value(v));
        if (d == 0)
            return;
        char txt[40];
        shortest_exp(d, txt, sizeof txt);
        char *e = strchr(txt, 'e');
        int digits = 0;
        for (const char *p = txt; p < e; p++) {
            if (*p >= '0' && *p <= '9') {
                *mant = *mant * 10 + (uint64_t)(*p - '0');
                digits++;
            }
        }
        *exp = atoi(e + 1) - (digits - 1);
    }
    while (*mant && *mant % 10 == 0) {
        *mant /= 10;
        (*exp)++;
    }
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Is x (x | 10^k) for the smallest such k <= limit? i.e. x = 2^i 5^j, i,j <= k */
static bool divides_pow10(uint64_t x, int k)
{
    int twos = 0, fives = 0;
    while (x % 2 == 0) {
        x /= 2;
        twos++;
    }
    while (x % 5 == 0) {
        x /= 5;
        fives++;
    }
    return x == 1 && twos <= k && fives <= k;
}

/* Fast exact path for a real v and a divisor b*10^eb with eb < 0 (the common
 * "0.01"): with |v|*10^k < 2^52 (k = -eb) at most one decimal with k
 * fractional digits rounds to v; m = round(v*10^k) is it if m/10^k reads
 * back as v (a correctly rounded division of exact operands). If none does,
 * v's shortest decimal has more than k fractional digits and cannot be a
 * multiple. Returns 1/0, or -1 when the slow path must decide. */
static int multiple_fast(const json_t *v, uint64_t b, int eb)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (!json_is_real(v) || eb >= 0 || eb < -22 || b == 0 || b > (1ULL << 52))
        return -1;
    double d = fabs(json_real_value(v)), p = pow10[-eb];
    double x = d * p;
    if (!(x < 4503599627370496.0)) /* 2^52 */
        return -1;
    double m = nearbyint(x);
    if (m / p != d)
        return 0;
    return fmod(m, (double)b) == 0;
}

/* Exact multipleOf on the decimal values (see docs/jsonschema.md): with
 * v = a*10^ea and d = b*10^eb, v/d is an integer iff
 *   ea >= eb: b divides a*10^(ea-eb)
 *   ea <  eb: b*10^(eb-ea) divides a. */
bool js__multiple_of(const json_t *v, const json_t *divisor, uint64_t b, int eb)
{
    if (json_is_integer(v) && json_is_integer(divisor)) {
        json_int_t x = json_integer_value(v), y = json_integer_value(divisor);
        if (y == -1)
            return true;
        return y != 0 && x % y == 0;
    }
    if (json_is_real(v) && !isfinite(json_real_value(v)))
        return false;
    int fast = multiple_fast(v, b, eb);
    if (fast >= 0)
        return fast;
    uint64_t a;
    int ea;
    js__decimal(v, &a, &ea);
    if (a == 0)
        return true;
    if (b == 0)
        return false;
    if (ea >= eb) {
        uint64_t rest = b / gcd_u64(a, b);
        return divides_pow10(rest, ea - eb);
    }
    int k = eb - ea;
    if (k > 19)
        return false; /* b*10^k > 10^19 > a */
    unsigned __int128 m = b;
    for (int i = 0; i < k; i++)
        m *= 10;
    return m <= a && a % (uint64_t)m == 0;
}

bool js__equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return js__num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!js__equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *va;
        json_object_foreach((json_t *)a, k, va) {
            json_t *vb = json_object_get(b, k);
            if (!vb || !js__equal(va, vb))
                return false;
        }
        return true;
    }
    default:
        return true; /* null, true, false */
    }
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

uint64_t js__hash(const json_t *v)
{
    const uint64_t seed = 1469598103934665603ULL;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL: {
        double d = json_number_value(v);
        if (d == 0)
            d = 0; /* -0 */
        return fnv(&d, sizeof d, seed + 1);
    }
    case JSON_STRING:
        return fnv(json_string_value(v), json_string_length(v), seed + 2);
    case JSON_ARRAY: {
        uint64_t h = seed + 3;
        for (size_t i = 0; i < json_array_size(v); i++)
            h = mix(h ^ js__hash(json_array_get(v, i)));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = seed + 4;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) h += mix(fnv(k, strlen(k), seed) ^ js__hash(x));
        return h;
    }
    default:
        return seed + 10 + (uint64_t)json_typeof(v);
    }
}

size_t js__utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}

void js__num_format(const json_t *v, char *out, size_t n)
{
    if (json_is_integer(v)) {
        snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    double d = json_real_value(v);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}
