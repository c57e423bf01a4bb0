
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


static void ngx_http_monitoring_record(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s, ngx_msec_t ms, ngx_uint_t status,
    time_t now, ngx_log_t *log);
static void ngx_http_monitoring_upstreams(ngx_http_request_t *r,
    ngx_http_monitoring_loc_conf_t *mlcf, u_char *labels, size_t len,
    time_t now);


static ngx_str_t  ngx_http_monitoring_other_method = ngx_string("OTHER");
static ngx_str_t  ngx_http_monitoring_no_upstream = ngx_string("-");

/* worker processes handle one request at a time */

static u_char  ngx_http_monitoring_key_buf[NGX_HTTP_MONITORING_KEY_MAX];
static u_char  ngx_http_monitoring_upstream_buf[NGX_HTTP_MONITORING_KEY_MAX];


ngx_int_t
ngx_http_monitoring_log_handler(ngx_http_request_t *r)
{
    u_char                          *p, *labels;
    ngx_str_t                        endpoint, value, *method;
    ngx_uint_t                       i, status;
    ngx_time_t                      *tp;
    ngx_msec_int_t                   ms;
    ngx_http_monitoring_sh_t        *sh;
    ngx_http_monitoring_srv_conf_t  *mscf;
    ngx_http_monitoring_zone_t      *zone;
    ngx_http_variable_value_t       *vv;
    ngx_http_monitoring_label_t     *label;
    ngx_http_monitoring_series_t    *s;
    ngx_http_monitoring_loc_conf_t  *mlcf;

    /* a subrequest is a part of its request, counted once, by it */

    if (r != r->main) {
        return NGX_OK;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_monitoring_module);

    if (mlcf->zone == NULL) {
        return NGX_OK;
    }

    zone = mlcf->zone->data;
    sh = zone->sh;

    if (mlcf->endpoint == NULL
        || ngx_http_complex_value(r, mlcf->endpoint, &endpoint) != NGX_OK)
    {
        endpoint = r->uri;
    }

    mscf = ngx_http_get_module_srv_conf(r, ngx_http_monitoring_module);

    /* a method nginx knows is in capitals only: no need to check it */

    method = &r->method_name;

    if (r->method == NGX_HTTP_UNKNOWN
        || method->len == 0
        || method->len > 16)
    {
        method = &ngx_http_monitoring_other_method;
    }

    p = ngx_cpymem(ngx_http_monitoring_key_buf, mscf->key, mscf->len);
    p = ngx_http_monitoring_endpoint_part(r, mlcf, &endpoint, p);

    *p++ = (u_char) method->len;
    p = ngx_cpymem(p, method->data, method->len);

    labels = p;

    if (mlcf->labels != NULL) {
        label = mlcf->labels->elts;

        for (i = 0; i < mlcf->labels->nelts; i++) {

            /*
             * an empty label is no label to Prometheus: leave it out of
             * the key, or two keys would render as one series
             */

            if (label[i].index != NGX_ERROR) {
                vv = ngx_http_get_flushed_variable(r, label[i].index);

                if (vv == NULL || vv->not_found || vv->len == 0) {
                    continue;
                }

                value.data = vv->data;
                value.len = vv->len;

            } else if (ngx_http_complex_value(r, &label[i].value, &value)
                       != NGX_OK
                       || value.len == 0)
            {
                continue;
            }

            *p++ = (u_char) label[i].name.len;
            p = ngx_cpymem(p, label[i].name.data, label[i].name.len);
            p = ngx_http_monitoring_key_part(p, &value,
                                             NGX_HTTP_MONITORING_VALUE_MAX);
        }
    }

    s = ngx_http_monitoring_series_get(zone, ngx_http_monitoring_key_buf,
                                       p - ngx_http_monitoring_key_buf,
                                       mlcf->bounds, r->connection->log);

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t)
             ((tp->sec - r->start_sec) * 1000 + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    (void) ngx_atomic_fetch_add(&s->request_bytes, r->request_length);
    (void) ngx_atomic_fetch_add(&s->response_bytes, r->connection->sent);

    if ((ngx_msec_t) ms > mlcf->slow_threshold) {
        (void) ngx_atomic_fetch_add(&s->slow, 1);
    }

    /* as the $status variable */

    if (r->err_status) {
        status = r->err_status;

    } else if (r->headers_out.status) {
        status = r->headers_out.status;

    } else if (r->http_version == NGX_HTTP_VERSION_9) {
        status = 9;

    } else {
        status = 0;
    }

    ngx_http_monitoring_record(zone, s, ms, status, tp->sec,
                               r->connection->log);

    /*
     * health checks stay out of the statistics that decide health: a 503
     * of /health must not keep the zone degraded
     */

    if (r->content_handler != ngx_http_monitoring_health_handler) {
        ngx_http_monitoring_history_record(zone, ms, status, tp->sec);

    } else if (!s->probe && s != sh->overflow[NGX_HTTP_MONITORING_REQUEST]) {

        /* nor in alert rules, which can make /health answer 503 */

        s->probe = 1;
    }

    if (ngx_worker < NGX_HTTP_MONITORING_MAX_WORKERS) {
        (void) ngx_atomic_fetch_add(&sh->workers[ngx_worker].requests, 1);
    }

    if (r->upstream_states && r->upstream_states->nelts) {
        ngx_http_monitoring_upstreams(r, mlcf, labels, p - labels, tp->sec);
    }

    return NGX_OK;
}


/* a time in its bucket, the time sum and the status of a series */

static void
ngx_http_monitoring_record(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s, ngx_msec_t ms, ngx_uint_t status,
    time_t now, ngx_log_t *log)
{
    ngx_uint_t  i, n;

    n = s->bounds->n;

    for (i = 0; i < n; i++) {
        if (ms <= s->bounds->msec[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&s->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&s->time_sum, ms);

    ngx_http_monitoring_status_add(zone, s, status, 1, log);
    ngx_http_monitoring_half_record(s, i, status, now);
}


/*
 * each attempt at an upstream peer, as $upstream_addr lists them; the
 * upstream is the upstream block, or the proxied host for an implicit one
 */

static void
ngx_http_monitoring_upstreams(ngx_http_request_t *r,
    ngx_http_monitoring_loc_conf_t *mlcf, u_char *labels, size_t len,
    time_t now)
{
    u_char                        *p, *start;
    ngx_str_t                     *upstream;
    ngx_uint_t                     i, last;
    ngx_msec_t                     ms;
    ngx_http_upstream_t           *u;
    ngx_http_upstream_state_t     *state;
    ngx_http_monitoring_zone_t    *zone;
    ngx_http_monitoring_series_t  *s;

    zone = mlcf->zone->data;
    u = r->upstream;
    state = r->upstream_states->elts;

    /*
     * internal redirects separate the states of several upstreams with
     * an entry without a peer; only the last upstream is still known
     */

    last = 0;

    for (i = 0; i < r->upstream_states->nelts; i++) {
        if (state[i].peer == NULL) {
            last = i + 1;
        }
    }

    start = NULL;

    for (i = 0; i < r->upstream_states->nelts; i++) {

        if (state[i].peer == NULL) {
            continue;
        }

        if (start == NULL || i == last) {

            if (i < last) {
                upstream = &ngx_http_monitoring_no_upstream;

            } else if (u != NULL && u->upstream != NULL) {
                upstream = &u->upstream->host;

            } else if (u != NULL && u->resolved != NULL
                       && u->resolved->host.len)
            {
                upstream = &u->resolved->host;

            } else {
                upstream = &ngx_http_monitoring_no_upstream;
            }

            p = ngx_http_monitoring_upstream_buf;
            *p++ = NGX_HTTP_MONITORING_UPSTREAM;

            start = ngx_http_monitoring_key_part(p, upstream,
                                                NGX_HTTP_MONITORING_PART_MAX);
        }

        p = ngx_http_monitoring_key_part(start, state[i].peer,
                                         NGX_HTTP_MONITORING_PART_MAX);
        p = ngx_cpymem(p, labels, len);

        s = ngx_http_monitoring_series_get(zone,
                                   ngx_http_monitoring_upstream_buf,
                                   p - ngx_http_monitoring_upstream_buf,
                                   mlcf->bounds, r->connection->log);

        ms = state[i].response_time;

        if (ms == (ngx_msec_t) -1) {
            ms = 0;
        }

        ngx_http_monitoring_record(zone, s, ms, state[i].status, now,
                                   r->connection->log);
    }
}


u_char *
ngx_http_monitoring_key_part(u_char *p, ngx_str_t *value, size_t max)
{
    *p = (u_char) ngx_http_monitoring_utf8_copy(p + 1, value->data,
                                                value->len, max);

    return p + 1 + *p;
}


/*
 * Copies at most "max" bytes of valid UTF-8, never a partial sequence;
 * each byte that does not start a valid sequence, and each control
 * character but tab and newline, becomes U+FFFD.
 */

size_t
ngx_http_monitoring_utf8_copy(u_char *dst, u_char *src, size_t len,
    size_t max)
{
    u_char    *d, *end, *last, c, lo, hi;
    size_t     n, i;
    uint64_t   w;

    d = dst;
    end = dst + max;
    last = src + len;

    while (src < last) {

        /* eight printable ASCII bytes at a time, the usual case */

        while (last - src >= 8 && end - d >= 8) {
            ngx_memcpy(&w, src, 8);

            /* a byte of 0x80 or more, or one below 0x20 */

            if ((w | ((w - 0x2020202020202020ULL) & ~w))
                & 0x8080808080808080ULL)
            {
                break;
            }

            ngx_memcpy(d, &w, 8);
            src += 8;
            d += 8;
        }

        while (src < last && d < end && *src < 0x80
               && (*src >= 0x20 || *src == '\t' || *src == '\n'))
        {
            *d++ = *src++;
        }

        if (src == last || d == end) {
            break;
        }

        /*
         * a byte of 0x80 or more, or a control character but tab and
         * newline (escaped as \n): NUL would cut a JSON string, ESC
         * would reach the terminal of whoever reads /metrics
         */

        c = *src;

        lo = 0x80;
        hi = 0xbf;

        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;

            if (c == 0xe0) {
                lo = 0xa0;

            } else if (c == 0xed) {
                hi = 0x9f;
            }

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;

            if (c == 0xf0) {
                lo = 0x90;

            } else if (c == 0xf4) {
                hi = 0x8f;
            }

        } else {
            n = 0;
        }

        if (n && (size_t) (last - src) >= n && src[1] >= lo && src[1] <= hi) {
            for (i = 2; i < n; i++) {
                if (src[i] < 0x80 || src[i] > 0xbf) {
                    break;
                }
            }

            if (i < n) {
                n = 0;
            }

        } else {
            n = 0;
        }

        if (n == 0) {
            if (end - d < 3) {
                break;
            }

            *d++ = 0xef;
            *d++ = 0xbf;
            *d++ = 0xbd;
            src++;
            continue;
        }

        if ((size_t) (end - d) < n) {
            break;
        }

        d = ngx_cpymem(d, src, n);
        src += n;
    }

    return d - dst;
}
