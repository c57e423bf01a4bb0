
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


#define NGX_HTTP_MONITORING_NORMALIZE_MAX  1024

#define NGX_HTTP_MONITORING_DIGIT          0x01
#define NGX_HTTP_MONITORING_HEX            0x02
#define NGX_HTTP_MONITORING_TOKEN          0x04


static u_char *ngx_http_monitoring_find_digit(u_char *p, u_char *last);
static ngx_int_t ngx_http_monitoring_is_uuid(u_char *p, size_t len);


static u_char  ngx_http_monitoring_class[256];


/* worker processes handle one request at a time */

static u_char  ngx_http_monitoring_normalize_buf[
                   NGX_HTTP_MONITORING_NORMALIZE_MAX];

static int     ngx_http_monitoring_captures[
                   (1 + NGX_HTTP_MONITORING_MAX_CAPTURES) * 3];


char *
ngx_http_monitoring_rule_compile(ngx_conf_t *cf,
    ngx_http_monitoring_rule_t *rule, ngx_str_t *regex,
    ngx_str_t *replacement)
{
    u_char                      *p, *last, *start;
    ngx_regex_compile_t          rc;
    ngx_http_monitoring_part_t  *part;
    u_char                       errstr[NGX_MAX_CONF_ERRSTR];

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = *regex;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;
    rc.pool = cf->pool;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid regex \"%V\" in \"monitoring_normalize\" "
                           "directive: %V", regex, &rc.err);
        return NGX_CONF_ERROR;
    }

    rule->regex = rc.regex;
    rule->pattern = *regex;

    if (ngx_array_init(&rule->parts, cf->pool, 4,
                       sizeof(ngx_http_monitoring_part_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = replacement->data;
    last = p + replacement->len;

    while (p < last) {
        part = ngx_array_push(&rule->parts);
        if (part == NULL) {
            return NGX_CONF_ERROR;
        }

        if (*p == '$' && p + 1 < last && p[1] >= '0' && p[1] <= '9') {
            part->capture = p[1] - '0';

            if (part->capture > rc.captures
                || part->capture > NGX_HTTP_MONITORING_MAX_CAPTURES)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid capture \"$%c\" in "
                                   "\"monitoring_normalize\" directive, "
                                   "\"%V\" has %i captures",
                                   p[1], regex, rc.captures);
                return NGX_CONF_ERROR;
            }

            ngx_str_null(&part->text);
            p += 2;
            continue;
        }

        start = p++;

        while (p < last
               && !(*p == '$' && p + 1 < last && p[1] >= '0' && p[1] <= '9'))
        {
            p++;
        }

        part->capture = -1;
        part->text.data = start;
        part->text.len = p - start;
    }

    return NGX_CONF_OK;
}


/*
 * Writes the endpoint key part: the replacement of the first rule whose
 * regex matches, else the value with identifier-like segments collapsed
 * into "{id}" (unless monitoring_normalize_auto is off), else the value.
 */

u_char *
ngx_http_monitoring_endpoint_part(ngx_http_request_t *r,
    ngx_http_monitoring_loc_conf_t *mlcf, ngx_str_t *value, u_char *p)
{
    int                         *cap;
    u_char                      *d, *end;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_str_t                    result;
    ngx_uint_t                   i, j;
    ngx_http_monitoring_part_t  *part;
    ngx_http_monitoring_rule_t  *rule;

    cap = ngx_http_monitoring_captures;
    end = ngx_http_monitoring_normalize_buf + NGX_HTTP_MONITORING_NORMALIZE_MAX;

    if (mlcf->rules != NULL) {
        rule = mlcf->rules->elts;

        for (i = 0; i < mlcf->rules->nelts; i++) {

            rc = ngx_regex_exec(rule[i].regex, value, cap,
                                (1 + NGX_HTTP_MONITORING_MAX_CAPTURES) * 3);

            if (rc == NGX_REGEX_NO_MATCHED) {
                continue;
            }

            if (rc < 0) {
                ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               ngx_regex_exec_n " failed: %i on \"%V\" "
                               "using \"%V\"", rc, value, &rule[i].pattern);
                continue;
            }

            if (rc == 0) {
                rc = 1 + NGX_HTTP_MONITORING_MAX_CAPTURES;
            }

            d = ngx_http_monitoring_normalize_buf;
            part = rule[i].parts.elts;

            for (j = 0; j < rule[i].parts.nelts; j++) {

                if (part[j].capture < 0) {
                    result = part[j].text;

                } else if (part[j].capture < rc
                           && cap[2 * part[j].capture] >= 0)
                {
                    result.data = value->data + cap[2 * part[j].capture];
                    result.len = cap[2 * part[j].capture + 1]
                                 - cap[2 * part[j].capture];

                } else {
                    continue;
                }

                len = ngx_min(result.len, (size_t) (end - d));
                d = ngx_cpymem(d, result.data, len);
            }

            result.data = ngx_http_monitoring_normalize_buf;
            result.len = d - ngx_http_monitoring_normalize_buf;

            return ngx_http_monitoring_key_part(p, &result,
                                                NGX_HTTP_MONITORING_PART_MAX);
        }
    }

    if (mlcf->normalize_auto) {
        ngx_http_monitoring_normalize_auto(value,
                                           ngx_http_monitoring_normalize_buf,
                                           NGX_HTTP_MONITORING_NORMALIZE_MAX,
                                           &result);
        value = &result;
    }

    return ngx_http_monitoring_key_part(p, value, NGX_HTTP_MONITORING_PART_MAX);
}


/*
 * Only segments with a digit can be identifiers: the path is searched
 * for digits eight bytes at a time, and only the segments holding one
 * are looked at closely.  Nothing is copied until an identifier is
 * found: a path without one is used as it is.
 */

void
ngx_http_monitoring_normalize_auto(ngx_str_t *value, u_char *buf,
    size_t max, ngx_str_t *result)
{
    u_char      *d, *end, *src, *last, *seg, *next, *pending;
    size_t       n;
    ngx_uint_t   all;

    src = value->data;
    last = src + value->len;
    pending = src;

    d = buf;
    end = buf + max;

    while (src < last) {

        src = ngx_http_monitoring_find_digit(src, last);

        if (src == last) {
            break;
        }

        /* the segment holding the digit */

        seg = src;

        while (seg > pending && seg[-1] != '/') {
            seg--;
        }

        all = NGX_HTTP_MONITORING_DIGIT|NGX_HTTP_MONITORING_HEX
              |NGX_HTTP_MONITORING_TOKEN;

        for (next = seg; next < last && *next != '/'; next++) {
            all &= ngx_http_monitoring_class[*next];
        }

        n = next - seg;

        if ((all & NGX_HTTP_MONITORING_DIGIT)
            || ((all & NGX_HTTP_MONITORING_HEX) && n >= 16)
            || ((all & NGX_HTTP_MONITORING_TOKEN) && n >= 20)
            || ngx_http_monitoring_is_uuid(seg, n))
        {
            n = ngx_min((size_t) (seg - pending), (size_t) (end - d));
            d = ngx_cpymem(d, pending, n);

            n = ngx_min(sizeof("{id}") - 1, (size_t) (end - d));
            d = ngx_cpymem(d, "{id}", n);

            pending = next;
        }

        src = next;
    }

    if (pending == value->data) {
        *result = *value;
        return;
    }

    n = ngx_min((size_t) (last - pending), (size_t) (end - d));
    d = ngx_cpymem(d, pending, n);

    result->data = buf;
    result->len = d - buf;
}


/*
 * the first digit, or "last"; eight bytes at a time: a byte is a digit
 * when (byte ^ '0') < 10, and the lowest byte flagged is always right
 */

static u_char *
ngx_http_monitoring_find_digit(u_char *p, u_char *last)
{
    uint64_t  w;

    while (last - p >= 8) {
        ngx_memcpy(&w, p, 8);

        w ^= 0x3030303030303030ULL;

        if ((w - 0x0a0a0a0a0a0a0a0aULL) & ~w & 0x8080808080808080ULL) {
            break;
        }

        p += 8;
    }

    while (p < last && (*p < '0' || *p > '9')) {
        p++;
    }

    return p;
}


static ngx_int_t
ngx_http_monitoring_is_uuid(u_char *p, size_t len)
{
    size_t  i;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return 0;
            }

        } else if (!(ngx_http_monitoring_class[p[i]]
                     & NGX_HTTP_MONITORING_HEX))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * segments with a digit and made only of such bytes may be identifiers:
 * all digits, 16 or more hex digits, or a token of 20 or more letters,
 * digits, "-" and "_"
 */

void
ngx_http_monitoring_normalize_init(void)
{
    ngx_uint_t  c;

    for (c = 0; c < 256; c++) {

        if (c >= '0' && c <= '9') {
            ngx_http_monitoring_class[c] = NGX_HTTP_MONITORING_DIGIT
                                           |NGX_HTTP_MONITORING_HEX
                                           |NGX_HTTP_MONITORING_TOKEN;

        } else if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
            ngx_http_monitoring_class[c] = NGX_HTTP_MONITORING_HEX
                                           |NGX_HTTP_MONITORING_TOKEN;

        } else if ((c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z')
                   || c == '_' || c == '-')
        {
            ngx_http_monitoring_class[c] = NGX_HTTP_MONITORING_TOKEN;

        } else {
            ngx_http_monitoring_class[c] = 0;
        }
    }
}
