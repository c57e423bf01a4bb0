
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


/*
 * The exposition is rendered while it is sent, into a few buffers that
 * are reused once the client has read them: a scrape of any size costs
 * a bounded amount of memory, and the rendering takes no lock.
 */

#define NGX_HTTP_MONITORING_BUF_SIZE   (64 * 1024)

/* a metric name, the widest number and the punctuation of a sample */
#define NGX_HTTP_MONITORING_LINE_MAX   128

/* what a family is rendered for, besides a series kind */
#define NGX_HTTP_MONITORING_PER_ZONE   0x10
#define NGX_HTTP_MONITORING_GLOBAL     0x20


typedef struct ngx_http_monitoring_ctx_s     ngx_http_monitoring_ctx_t;
typedef struct ngx_http_monitoring_family_s  ngx_http_monitoring_family_t;

typedef ngx_int_t (*ngx_http_monitoring_render_pt)(
    ngx_http_monitoring_ctx_t *ctx, ngx_http_monitoring_family_t *f,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_series_t *s);


struct ngx_http_monitoring_family_s {
    ngx_str_t                        name;
    char                            *type;
    char                            *help;
    ngx_uint_t                       kind;
    ngx_http_monitoring_render_pt    render;
    size_t                           offset;
};


struct ngx_http_monitoring_ctx_s {
    ngx_pool_t                      *pool;
    ngx_buf_t                       *buf;
    ngx_chain_t                     *free;
    ngx_chain_t                     *busy;
    ngx_shm_zone_t                 **zones;
    ngx_uint_t                       nzones;

    /* where the rendering goes on */
    ngx_uint_t                       family;
    ngx_uint_t                       zone;
    ngx_uint_t                       slot;
    ngx_http_monitoring_series_t    *series;

    unsigned                         openmetrics:1;
    unsigned                         header:1;
    unsigned                         done:1;
};


static ngx_uint_t ngx_http_monitoring_accepts_openmetrics(
    ngx_http_request_t *r);
static void ngx_http_monitoring_metrics_write(ngx_http_request_t *r);
static ngx_int_t ngx_http_monitoring_send(ngx_http_request_t *r,
    ngx_http_monitoring_ctx_t *ctx);
static ngx_int_t ngx_http_monitoring_render(ngx_http_monitoring_ctx_t *ctx);
static ngx_int_t ngx_http_monitoring_render_family(
    ngx_http_monitoring_ctx_t *ctx, ngx_http_monitoring_family_t *f);
static ngx_int_t ngx_http_monitoring_header(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f);
static ngx_int_t ngx_http_monitoring_statuses(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_histogram(
    ngx_http_monitoring_ctx_t *ctx, ngx_http_monitoring_family_t *f,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_counter(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_workers(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_zone_value(
    ngx_http_monitoring_ctx_t *ctx, ngx_http_monitoring_family_t *f,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_zone_bytes(
    ngx_http_monitoring_ctx_t *ctx, ngx_http_monitoring_family_t *f,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_alerts(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_evaluations(
    ngx_http_monitoring_ctx_t *ctx, ngx_http_monitoring_family_t *f,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_hooks(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_globals(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s);
static ngx_int_t ngx_http_monitoring_space(ngx_http_monitoring_ctx_t *ctx,
    size_t size);
static u_char *ngx_http_monitoring_series_start(u_char *p, ngx_str_t *name,
    char *suffix, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s);
static u_char *ngx_http_monitoring_uint(u_char *p, uint64_t n);
static u_char *ngx_http_monitoring_seconds(u_char *p, uint64_t ms);


static ngx_str_t  ngx_http_monitoring_text_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");

static ngx_str_t  ngx_http_monitoring_openmetrics_type =
    ngx_string("application/openmetrics-text; version=1.0.0; charset=utf-8");


static ngx_http_monitoring_family_t  ngx_http_monitoring_families[] = {

    { ngx_string("nginx_http_requests_total"), "counter",
      "HTTP requests by server, endpoint, method and status.",
      NGX_HTTP_MONITORING_REQUEST, ngx_http_monitoring_statuses, 0 },

    { ngx_string("nginx_http_request_duration_seconds"), "histogram",
      "Request processing time, from the first byte read to the log phase.",
      NGX_HTTP_MONITORING_REQUEST, ngx_http_monitoring_histogram, 0 },

    { ngx_string("nginx_http_request_size_bytes_total"), "counter",
      "Bytes received in requests, request line and headers included.",
      NGX_HTTP_MONITORING_REQUEST, ngx_http_monitoring_counter,
      offsetof(ngx_http_monitoring_series_t, request_bytes) },

    { ngx_string("nginx_http_response_size_bytes_total"), "counter",
      "Bytes sent in responses, headers included.",
      NGX_HTTP_MONITORING_REQUEST, ngx_http_monitoring_counter,
      offsetof(ngx_http_monitoring_series_t, response_bytes) },

    { ngx_string("nginx_http_slow_requests_total"), "counter",
      "Requests slower than monitoring_slow_threshold.",
      NGX_HTTP_MONITORING_REQUEST, ngx_http_monitoring_counter,
      offsetof(ngx_http_monitoring_series_t, slow) },

    { ngx_string("nginx_http_upstream_requests_total"), "counter",
      "Attempts at upstream peers by status.",
      NGX_HTTP_MONITORING_UPSTREAM, ngx_http_monitoring_statuses, 0 },

    { ngx_string("nginx_http_upstream_response_duration_seconds"),
      "histogram", "Upstream response time of each attempt.",
      NGX_HTTP_MONITORING_UPSTREAM, ngx_http_monitoring_histogram, 0 },

    { ngx_string("nginx_worker_requests_total"), "counter",
      "Requests recorded by each worker slot.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_workers, 0 },

    { ngx_string("nginx_worker_restarts_total"), "counter",
      "Worker processes respawned by the master without a reload.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_zone_value,
      offsetof(ngx_http_monitoring_sh_t, restarts) },

    { ngx_string("nginx_monitoring_series"), "gauge",
      "Series held in the zone.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_zone_value,
      offsetof(ngx_http_monitoring_sh_t, nseries) },

    { ngx_string("nginx_monitoring_series_dropped_total"), "counter",
      "Requests recorded as __overflow__ because the zone could not take "
      "a new series.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_zone_value,
      offsetof(ngx_http_monitoring_sh_t, dropped) },

    { ngx_string("nginx_monitoring_zone_bytes"), "gauge",
      "Shared memory zone size and bytes used.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_zone_bytes, 0 },

    { ngx_string("nginx_start_time_seconds"), "gauge",
      "Unix time the zone's counters started from zero.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_zone_value,
      offsetof(ngx_http_monitoring_sh_t, start_time) },

    { ngx_string("nginx_alerts"), "gauge",
      "Pending and firing alerts, as Prometheus' ALERTS series.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_alerts, 0 },

    { ngx_string("nginx_monitoring_alert_evaluations_total"), "counter",
      "Evaluations of the zone's alert rules.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_evaluations, 0 },

    { ngx_string("nginx_monitoring_webhook_deliveries_total"), "counter",
      "Alert deliveries to each webhook by result.",
      NGX_HTTP_MONITORING_PER_ZONE, ngx_http_monitoring_hooks, 0 },

    { ngx_null_string, NULL, NULL,
      NGX_HTTP_MONITORING_GLOBAL, ngx_http_monitoring_globals, 0 }
};


ngx_int_t
ngx_http_monitoring_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_table_elt_t                  *vary;
    ngx_http_monitoring_ctx_t        *ctx;
    ngx_http_monitoring_loc_conf_t   *mlcf;
    ngx_http_monitoring_main_conf_t  *mmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_monitoring_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->pool = r->pool;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_monitoring_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_monitoring_module);

    if (mlcf->metrics->nelts) {
        ctx->zones = mlcf->metrics->elts;
        ctx->nzones = mlcf->metrics->nelts;

    } else {
        ctx->zones = mmcf->zones.elts;
        ctx->nzones = mmcf->zones.nelts;
    }

    ctx->openmetrics = ngx_http_monitoring_accepts_openmetrics(r);

    ngx_http_set_ctx(r, ctx, ngx_http_monitoring_module);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ctx->openmetrics
                                  ? ngx_http_monitoring_openmetrics_type
                                  : ngx_http_monitoring_text_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    /* the format depends on the Accept header */

    vary = ngx_list_push(&r->headers_out.headers);
    if (vary == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    vary->hash = 1;
#if (nginx_version >= 1023000)
    vary->next = NULL;
#endif
    ngx_str_set(&vary->key, "Vary");
    ngx_str_set(&vary->value, "Accept");

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    r->main->count++;

    ngx_http_monitoring_metrics_write(r);

    return NGX_DONE;
}


/*
 * OpenMetrics when the Accept header names it, unless with "q=0";
 * Prometheus asks for it first and text format 0.0.4 second
 */

static ngx_uint_t
ngx_http_monitoring_accepts_openmetrics(ngx_http_request_t *r)
{
    u_char           *p, *last, *end;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Accept") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1)
               != 0)
        {
            continue;
        }

        last = h[i].value.data + h[i].value.len;

        p = ngx_strlcasestrn(h[i].value.data, last,
                             (u_char *) "application/openmetrics-text",
                             sizeof("application/openmetrics-text") - 2);
        if (p == NULL) {
            continue;
        }

        end = ngx_strlchr(p, last, ',');

        if (end == NULL) {
            end = last;
        }

        /* "q=0", "q=0.0", "q=0.000" */

        p = ngx_strlcasestrn(p, end, (u_char *) "q=0", sizeof("q=0") - 2);

        if (p != NULL) {
            for (p += sizeof("q=0") - 1; p < end && (*p == '.' || *p == '0');
                 p++)
            {
                /* void */
            }

            if (p == end || *p == ' ' || *p == ';') {
                continue;
            }
        }

        return 1;
    }
}


static void
ngx_http_monitoring_metrics_write(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_event_t                *wev;
    ngx_connection_t           *c;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_monitoring_ctx_t  *ctx;

    c = r->connection;
    wev = c->write;

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "client timed out");
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_monitoring_module);

    rc = ngx_http_monitoring_send(r, ctx);

    if (rc == NGX_ERROR || ctx->done) {

        /* what is still buffered is sent by ngx_http_writer() */

        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the client reads slower than we render: go on when it has read */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_monitoring_metrics_write;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!wev->delayed) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


static ngx_int_t
ngx_http_monitoring_send(ngx_http_request_t *r, ngx_http_monitoring_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (ctx->busy != NULL) {
        rc = ngx_http_output_filter(r, NULL);

        cl = NULL;

        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &cl,
                                (ngx_buf_tag_t) &ngx_http_monitoring_module);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    for ( ;; ) {
        cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        b = cl->buf;

        if (b->start == NULL) {
            b->start = ngx_palloc(r->pool, NGX_HTTP_MONITORING_BUF_SIZE);
            if (b->start == NULL) {
                return NGX_ERROR;
            }

            b->end = b->start + NGX_HTTP_MONITORING_BUF_SIZE;
            b->temporary = 1;
            b->tag = (ngx_buf_tag_t) &ngx_http_monitoring_module;
        }

        b->pos = b->start;
        b->last = b->start;

        ctx->buf = b;

        rc = ngx_http_monitoring_render(ctx);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            ctx->done = 1;
            b->last_buf = (r == r->main) ? 1 : 0;
            b->last_in_chain = 1;
        }

        rc = ngx_http_output_filter(r, cl);

        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &cl,
                                (ngx_buf_tag_t) &ngx_http_monitoring_module);

        if (rc != NGX_OK || ctx->done) {
            return rc;
        }
    }
}


/* NGX_OK: all rendered; NGX_AGAIN: the buffer is full */

static ngx_int_t
ngx_http_monitoring_render(ngx_http_monitoring_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_http_monitoring_family_t  *f;

    for ( /* void */ ;
         ctx->family < sizeof(ngx_http_monitoring_families)
                       / sizeof(ngx_http_monitoring_family_t);
         ctx->family++)
    {
        f = &ngx_http_monitoring_families[ctx->family];

        if (!ctx->header && f->name.len) {
            rc = ngx_http_monitoring_header(ctx, f);

            if (rc != NGX_OK) {
                return rc;
            }

            ctx->header = 1;
        }

        rc = ngx_http_monitoring_render_family(ctx, f);

        if (rc != NGX_OK) {
            return rc;
        }

        ctx->header = 0;
    }

    if (ctx->openmetrics) {
        rc = ngx_http_monitoring_space(ctx, sizeof("# EOF\n") - 1);

        if (rc != NGX_OK) {
            return rc;
        }

        ctx->buf->last = ngx_cpymem(ctx->buf->last, "# EOF\n",
                                    sizeof("# EOF\n") - 1);
    }

    return NGX_OK;
}


/*
 * the series of the family's kind in all hash chains, then the kind's
 * overflow series once it is used; series are never freed, so the
 * position is kept across buffers as a pointer
 */

static ngx_int_t
ngx_http_monitoring_render_family(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f)
{
    ngx_int_t                      rc;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_zone_t    *zone;
    ngx_http_monitoring_series_t  *s;

    if (f->kind == NGX_HTTP_MONITORING_GLOBAL) {
        return f->render(ctx, f, NULL, NULL);
    }

    for ( /* void */ ; ctx->zone < ctx->nzones; ctx->zone++) {
        zone = ctx->zones[ctx->zone]->data;
        sh = zone->sh;

        if (f->kind == NGX_HTTP_MONITORING_PER_ZONE) {
            rc = f->render(ctx, f, zone, NULL);

            if (rc != NGX_OK) {
                return rc;
            }

            continue;
        }

        for ( /* void */ ; ctx->slot <= sh->hash_mask + 1; ctx->slot++) {

            if (ctx->series != NULL) {
                s = ctx->series;

            } else if (ctx->slot <= sh->hash_mask) {
                s = sh->hash[ctx->slot];

            } else {
                s = sh->overflow_used[f->kind] ? sh->overflow[f->kind] : NULL;
            }

            for ( /* void */ ; s; s = s->next) {

                if (ngx_http_monitoring_kind(s) != f->kind) {
                    continue;
                }

                rc = f->render(ctx, f, zone, s);

                if (rc != NGX_OK) {
                    ctx->series = s;
                    return rc;
                }
            }

            ctx->series = NULL;
        }

        ctx->slot = 0;
    }

    ctx->zone = 0;

    return NGX_OK;
}


/* OpenMetrics names a counter family without its "_total" suffix */

static ngx_int_t
ngx_http_monitoring_header(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f)
{
    u_char     *p;
    size_t      len, help_len, type_len;
    ngx_int_t   rc;

    len = f->name.len;
    help_len = ngx_strlen(f->help);
    type_len = ngx_strlen(f->type);

    if (ctx->openmetrics && f->type[0] == 'c') {
        len -= sizeof("_total") - 1;
    }

    rc = ngx_http_monitoring_space(ctx, sizeof("# HELP  \n# TYPE  \n") - 1
                                        + 2 * len + help_len + type_len);
    if (rc != NGX_OK) {
        return rc;
    }

    p = ctx->buf->last;

    p = ngx_cpymem(p, "# HELP ", sizeof("# HELP ") - 1);
    p = ngx_cpymem(p, f->name.data, len);
    *p++ = ' ';
    p = ngx_cpymem(p, f->help, help_len);
    p = ngx_cpymem(p, "\n# TYPE ", sizeof("\n# TYPE ") - 1);
    p = ngx_cpymem(p, f->name.data, len);
    *p++ = ' ';
    p = ngx_cpymem(p, f->type, type_len);
    *p++ = '\n';

    ctx->buf->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_statuses(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_uint_t                     n, code, status, kind;
    ngx_atomic_t                  *overflow;
    ngx_atomic_uint_t              count;
    ngx_http_monitoring_status_t  *st, *head;

    kind = ngx_http_monitoring_kind(s);
    overflow = (s == zone->sh->overflow[kind])
               ? zone->sh->overflow_status[kind] : NULL;

    /* the list grows at its head meanwhile: walk the same one twice */

    head = s->status;
    n = 0;

    for (st = head; st != NULL; st = st->next) {
        n++;
    }

    if (overflow != NULL) {
        for (status = 0; status < NGX_HTTP_MONITORING_MAX_STATUS; status++) {
            if (overflow[status]) {
                n++;
            }
        }
    }

    rc = ngx_http_monitoring_space(ctx, n * (NGX_HTTP_MONITORING_LINE_MAX
                                             + zone->label.len
                                             + s->labels_len));
    if (rc != NGX_OK) {
        return rc;
    }

    p = ctx->buf->last;
    st = head;
    status = 0;

    while (n--) {
        if (st != NULL) {
            code = st->status;
            count = st->count;
            st = st->next;

        } else {

            /* overflow counters only ever grow from zero */

            while (overflow[status] == 0) {
                status++;
            }

            code = status;
            count = overflow[status++];
        }

        p = ngx_http_monitoring_series_start(p, &f->name, NULL, zone, s);
        p = ngx_cpymem(p, ",status=\"", sizeof(",status=\"") - 1);
        p = ngx_http_monitoring_uint(p, code);
        p = ngx_cpymem(p, "\"} ", sizeof("\"} ") - 1);
        p = ngx_http_monitoring_uint(p, count);
        *p++ = '\n';
    }

    ctx->buf->last = p;

    return NGX_OK;
}


/*
 * buckets are stored one counter each and made cumulative here, so that
 * concurrent writers can never make a bucket exceed a later one
 */

static ngx_int_t
ngx_http_monitoring_histogram(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    u_char      *p;
    uint64_t     total;
    ngx_int_t    rc;
    ngx_uint_t   j, n;

    n = s->bounds->n;

    rc = ngx_http_monitoring_space(ctx, (n + 3) * (NGX_HTTP_MONITORING_LINE_MAX
                                                   + zone->label.len
                                                   + s->labels_len));
    if (rc != NGX_OK) {
        return rc;
    }

    p = ctx->buf->last;
    total = 0;

    for (j = 0; j <= n; j++) {
        total += s->bucket[j];

        p = ngx_http_monitoring_series_start(p, &f->name, "_bucket", zone, s);
        p = ngx_cpymem(p, ",le=\"", sizeof(",le=\"") - 1);

        if (j < n) {
            p = ngx_http_monitoring_seconds(p, s->bounds->msec[j]);

            /* OpenMetrics wants canonical numbers: "1.0", not "1" */

            if (ctx->openmetrics && s->bounds->msec[j] % 1000 == 0) {
                *p++ = '.';
                *p++ = '0';
            }

        } else {
            p = ngx_cpymem(p, "+Inf", sizeof("+Inf") - 1);
        }

        p = ngx_cpymem(p, "\"} ", sizeof("\"} ") - 1);
        p = ngx_http_monitoring_uint(p, total);
        *p++ = '\n';
    }

    p = ngx_http_monitoring_series_start(p, &f->name, "_sum", zone, s);
    p = ngx_cpymem(p, "} ", sizeof("} ") - 1);
    p = ngx_http_monitoring_seconds(p, s->time_sum);
    *p++ = '\n';

    p = ngx_http_monitoring_series_start(p, &f->name, "_count", zone, s);
    p = ngx_cpymem(p, "} ", sizeof("} ") - 1);
    p = ngx_http_monitoring_uint(p, total);
    *p++ = '\n';

    ctx->buf->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_counter(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    u_char     *p;
    ngx_int_t   rc;

    rc = ngx_http_monitoring_space(ctx, NGX_HTTP_MONITORING_LINE_MAX
                                        + zone->label.len + s->labels_len);
    if (rc != NGX_OK) {
        return rc;
    }

    p = ngx_http_monitoring_series_start(ctx->buf->last, &f->name, NULL,
                                         zone, s);
    p = ngx_cpymem(p, "} ", sizeof("} ") - 1);
    p = ngx_http_monitoring_uint(p,
                              *(ngx_atomic_t *) ((u_char *) s + f->offset));
    *p++ = '\n';

    ctx->buf->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_workers(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_uint_t                     w;
    ngx_http_monitoring_worker_t  *wk;

    rc = ngx_http_monitoring_space(ctx, NGX_HTTP_MONITORING_MAX_WORKERS
                                        * (NGX_HTTP_MONITORING_LINE_MAX
                                           + zone->label.len));
    if (rc != NGX_OK) {
        return rc;
    }

    p = ctx->buf->last;

    for (w = 0; w < NGX_HTTP_MONITORING_MAX_WORKERS; w++) {
        wk = &zone->sh->workers[w];

        if (wk->pid == 0 && wk->requests == 0) {
            continue;
        }

        p = ngx_cpymem(p, f->name.data, f->name.len);
        *p++ = '{';
        p = ngx_cpymem(p, zone->label.data, zone->label.len);
        p = ngx_cpymem(p, "worker=\"", sizeof("worker=\"") - 1);
        p = ngx_http_monitoring_uint(p, w);
        p = ngx_cpymem(p, "\"} ", sizeof("\"} ") - 1);
        p = ngx_http_monitoring_uint(p, wk->requests);
        *p++ = '\n';
    }

    ctx->buf->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_zone_value(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    u_char     *p;
    ngx_int_t   rc;

    rc = ngx_http_monitoring_space(ctx, NGX_HTTP_MONITORING_LINE_MAX
                                        + zone->label.len);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the zone label without its trailing comma */

    p = ngx_cpymem(ctx->buf->last, f->name.data, f->name.len);
    *p++ = '{';
    p = ngx_cpymem(p, zone->label.data, zone->label.len - 1);
    p = ngx_cpymem(p, "} ", sizeof("} ") - 1);
    p = ngx_http_monitoring_uint(p,
                         *(ngx_atomic_t *) ((u_char *) zone->sh + f->offset));
    *p++ = '\n';

    ctx->buf->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_zone_bytes(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    ngx_int_t  rc;

    rc = ngx_http_monitoring_space(ctx, 2 * (NGX_HTTP_MONITORING_LINE_MAX
                                             + zone->label.len));
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->buf->last = ngx_sprintf(ctx->buf->last,
                                 "%V{%Vstate=\"used\"} %uz\n"
                                 "%V{%Vstate=\"size\"} %uz\n",
                                 &f->name, &zone->label,
                                 ngx_http_monitoring_zone_used(zone),
                                 &f->name, &zone->label,
                                 zone->shm_zone->shm.size);

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_alerts(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    ngx_int_t  rc;

    rc = ngx_http_monitoring_space(ctx, ngx_http_monitoring_alerts_size(zone));
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->buf->last = ngx_http_monitoring_alerts_metrics(zone, ctx->buf->last);

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_evaluations(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    ngx_int_t  rc;

    if (zone->alerts.nelts == 0 || zone->sh->alerts == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_monitoring_space(ctx, NGX_HTTP_MONITORING_LINE_MAX
                                        + zone->label.len);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->buf->last = ngx_sprintf(ctx->buf->last, "%V{%*s} %uA\n", &f->name,
                                 zone->label.len - 1, zone->label.data,
                                 zone->sh->alerts->evaluations);

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_hooks(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    ngx_int_t  rc;

    rc = ngx_http_monitoring_space(ctx, ngx_http_monitoring_hooks_size(zone));
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->buf->last = ngx_http_monitoring_hooks_metrics(zone, ctx->buf->last);

    return NGX_OK;
}


/* the families of the nginx instance, without a zone label */

static ngx_int_t
ngx_http_monitoring_globals(ngx_http_monitoring_ctx_t *ctx,
    ngx_http_monitoring_family_t *f, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s)
{
    u_char     *p;
    ngx_int_t   rc;

    rc = ngx_http_monitoring_space(ctx, 2048);
    if (rc != NGX_OK) {
        return rc;
    }

    p = ctx->buf->last;

#if (NGX_STAT_STUB)

    p = ngx_sprintf(p,
            "# HELP nginx_http_connections Client connections by state.\n"
            "# TYPE nginx_http_connections gauge\n"
            "nginx_http_connections{state=\"active\"} %uA\n"
            "nginx_http_connections{state=\"reading\"} %uA\n"
            "nginx_http_connections{state=\"writing\"} %uA\n"
            "nginx_http_connections{state=\"waiting\"} %uA\n"
            "# HELP nginx_http_connections_accepted%s "
            "Client connections accepted.\n"
            "# TYPE nginx_http_connections_accepted%s counter\n"
            "nginx_http_connections_accepted_total %uA\n"
            "# HELP nginx_http_connections_handled%s "
            "Client connections handled.\n"
            "# TYPE nginx_http_connections_handled%s counter\n"
            "nginx_http_connections_handled_total %uA\n",
            *ngx_stat_active, *ngx_stat_reading, *ngx_stat_writing,
            *ngx_stat_waiting,
            ctx->openmetrics ? "" : "_total",
            ctx->openmetrics ? "" : "_total", *ngx_stat_accepted,
            ctx->openmetrics ? "" : "_total",
            ctx->openmetrics ? "" : "_total", *ngx_stat_handled);

#endif

    p = ngx_cpymem(p,
            "# HELP nginx_up Whether nginx is up.\n"
            "# TYPE nginx_up gauge\n"
            "nginx_up 1\n"
            "# HELP nginx_build_info nginx and module versions.\n"
            "# TYPE nginx_build_info gauge\n"
            "nginx_build_info{version=\"" NGINX_VERSION "\","
            "module_version=\"" NGX_HTTP_MONITORING_VERSION "\"} 1\n",
            sizeof("# HELP nginx_up Whether nginx is up.\n"
                   "# TYPE nginx_up gauge\n"
                   "nginx_up 1\n"
                   "# HELP nginx_build_info nginx and module versions.\n"
                   "# TYPE nginx_build_info gauge\n"
                   "nginx_build_info{version=\"" NGINX_VERSION "\","
                   "module_version=\"" NGX_HTTP_MONITORING_VERSION "\"} 1\n")
            - 1);

    ctx->buf->last = p;

    return NGX_OK;
}


/*
 * NGX_OK: "size" bytes are free at ctx->buf->last; NGX_AGAIN: send the
 * buffer first.  An empty buffer is grown for what never fits.
 */

static ngx_int_t
ngx_http_monitoring_space(ngx_http_monitoring_ctx_t *ctx, size_t size)
{
    u_char     *p;
    ngx_buf_t  *b;

    b = ctx->buf;

    if ((size_t) (b->end - b->last) >= size) {
        return NGX_OK;
    }

    if (b->last != b->pos) {
        return NGX_AGAIN;
    }

    p = ngx_palloc(ctx->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    b->start = p;
    b->pos = p;
    b->last = p;
    b->end = p + size;

    return NGX_OK;
}


static u_char *
ngx_http_monitoring_series_start(u_char *p, ngx_str_t *name, char *suffix,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_series_t *s)
{
    p = ngx_cpymem(p, name->data, name->len);

    if (suffix != NULL) {
        while (*suffix) {
            *p++ = *suffix++;
        }
    }

    *p++ = '{';
    p = ngx_cpymem(p, zone->label.data, zone->label.len);

    return ngx_cpymem(p, s->labels, s->labels_len);
}


static u_char *
ngx_http_monitoring_uint(u_char *p, uint64_t n)
{
    u_char   buf[NGX_INT64_LEN];
    u_char  *d;

    d = buf + NGX_INT64_LEN;

    do {
        *--d = (u_char) (n % 10 + '0');
        n /= 10;
    } while (n);

    return ngx_cpymem(p, d, buf + NGX_INT64_LEN - d);
}


/* milliseconds as seconds, without trailing zeros: 5 -> "0.005" */

static u_char *
ngx_http_monitoring_seconds(u_char *p, uint64_t ms)
{
    ngx_uint_t  frac;

    p = ngx_http_monitoring_uint(p, ms / 1000);

    frac = ms % 1000;

    if (frac == 0) {
        return p;
    }

    *p++ = '.';
    *p++ = (u_char) (frac / 100 + '0');

    if (frac % 100) {
        *p++ = (u_char) (frac / 10 % 10 + '0');

        if (frac % 10) {
            *p++ = (u_char) (frac % 10 + '0');
        }
    }

    return p;
}
