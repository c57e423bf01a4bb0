
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


static void ngx_http_monitoring_size_changed(ngx_shm_zone_t *shm_zone);
static void ngx_http_monitoring_buckets_changed(
    ngx_http_monitoring_zone_t *zone, ngx_log_t *log);
static void *ngx_http_monitoring_alloc_locked(ngx_http_monitoring_zone_t *zone,
    size_t size);
static ngx_http_monitoring_bounds_t *ngx_http_monitoring_bounds_locked(
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_bounds_t *conf);
static ngx_http_monitoring_series_t *ngx_http_monitoring_series_alloc_locked(
    ngx_http_monitoring_zone_t *zone, u_char *key, size_t len,
    ngx_http_monitoring_bounds_t *bounds);
static ngx_http_monitoring_series_t *ngx_http_monitoring_overflow(
    ngx_http_monitoring_zone_t *zone, ngx_uint_t kind, ngx_log_t *log);


/* the names of the fixed parts of a key, by kind */

static ngx_str_t  ngx_http_monitoring_request_names[] = {
    ngx_string("server"),
    ngx_string("endpoint"),
    ngx_string("method"),
    ngx_null_string
};


static ngx_str_t  ngx_http_monitoring_upstream_names[] = {
    ngx_string("upstream"),
    ngx_string("peer"),
    ngx_null_string
};


static ngx_str_t  *ngx_http_monitoring_names[] = {
    ngx_http_monitoring_request_names,
    ngx_http_monitoring_upstream_names
};


static ngx_str_t  ngx_http_monitoring_overflow_labels[] = {
    ngx_string("server=\"\",endpoint=\"__overflow__\",method=\"\""),
    ngx_string("upstream=\"__overflow__\",peer=\"\"")
};


ngx_int_t
ngx_http_monitoring_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_monitoring_zone_t  *ozone = data;

    size_t                         len;
    u_char                         kind;
    ngx_uint_t                     n;
    ngx_slab_pool_t               *shpool;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_zone_t    *zone;
    ngx_http_monitoring_bounds_t  *bounds;

    zone = shm_zone->data;

    if (ozone != NULL) {
        if (ozone->sh->layout != NGX_HTTP_MONITORING_LAYOUT) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "monitoring zone \"%V\" was created by an "
                          "incompatible module version, change its size "
                          "or restart nginx", &shm_zone->shm.name);
            return NGX_ERROR;
        }

        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        zone->generation = ++zone->sh->generation;

        ngx_http_monitoring_buckets_changed(zone, shm_zone->shm.log);

        return ngx_http_monitoring_alerts_init_zone(zone, shm_zone->shm.log);
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = shpool->data;
        zone->shpool = shpool;
        zone->generation = ++zone->sh->generation;

        return ngx_http_monitoring_alerts_init_zone(zone, shm_zone->shm.log);
    }

    zone->shpool = shpool;

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_monitoring_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    zone->sh = sh;
    shpool->data = sh;

    /* about one hash chain per KiB of zone: chains stay a few nodes long */

    for (n = 64; n < shm_zone->shm.size / 1024; n <<= 1) { /* void */ }

    sh->hash = ngx_slab_calloc(shpool,
                               n * sizeof(ngx_http_monitoring_series_t *));
    if (sh->hash == NULL) {
        return NGX_ERROR;
    }

    sh->history = ngx_slab_calloc(shpool,
                                  sizeof(ngx_http_monitoring_history_t));
    if (sh->history == NULL) {
        return NGX_ERROR;
    }

    /* nothing to sum for the time before the zone existed */

    sh->history->open = ngx_time() / NGX_HTTP_MONITORING_SLOT;
    sh->history->day_last = sh->history->open
                            / (NGX_HTTP_MONITORING_DAY_STEP
                               / NGX_HTTP_MONITORING_SLOT) - 1;

    sh->hash_mask = n - 1;
    sh->layout = NGX_HTTP_MONITORING_LAYOUT;
    sh->start_time = (ngx_atomic_uint_t) ngx_time();

    len = sizeof(" in monitoring zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in monitoring zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is reported by the module, once a minute */

    shpool->log_nomem = 0;

    ngx_shmtx_lock(&shpool->mutex);

    /* the bounds of shared series live in the zone too */

    bounds = ngx_http_monitoring_bounds_locked(zone,
                                         ngx_http_monitoring_default_bounds);

    for (kind = 0; kind < NGX_HTTP_MONITORING_KINDS; kind++) {
        sh->overflow[kind] = (bounds == NULL) ? NULL
                             : ngx_http_monitoring_series_alloc_locked(zone,
                                                          &kind, 1, bounds);

        if (sh->overflow[kind] == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return NGX_ERROR;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    sh->generation = 1;
    zone->generation = 1;

    ngx_http_monitoring_size_changed(shm_zone);

    if (ngx_http_monitoring_alerts_init_zone(zone, shm_zone->shm.log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a snapshot fills a zone made at the start, not at a resize */

    if (ngx_is_init_cycle(ngx_cycle)) {
        return ngx_http_monitoring_persist_restore(zone, shm_zone->shm.log);
    }

    return NGX_OK;
}


/*
 * a reload with another bucket list keeps every count: the series
 * recorded so far keep their buckets, new series get the new ones
 */

static void
ngx_http_monitoring_buckets_changed(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log)
{
    ngx_uint_t                      i;
    ngx_http_monitoring_bounds_t   *b, **conf;

    if (zone->sh->nseries == 0) {
        return;
    }

    conf = zone->mmcf->lists.elts;

    for (i = 0; i < zone->mmcf->lists.nelts; i++) {

        for (b = zone->sh->bounds; b; b = b->next) {
            if (b->n == conf[i]->n
                && ngx_memcmp(b->msec, conf[i]->msec,
                              b->n * sizeof(uint32_t))
                   == 0)
            {
                break;
            }
        }

        if (b == NULL) {
            break;
        }
    }

    if (i == zone->mmcf->lists.nelts) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "monitoring zone \"%V\": new bucket list; the %uA series "
                  "recorded so far keep their buckets and counts, new "
                  "series get the new buckets", &zone->name,
                  zone->sh->nseries);
}


/* ngx_cycle is still the previous cycle while the new one is initialized */

static void
ngx_http_monitoring_size_changed(ngx_shm_zone_t *shm_zone)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *ozone;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    ozone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return;
            }

            part = part->next;
            ozone = part->elts;
            i = 0;
        }

        if (ozone[i].tag != shm_zone->tag
            || ozone[i].shm.name.len != shm_zone->shm.name.len
            || ngx_strncmp(ozone[i].shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len)
               != 0)
        {
            continue;
        }

        if (ozone[i].shm.size != shm_zone->shm.size) {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "monitoring zone \"%V\" size changed from %uz "
                          "to %uz, its counters start afresh",
                          &shm_zone->shm.name, ozone[i].shm.size,
                          shm_zone->shm.size);
        }

        return;
    }
}


/*
 * A worker that takes a slot last filled in the same configuration
 * generation replaces a worker that died: the master respawned it.
 */

void
ngx_http_monitoring_register_worker(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log)
{
    ngx_http_monitoring_worker_t  *w;

    if (ngx_worker >= NGX_HTTP_MONITORING_MAX_WORKERS) {
        return;
    }

    w = &zone->sh->workers[ngx_worker];

    if (w->generation == zone->generation
        && w->pid != 0
        && w->pid != (ngx_atomic_uint_t) ngx_pid)
    {
        (void) ngx_atomic_fetch_add(&zone->sh->restarts, 1);

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "monitoring zone \"%V\": worker %ui replaced "
                      "worker process %uA", &zone->name, ngx_worker,
                      w->pid);
    }

    w->pid = ngx_pid;
    w->generation = zone->generation;
}


ngx_http_monitoring_series_t *
ngx_http_monitoring_series_get(ngx_http_monitoring_zone_t *zone, u_char *key,
    size_t len, ngx_http_monitoring_bounds_t *bounds, ngx_log_t *log)
{
    uint32_t                        hash;
    ngx_http_monitoring_sh_t       *sh;
    ngx_http_monitoring_series_t   *s, **slot;
    ngx_http_monitoring_bounds_t   *b;

    sh = zone->sh;
    hash = ngx_murmur_hash2(key, len);
    slot = &sh->hash[hash & sh->hash_mask];

    /* lock-free: nodes are published fully built and never freed */

    for (s = *slot; s; s = s->next) {
        if (s->hash == hash
            && s->key_len == len
            && ngx_memcmp(ngx_http_monitoring_key(s), key, len) == 0)
        {
            return s;
        }
    }

    /* a full zone stays full: nodes are never freed */

    if (sh->full || (zone->max_series && sh->nseries >= zone->max_series)) {
        return ngx_http_monitoring_overflow(zone, key[0], log);
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* another worker may have added it meanwhile */

    for (s = *slot; s; s = s->next) {
        if (s->hash == hash
            && s->key_len == len
            && ngx_memcmp(ngx_http_monitoring_key(s), key, len) == 0)
        {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return s;
        }
    }

    s = NULL;

    if (zone->max_series == 0 || sh->nseries < zone->max_series) {
        b = ngx_http_monitoring_bounds_locked(zone, bounds);

        if (b != NULL) {
            s = ngx_http_monitoring_series_alloc_locked(zone, key, len, b);
        }
    }

    if (s == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return ngx_http_monitoring_overflow(zone, key[0], log);
    }

    s->hash = hash;
    s->next = *slot;

    ngx_memory_barrier();

    *slot = s;

    (void) ngx_atomic_fetch_add(&sh->nseries, 1);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return s;
}


void
ngx_http_monitoring_status_add(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s, ngx_uint_t status, ngx_uint_t n,
    ngx_log_t *log)
{
    ngx_uint_t                     kind;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_status_t  *st;

    for (st = s->status; st; st = st->next) {
        if (st->status == status) {
            (void) ngx_atomic_fetch_add(&st->count, n);
            return;
        }
    }

    sh = zone->sh;
    kind = ngx_http_monitoring_kind(s);

    if (s != sh->overflow[kind] && !sh->full) {
        ngx_shmtx_lock(&zone->shpool->mutex);

        for (st = s->status; st; st = st->next) {
            if (st->status == status) {
                ngx_shmtx_unlock(&zone->shpool->mutex);
                (void) ngx_atomic_fetch_add(&st->count, n);
                return;
            }
        }

        st = ngx_http_monitoring_alloc_locked(zone,
                                        sizeof(ngx_http_monitoring_status_t));

        if (st != NULL) {
            st->status = status;
            st->count = n;
            st->next = s->status;

            ngx_memory_barrier();

            s->status = st;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        if (st != NULL) {
            return;
        }
    }

    if (s != sh->overflow[kind]) {
        (void) ngx_http_monitoring_overflow(zone, kind, log);
    }

    if (status >= NGX_HTTP_MONITORING_MAX_STATUS) {
        status = 0;
    }

    (void) ngx_atomic_fetch_add(&sh->overflow_status[kind][status], n);
}


ngx_str_t *
ngx_http_monitoring_label_names(ngx_uint_t kind)
{
    return ngx_http_monitoring_names[kind];
}


/* zone memory in use: slab pages taken, less the unused end of the chunk */

size_t
ngx_http_monitoring_zone_used(ngx_http_monitoring_zone_t *zone)
{
    size_t            size, free;
    ngx_slab_pool_t  *shpool;

    shpool = zone->shpool;
    size = zone->shm_zone->shm.size;
    free = shpool->pfree * ngx_pagesize + zone->sh->chunk_free;

    return (free < size) ? size - free : 0;
}


static ngx_http_monitoring_series_t *
ngx_http_monitoring_overflow(ngx_http_monitoring_zone_t *zone,
    ngx_uint_t kind, ngx_log_t *log)
{
    time_t                     now;
    ngx_atomic_uint_t          last;
    ngx_http_monitoring_sh_t  *sh;

    sh = zone->sh;

    (void) ngx_atomic_fetch_add(&sh->dropped, 1);

    if (sh->overflow_used[kind] == 0) {
        sh->overflow_used[kind] = 1;
    }

    now = ngx_time();
    last = sh->full_logged;

    if ((time_t) last + NGX_HTTP_MONITORING_LOG_INTERVAL <= now
        && ngx_atomic_cmp_set(&sh->full_logged, last, (ngx_atomic_uint_t) now))
    {
        if (!sh->full
            && zone->max_series && sh->nseries >= zone->max_series)
        {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "monitoring zone \"%V\" is full: max_series=%ui "
                          "reached, new series are counted as "
                          "\"__overflow__\"", &zone->name, zone->max_series);

        } else {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "monitoring zone \"%V\" is full: no memory left, "
                          "new series are counted as \"__overflow__\"",
                          &zone->name);
        }
    }

    return sh->overflow[kind];
}


static void *
ngx_http_monitoring_alloc_locked(ngx_http_monitoring_zone_t *zone,
    size_t size)
{
    u_char                    *p;
    ngx_http_monitoring_sh_t  *sh;

    sh = zone->sh;
    size = ngx_align(size, sizeof(ngx_atomic_t));

    /*
     * chunk_free never claims more than is left: a worker killed at any
     * point here leaves at worst some unused bytes
     */

    if (size > sh->chunk_free) {

        /* series are carved from chunks to avoid slab's power of 2 sizes */

        p = ngx_slab_alloc_locked(zone->shpool,
                                  NGX_HTTP_MONITORING_CHUNK_SIZE);
        if (p == NULL) {
            p = ngx_slab_calloc_locked(zone->shpool, size);

            if (p == NULL) {
                sh->full = 1;
            }

            return p;
        }

        ngx_memzero(p, NGX_HTTP_MONITORING_CHUNK_SIZE);

        sh->chunk_free = 0;
        ngx_memory_barrier();
        sh->chunk = p;
        ngx_memory_barrier();
        sh->chunk_free = NGX_HTTP_MONITORING_CHUNK_SIZE;
    }

    p = sh->chunk;

    sh->chunk_free -= size;
    ngx_memory_barrier();
    sh->chunk += size;

    return p;
}


static ngx_http_monitoring_bounds_t *
ngx_http_monitoring_bounds_locked(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_bounds_t *conf)
{
    size_t                         size;
    ngx_http_monitoring_bounds_t  *b;

    size = conf->n * sizeof(uint32_t);

    for (b = zone->sh->bounds; b; b = b->next) {
        if (b->n == conf->n && ngx_memcmp(b->msec, conf->msec, size) == 0) {
            return b;
        }
    }

    b = ngx_http_monitoring_alloc_locked(zone,
                                  sizeof(ngx_http_monitoring_bounds_t) + size);
    if (b == NULL) {
        return NULL;
    }

    b->n = conf->n;
    ngx_memcpy(b->msec, conf->msec, size);

    b->next = zone->sh->bounds;
    zone->sh->bounds = b;

    return b;
}


/*
 * The key is the kind byte, then parts of a length byte and the bytes:
 * the values of the kind's fixed labels, then name and value pairs of
 * the custom labels.  The labels are rendered from it once, here,
 * escaped for Prometheus.
 */

static ngx_http_monitoring_series_t *
ngx_http_monitoring_series_alloc_locked(ngx_http_monitoring_zone_t *zone,
    u_char *key, size_t len, ngx_http_monitoring_bounds_t *bounds)
{
    size_t                         size, labels;
    u_char                        *p, *k, *last;
    ngx_str_t                     *names, *fixed, name;
    ngx_http_monitoring_series_t  *s;

    names = ngx_http_monitoring_names[key[0]];

    if (len == 1) {
        labels = ngx_http_monitoring_overflow_labels[key[0]].len;

    } else {
        labels = 0;
        fixed = names;
        k = key + 1;
        last = key + len;

        while (k < last) {
            if (fixed->len) {
                labels += fixed->len;
                fixed++;

            } else {
                labels += *k;
                k += 1 + *k;
            }

            labels += sizeof("=\"\",") - 1
                      + ngx_http_monitoring_escape(NULL, k + 1, *k);
            k += 1 + *k;
        }

        labels--;
    }

    /* the buckets, two window halves (minute, errors, buckets), the key */

    size = offsetof(ngx_http_monitoring_series_t, bucket)
           + (bounds->n + 1 + 2 * (bounds->n + 3)) * sizeof(ngx_atomic_t)
           + len + labels;

    s = ngx_http_monitoring_alloc_locked(zone, size);
    if (s == NULL) {
        return NULL;
    }

    s->bounds = bounds;
    s->key_len = (uint16_t) len;
    s->labels_len = (uint16_t) labels;

    p = ngx_cpymem(ngx_http_monitoring_key(s), key, len);
    s->labels = p;

    if (len == 1) {
        ngx_memcpy(p, ngx_http_monitoring_overflow_labels[key[0]].data,
                   labels);
        return s;
    }

    fixed = names;
    k = key + 1;
    last = key + len;

    while (k < last) {
        if (p != s->labels) {
            *p++ = ',';
        }

        if (fixed->len) {
            name = *fixed++;

        } else {
            name.len = *k;
            name.data = k + 1;
            k += 1 + *k;
        }

        p = ngx_cpymem(p, name.data, name.len);
        *p++ = '=';
        *p++ = '"';
        p += ngx_http_monitoring_escape(p, k + 1, *k);
        *p++ = '"';

        k += 1 + *k;
    }

    return s;
}


/* Prometheus label value escaping; the input is valid UTF-8 already */

size_t
ngx_http_monitoring_escape(u_char *dst, u_char *src, size_t len)
{
    size_t   n;
    u_char  *last;

    last = src + len;

    if (dst == NULL) {
        n = len;

        while (src < last) {
            if (*src == '\\' || *src == '"' || *src == '\n') {
                n++;
            }

            src++;
        }

        return n;
    }

    n = 0;

    while (src < last) {
        switch (*src) {

        case '\\':
        case '"':
            dst[n++] = '\\';
            dst[n++] = *src;
            break;

        case '\n':
            dst[n++] = '\\';
            dst[n++] = 'n';
            break;

        default:
            dst[n++] = *src;
        }

        src++;
    }

    return n;
}
