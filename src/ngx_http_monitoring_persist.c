
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


/*
 * Snapshots of a zone, for a restart and a binary upgrade: a header with
 * a magic, the format version, the byte order, the writer and a CRC32 of
 * the body, then records of a type and a length, each self-describing
 * (a series carries its key and its bucket bounds).  Every length is
 * checked before it is used, so any file content is safe to read; a file
 * that does not verify is logged with the reason and ignored.
 *
 * Restoring adds the counts of a snapshot to the zone, as requests do:
 * at the start into a new zone, and in a binary upgrade into the zone of
 * the new nginx once the old one has written its last snapshot.
 */

#define NGX_HTTP_MONITORING_SNAP_VERSION   1
#define NGX_HTTP_MONITORING_SNAP_ORDER     0x01020304

#define NGX_HTTP_MONITORING_SNAP_FINAL     0x01

#define NGX_HTTP_MONITORING_REC_ZONE       1
#define NGX_HTTP_MONITORING_REC_SERIES     2
#define NGX_HTTP_MONITORING_REC_POINTS     3
#define NGX_HTTP_MONITORING_REC_ALERT      4
#define NGX_HTTP_MONITORING_REC_HOOKS      5

/* a history point: epoch, statuses, time sum, p50, p95, p99 */
#define NGX_HTTP_MONITORING_POINT_VALUES   (5 + NGX_HTTP_MONITORING_CLASSES)

#define NGX_HTTP_MONITORING_SNAP_LOG       60


typedef struct {
    u_char                           magic[8];
    uint32_t                         version;
    uint32_t                         order;
    uint64_t                         instance;
    uint64_t                         seq;
    uint64_t                         written;   /* unix time, msec */
    uint64_t                         start_time;
    uint64_t                         size;      /* of the body */
    uint32_t                         crc;
    uint32_t                         flags;
    uint32_t                         name_len;
    uint32_t                         layout;    /* of the alert records */
    u_char                           name[NGX_HTTP_MONITORING_NAME_MAX];
} ngx_http_monitoring_snap_header_t;


typedef struct {
    uint32_t                         type;
    uint32_t                         len;
} ngx_http_monitoring_snap_record_t;


/* a series: the counters, the bounds, the statuses, then the key */

typedef struct {
    uint16_t                         key_len;
    uint8_t                          nbounds;
    uint8_t                          probe;
    uint32_t                         nstatus;
    uint64_t                         time_sum;
    uint64_t                         request_bytes;
    uint64_t                         response_bytes;
    uint64_t                         slow;
} ngx_http_monitoring_snap_series_t;


typedef struct {
    uint64_t                         dropped;
    uint64_t                         restarts;
    uint64_t                         start_time;
    uint64_t                         workers[NGX_HTTP_MONITORING_MAX_WORKERS];
    uint64_t                         overflow[NGX_HTTP_MONITORING_KINDS]
                                             [NGX_HTTP_MONITORING_MAX_STATUS];
} ngx_http_monitoring_snap_zone_t;


/* what a restore did, for its log line */

typedef struct {
    ngx_uint_t                       series;
    ngx_uint_t                       overflow;
    ngx_uint_t                       rebucketed;
    ngx_uint_t                       alerts;
    ngx_uint_t                       skipped;
} ngx_http_monitoring_snap_stats_t;


/* a buffer that grows as the snapshot is written */

typedef struct {
    u_char                          *start;
    u_char                          *pos;
    u_char                          *end;
    ngx_log_t                       *log;
    ngx_uint_t                       failed;
} ngx_http_monitoring_snap_buf_t;


static u_char *ngx_http_monitoring_snapshot_build(
    ngx_http_monitoring_zone_t *zone, ngx_uint_t flags, size_t *len,
    ngx_log_t *log);
static void ngx_http_monitoring_snap_series(ngx_http_monitoring_snap_buf_t *b,
    ngx_http_monitoring_series_t *s);
static void ngx_http_monitoring_snap_points(ngx_http_monitoring_snap_buf_t *b,
    ngx_http_monitoring_zone_t *zone);
static void ngx_http_monitoring_snap_alerts(ngx_http_monitoring_snap_buf_t *b,
    ngx_http_monitoring_zone_t *zone);
static u_char *ngx_http_monitoring_snap_record(
    ngx_http_monitoring_snap_buf_t *b, ngx_uint_t type, size_t len);
static ngx_int_t ngx_http_monitoring_snapshot_write(
    ngx_http_monitoring_zone_t *zone, ngx_uint_t flags, ngx_log_t *log);
static u_char *ngx_http_monitoring_snapshot_read(ngx_str_t *path,
    size_t *len, ngx_log_t *log, const char **reason);
static ngx_int_t ngx_http_monitoring_restore_series(
    ngx_http_monitoring_zone_t *zone, u_char *p, size_t len, ngx_log_t *log,
    ngx_http_monitoring_snap_stats_t *stats);
static ngx_int_t ngx_http_monitoring_restore_zone(
    ngx_http_monitoring_zone_t *zone, u_char *p, size_t len);
static ngx_int_t ngx_http_monitoring_restore_points(
    ngx_http_monitoring_zone_t *zone, u_char *p, size_t len);
static ngx_int_t ngx_http_monitoring_valid_key(u_char *key, size_t len);
static void ngx_http_monitoring_persist_tick(ngx_event_t *ev);
static ngx_uint_t ngx_http_monitoring_alive(ngx_pid_t pid);
static void ngx_http_monitoring_persist_gone(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log);
static void ngx_http_monitoring_persist_fail(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log, ngx_err_t err, const char *what, ngx_str_t *path);


static u_char  ngx_http_monitoring_snap_magic[8] = "NGXMONS\n";

static ngx_event_t  ngx_http_monitoring_persist_event;


/*
 * Checks a snapshot in memory: NGX_OK, or NGX_DECLINED with the reason.
 * Any content is safe: this is what the fuzzer calls.
 */

ngx_int_t
ngx_http_monitoring_snapshot_check(u_char *data, size_t len,
    ngx_str_t *zone_name, const char **reason)
{
    u_char                             *p, *last;
    ngx_http_monitoring_snap_header_t  *h;
    ngx_http_monitoring_snap_record_t  *r;

    h = (ngx_http_monitoring_snap_header_t *) data;

    if (len < sizeof(ngx_http_monitoring_snap_header_t)
        || ngx_memcmp(h->magic, ngx_http_monitoring_snap_magic, 8) != 0)
    {
        *reason = "not a snapshot of this module";
        return NGX_DECLINED;
    }

    if (h->order != NGX_HTTP_MONITORING_SNAP_ORDER) {
        *reason = "written on a machine of another byte order";
        return NGX_DECLINED;
    }

    if (h->version != NGX_HTTP_MONITORING_SNAP_VERSION) {
        *reason = "written in another format version";
        return NGX_DECLINED;
    }

    if (h->size != len - sizeof(ngx_http_monitoring_snap_header_t)) {
        *reason = (h->size > len - sizeof(ngx_http_monitoring_snap_header_t))
                  ? "truncated" : "longer than its header says";
        return NGX_DECLINED;
    }

    if (ngx_crc32_long(data + sizeof(ngx_http_monitoring_snap_header_t),
                       h->size)
        != h->crc)
    {
        *reason = "checksum mismatch";
        return NGX_DECLINED;
    }

    if (zone_name != NULL
        && (h->name_len != zone_name->len
            || ngx_memcmp(h->name, zone_name->data, zone_name->len) != 0))
    {
        *reason = "written for another zone";
        return NGX_DECLINED;
    }

    /* the records tile the body exactly */

    p = data + sizeof(ngx_http_monitoring_snap_header_t);
    last = data + len;

    while (p < last) {
        if ((size_t) (last - p) < sizeof(ngx_http_monitoring_snap_record_t)) {
            *reason = "a record is cut short";
            return NGX_DECLINED;
        }

        r = (ngx_http_monitoring_snap_record_t *) p;
        p += sizeof(ngx_http_monitoring_snap_record_t);

        if (r->len % 8 != 0 || r->len > (size_t) (last - p)) {
            *reason = "a record is cut short";
            return NGX_DECLINED;
        }

        p += r->len;
    }

    return NGX_OK;
}


/*
 * Adds a checked snapshot's counts to the zone; the alert records are
 * kept for the first worker to apply (alerts != 0)
 */

ngx_int_t
ngx_http_monitoring_snapshot_apply(ngx_http_monitoring_zone_t *zone,
    u_char *data, size_t len, ngx_uint_t alerts, ngx_log_t *log)
{
    u_char                             *p, *last, *blob;
    size_t                              size;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_snap_record_t  *r;
    ngx_http_monitoring_snap_header_t  *h;
    ngx_http_monitoring_snap_stats_t    stats;

    ngx_memzero(&stats, sizeof(ngx_http_monitoring_snap_stats_t));

    p = data + sizeof(ngx_http_monitoring_snap_header_t);
    last = data + len;
    size = 0;

    while (p < last) {
        r = (ngx_http_monitoring_snap_record_t *) p;
        p += sizeof(ngx_http_monitoring_snap_record_t);

        switch (r->type) {

        case NGX_HTTP_MONITORING_REC_SERIES:
            if (ngx_http_monitoring_restore_series(zone, p, r->len, log,
                                                   &stats)
                != NGX_OK)
            {
                stats.skipped++;
            }

            break;

        case NGX_HTTP_MONITORING_REC_ZONE:
            if (ngx_http_monitoring_restore_zone(zone, p, r->len) != NGX_OK) {
                stats.skipped++;
            }

            break;

        case NGX_HTTP_MONITORING_REC_POINTS:
            if (ngx_http_monitoring_restore_points(zone, p, r->len)
                != NGX_OK)
            {
                stats.skipped++;
            }

            break;

        case NGX_HTTP_MONITORING_REC_ALERT:
        case NGX_HTTP_MONITORING_REC_HOOKS:
            size += sizeof(ngx_http_monitoring_snap_record_t) + r->len;
            stats.alerts += (r->type == NGX_HTTP_MONITORING_REC_ALERT);
            break;

        default:
            stats.skipped++;
            break;
        }

        p += r->len;
    }

    /*
     * the alert records wait in the zone for the rules of the workers;
     * they are the module's own structures, of this layout only
     */

    a = zone->sh->alerts;
    h = (ngx_http_monitoring_snap_header_t *) data;

    if (alerts && size && a != NULL && a->restore == NULL
        && h->layout == NGX_HTTP_MONITORING_LAYOUT)
    {
        blob = ngx_slab_alloc(zone->shpool, size);

        if (blob != NULL) {
            a->restore = blob;
            a->restore_len = size;

            for (p = data + sizeof(ngx_http_monitoring_snap_header_t);
                 p < last;
                 p += r->len)
            {
                r = (ngx_http_monitoring_snap_record_t *) p;
                p += sizeof(ngx_http_monitoring_snap_record_t);

                if (r->type == NGX_HTTP_MONITORING_REC_ALERT
                    || r->type == NGX_HTTP_MONITORING_REC_HOOKS)
                {
                    blob = ngx_cpymem(blob, r,
                                 sizeof(ngx_http_monitoring_snap_record_t)
                                 + r->len);
                }
            }

        } else {
            stats.alerts = 0;
        }
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "monitoring zone \"%V\" restored from \"%V\": %ui series"
                  "%s, %ui alert records%s",
                  &zone->name, &zone->persist, stats.series,
                  stats.overflow ? " (some as \"__overflow__\": the zone "
                                   "is full)" : "",
                  alerts ? stats.alerts : 0,
                  stats.skipped ? ", records that do not fit skipped" : "");

    if (stats.rebucketed) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "monitoring zone \"%V\": %ui series of the snapshot "
                      "had other buckets than the series they were added "
                      "to, each count went to the first bucket that holds "
                      "its bound", &zone->name, stats.rebucketed);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_restore_series(ngx_http_monitoring_zone_t *zone,
    u_char *p, size_t len, ngx_log_t *log,
    ngx_http_monitoring_snap_stats_t *stats)
{
    u_char                             *key, *last;
    size_t                              need;
    uint64_t                           *v, status, count;
    ngx_uint_t                          i, j;
    ngx_http_monitoring_series_t       *s;
    ngx_http_monitoring_snap_series_t  *ss;
    struct {
        ngx_http_monitoring_bounds_t   *next;
        ngx_uint_t                      n;
        uint32_t                        msec[NGX_HTTP_MONITORING_MAX_BUCKETS];
    } bounds;

    if (len < sizeof(ngx_http_monitoring_snap_series_t)) {
        return NGX_ERROR;
    }

    ss = (ngx_http_monitoring_snap_series_t *) p;
    last = p + len;

    if (ss->nbounds > NGX_HTTP_MONITORING_MAX_BUCKETS
        || ss->key_len == 0 || ss->key_len > NGX_HTTP_MONITORING_KEY_MAX
        || ss->nstatus > NGX_HTTP_MONITORING_MAX_STATUS)
    {
        return NGX_ERROR;
    }

    need = sizeof(ngx_http_monitoring_snap_series_t)
           + ngx_align(ss->nbounds * sizeof(uint32_t), 8)
           + (ss->nbounds + 1) * sizeof(uint64_t)
           + ss->nstatus * 2 * sizeof(uint64_t)
           + ss->key_len;

    if (need > len) {
        return NGX_ERROR;
    }

    p += sizeof(ngx_http_monitoring_snap_series_t);

    bounds.next = NULL;
    bounds.n = ss->nbounds;

    ngx_memcpy(bounds.msec, p, ss->nbounds * sizeof(uint32_t));
    p += ngx_align(ss->nbounds * sizeof(uint32_t), 8);

    for (i = 1; i < bounds.n; i++) {
        if (bounds.msec[i] <= bounds.msec[i - 1]) {
            return NGX_ERROR;
        }
    }

    v = (uint64_t *) p;
    key = p + (ss->nbounds + 1 + ss->nstatus * 2) * sizeof(uint64_t);

    if (key + ss->key_len > last
        || ngx_http_monitoring_valid_key(key, ss->key_len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ss->key_len == 1) {
        s = zone->sh->overflow[key[0]];
        zone->sh->overflow_used[key[0]] = 1;

    } else {
        s = ngx_http_monitoring_series_get(zone, key, ss->key_len,
                                   (ngx_http_monitoring_bounds_t *) &bounds,
                                   log);

        if (s == zone->sh->overflow[key[0]]) {
            stats->overflow++;

            /* dropped counts requests: one was counted by series_get() */

            for (i = 0, count = 0; i <= bounds.n; i++) {
                count += v[i];
            }

            if (count > 1) {
                (void) ngx_atomic_fetch_add(&zone->sh->dropped, count - 1);
            }
        }
    }

    /* an existing series may have other buckets: counted at their bound */

    if (s->bounds->n != bounds.n
        || ngx_memcmp(s->bounds->msec, bounds.msec,
                      bounds.n * sizeof(uint32_t))
           != 0)
    {
        stats->rebucketed++;

        for (i = 0; i <= bounds.n; i++) {

            for (j = 0; j < s->bounds->n; j++) {
                if (i < bounds.n && s->bounds->msec[j] >= bounds.msec[i]) {
                    break;
                }
            }

            (void) ngx_atomic_fetch_add(&s->bucket[j], v[i]);
        }

    } else {
        for (i = 0; i <= bounds.n; i++) {
            (void) ngx_atomic_fetch_add(&s->bucket[i], v[i]);
        }
    }

    v += bounds.n + 1;

    (void) ngx_atomic_fetch_add(&s->time_sum, ss->time_sum);
    (void) ngx_atomic_fetch_add(&s->request_bytes, ss->request_bytes);
    (void) ngx_atomic_fetch_add(&s->response_bytes, ss->response_bytes);
    (void) ngx_atomic_fetch_add(&s->slow, ss->slow);

    if (ss->probe && s != zone->sh->overflow[key[0]]) {
        s->probe = 1;
    }

    for (i = 0; i < ss->nstatus; i++) {
        status = v[2 * i];
        count = v[2 * i + 1];

        if (status < NGX_HTTP_MONITORING_MAX_STATUS) {
            ngx_http_monitoring_status_add(zone, s, status, count, log);
        }
    }

    stats->series++;

    return NGX_OK;
}


/* a key as the module writes it: kind, then parts in valid UTF-8 */

static ngx_int_t
ngx_http_monitoring_valid_key(u_char *key, size_t len)
{
    u_char      *k, *p, *last;
    ngx_uint_t   fixed, parts;
    u_char       buf[NGX_HTTP_MONITORING_PART_MAX];

    if (key[0] >= NGX_HTTP_MONITORING_KINDS) {
        return NGX_ERROR;
    }

    if (len == 1) {
        return NGX_OK;
    }

    /* the kind's fixed parts, then pairs of name and value */

    fixed = (key[0] == NGX_HTTP_MONITORING_REQUEST) ? 3 : 2;
    parts = 0;

    k = key + 1;
    last = key + len;

    while (k < last) {
        if (*k > (size_t) (last - k - 1)) {
            return NGX_ERROR;
        }

        if (parts >= fixed && (parts - fixed) % 2 == 0) {

            /* a label name, as monitoring_label allows them */

            if (*k == 0 || (k[1] >= '0' && k[1] <= '9')) {
                return NGX_ERROR;
            }

            for (p = k + 1; p < k + 1 + *k; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                      || (*p >= '0' && *p <= '9') || *p == '_'))
                {
                    return NGX_ERROR;
                }
            }

        } else if (ngx_http_monitoring_utf8_copy(buf, k + 1, *k, sizeof(buf))
                   != *k
                   || ngx_memcmp(buf, k + 1, *k) != 0)
        {
            return NGX_ERROR;
        }

        k += 1 + *k;
        parts++;
    }

    if (parts < fixed || (parts - fixed) % 2 != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_restore_zone(ngx_http_monitoring_zone_t *zone, u_char *p,
    size_t len)
{
    ngx_uint_t                        i, k;
    ngx_http_monitoring_sh_t         *sh;
    ngx_http_monitoring_snap_zone_t  *sz;

    if (len < sizeof(ngx_http_monitoring_snap_zone_t)) {
        return NGX_ERROR;
    }

    sz = (ngx_http_monitoring_snap_zone_t *) p;
    sh = zone->sh;

    (void) ngx_atomic_fetch_add(&sh->dropped, sz->dropped);
    (void) ngx_atomic_fetch_add(&sh->restarts, sz->restarts);

    /* the counters go on from when they started */

    if (sz->start_time && sz->start_time < sh->start_time) {
        sh->start_time = sz->start_time;
    }

    for (i = 0; i < NGX_HTTP_MONITORING_MAX_WORKERS; i++) {
        (void) ngx_atomic_fetch_add(&sh->workers[i].requests,
                                    sz->workers[i]);
    }

    for (k = 0; k < NGX_HTTP_MONITORING_KINDS; k++) {
        for (i = 0; i < NGX_HTTP_MONITORING_MAX_STATUS; i++) {
            if (sz->overflow[k][i]) {
                (void) ngx_atomic_fetch_add(&sh->overflow_status[k][i],
                                            sz->overflow[k][i]);
            }
        }
    }

    return NGX_OK;
}


/* the hour and day points: added where the period is the same */

static ngx_int_t
ngx_http_monitoring_restore_points(ngx_http_monitoring_zone_t *zone,
    u_char *p, size_t len)
{
    uint64_t                       *v, *last, epoch, which, index;
    ngx_uint_t                      i;
    ngx_http_monitoring_point_t    *pt;
    ngx_http_monitoring_history_t  *h;

    h = zone->sh->history;
    v = (uint64_t *) p;
    last = (uint64_t *) (p + len);

    ngx_shmtx_lock(&zone->shpool->mutex);

    while (last - v >= NGX_HTTP_MONITORING_POINT_VALUES + 2) {
        which = v[0];
        index = v[1];
        epoch = v[2];

        if (which == 0 && index < NGX_HTTP_MONITORING_HOUR_POINTS) {
            pt = &h->hour[index];

        } else if (which == 1 && index < NGX_HTTP_MONITORING_DAY_POINTS) {
            pt = &h->day[index];

        } else if (which == 2) {

            /* room left by a point that was gone when it was written */

            v += NGX_HTTP_MONITORING_POINT_VALUES + 2;
            continue;

        } else {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_ERROR;
        }

        if (pt->epoch < epoch) {
            ngx_memzero(pt, sizeof(ngx_http_monitoring_point_t));
            pt->epoch = epoch;
        }

        if (pt->epoch == epoch) {
            for (i = 0; i < NGX_HTTP_MONITORING_CLASSES; i++) {
                (void) ngx_atomic_fetch_add(&pt->status[i], v[3 + i]);
            }

            v += 3 + NGX_HTTP_MONITORING_CLASSES;

            (void) ngx_atomic_fetch_add(&pt->time_sum, v[0]);

            if (pt->p50 == 0) {
                pt->p50 = v[1];
                pt->p95 = v[2];
                pt->p99 = v[3];
            }

            v += 4;
            continue;
        }

        v += NGX_HTTP_MONITORING_POINT_VALUES + 2;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return (v == last) ? NGX_OK : NGX_ERROR;
}


/*
 * In the first worker of a configuration, while the rule table is built
 * (under the lock): the state a snapshot kept for a rule of the same
 * name and definition, with its samples when they have the same shape.
 */

void
ngx_http_monitoring_snapshot_alerts(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_alert_t **rules, ngx_http_monitoring_alert_state_t *st,
    ngx_uint_t n, ngx_uint_t *restored, u_char *which)
{
    u_char                             *p, *last;
    size_t                              size;
    uint64_t                           *v;
    ngx_uint_t                          i, j, k;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_hook_state_t   *hs;
    ngx_http_monitoring_snap_record_t  *r;
    ngx_http_monitoring_alert_state_t  *s;
    ngx_uint_t                          remap[NGX_HTTP_MONITORING_MAX_WEBHOOKS];

    a = zone->sh->alerts;
    *restored = 0;

    if (a->restore == NULL) {
        return;
    }

    p = a->restore;
    last = p + a->restore_len;

    /* the webhook slots of the snapshot, by URL, in this configuration */

    for (j = 0; j < NGX_HTTP_MONITORING_MAX_WEBHOOKS; j++) {
        remap[j] = NGX_HTTP_MONITORING_MAX_WEBHOOKS;
    }

    for ( /* void */ ; p < last; p += r->len) {
        r = (ngx_http_monitoring_snap_record_t *) p;
        p += sizeof(ngx_http_monitoring_snap_record_t);

        if (r->type != NGX_HTTP_MONITORING_REC_HOOKS
            || r->len < NGX_HTTP_MONITORING_MAX_WEBHOOKS
                        * sizeof(ngx_http_monitoring_hook_state_t))
        {
            continue;
        }

        for (j = 0; j < NGX_HTTP_MONITORING_MAX_WEBHOOKS; j++) {
            hs = (ngx_http_monitoring_hook_state_t *) p + j;

            for (k = 0; hs->hash && k < NGX_HTTP_MONITORING_MAX_WEBHOOKS; k++)
            {
                if (a->hooks[k].hash == hs->hash) {
                    remap[j] = k;
                }
            }
        }
    }

    p = a->restore;

    for ( /* void */ ; p < last; p += r->len) {
        r = (ngx_http_monitoring_snap_record_t *) p;
        p += sizeof(ngx_http_monitoring_snap_record_t);

        if (r->type == NGX_HTTP_MONITORING_REC_HOOKS
            && r->len >= NGX_HTTP_MONITORING_MAX_WEBHOOKS
                         * sizeof(ngx_http_monitoring_hook_state_t))
        {
            /* the counters of webhooks that are still configured */

            for (j = 0; j < NGX_HTTP_MONITORING_MAX_WEBHOOKS; j++) {
                hs = (ngx_http_monitoring_hook_state_t *) p + j;

                for (k = 0; hs->hash && k < NGX_HTTP_MONITORING_MAX_WEBHOOKS;
                     k++)
                {
                    if (a->hooks[k].hash == hs->hash) {
                        for (i = 0; i < NGX_HTTP_MONITORING_WEBHOOK_RESULTS;
                             i++)
                        {
                            a->hooks[k].results[i] += hs->results[i];
                        }
                    }
                }
            }

            continue;
        }

        if (r->type != NGX_HTTP_MONITORING_REC_ALERT
            || r->len < sizeof(ngx_http_monitoring_alert_state_t))
        {
            continue;
        }

        s = (ngx_http_monitoring_alert_state_t *) p;

        for (i = 0; i < n; i++) {
            if (s->name_len != rules[i]->name.len
                || s->hash != rules[i]->hash
                || s->name_len > NGX_HTTP_MONITORING_NAME_MAX
                || ngx_memcmp(s->name, rules[i]->name.data, s->name_len) != 0
                || s->state > NGX_HTTP_MONITORING_RESOLVED)
            {
                continue;
            }

            v = st[i].samples;

            ngx_memcpy(&st[i], s, sizeof(ngx_http_monitoring_alert_state_t));

            /* what each webhook received, in this configuration's slots */

            for (k = 0; k < NGX_HTTP_MONITORING_MAX_WEBHOOKS; k++) {
                st[i].sent[k].sent = 0;
                st[i].sent[k].seq = st[i].seq;
            }

            for (j = 0; j < NGX_HTTP_MONITORING_MAX_WEBHOOKS; j++) {
                if (remap[j] < NGX_HTTP_MONITORING_MAX_WEBHOOKS) {
                    st[i].sent[remap[j]] = s->sent[j];
                }
            }

            for (j = 0; j < NGX_HTTP_MONITORING_TRANSITIONS; j++) {
                if (st[i].transitions[j].state > NGX_HTTP_MONITORING_RESOLVED)
                {
                    st[i].transitions[j].state = NGX_HTTP_MONITORING_INACTIVE;
                }
            }

            /* the samples follow the state, if of the same shape */

            st[i].samples = v;
            size = rules[i]->nsamples * rules[i]->nvalues * sizeof(uint64_t);

            if (r->len == sizeof(ngx_http_monitoring_alert_state_t) + size
                && s->head < rules[i]->nsamples
                && s->count <= rules[i]->nsamples)
            {
                ngx_memcpy(v, p + sizeof(ngx_http_monitoring_alert_state_t),
                           size);

            } else {
                st[i].head = 0;
                st[i].count = 0;
            }

            (*restored)++;

            if (which != NULL) {
                which[i] = 1;
            }
        }
    }

    ngx_slab_free_locked(zone->shpool, a->restore);
    a->restore = NULL;
    a->restore_len = 0;
}


/* in init_zone of a new zone, in the master, at the start of nginx */

ngx_int_t
ngx_http_monitoring_persist_restore(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log)
{
    u_char      *data;
    size_t       len;
    ngx_time_t  *tp;
    const char  *reason;

    if (zone->persist.len == 0 || ngx_test_config) {
        return NGX_OK;
    }

    tp = ngx_timeofday();

    zone->sh->created = (uint64_t) tp->sec * 1000 + tp->msec;
    zone->sh->instance = ((uint64_t) tp->sec << 32)
                         ^ ((uint64_t) ngx_pid << 16) ^ (uint64_t) ngx_random();

    /*
     * a binary upgrade: the old nginx still counts, its last snapshot is
     * added when it exits
     */

    if (ngx_inherited) {
        zone->sh->await_final = 1;
        zone->sh->previous = getppid();

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "monitoring zone \"%V\" waits for the last snapshot "
                      "of the previous nginx in \"%V\"",
                      &zone->name, &zone->persist);
        return NGX_OK;
    }

    data = ngx_http_monitoring_snapshot_read(&zone->persist, &len, log,
                                             &reason);
    if (data == NULL) {
        if (reason != NULL) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "monitoring zone \"%V\" starts empty: snapshot "
                          "\"%V\" %s", &zone->name, &zone->persist, reason);
        }

        return NGX_OK;
    }

    if (ngx_http_monitoring_snapshot_check(data, len, &zone->name, &reason)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "monitoring zone \"%V\" starts empty: snapshot \"%V\" "
                      "ignored, %s", &zone->name, &zone->persist, reason);
        ngx_free(data);
        return NGX_OK;
    }

    (void) ngx_http_monitoring_snapshot_apply(zone, data, len, 1, log);

    ngx_free(data);

    return NGX_OK;
}


/* NULL with no reason: there is no file, which is normal */

static u_char *
ngx_http_monitoring_snapshot_read(ngx_str_t *path, size_t *len,
    ngx_log_t *log, const char **reason)
{
    u_char           *data;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    *reason = NULL;

    /* a regular file only: not a link, nor a FIFO that would block */

    fd = open((char *) path->data, O_RDONLY|O_NONBLOCK|O_NOFOLLOW);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno != NGX_ENOENT) {
            *reason = "cannot be opened";
            ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                          ngx_open_file_n " \"%V\" failed", path);
        }

        return NULL;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || !ngx_is_file(&fi)
        || ngx_file_size(&fi) > 1024 * 1024 * 1024)
    {
        *reason = "is not a regular file that can be read";
        ngx_close_file(fd);
        return NULL;
    }

    *len = ngx_file_size(&fi);

    data = ngx_alloc(*len + 1, log);
    if (data == NULL) {
        *reason = "cannot be read: no memory";
        ngx_close_file(fd);
        return NULL;
    }

    n = ngx_read_fd(fd, data, *len);

    ngx_close_file(fd);

    if (n < 0 || (size_t) n != *len) {
        *reason = "cannot be read";
        ngx_free(data);
        return NULL;
    }

    return data;
}


ngx_int_t
ngx_http_monitoring_persist_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i;
    ngx_msec_t                        interval;
    ngx_shm_zone_t                  **zones;
    ngx_http_monitoring_zone_t       *zone;
    ngx_http_monitoring_main_conf_t  *mmcf;

    /* one process writes: worker 0 of the running configuration */

    if (ngx_worker != 0) {
        return NGX_OK;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_monitoring_module);

    zones = mmcf->zones.elts;
    interval = 0;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        zone = zones[i]->data;

        if (zone->persist.len) {
            zone->persist_next = ngx_current_msec + zone->persist_interval;
            interval = 1000;

            /* at the start, as the user of the workers that write */

            if (zone->generation == 1) {
                (void) ngx_http_monitoring_persist_check(zone, cycle->log);
            }
        }
    }

    if (interval == 0) {
        return NGX_OK;
    }

    ngx_http_monitoring_persist_event.handler =
                                          ngx_http_monitoring_persist_tick;
    ngx_http_monitoring_persist_event.data = mmcf;
    ngx_http_monitoring_persist_event.log = cycle->log;
    ngx_http_monitoring_persist_event.cancelable = 1;

    ngx_add_timer(&ngx_http_monitoring_persist_event, interval);

    return NGX_OK;
}


/*
 * every second: a snapshot when the interval has passed, and in a binary
 * upgrade the last snapshot of the old nginx, once it is written
 */

static void
ngx_http_monitoring_persist_tick(ngx_event_t *ev)
{
    u_char                             *data;
    size_t                              len;
    uint64_t                           *own;
    ngx_uint_t                          i, gone;
    const char                         *reason;
    ngx_shm_zone_t                    **zones;
    ngx_http_monitoring_zone_t         *zone;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_main_conf_t    *mmcf;
    ngx_http_monitoring_snap_header_t  *h;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    mmcf = ev->data;
    zones = mmcf->zones.elts;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        zone = zones[i]->data;
        a = zone->sh->alerts;

        /* workers of a previous configuration leave it to the new ones */

        if (zone->persist.len == 0 || a->generation != zone->generation) {
            continue;
        }

        if (zone->sh->await_final) {
            /* the previous nginx gone without a last snapshot: no more */

            gone = !ngx_http_monitoring_alive(zone->sh->previous);

            data = ngx_http_monitoring_snapshot_read(&zone->persist, &len,
                                                     ev->log, &reason);
            if (data == NULL) {
                if (gone) {
                    ngx_http_monitoring_persist_gone(zone, ev->log);
                }

                continue;
            }

            h = (ngx_http_monitoring_snap_header_t *) data;

            if (ngx_http_monitoring_snapshot_check(data, len, &zone->name,
                                                   &reason)
                == NGX_OK
                && (h->flags & NGX_HTTP_MONITORING_SNAP_FINAL)
                && h->instance != zone->sh->instance
                && h->written >= zone->sh->created)
            {
                /*
                 * the old nginx evaluated the alert rules until it exited:
                 * its states and samples go on here, the samples agree with
                 * the counters once its counts are added
                 */

                own = ngx_http_monitoring_alerts_counters(zone, ev->log);

                (void) ngx_http_monitoring_snapshot_apply(zone, data, len, 1,
                                                          ev->log);

                ngx_http_monitoring_alerts_restore(zone, own, ev->log);

                if (own != NULL) {
                    ngx_free(own);
                }

                zone->sh->await_final = 0;
                zone->persist_next = 0;

            } else if (gone) {
                ngx_http_monitoring_persist_gone(zone, ev->log);
            }

            ngx_free(data);

            if (zone->sh->await_final) {
                continue;
            }
        }

        if ((ngx_msec_int_t) (ngx_current_msec - zone->persist_next) >= 0) {
            zone->persist_next = ngx_current_msec + zone->persist_interval;

            (void) ngx_http_monitoring_snapshot_write(zone, 0, ev->log);
        }
    }

    ngx_add_timer(ev, 1000);
}


/* a process that exited is gone even while nobody has reaped it yet */

static ngx_uint_t
ngx_http_monitoring_alive(ngx_pid_t pid)
{
    u_char    *p;
    ssize_t    n;
    ngx_fd_t   fd;
    u_char     buf[512];

    if (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
        return 0;
    }

#if (NGX_LINUX)

    /* the state follows the name in parentheses: Z for a zombie */

    ngx_sprintf(buf, "/proc/%P/stat%Z", pid);

    fd = ngx_open_file(buf, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd != NGX_INVALID_FILE) {
        n = ngx_read_fd(fd, buf, sizeof(buf) - 1);
        ngx_close_file(fd);

        if (n > 0) {
            buf[n] = '\0';
            p = (u_char *) strrchr((char *) buf, ')');

            if (p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) {
                return 0;
            }
        }
    }

#endif

    return 1;
}


static void
ngx_http_monitoring_persist_gone(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log)
{
    zone->sh->await_final = 0;

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "monitoring zone \"%V\": the previous nginx exited "
                  "without a last snapshot in \"%V\", its counts are lost",
                  &zone->name, &zone->persist);
}


/* at the end of the master: the last snapshot of each zone */

void
ngx_http_monitoring_persist_exit(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i;
    ngx_shm_zone_t                  **zones;
    ngx_http_monitoring_zone_t       *zone;
    ngx_http_monitoring_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_monitoring_module);
    if (mmcf == NULL) {
        return;
    }

    zones = mmcf->zones.elts;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        zone = zones[i]->data;

        /* a new nginx that never got the old one's counts writes nothing */

        if (zone->persist.len && zone->sh != NULL && !zone->sh->await_final) {
            (void) ngx_http_monitoring_snapshot_write(zone,
                                          NGX_HTTP_MONITORING_SNAP_FINAL,
                                          cycle->log);
        }
    }
}


/* a temporary file in the same directory, fsync, rename */

static ngx_int_t
ngx_http_monitoring_snapshot_write(ngx_http_monitoring_zone_t *zone,
    ngx_uint_t flags, ngx_log_t *log)
{
    u_char           *data, *tmp;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_err_t         err;
    ngx_core_conf_t  *ccf;

    data = ngx_http_monitoring_snapshot_build(zone, flags, &len, log);
    if (data == NULL) {
        return NGX_ERROR;
    }

    tmp = ngx_alloc(zone->persist.len + sizeof(".tmp.") + NGX_INT_T_LEN,
                    log);
    if (tmp == NULL) {
        ngx_free(data);
        return NGX_ERROR;
    }

    ngx_sprintf(tmp, "%V.tmp.%P%Z", &zone->persist, ngx_pid);

    /*
     * the directory is writable by the workers, and the master writes
     * too, as root: never through a file or a link someone left there
     */

    (void) ngx_delete_file(tmp);

    fd = open((char *) tmp, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600);

    if (fd == NGX_INVALID_FILE) {
        ngx_http_monitoring_persist_fail(zone, log, ngx_errno,
                                         ngx_open_file_n, &zone->persist);
        goto failed;
    }

    /* the workers read and replace what the master writes as root */

    if (geteuid() == 0) {
        ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                               ngx_core_module);

        if (ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT
            && fchown(fd, ccf->user, (gid_t) -1) == -1)
        {
            ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                          "fchown(\"%s\") failed", tmp);
        }
    }

    n = ngx_write_fd(fd, data, len);
    err = ngx_errno;

    if (n < 0 || (size_t) n != len) {
        ngx_close_file(fd);
        (void) ngx_delete_file(tmp);
        ngx_http_monitoring_persist_fail(zone, log, n < 0 ? err : NGX_ENOSPC,
                                         ngx_write_fd_n, &zone->persist);
        goto failed;
    }

    if (fsync(fd) == -1) {
        err = ngx_errno;
        ngx_close_file(fd);
        (void) ngx_delete_file(tmp);
        ngx_http_monitoring_persist_fail(zone, log, err, "fsync()",
                                         &zone->persist);
        goto failed;
    }

    ngx_close_file(fd);

    if (ngx_rename_file(tmp, zone->persist.data) == NGX_FILE_ERROR) {
        err = ngx_errno;
        (void) ngx_delete_file(tmp);
        ngx_http_monitoring_persist_fail(zone, log, err, ngx_rename_file_n,
                                         &zone->persist);
        goto failed;
    }

    ngx_free(tmp);
    ngx_free(data);

    zone->sh->persist_failed = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "monitoring snapshot \"%V\": %uz bytes",
                   &zone->persist, len);

    return NGX_OK;

failed:

    ngx_free(tmp);
    ngx_free(data);

    return NGX_ERROR;
}


/* once a minute at most: recording goes on without persistence */

static void
ngx_http_monitoring_persist_fail(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log, ngx_err_t err, const char *what, ngx_str_t *path)
{
    time_t             now;
    ngx_atomic_uint_t  last;

    now = ngx_time();
    last = zone->sh->persist_failed;

    if ((time_t) last + NGX_HTTP_MONITORING_SNAP_LOG > now
        || !ngx_atomic_cmp_set(&zone->sh->persist_failed, last,
                               (ngx_atomic_uint_t) now))
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, log, err,
                  "monitoring zone \"%V\": snapshot \"%V\" not written, "
                  "%s failed; counting goes on", &zone->name, path, what);
}


static u_char *
ngx_http_monitoring_snapshot_build(ngx_http_monitoring_zone_t *zone,
    ngx_uint_t flags, size_t *len, ngx_log_t *log)
{
    u_char                             *p;
    ngx_uint_t                          i, k, slot;
    ngx_time_t                         *tp;
    ngx_http_monitoring_sh_t           *sh;
    ngx_http_monitoring_series_t       *s;
    ngx_http_monitoring_snap_buf_t      b;
    ngx_http_monitoring_snap_zone_t    *sz;
    ngx_http_monitoring_snap_header_t  *h;

    sh = zone->sh;

    b.log = log;
    b.failed = 0;
    b.start = ngx_alloc(64 * 1024, log);

    if (b.start == NULL) {
        return NULL;
    }

    b.pos = b.start + sizeof(ngx_http_monitoring_snap_header_t);
    b.end = b.start + 64 * 1024;

    p = ngx_http_monitoring_snap_record(&b, NGX_HTTP_MONITORING_REC_ZONE,
                               sizeof(ngx_http_monitoring_snap_zone_t));
    if (p != NULL) {
        sz = (ngx_http_monitoring_snap_zone_t *) p;

        sz->dropped = sh->dropped;
        sz->restarts = sh->restarts;
        sz->start_time = sh->start_time;

        for (i = 0; i < NGX_HTTP_MONITORING_MAX_WORKERS; i++) {
            sz->workers[i] = sh->workers[i].requests;
        }

        for (k = 0; k < NGX_HTTP_MONITORING_KINDS; k++) {
            for (i = 0; i < NGX_HTTP_MONITORING_MAX_STATUS; i++) {
                sz->overflow[k][i] = sh->overflow_status[k][i];
            }
        }
    }

    /* the series are read without the lock, as a scrape reads them */

    for (slot = 0; slot <= sh->hash_mask; slot++) {
        for (s = sh->hash[slot]; s; s = s->next) {
            ngx_http_monitoring_snap_series(&b, s);
        }
    }

    for (k = 0; k < NGX_HTTP_MONITORING_KINDS; k++) {
        if (sh->overflow_used[k]) {
            ngx_http_monitoring_snap_series(&b, sh->overflow[k]);
        }
    }

    ngx_http_monitoring_snap_points(&b, zone);
    ngx_http_monitoring_snap_alerts(&b, zone);

    if (b.failed) {
        ngx_free(b.start);
        return NULL;
    }

    tp = ngx_timeofday();

    h = (ngx_http_monitoring_snap_header_t *) b.start;
    ngx_memzero(h, sizeof(ngx_http_monitoring_snap_header_t));

    ngx_memcpy(h->magic, ngx_http_monitoring_snap_magic, 8);
    h->version = NGX_HTTP_MONITORING_SNAP_VERSION;
    h->order = NGX_HTTP_MONITORING_SNAP_ORDER;
    h->instance = sh->instance;
    h->seq = ngx_atomic_fetch_add(&sh->snap_seq, 1) + 1;
    h->written = (uint64_t) tp->sec * 1000 + tp->msec;
    h->start_time = sh->start_time;
    h->size = b.pos - b.start - sizeof(ngx_http_monitoring_snap_header_t);
    h->flags = flags;
    h->layout = NGX_HTTP_MONITORING_LAYOUT;
    h->name_len = zone->name.len;
    ngx_memcpy(h->name, zone->name.data, zone->name.len);

    h->crc = ngx_crc32_long(b.start + sizeof(ngx_http_monitoring_snap_header_t),
                            h->size);

    *len = b.pos - b.start;

    return b.start;
}


static void
ngx_http_monitoring_snap_series(ngx_http_monitoring_snap_buf_t *b,
    ngx_http_monitoring_series_t *s)
{
    u_char                             *p;
    size_t                              len;
    uint64_t                           *v;
    ngx_uint_t                          i, n;
    ngx_http_monitoring_status_t       *st;
    ngx_http_monitoring_snap_series_t  *ss;

    n = 0;

    for (st = s->status; st; st = st->next) {
        n++;
    }

    len = sizeof(ngx_http_monitoring_snap_series_t)
          + ngx_align(s->bounds->n * sizeof(uint32_t), 8)
          + (s->bounds->n + 1 + 2 * n) * sizeof(uint64_t)
          + ngx_align(s->key_len, 8);

    p = ngx_http_monitoring_snap_record(b, NGX_HTTP_MONITORING_REC_SERIES,
                                        len);
    if (p == NULL) {
        return;
    }

    ss = (ngx_http_monitoring_snap_series_t *) p;

    ss->key_len = s->key_len;
    ss->nbounds = (uint8_t) s->bounds->n;
    ss->probe = s->probe;
    ss->nstatus = n;
    ss->time_sum = s->time_sum;
    ss->request_bytes = s->request_bytes;
    ss->response_bytes = s->response_bytes;
    ss->slow = s->slow;

    p += sizeof(ngx_http_monitoring_snap_series_t);
    ngx_memcpy(p, s->bounds->msec, s->bounds->n * sizeof(uint32_t));
    p += ngx_align(s->bounds->n * sizeof(uint32_t), 8);

    v = (uint64_t *) p;

    for (i = 0; i <= s->bounds->n; i++) {
        *v++ = s->bucket[i];
    }

    /* a status added meanwhile is left for the next snapshot */

    for (st = s->status; st && n; st = st->next, n--) {
        *v++ = st->status;
        *v++ = st->count;
    }

    for ( /* void */ ; n; n--) {
        *v++ = 0;
        *v++ = 0;
    }

    ngx_memcpy(v, ngx_http_monitoring_key(s), s->key_len);
}


static void
ngx_http_monitoring_snap_points(ngx_http_monitoring_snap_buf_t *b,
    ngx_http_monitoring_zone_t *zone)
{
    u_char                         *p;
    uint64_t                       *v;
    ngx_uint_t                      i, k, n, which, count;
    ngx_http_monitoring_point_t    *pt, *points;
    ngx_http_monitoring_history_t  *h;

    h = zone->sh->history;
    count = 0;

    for (i = 0; i < NGX_HTTP_MONITORING_HOUR_POINTS; i++) {
        count += (h->hour[i].epoch != 0);
    }

    for (i = 0; i < NGX_HTTP_MONITORING_DAY_POINTS; i++) {
        count += (h->day[i].epoch != 0);
    }

    p = ngx_http_monitoring_snap_record(b, NGX_HTTP_MONITORING_REC_POINTS,
                               count * (NGX_HTTP_MONITORING_POINT_VALUES + 2)
                               * sizeof(uint64_t));
    if (p == NULL) {
        return;
    }

    v = (uint64_t *) p;

    for (which = 0; which < 2; which++) {
        points = which ? h->day : h->hour;
        n = which ? NGX_HTTP_MONITORING_DAY_POINTS
                  : NGX_HTTP_MONITORING_HOUR_POINTS;

        for (i = 0; i < n && count; i++) {
            pt = &points[i];

            if (pt->epoch == 0) {
                continue;
            }

            *v++ = which;
            *v++ = i;
            *v++ = pt->epoch;

            for (k = 0; k < NGX_HTTP_MONITORING_CLASSES; k++) {
                *v++ = pt->status[k];
            }

            *v++ = pt->time_sum;
            *v++ = pt->p50;
            *v++ = pt->p95;
            *v++ = pt->p99;

            count--;
        }
    }

    /* points that appeared meanwhile left the rest of the record empty */

    while (count--) {
        ngx_memzero(v, (NGX_HTTP_MONITORING_POINT_VALUES + 2)
                       * sizeof(uint64_t));
        v[0] = 2;
        v += NGX_HTTP_MONITORING_POINT_VALUES + 2;
    }
}


/* the states of the rules, with their samples, and the webhook counters */

static void
ngx_http_monitoring_snap_alerts(ngx_http_monitoring_snap_buf_t *b,
    ngx_http_monitoring_zone_t *zone)
{
    u_char                             *p;
    size_t                              size;
    ngx_uint_t                          i;
    ngx_http_monitoring_alert_t       **rules;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_alert_state_t  *st;

    a = zone->sh->alerts;
    rules = zone->alerts.elts;

    if (a == NULL || a->generation != zone->generation
        || a->nrules != zone->alerts.nelts)
    {
        return;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < a->nrules; i++) {
        size = rules[i]->nsamples * rules[i]->nvalues * sizeof(uint64_t);

        p = ngx_http_monitoring_snap_record(b, NGX_HTTP_MONITORING_REC_ALERT,
                             sizeof(ngx_http_monitoring_alert_state_t) + size);
        if (p == NULL) {
            break;
        }

        st = (ngx_http_monitoring_alert_state_t *) p;

        ngx_memcpy(st, &a->rules[i], sizeof(ngx_http_monitoring_alert_state_t));
        ngx_memcpy(p + sizeof(ngx_http_monitoring_alert_state_t),
                   a->rules[i].samples, size);
        st->samples = NULL;
    }

    p = ngx_http_monitoring_snap_record(b, NGX_HTTP_MONITORING_REC_HOOKS,
                                        sizeof(a->hooks));
    if (p != NULL) {
        ngx_memcpy(p, a->hooks, sizeof(a->hooks));
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* room for a record of len bytes (a multiple of 8 after rounding) */

static u_char *
ngx_http_monitoring_snap_record(ngx_http_monitoring_snap_buf_t *b,
    ngx_uint_t type, size_t len)
{
    u_char                             *p;
    size_t                              size, need;
    ngx_http_monitoring_snap_record_t  *r;

    if (b->failed) {
        return NULL;
    }

    len = ngx_align(len, 8);
    need = sizeof(ngx_http_monitoring_snap_record_t) + len;

    if ((size_t) (b->end - b->pos) < need) {
        size = ngx_max(2 * (size_t) (b->end - b->start),
                       (size_t) (b->pos - b->start) + need);

        p = ngx_alloc(size, b->log);
        if (p == NULL) {
            b->failed = 1;
            return NULL;
        }

        ngx_memcpy(p, b->start, b->pos - b->start);

        b->pos = p + (b->pos - b->start);
        b->end = p + size;

        ngx_free(b->start);
        b->start = p;
    }

    r = (ngx_http_monitoring_snap_record_t *) b->pos;
    r->type = type;
    r->len = len;

    p = b->pos + sizeof(ngx_http_monitoring_snap_record_t);
    ngx_memzero(p, len);

    b->pos = p + len;

    return p;
}


/* at the start: a directory that cannot be written is said at once */

ngx_int_t
ngx_http_monitoring_persist_check(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log)
{
    u_char    *p, *dir;
    ngx_err_t  err;

    if (zone->persist.len == 0 || ngx_test_config) {
        return NGX_OK;
    }

    dir = ngx_alloc(zone->persist.len + 1, log);
    if (dir == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dir, zone->persist.data, zone->persist.len + 1);

    p = (u_char *) strrchr((char *) dir, '/');

    if (p != NULL) {
        *(p == dir ? p + 1 : p) = '\0';

        if (access((char *) dir, W_OK) == -1) {
            err = ngx_errno;

            ngx_log_error(NGX_LOG_ERR, log, err,
                          "monitoring zone \"%V\": snapshots cannot be "
                          "written into \"%s\"; counting goes on without "
                          "them", &zone->name, dir);
        }
    }

    ngx_free(dir);

    return NGX_OK;
}
