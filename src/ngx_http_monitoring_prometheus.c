
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


#define NGX_HTTP_MONITORING_BUF_SIZE  (64 * 1024)

/* a metric name, the widest number and the punctuation of a sample */
#define NGX_HTTP_MONITORING_LINE_MAX  128


typedef struct {
    ngx_http_request_t              *request;
    ngx_chain_t                     *out;
    ngx_chain_t                    **last;
    ngx_buf_t                       *buf;
    ngx_shm_zone_t                 **zones;
    ngx_uint_t                       nzones;
    ngx_uint_t                       openmetrics;
} ngx_http_monitoring_out_t;


typedef struct {
    ngx_str_t                        name;
    char                            *help;
    size_t                           offset;
} ngx_http_monitoring_counter_t;


static ngx_uint_t ngx_http_monitoring_accepts_openmetrics(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_monitoring_render(ngx_http_monitoring_out_t *o);
static ngx_int_t ngx_http_monitoring_statuses(ngx_http_monitoring_out_t *o,
    ngx_uint_t kind, ngx_str_t *name, char *help);
static ngx_int_t ngx_http_monitoring_histograms(ngx_http_monitoring_out_t *o,
    ngx_uint_t kind, ngx_str_t *name, char *help);
static ngx_int_t ngx_http_monitoring_counters(ngx_http_monitoring_out_t *o);
static ngx_int_t ngx_http_monitoring_zones(ngx_http_monitoring_out_t *o);
static ngx_int_t ngx_http_monitoring_globals(ngx_http_monitoring_out_t *o);
static ngx_int_t ngx_http_monitoring_status_line(ngx_http_monitoring_out_t *o,
    ngx_str_t *name, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s, ngx_uint_t status,
    ngx_atomic_uint_t count);
static ngx_int_t ngx_http_monitoring_zone_line(ngx_http_monitoring_out_t *o,
    ngx_http_monitoring_zone_t *zone, char *name, char *label,
    ngx_atomic_uint_t value);
static ngx_int_t ngx_http_monitoring_family(ngx_http_monitoring_out_t *o,
    char *name, char *type, char *help);
static u_char *ngx_http_monitoring_reserve(ngx_http_monitoring_out_t *o,
    size_t size);
static u_char *ngx_http_monitoring_series_start(u_char *p, ngx_str_t *name,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_series_t *s);
static u_char *ngx_http_monitoring_uint(u_char *p, uint64_t n);
static u_char *ngx_http_monitoring_seconds(u_char *p, uint64_t ms);


static ngx_str_t  ngx_http_monitoring_text_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");

static ngx_str_t  ngx_http_monitoring_openmetrics_type =
    ngx_string("application/openmetrics-text; version=1.0.0; charset=utf-8");


static ngx_http_monitoring_counter_t  ngx_http_monitoring_series_counters[] = {

    { ngx_string("nginx_http_request_size_bytes_total"),
      "Bytes received in requests, request line and headers included.",
      offsetof(ngx_http_monitoring_series_t, request_bytes) },

    { ngx_string("nginx_http_response_size_bytes_total"),
      "Bytes sent in responses, headers included.",
      offsetof(ngx_http_monitoring_series_t, response_bytes) },

    { ngx_string("nginx_http_slow_requests_total"),
      "Requests slower than monitoring_slow_threshold.",
      offsetof(ngx_http_monitoring_series_t, slow) },

    { ngx_null_string, NULL, 0 }
};


static ngx_str_t  ngx_http_monitoring_requests =
    ngx_string("nginx_http_requests_total");
static ngx_str_t  ngx_http_monitoring_durations =
    ngx_string("nginx_http_request_duration_seconds");
static ngx_str_t  ngx_http_monitoring_upstream_requests =
    ngx_string("nginx_http_upstream_requests_total");
static ngx_str_t  ngx_http_monitoring_upstream_durations =
    ngx_string("nginx_http_upstream_response_duration_seconds");


/*
 * the series of one kind in all hash chains, then the kind's overflow
 * series once it is used
 */

#define ngx_http_monitoring_for_each_series(sh, kind, i, s)                   \
    for (i = 0; i <= (sh)->hash_mask + 1; i++)                                \
        for (s = (i <= (sh)->hash_mask) ? (sh)->hash[i]                       \
                 : ((sh)->overflow_used[kind] ? (sh)->overflow[kind] : NULL); \
             s;                                                               \
             s = s->next)                                                     \
            if (ngx_http_monitoring_kind(s) == (kind))


ngx_int_t
ngx_http_monitoring_metrics_handler(ngx_http_request_t *r)
{
    off_t                             size;
    ngx_int_t                         rc;
    ngx_chain_t                      *cl;
    ngx_http_monitoring_out_t         o;
    ngx_http_monitoring_loc_conf_t   *mlcf;
    ngx_http_monitoring_main_conf_t  *mmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_monitoring_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_monitoring_module);

    ngx_memzero(&o, sizeof(ngx_http_monitoring_out_t));

    o.request = r;
    o.last = &o.out;
    o.openmetrics = ngx_http_monitoring_accepts_openmetrics(r);

    if (mlcf->metrics->nelts) {
        o.zones = mlcf->metrics->elts;
        o.nzones = mlcf->metrics->nelts;

    } else {
        o.zones = mmcf->zones.elts;
        o.nzones = mmcf->zones.nelts;
    }

    if (ngx_http_monitoring_render(&o) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = 0;

    for (cl = o.out; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);

        if (cl->next == NULL) {
            cl->buf->last_buf = (r == r->main) ? 1 : 0;
            cl->buf->last_in_chain = 1;
        }
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = size;
    r->headers_out.content_type = o.openmetrics
                                  ? ngx_http_monitoring_openmetrics_type
                                  : ngx_http_monitoring_text_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, o.out);
}


static ngx_uint_t
ngx_http_monitoring_accepts_openmetrics(ngx_http_request_t *r)
{
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

        if (h[i].key.len == sizeof("Accept") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1)
               == 0
            && ngx_strcasestrn(h[i].value.data, "application/openmetrics-text",
                               sizeof("application/openmetrics-text") - 2)
               != NULL)
        {
            return 1;
        }
    }
}


static ngx_int_t
ngx_http_monitoring_render(ngx_http_monitoring_out_t *o)
{
    u_char  *p;

    if (ngx_http_monitoring_statuses(o, NGX_HTTP_MONITORING_REQUEST,
                                     &ngx_http_monitoring_requests,
                                     "HTTP requests by server, endpoint, "
                                     "method and status.")
           != NGX_OK
        || ngx_http_monitoring_histograms(o, NGX_HTTP_MONITORING_REQUEST,
                                          &ngx_http_monitoring_durations,
                                          "Request processing time, from the "
                                          "first byte read to the log phase.")
           != NGX_OK
        || ngx_http_monitoring_counters(o) != NGX_OK
        || ngx_http_monitoring_statuses(o, NGX_HTTP_MONITORING_UPSTREAM,
                                     &ngx_http_monitoring_upstream_requests,
                                     "Attempts at upstream peers by status.")
           != NGX_OK
        || ngx_http_monitoring_histograms(o, NGX_HTTP_MONITORING_UPSTREAM,
                                     &ngx_http_monitoring_upstream_durations,
                                     "Upstream response time of each "
                                     "attempt.")
           != NGX_OK
        || ngx_http_monitoring_zones(o) != NGX_OK
        || ngx_http_monitoring_globals(o) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (o->openmetrics) {
        p = ngx_http_monitoring_reserve(o, sizeof("# EOF\n") - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        o->buf->last = ngx_cpymem(p, "# EOF\n", sizeof("# EOF\n") - 1);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_statuses(ngx_http_monitoring_out_t *o, ngx_uint_t kind,
    ngx_str_t *name, char *help)
{
    ngx_uint_t                     i, z, status;
    ngx_atomic_uint_t              count;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_zone_t    *zone;
    ngx_http_monitoring_series_t  *s;
    ngx_http_monitoring_status_t  *st;

    if (ngx_http_monitoring_family(o, (char *) name->data, "counter", help)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (z = 0; z < o->nzones; z++) {
        zone = o->zones[z]->data;
        sh = zone->sh;

        ngx_http_monitoring_for_each_series(sh, kind, i, s) {

            for (st = s->status; st; st = st->next) {
                if (ngx_http_monitoring_status_line(o, name, zone, s,
                                                    st->status, st->count)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }

            if (s != sh->overflow[kind]) {
                continue;
            }

            for (status = 0; status < NGX_HTTP_MONITORING_MAX_STATUS;
                 status++)
            {
                count = sh->overflow_status[kind][status];

                if (count
                    && ngx_http_monitoring_status_line(o, name, zone, s,
                                                       status, count)
                       != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_status_line(ngx_http_monitoring_out_t *o,
    ngx_str_t *name, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s, ngx_uint_t status,
    ngx_atomic_uint_t count)
{
    u_char  *p;

    p = ngx_http_monitoring_reserve(o, NGX_HTTP_MONITORING_LINE_MAX
                                       + zone->label.len + s->labels_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_monitoring_series_start(p, name, zone, s);
    p = ngx_cpymem(p, ",status=\"", sizeof(",status=\"") - 1);
    p = ngx_http_monitoring_uint(p, status);
    p = ngx_cpymem(p, "\"} ", sizeof("\"} ") - 1);
    p = ngx_http_monitoring_uint(p, count);
    *p++ = '\n';

    o->buf->last = p;

    return NGX_OK;
}


/*
 * buckets are stored one counter each and made cumulative here, so that
 * concurrent writers can never make a bucket exceed a later one
 */

static ngx_int_t
ngx_http_monitoring_histograms(ngx_http_monitoring_out_t *o, ngx_uint_t kind,
    ngx_str_t *name, char *help)
{
    u_char                        *p;
    uint64_t                       total;
    ngx_str_t                      bucket, sum, count;
    ngx_uint_t                     i, j, z, n;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_zone_t    *zone;
    ngx_http_monitoring_series_t  *s;
    u_char                         names[3][NGX_HTTP_MONITORING_LINE_MAX];

    if (ngx_http_monitoring_family(o, (char *) name->data, "histogram", help)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    bucket.data = names[0];
    bucket.len = ngx_sprintf(names[0], "%V_bucket", name) - names[0];
    sum.data = names[1];
    sum.len = ngx_sprintf(names[1], "%V_sum", name) - names[1];
    count.data = names[2];
    count.len = ngx_sprintf(names[2], "%V_count", name) - names[2];

    for (z = 0; z < o->nzones; z++) {
        zone = o->zones[z]->data;
        sh = zone->sh;

        ngx_http_monitoring_for_each_series(sh, kind, i, s) {

            n = s->bounds->n;

            p = ngx_http_monitoring_reserve(o,
                      (n + 3) * (NGX_HTTP_MONITORING_LINE_MAX
                                 + zone->label.len + s->labels_len));
            if (p == NULL) {
                return NGX_ERROR;
            }

            total = 0;

            for (j = 0; j <= n; j++) {
                total += s->bucket[j];

                p = ngx_http_monitoring_series_start(p, &bucket, zone, s);
                p = ngx_cpymem(p, ",le=\"", sizeof(",le=\"") - 1);

                if (j < n) {
                    p = ngx_http_monitoring_seconds(p, s->bounds->msec[j]);

                } else {
                    p = ngx_cpymem(p, "+Inf", sizeof("+Inf") - 1);
                }

                p = ngx_cpymem(p, "\"} ", sizeof("\"} ") - 1);
                p = ngx_http_monitoring_uint(p, total);
                *p++ = '\n';
            }

            p = ngx_http_monitoring_series_start(p, &sum, zone, s);
            p = ngx_cpymem(p, "} ", sizeof("} ") - 1);
            p = ngx_http_monitoring_seconds(p, s->time_sum);
            *p++ = '\n';

            p = ngx_http_monitoring_series_start(p, &count, zone, s);
            p = ngx_cpymem(p, "} ", sizeof("} ") - 1);
            p = ngx_http_monitoring_uint(p, total);
            *p++ = '\n';

            o->buf->last = p;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_counters(ngx_http_monitoring_out_t *o)
{
    u_char                         *p;
    ngx_uint_t                      i, z;
    ngx_atomic_t                   *value;
    ngx_http_monitoring_sh_t       *sh;
    ngx_http_monitoring_zone_t     *zone;
    ngx_http_monitoring_series_t   *s;
    ngx_http_monitoring_counter_t  *c;

    for (c = ngx_http_monitoring_series_counters; c->name.len; c++) {

        if (ngx_http_monitoring_family(o, (char *) c->name.data, "counter",
                                       c->help)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (z = 0; z < o->nzones; z++) {
            zone = o->zones[z]->data;
            sh = zone->sh;

            ngx_http_monitoring_for_each_series(sh,
                                                NGX_HTTP_MONITORING_REQUEST,
                                                i, s)
            {
                p = ngx_http_monitoring_reserve(o,
                                          NGX_HTTP_MONITORING_LINE_MAX
                                          + zone->label.len + s->labels_len);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                value = (ngx_atomic_t *) ((u_char *) s + c->offset);

                p = ngx_http_monitoring_series_start(p, &c->name, zone, s);
                p = ngx_cpymem(p, "} ", sizeof("} ") - 1);
                p = ngx_http_monitoring_uint(p, *value);
                *p++ = '\n';

                o->buf->last = p;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_zones(ngx_http_monitoring_out_t *o)
{
    u_char                        *p;
    ngx_uint_t                     z, w;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_zone_t    *zone;
    ngx_http_monitoring_worker_t  *wk;

    if (ngx_http_monitoring_family(o, "nginx_worker_requests_total",
                                   "counter",
                                   "Requests recorded by each worker slot.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (z = 0; z < o->nzones; z++) {
        zone = o->zones[z]->data;
        sh = zone->sh;

        for (w = 0; w < NGX_HTTP_MONITORING_MAX_WORKERS; w++) {
            wk = &sh->workers[w];

            if (wk->pid == 0 && wk->requests == 0) {
                continue;
            }

            p = ngx_http_monitoring_reserve(o, NGX_HTTP_MONITORING_LINE_MAX
                                               + zone->label.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            p = ngx_cpymem(p, "nginx_worker_requests_total{",
                           sizeof("nginx_worker_requests_total{") - 1);
            p = ngx_cpymem(p, zone->label.data, zone->label.len);
            p = ngx_cpymem(p, "worker=\"", sizeof("worker=\"") - 1);
            p = ngx_http_monitoring_uint(p, w);
            p = ngx_cpymem(p, "\"} ", sizeof("\"} ") - 1);
            p = ngx_http_monitoring_uint(p, wk->requests);
            *p++ = '\n';

            o->buf->last = p;
        }
    }

    if (ngx_http_monitoring_family(o, "nginx_worker_restarts_total",
                                   "counter",
                                   "Worker processes respawned by the master "
                                   "without a reload.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (z = 0; z < o->nzones; z++) {
        zone = o->zones[z]->data;

        if (ngx_http_monitoring_zone_line(o, zone,
                                          "nginx_worker_restarts_total", NULL,
                                          zone->sh->restarts)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_monitoring_family(o, "nginx_monitoring_series", "gauge",
                                   "Series held in the zone.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (z = 0; z < o->nzones; z++) {
        zone = o->zones[z]->data;

        if (ngx_http_monitoring_zone_line(o, zone, "nginx_monitoring_series",
                                          NULL, zone->sh->nseries)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_monitoring_family(o, "nginx_monitoring_series_dropped_total",
                                   "counter",
                                   "Requests recorded as __overflow__ because "
                                   "the zone could not take a new series.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (z = 0; z < o->nzones; z++) {
        zone = o->zones[z]->data;

        if (ngx_http_monitoring_zone_line(o, zone,
                                       "nginx_monitoring_series_dropped_total",
                                       NULL, zone->sh->dropped)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_monitoring_family(o, "nginx_monitoring_zone_bytes", "gauge",
                                   "Shared memory zone size and bytes used.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (z = 0; z < o->nzones; z++) {
        zone = o->zones[z]->data;

        if (ngx_http_monitoring_zone_line(o, zone,
                                          "nginx_monitoring_zone_bytes",
                                          "state=\"used\"",
                                          ngx_http_monitoring_zone_used(zone))
            != NGX_OK
            || ngx_http_monitoring_zone_line(o, zone,
                                             "nginx_monitoring_zone_bytes",
                                             "state=\"size\"",
                                             zone->shm_zone->shm.size)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_monitoring_family(o, "nginx_start_time_seconds", "gauge",
                                   "Unix time the zone's counters started "
                                   "from zero.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (z = 0; z < o->nzones; z++) {
        zone = o->zones[z]->data;

        if (ngx_http_monitoring_zone_line(o, zone, "nginx_start_time_seconds",
                                          NULL, zone->sh->start_time)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_zone_line(ngx_http_monitoring_out_t *o,
    ngx_http_monitoring_zone_t *zone, char *name, char *label,
    ngx_atomic_uint_t value)
{
    u_char  *p;

    p = ngx_http_monitoring_reserve(o, NGX_HTTP_MONITORING_LINE_MAX
                                       + zone->label.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '{';

    if (label) {
        p = ngx_cpymem(p, zone->label.data, zone->label.len);
        p = ngx_cpymem(p, label, ngx_strlen(label));

    } else {
        /* without the trailing comma */
        p = ngx_cpymem(p, zone->label.data, zone->label.len - 1);
    }

    p = ngx_cpymem(p, "} ", sizeof("} ") - 1);
    p = ngx_http_monitoring_uint(p, value);
    *p++ = '\n';

    o->buf->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_globals(ngx_http_monitoring_out_t *o)
{
    u_char  *p;

#if (NGX_STAT_STUB)

    if (ngx_http_monitoring_family(o, "nginx_http_connections", "gauge",
                                   "Client connections by state.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_http_monitoring_reserve(o, 4 * NGX_HTTP_MONITORING_LINE_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    o->buf->last = ngx_sprintf(p,
                     "nginx_http_connections{state=\"active\"} %uA\n"
                     "nginx_http_connections{state=\"reading\"} %uA\n"
                     "nginx_http_connections{state=\"writing\"} %uA\n"
                     "nginx_http_connections{state=\"waiting\"} %uA\n",
                     *ngx_stat_active, *ngx_stat_reading,
                     *ngx_stat_writing, *ngx_stat_waiting);

    if (ngx_http_monitoring_family(o, "nginx_http_connections_accepted_total",
                                   "counter", "Client connections accepted.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_http_monitoring_reserve(o, NGX_HTTP_MONITORING_LINE_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    o->buf->last = ngx_sprintf(p, "nginx_http_connections_accepted_total %uA\n",
                               *ngx_stat_accepted);

    if (ngx_http_monitoring_family(o, "nginx_http_connections_handled_total",
                                   "counter", "Client connections handled.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_http_monitoring_reserve(o, NGX_HTTP_MONITORING_LINE_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    o->buf->last = ngx_sprintf(p, "nginx_http_connections_handled_total %uA\n",
                               *ngx_stat_handled);

#endif

    if (ngx_http_monitoring_family(o, "nginx_up", "gauge",
                                   "Whether nginx is up.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_http_monitoring_reserve(o, NGX_HTTP_MONITORING_LINE_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    o->buf->last = ngx_cpymem(p, "nginx_up 1\n", sizeof("nginx_up 1\n") - 1);

    if (ngx_http_monitoring_family(o, "nginx_build_info", "gauge",
                                   "nginx and module versions.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_http_monitoring_reserve(o, NGX_HTTP_MONITORING_LINE_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    o->buf->last = ngx_cpymem(p,
                         "nginx_build_info{version=\"" NGINX_VERSION "\","
                         "module_version=\"" NGX_HTTP_MONITORING_VERSION "\"} "
                         "1\n",
                         sizeof("nginx_build_info{version=\"" NGINX_VERSION
                                "\",module_version=\""
                                NGX_HTTP_MONITORING_VERSION "\"} 1\n") - 1);

    return NGX_OK;
}


/* OpenMetrics names a counter family without its "_total" suffix */

static ngx_int_t
ngx_http_monitoring_family(ngx_http_monitoring_out_t *o, char *name,
    char *type, char *help)
{
    u_char  *p;
    size_t   len, name_len;

    name_len = ngx_strlen(name);

    if (o->openmetrics
        && ngx_strcmp(type, "counter") == 0
        && name_len > sizeof("_total") - 1
        && ngx_strcmp(name + name_len - (sizeof("_total") - 1), "_total") == 0)
    {
        name_len -= sizeof("_total") - 1;
    }

    len = sizeof("# HELP  \n# TYPE  \n") - 1 + 2 * name_len
          + ngx_strlen(help) + ngx_strlen(type);

    p = ngx_http_monitoring_reserve(o, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(p, "# HELP ", sizeof("# HELP ") - 1);
    p = ngx_cpymem(p, name, name_len);
    *p++ = ' ';
    p = ngx_cpymem(p, help, ngx_strlen(help));
    p = ngx_cpymem(p, "\n# TYPE ", sizeof("\n# TYPE ") - 1);
    p = ngx_cpymem(p, name, name_len);
    *p++ = ' ';
    p = ngx_cpymem(p, type, ngx_strlen(type));
    *p++ = '\n';

    o->buf->last = p;

    return NGX_OK;
}


static u_char *
ngx_http_monitoring_reserve(ngx_http_monitoring_out_t *o, size_t size)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (o->buf && (size_t) (o->buf->end - o->buf->last) >= size) {
        return o->buf->last;
    }

    b = ngx_create_temp_buf(o->request->pool,
                            ngx_max(size, NGX_HTTP_MONITORING_BUF_SIZE));
    if (b == NULL) {
        return NULL;
    }

    cl = ngx_alloc_chain_link(o->request->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    *o->last = cl;
    o->last = &cl->next;
    o->buf = b;

    return b->last;
}


static u_char *
ngx_http_monitoring_series_start(u_char *p, ngx_str_t *name,
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_series_t *s)
{
    p = ngx_cpymem(p, name->data, name->len);
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
