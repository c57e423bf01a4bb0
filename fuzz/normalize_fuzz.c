
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


/*
 * libFuzzer target for endpoint normalization.  The input is a request
 * path of any bytes.  It goes through ngx_http_monitoring_normalize_auto()
 * with several output bounds, and through the endpoint key part of the
 * log handler, ngx_http_monitoring_endpoint_part(), three ways: without
 * rules, with the fixed rules below (compiled by the module's own
 * ngx_http_monitoring_rule_compile()), and with normalize_auto off.
 * Every result is compared with one computed here, apart from the
 * module, from what docs/labels-and-endpoints.md promises.  A broken
 * invariant is reported on stderr and ends in abort(), which libFuzzer
 * saves as a crash.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"
#include "fuzz_utf8.h"


/* as in ngx_http_monitoring_normalize.c */
#define NGX_HTTP_MONITORING_FUZZ_NORMALIZE_MAX  1024


typedef struct {
    char                            *regex;
    char                            *replacement;
    pcre2_code                      *code;      /* the harness' own */
} ngx_http_monitoring_fuzz_rule_t;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_http_monitoring_fuzz_auto(ngx_str_t *value, u_char *expect,
    size_t len);
static void ngx_http_monitoring_fuzz_endpoint(
    ngx_http_monitoring_loc_conf_t *mlcf, ngx_str_t *value, u_char *expect,
    size_t len, const char *what);
static size_t ngx_http_monitoring_fuzz_normalize(u_char *dst, u_char *src,
    size_t len);
static ngx_int_t ngx_http_monitoring_fuzz_is_id(u_char *p, size_t n);
static ngx_int_t ngx_http_monitoring_fuzz_rules(u_char *dst, size_t *len,
    u_char *src, size_t size);
static void ngx_http_monitoring_fuzz_fail(const char *fmt, ...);


/*
 * the examples of docs/labels-and-endpoints.md, and rules for what they
 * leave out: captures unset, used several times and past the buffer,
 * more groups than the module asks for, "$" not before a digit
 */

static ngx_http_monitoring_fuzz_rule_t  ngx_http_monitoring_fuzz_list[] = {
    { "^/p/[a-z0-9-]+$", "/p/{slug}", NULL },
    { "^/api/tasks/\\d+/(raw|html)$", "/api/tasks/{id}/$1", NULL },
    { "^/static/", "/static/*", NULL },
    { "^/r/([^/]*)/(x)?(.*)$", "<$1|$2|$3>$0$1$1$1$1$", NULL },
    { "^/m/(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)(.*)$", "/m/$9$1$0$x$$", NULL },
    { "(?i)^/case/(\\w+)", "/case/$1", NULL },
    { "\\.(png|css|js)$", "*.$1", NULL },
    { NULL, NULL, NULL }
};

static ngx_http_monitoring_loc_conf_t   ngx_http_monitoring_fuzz_auto_conf;
static ngx_http_monitoring_loc_conf_t   ngx_http_monitoring_fuzz_rule_conf;
static ngx_http_monitoring_loc_conf_t   ngx_http_monitoring_fuzz_off_conf;

static ngx_log_t                        ngx_http_monitoring_fuzz_log;
static ngx_connection_t                 ngx_http_monitoring_fuzz_conn;
static ngx_http_request_t               ngx_http_monitoring_fuzz_r;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int                               err;
    size_t                            off;
    ngx_str_t                         regex, replacement;
    ngx_conf_t                        cf;
    ngx_pool_t                       *pool;
    ngx_array_t                      *rules;
    ngx_http_monitoring_rule_t       *rule;
    ngx_http_monitoring_fuzz_rule_t  *fr;

    ngx_http_monitoring_normalize_init();

    ngx_http_monitoring_fuzz_conn.log = &ngx_http_monitoring_fuzz_log;
    ngx_http_monitoring_fuzz_r.connection = &ngx_http_monitoring_fuzz_conn;

    pool = calloc(1, sizeof(ngx_pool_t));
    rules = calloc(1, sizeof(ngx_array_t));

    if (pool == NULL || rules == NULL
        || ngx_array_init(rules, pool, 1, sizeof(ngx_http_monitoring_rule_t))
           != NGX_OK)
    {
        abort();
    }

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;

    for (fr = ngx_http_monitoring_fuzz_list; fr->regex; fr++) {

        regex.data = (u_char *) fr->regex;
        regex.len = ngx_strlen(fr->regex);
        replacement.data = (u_char *) fr->replacement;
        replacement.len = ngx_strlen(fr->replacement);

        rule = ngx_array_push(rules);
        if (rule == NULL) {
            abort();
        }

        if (ngx_http_monitoring_rule_compile(&cf, rule, &regex, &replacement)
            != NGX_CONF_OK)
        {
            ngx_http_monitoring_fuzz_fail("rule \"%s\" does not compile",
                                          fr->regex);
        }

        fr->code = pcre2_compile(regex.data, regex.len, 0, &err, &off,
                                 NULL);
        if (fr->code == NULL) {
            abort();
        }
    }

    ngx_http_monitoring_fuzz_auto_conf.normalize_auto = 1;

    ngx_http_monitoring_fuzz_rule_conf.normalize_auto = 1;
    ngx_http_monitoring_fuzz_rule_conf.rules = rules;

    ngx_http_monitoring_fuzz_off_conf.normalize_auto = 0;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                          *expect, *ruled;
    size_t                           len, cut, rlen;
    ngx_str_t                        value;
    ngx_http_monitoring_loc_conf_t  *auto_conf, *rule_conf, *off_conf;

    auto_conf = &ngx_http_monitoring_fuzz_auto_conf;
    rule_conf = &ngx_http_monitoring_fuzz_rule_conf;
    off_conf = &ngx_http_monitoring_fuzz_off_conf;

    value.data = (u_char *) data;
    value.len = size;

    /* a one byte segment may become "{id}": four bytes each */

    expect = malloc(4 * size + 1);
    ruled = malloc(4 * size + NGX_HTTP_MONITORING_FUZZ_NORMALIZE_MAX);

    if (expect == NULL || ruled == NULL) {
        abort();
    }

    len = ngx_http_monitoring_fuzz_normalize(expect, value.data, size);
    cut = ngx_min(len, NGX_HTTP_MONITORING_FUZZ_NORMALIZE_MAX);

    ngx_http_monitoring_fuzz_auto(&value, expect, len);

    ngx_http_monitoring_fuzz_endpoint(auto_conf, &value, expect, cut, "auto");

    if (ngx_http_monitoring_fuzz_rules(ruled, &rlen, value.data, size)) {
        ngx_http_monitoring_fuzz_endpoint(rule_conf, &value, ruled, rlen,
                                          "rule");

    } else {
        ngx_http_monitoring_fuzz_endpoint(rule_conf, &value, expect, cut,
                                          "no rule");
    }

    ngx_http_monitoring_fuzz_endpoint(off_conf, &value, value.data, size,
                                      "off");

    free(ruled);
    free(expect);

    return 0;
}


/*
 * normalize_auto with several bounds: the expected text cut to the
 * bound, or the value itself when it holds no identifier; the same
 * twice; and normalizing the result again changes nothing
 */

static void
ngx_http_monitoring_fuzz_auto(ngx_str_t *value, u_char *expect, size_t len)
{
    u_char      *buf, *again;
    size_t       max, n;
    ngx_str_t    result, second;
    ngx_uint_t   i;

    static size_t  bounds[] = {
        NGX_HTTP_MONITORING_FUZZ_NORMALIZE_MAX, 255, 31, 4, 3, 0
    };

    for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        max = bounds[i];

        /* exactly "max" bytes, or ASan would not see an overrun */

        buf = malloc(max ? max : 1);
        if (buf == NULL) {
            abort();
        }

        ngx_http_monitoring_normalize_auto(value, buf, max, &result);

        if (len == value->len && ngx_memcmp(expect, value->data, len) == 0) {

            if (result.data != value->data || result.len != value->len) {
                ngx_http_monitoring_fuzz_fail("auto (max %zu): no "
                                              "identifier, yet the value "
                                              "is not kept", max);
            }

            free(buf);
            continue;
        }

        n = ngx_min(len, max);

        if (result.data != buf || result.len != n
            || ngx_memcmp(result.data, expect, n) != 0)
        {
            ngx_http_monitoring_fuzz_fail("auto (max %zu): \"%.*s\" (%zu "
                                          "bytes), expected \"%.*s\"", max,
                                          (int) result.len, result.data,
                                          result.len, (int) n, expect);
        }

        if (max == NGX_HTTP_MONITORING_FUZZ_NORMALIZE_MAX && n == len) {

            /* the result holds no identifier any more */

            again = malloc(max);
            if (again == NULL) {
                abort();
            }

            ngx_http_monitoring_normalize_auto(&result, again, max, &second);

            if (second.data != result.data || second.len != result.len) {
                ngx_http_monitoring_fuzz_fail("auto is not idempotent on "
                                              "\"%.*s\"", (int) result.len,
                                              result.data);
            }

            free(again);
        }

        free(buf);
    }
}


/*
 * the endpoint key part: the expected text made valid UTF-8 and cut to
 * 255 bytes, the same when asked twice
 */

static void
ngx_http_monitoring_fuzz_endpoint(ngx_http_monitoring_loc_conf_t *mlcf,
    ngx_str_t *value, u_char *expect, size_t len, const char *what)
{
    u_char  *key, *end, *ref;
    size_t   n;
    u_char   first[NGX_HTTP_MONITORING_PART_MAX];

    key = malloc(1 + NGX_HTTP_MONITORING_PART_MAX);
    ref = malloc(NGX_HTTP_MONITORING_PART_MAX);

    if (key == NULL || ref == NULL) {
        abort();
    }

    end = ngx_http_monitoring_endpoint_part(&ngx_http_monitoring_fuzz_r,
                                            mlcf, value, key);

    if (end != key + 1 + key[0]) {
        ngx_http_monitoring_fuzz_fail("%s: endpoint part of %d bytes ends "
                                      "at %td", what, key[0], end - key);
    }

    if (!ngx_http_monitoring_fuzz_utf8_valid(key + 1, key[0])) {
        ngx_http_monitoring_fuzz_fail("%s: endpoint is not valid UTF-8",
                                      what);
    }

    n = ngx_http_monitoring_fuzz_utf8_copy(ref, expect, len,
                                           NGX_HTTP_MONITORING_PART_MAX);

    if (n != key[0] || ngx_memcmp(ref, key + 1, n) != 0) {
        ngx_http_monitoring_fuzz_fail("%s: endpoint \"%.*s\", expected "
                                      "\"%.*s\"", what, (int) key[0],
                                      key + 1, (int) n, ref);
    }

    n = key[0];
    ngx_memcpy(first, key + 1, n);

    (void) ngx_http_monitoring_endpoint_part(&ngx_http_monitoring_fuzz_r,
                                             mlcf, value, key);

    if (key[0] != n || ngx_memcmp(first, key + 1, n) != 0) {
        ngx_http_monitoring_fuzz_fail("%s: endpoint differs the second "
                                      "time", what);
    }

    free(ref);
    free(key);
}


/* what docs/labels-and-endpoints.md says, one segment at a time */

static size_t
ngx_http_monitoring_fuzz_normalize(u_char *dst, u_char *src, size_t len)
{
    u_char  *d, *seg, *last;

    d = dst;
    last = src + len;

    for ( ;; ) {
        seg = src;

        while (src < last && *src != '/') {
            src++;
        }

        if (ngx_http_monitoring_fuzz_is_id(seg, src - seg)) {
            d = ngx_cpymem(d, "{id}", 4);

        } else {
            d = ngx_cpymem(d, seg, src - seg);
        }

        if (src == last) {
            break;
        }

        *d++ = *src++;
    }

    return d - dst;
}


/*
 * a segment with at least one digit that is all digits, a UUID, 16+ hex
 * digits, or a 20+ character token of letters, digits, "-" and "_"
 */

static ngx_int_t
ngx_http_monitoring_fuzz_is_id(u_char *p, size_t n)
{
    u_char      c;
    size_t      i;
    ngx_uint_t  digit, digits, hex, token, uuid;

    digit = 0;
    digits = 1;
    hex = 1;
    token = 1;
    uuid = (n == 36);

    for (i = 0; i < n; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            digit = 1;

        } else {
            digits = 0;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')))
        {
            hex = 0;

            if (!(i == 8 || i == 13 || i == 18 || i == 23) || c != '-') {
                uuid = 0;
            }

        } else if (i == 8 || i == 13 || i == 18 || i == 23) {
            uuid = 0;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
        {
            token = 0;
        }
    }

    return digit
           && (digits || (hex && n >= 16) || (token && n >= 20) || uuid);
}


/*
 * the first rule that matches: its replacement with "$N" as capture N
 * (empty when unset), cut to the normalization buffer; 0 if none
 * matches
 */

static ngx_int_t
ngx_http_monitoring_fuzz_rules(u_char *dst, size_t *len, u_char *src,
    size_t size)
{
    int                               rc;
    char                             *r;
    size_t                           *ov, c, k, n, max;
    pcre2_match_data                 *md;
    ngx_http_monitoring_fuzz_rule_t  *fr;

    max = NGX_HTTP_MONITORING_FUZZ_NORMALIZE_MAX;

    for (fr = ngx_http_monitoring_fuzz_list; fr->regex; fr++) {

        md = pcre2_match_data_create_from_pattern(fr->code, NULL);
        if (md == NULL) {
            abort();
        }

        rc = pcre2_match(fr->code, src, size, 0, 0, md, NULL);

        if (rc < 0) {
            pcre2_match_data_free(md);
            continue;
        }

        ov = pcre2_get_ovector_pointer(md);
        n = 0;

        for (r = fr->replacement; *r; r++) {

            if (r[0] == '$' && r[1] >= '0' && r[1] <= '9') {
                k = r[1] - '0';
                r++;

                if ((int) k < rc && ov[2 * k] != PCRE2_UNSET) {
                    c = ngx_min(ov[2 * k + 1] - ov[2 * k], max - n);
                    ngx_memcpy(dst + n, src + ov[2 * k], c);
                    n += c;
                }

                continue;
            }

            if (n < max) {
                dst[n++] = *r;
            }
        }

        pcre2_match_data_free(md);

        *len = n;
        return 1;
    }

    return 0;
}


static void
ngx_http_monitoring_fuzz_fail(const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "normalize_fuzz: ");

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");

    abort();
}
