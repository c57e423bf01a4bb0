
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_http_monitoring_module.h"


#define NGX_HTTP_MONITORING_TOP  20


/* cJSON calls that fail leave their mark here, checked once at the end */

typedef struct {
    ngx_http_monitoring_zone_t      *zone;
    ngx_http_monitoring_main_conf_t *mmcf;
    ngx_uint_t                       failed;
} ngx_http_monitoring_json_t;


typedef struct {
    ngx_http_monitoring_series_t    *series;
    double                           rps;
    double                           error_rate;
    double                           p95;
    uint64_t                         total;
} ngx_http_monitoring_top_t;


static cJSON *ngx_http_monitoring_json_window(ngx_http_monitoring_json_t *j,
    ngx_http_monitoring_window_t *w);
static cJSON *ngx_http_monitoring_json_totals(ngx_http_monitoring_json_t *j);
static cJSON *ngx_http_monitoring_json_top(ngx_http_monitoring_json_t *j,
    ngx_uint_t kind);
static cJSON *ngx_http_monitoring_json_history(ngx_http_monitoring_json_t *j,
    ngx_uint_t day);
static void ngx_http_monitoring_json_labels(ngx_http_monitoring_json_t *j,
    cJSON *o, ngx_http_monitoring_series_t *s);
static cJSON *ngx_http_monitoring_object(ngx_http_monitoring_json_t *j);
static void ngx_http_monitoring_number(ngx_http_monitoring_json_t *j,
    cJSON *o, const char *name, double v);
static void ngx_http_monitoring_string(ngx_http_monitoring_json_t *j,
    cJSON *o, const char *name, u_char *data, size_t len);
static void ngx_http_monitoring_add(ngx_http_monitoring_json_t *j, cJSON *o,
    const char *name, cJSON *item);
static double ngx_http_monitoring_round(double v);


static char  *ngx_http_monitoring_classes[] = {
    NULL, "1xx", "2xx", "3xx", "4xx", "5xx"
};


static char    *ngx_http_monitoring_quantile_names[] = {
    "p50", "p90", "p95", "p99"
};

static double   ngx_http_monitoring_quantiles[] = {
    0.50, 0.90, 0.95, 0.99
};


ngx_str_t  ngx_http_monitoring_health_names[] = {
    ngx_string("healthy"),
    ngx_string("warning"),
    ngx_string("degraded")
};


/*
 * healthy (0), warning (1) or degraded (2) from a window: the share of
 * 5xx, compared in integers, and the p95 against the thresholds, no
 * traffic is healthy; and degraded while a critical alert fires
 */

ngx_uint_t
ngx_http_monitoring_health_status(ngx_http_monitoring_main_conf_t *mmcf,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_window_t *w,
    double *error_rate, double *p95, ngx_uint_t *firing)
{
    uint64_t    errors;
    ngx_uint_t  critical;

    *firing = ngx_http_monitoring_alerts_firing(zone, &critical);

    errors = w->status[5] * 10000;

    *error_rate = w->requests ? (double) w->status[5] / w->requests : 0;
    *p95 = ngx_http_monitoring_fine_quantile(w->fine, w->latencies, 0.95);

    if (critical
        || errors > mmcf->error_crit * w->requests
        || *p95 > (double) mmcf->p95_crit)
    {
        return 2;
    }

    if (errors > mmcf->error_warn * w->requests
        || *p95 > (double) mmcf->p95_warn)
    {
        return 1;
    }

    return 0;
}


ngx_int_t
ngx_http_monitoring_api_handler(ngx_http_request_t *r,
    ngx_http_monitoring_zone_t *zone)
{
    cJSON                         *root, *o, *t;
    double                         error_rate, p95;
    ngx_str_t                     *status;
    ngx_uint_t                     firing;
    ngx_time_t                    *tp;
    ngx_http_monitoring_json_t     j;
    ngx_http_monitoring_window_t  *w;

    w = ngx_palloc(r->pool, sizeof(ngx_http_monitoring_window_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j.zone = zone;
    j.mmcf = ngx_http_get_module_main_conf(r, ngx_http_monitoring_module);
    j.failed = 0;

    ngx_http_monitoring_window(zone, j.mmcf->window, w);

    status = &ngx_http_monitoring_health_names[
                  ngx_http_monitoring_health_status(j.mmcf, zone, w,
                                                    &error_rate, &p95,
                                                    &firing)];

    root = ngx_http_monitoring_object(&j);
    if (root == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tp = ngx_timeofday();

    ngx_http_monitoring_string(&j, root, "zone", zone->name.data,
                               zone->name.len);
    ngx_http_monitoring_string(&j, root, "status", status->data,
                               status->len);
    ngx_http_monitoring_number(&j, root, "generated_at",
                               tp->sec + tp->msec / 1000.0);
    ngx_http_monitoring_number(&j, root, "refresh_seconds", 5);

    t = ngx_http_monitoring_object(&j);
    ngx_http_monitoring_add(&j, root, "thresholds", t);

    if (t != NULL) {
        ngx_http_monitoring_number(&j, t, "window_seconds", j.mmcf->window);

        o = ngx_http_monitoring_object(&j);
        ngx_http_monitoring_add(&j, t, "error_rate", o);

        if (o != NULL) {
            ngx_http_monitoring_number(&j, o, "warning",
                                       j.mmcf->error_warn / 10000.0);
            ngx_http_monitoring_number(&j, o, "critical",
                                       j.mmcf->error_crit / 10000.0);
        }

        o = ngx_http_monitoring_object(&j);
        ngx_http_monitoring_add(&j, t, "p95_ms", o);

        if (o != NULL) {
            ngx_http_monitoring_number(&j, o, "warning", j.mmcf->p95_warn);
            ngx_http_monitoring_number(&j, o, "critical", j.mmcf->p95_crit);
        }
    }

    ngx_http_monitoring_add(&j, root, "window",
                            ngx_http_monitoring_json_window(&j, w));
    ngx_http_monitoring_add(&j, root, "totals",
                            ngx_http_monitoring_json_totals(&j));
    ngx_http_monitoring_add(&j, root, "endpoints",
                            ngx_http_monitoring_json_top(&j,
                                               NGX_HTTP_MONITORING_REQUEST));
    ngx_http_monitoring_add(&j, root, "upstreams",
                            ngx_http_monitoring_json_top(&j,
                                               NGX_HTTP_MONITORING_UPSTREAM));

    ngx_http_monitoring_add(&j, root, "alerts",
                            ngx_http_monitoring_alerts_json(zone, j.mmcf));

    ngx_http_monitoring_add(&j, root, "history",
                            ngx_http_monitoring_json_history(&j, 0));
    ngx_http_monitoring_add(&j, root, "history_24h",
                            ngx_http_monitoring_json_history(&j, 1));

    if (j.failed) {
        cJSON_Delete(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_monitoring_send_json(r, NGX_HTTP_OK, root);
}


static cJSON *
ngx_http_monitoring_json_window(ngx_http_monitoring_json_t *j,
    ngx_http_monitoring_window_t *w)
{
    cJSON       *o, *l, *st;
    double       v;
    ngx_uint_t   i;

    o = ngx_http_monitoring_object(j);
    if (o == NULL) {
        return NULL;
    }

    ngx_http_monitoring_number(j, o, "seconds", w->seconds);
    ngx_http_monitoring_number(j, o, "requests", w->requests);
    ngx_http_monitoring_number(j, o, "rps",
                               ngx_http_monitoring_round(w->requests
                                                         / w->covered));
    ngx_http_monitoring_number(j, o, "error_rate",
                               w->requests ? (double) w->status[5]
                                             / w->requests
                                           : 0);

    l = ngx_http_monitoring_object(j);
    ngx_http_monitoring_add(j, o, "latency_ms", l);

    if (l != NULL) {
        for (i = 0; i < sizeof(ngx_http_monitoring_quantiles)
                        / sizeof(double); i++)
        {
            v = ngx_http_monitoring_fine_quantile(w->fine, w->latencies,
                                           ngx_http_monitoring_quantiles[i]);
            if (v < 0) {
                if (cJSON_AddNullToObject(l,
                                   ngx_http_monitoring_quantile_names[i])
                    == NULL)
                {
                    j->failed = 1;
                }

            } else {
                ngx_http_monitoring_number(j, l,
                                   ngx_http_monitoring_quantile_names[i], v);
            }
        }

        if (w->requests) {
            ngx_http_monitoring_number(j, l, "mean",
                          ngx_http_monitoring_round((double) w->time_sum
                                                    / w->requests));

        } else if (cJSON_AddNullToObject(l, "mean") == NULL) {
            j->failed = 1;
        }
    }

    st = ngx_http_monitoring_object(j);
    ngx_http_monitoring_add(j, o, "status", st);

    if (st != NULL) {
        for (i = 1; i <= 5; i++) {
            ngx_http_monitoring_number(j, st, ngx_http_monitoring_classes[i],
                                       w->status[i]);
        }
    }

    return o;
}


static cJSON *
ngx_http_monitoring_json_totals(ngx_http_monitoring_json_t *j)
{
    u_char                         code[NGX_INT_T_LEN + 1];
    cJSON                         *o, *st, *b;
    uint64_t                       total, req, resp, slow;
    uint64_t                      *status;
    ngx_uint_t                     i, k;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_series_t  *s;
    ngx_http_monitoring_status_t  *c;

    sh = j->zone->sh;

    status = ngx_calloc(NGX_HTTP_MONITORING_MAX_STATUS * sizeof(uint64_t),
                        ngx_cycle->log);
    if (status == NULL) {
        j->failed = 1;
        return NULL;
    }

    total = 0;
    req = 0;
    resp = 0;
    slow = 0;

    for (i = 0; i <= sh->hash_mask + 1; i++) {

        s = (i <= sh->hash_mask) ? sh->hash[i]
                                 : sh->overflow[NGX_HTTP_MONITORING_REQUEST];

        for ( /* void */ ; s != NULL; s = s->next) {

            if (ngx_http_monitoring_kind(s) != NGX_HTTP_MONITORING_REQUEST) {
                continue;
            }

            for (c = s->status; c != NULL; c = c->next) {
                k = ngx_min(c->status, NGX_HTTP_MONITORING_MAX_STATUS - 1);
                status[k] += c->count;
                total += c->count;
            }

            req += s->request_bytes;
            resp += s->response_bytes;
            slow += s->slow;
        }
    }

    for (k = 0; k < NGX_HTTP_MONITORING_MAX_STATUS; k++) {
        status[k] += sh->overflow_status[NGX_HTTP_MONITORING_REQUEST][k];
        total += sh->overflow_status[NGX_HTTP_MONITORING_REQUEST][k];
    }

    o = ngx_http_monitoring_object(j);

    if (o != NULL) {
        ngx_http_monitoring_number(j, o, "requests", total);

        st = ngx_http_monitoring_object(j);
        ngx_http_monitoring_add(j, o, "status", st);

        for (k = 0; st != NULL && k < NGX_HTTP_MONITORING_MAX_STATUS; k++) {
            if (status[k]) {
                *ngx_sprintf(code, "%ui", k) = '\0';
                ngx_http_monitoring_number(j, st, (char *) code, status[k]);
            }
        }

        ngx_http_monitoring_number(j, o, "request_bytes", req);
        ngx_http_monitoring_number(j, o, "response_bytes", resp);
        ngx_http_monitoring_number(j, o, "slow", slow);
        ngx_http_monitoring_number(j, o, "series", sh->nseries);
        ngx_http_monitoring_number(j, o, "dropped", sh->dropped);

        b = ngx_http_monitoring_object(j);
        ngx_http_monitoring_add(j, o, "zone_bytes", b);

        if (b != NULL) {
            ngx_http_monitoring_number(j, b, "used",
                                       ngx_http_monitoring_zone_used(j->zone));
            ngx_http_monitoring_number(j, b, "size",
                                       j->zone->shm_zone->shm.size);
        }

        ngx_http_monitoring_number(j, o, "start_time", sh->start_time);
    }

    ngx_free(status);

    return o;
}


/* the busiest series of a kind over the last minute, then by total */

static cJSON *
ngx_http_monitoring_json_top(ngx_http_monitoring_json_t *j, ngx_uint_t kind)
{
    cJSON                         *a, *o;
    uint64_t                       total;
    ngx_uint_t                     i, k, n;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_top_t      top[NGX_HTTP_MONITORING_TOP], cur;
    ngx_http_monitoring_series_t  *s;
    ngx_http_monitoring_status_t  *c;

    sh = j->zone->sh;
    n = 0;

    for (i = 0; i <= sh->hash_mask; i++) {
        for (s = sh->hash[i]; s != NULL; s = s->next) {

            if (ngx_http_monitoring_kind(s) != kind) {
                continue;
            }

            total = 0;

            for (c = s->status; c != NULL; c = c->next) {
                total += c->count;
            }

            cur.series = s;
            cur.total = total;

            ngx_http_monitoring_series_window(s, &cur.rps, &cur.error_rate,
                                              &cur.p95);

            /* insertion into the sorted top list */

            for (k = n; k > 0; k--) {
                if (top[k - 1].rps > cur.rps
                    || (top[k - 1].rps == cur.rps
                        && top[k - 1].total >= cur.total))
                {
                    break;
                }

                if (k < NGX_HTTP_MONITORING_TOP) {
                    top[k] = top[k - 1];
                }
            }

            if (k < NGX_HTTP_MONITORING_TOP) {
                top[k] = cur;

                if (n < NGX_HTTP_MONITORING_TOP) {
                    n++;
                }
            }
        }
    }

    a = cJSON_CreateArray();
    if (a == NULL) {
        j->failed = 1;
        return NULL;
    }

    for (k = 0; k < n; k++) {
        o = ngx_http_monitoring_object(j);
        if (o == NULL) {
            break;
        }

        if (!cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            j->failed = 1;
            break;
        }

        ngx_http_monitoring_json_labels(j, o, top[k].series);

        ngx_http_monitoring_number(j, o, "requests", top[k].total);
        ngx_http_monitoring_number(j, o, "rps",
                                   ngx_http_monitoring_round(top[k].rps));
        ngx_http_monitoring_number(j, o, "error_rate", top[k].error_rate);

        if (top[k].p95 < 0) {
            if (cJSON_AddNullToObject(o, "p95_ms") == NULL) {
                j->failed = 1;
            }

        } else {
            ngx_http_monitoring_number(j, o, "p95_ms",
                                       ngx_http_monitoring_round(top[k].p95));
        }
    }

    return a;
}


/* the label values of a series, raw, from its key */

static void
ngx_http_monitoring_json_labels(ngx_http_monitoring_json_t *j, cJSON *o,
    ngx_http_monitoring_series_t *s)
{
    u_char     *k, *last, name[NGX_HTTP_MONITORING_PART_MAX + 1];
    cJSON      *labels;
    ngx_str_t  *fixed;

    fixed = ngx_http_monitoring_label_names(ngx_http_monitoring_kind(s));

    k = ngx_http_monitoring_key(s) + 1;
    last = ngx_http_monitoring_key(s) + s->key_len;

    labels = NULL;

    while (k < last) {

        if (fixed->len) {
            ngx_http_monitoring_string(j, o, (char *) fixed->data, k + 1, *k);
            fixed++;
            k += 1 + *k;
            continue;
        }

        if (labels == NULL) {
            labels = ngx_http_monitoring_object(j);
            ngx_http_monitoring_add(j, o, "labels", labels);

            if (labels == NULL) {
                return;
            }
        }

        *ngx_cpymem(name, k + 1, *k) = '\0';
        k += 1 + *k;

        ngx_http_monitoring_string(j, labels, (char *) name, k + 1, *k);
        k += 1 + *k;
    }
}


static cJSON *
ngx_http_monitoring_json_history(ngx_http_monitoring_json_t *j,
    ngx_uint_t day)
{
    cJSON                          *o, *a, *pt;
    uint64_t                        requests;
    ngx_uint_t                      i, e, first, last, step, points;
    ngx_http_monitoring_point_t    *ring, *p;
    ngx_http_monitoring_history_t  *h;

    h = j->zone->sh->history;

    if (day) {
        step = NGX_HTTP_MONITORING_DAY_STEP;
        points = NGX_HTTP_MONITORING_DAY_POINTS;
        ring = h->day;

    } else {
        step = NGX_HTTP_MONITORING_SLOT;
        points = NGX_HTTP_MONITORING_HOUR_POINTS;
        ring = h->hour;
    }

    /*
     * complete points only, since the zone started; the ring entry of
     * the current point is no longer the oldest one's
     */

    last = ngx_time() / step;
    first = (last >= points) ? last - points + 1 : 0;

    if (first < j->zone->sh->start_time / step) {
        first = j->zone->sh->start_time / step;
    }

    o = ngx_http_monitoring_object(j);
    if (o == NULL) {
        return NULL;
    }

    ngx_http_monitoring_number(j, o, "step_seconds", step);

    a = cJSON_AddArrayToObject(o, "points");
    if (a == NULL) {
        j->failed = 1;
        return o;
    }

    for (e = first; e < last; e++) {
        p = &ring[e % points];

        pt = ngx_http_monitoring_object(j);
        if (pt == NULL) {
            break;
        }

        if (!cJSON_AddItemToArray(a, pt)) {
            cJSON_Delete(pt);
            j->failed = 1;
            break;
        }

        ngx_http_monitoring_number(j, pt, "t", (double) e * step);

        requests = 0;

        if (p->epoch == e) {
            for (i = 0; i < NGX_HTTP_MONITORING_CLASSES; i++) {
                requests += p->status[i];
            }
        }

        ngx_http_monitoring_number(j, pt, "requests", requests);
        ngx_http_monitoring_number(j, pt, "errors",
                                   (p->epoch == e) ? p->status[5] : 0);

        if (requests == 0) {
            if (cJSON_AddNullToObject(pt, "p50") == NULL
                || cJSON_AddNullToObject(pt, "p95") == NULL
                || cJSON_AddNullToObject(pt, "p99") == NULL)
            {
                j->failed = 1;
            }

            continue;
        }

        ngx_http_monitoring_number(j, pt, "p50", p->p50 / 1000.0);
        ngx_http_monitoring_number(j, pt, "p95", p->p95 / 1000.0);
        ngx_http_monitoring_number(j, pt, "p99", p->p99 / 1000.0);
    }

    return o;
}


ngx_int_t
ngx_http_monitoring_send_json(ngx_http_request_t *r, ngx_uint_t status,
    void *json)
{
    char             *text;
    size_t            len;
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;

    text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        cJSON_free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);
    *b->last++ = '\n';

    cJSON_free(text);

    if (ngx_http_monitoring_add_header(r, "Cache-Control", "no-store")
        != NGX_OK
        || ngx_http_monitoring_add_header(r, "X-Content-Type-Options",
                                          "nosniff")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static cJSON *
ngx_http_monitoring_object(ngx_http_monitoring_json_t *j)
{
    cJSON  *o;

    o = cJSON_CreateObject();

    if (o == NULL) {
        j->failed = 1;
    }

    return o;
}


static void
ngx_http_monitoring_number(ngx_http_monitoring_json_t *j, cJSON *o,
    const char *name, double v)
{
    if (cJSON_AddNumberToObject(o, name, v) == NULL) {
        j->failed = 1;
    }
}


/* label values are valid UTF-8 of at most 255 bytes, not NUL-terminated */

static void
ngx_http_monitoring_string(ngx_http_monitoring_json_t *j, cJSON *o,
    const char *name, u_char *data, size_t len)
{
    u_char  buf[NGX_HTTP_MONITORING_PART_MAX + 1];

    len = ngx_min(len, NGX_HTTP_MONITORING_PART_MAX);

    *ngx_cpymem(buf, data, len) = '\0';

    if (cJSON_AddStringToObject(o, name, (char *) buf) == NULL) {
        j->failed = 1;
    }
}


static void
ngx_http_monitoring_add(ngx_http_monitoring_json_t *j, cJSON *o,
    const char *name, cJSON *item)
{
    if (item == NULL) {
        j->failed = 1;
        return;
    }

    if (o == NULL || !cJSON_AddItemToObject(o, name, item)) {
        cJSON_Delete(item);
        j->failed = 1;
    }
}


static double
ngx_http_monitoring_round(double v)
{
    return (double) (int64_t) (v * 1000 + (v < 0 ? -0.5 : 0.5)) / 1000;
}
