
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


static void ngx_http_monitoring_close_slot(ngx_http_monitoring_history_t *h,
    ngx_uint_t epoch);
static void ngx_http_monitoring_sum_days(ngx_http_monitoring_history_t *h,
    ngx_uint_t epoch);


/*
 * A request in the zone's ring: its latency in the fine histogram of the
 * current 10 second slot, its status class and time in the slot's point.
 * Slots are opened under the slab mutex, once per slot and zone.
 */

void
ngx_http_monitoring_history_record(ngx_http_monitoring_zone_t *zone,
    ngx_msec_t ms, ngx_uint_t status, time_t now)
{
    ngx_uint_t                      epoch, class;
    ngx_http_monitoring_fine_t     *f;
    ngx_http_monitoring_point_t    *p;
    ngx_http_monitoring_history_t  *h;

    h = zone->sh->history;
    epoch = now / NGX_HTTP_MONITORING_SLOT;

    f = &h->fine[epoch % NGX_HTTP_MONITORING_FINE_SLOTS];
    p = &h->hour[epoch % NGX_HTTP_MONITORING_HOUR_POINTS];

    if (f->epoch != epoch || p->epoch != epoch) {
        ngx_http_monitoring_history_roll(zone, now);

        if (f->epoch != epoch || p->epoch != epoch) {
            return;
        }
    }

    class = status / 100;

    if (class < 1 || class > 5) {
        class = 0;
    }

    (void) ngx_atomic_fetch_add(&f->bucket[ngx_http_monitoring_fine_index(ms)],
                                1);
    (void) ngx_atomic_fetch_add(&p->status[class], 1);
    (void) ngx_atomic_fetch_add(&p->time_sum, ms);
}


/*
 * Opens the slot of "now": the slot open before is closed (its
 * percentiles are kept in its point), the day points of the periods
 * that ended are summed from the hour points, and the ring entries of
 * the new slot are cleared.  Also called by readers, so that a quiet
 * zone is closed too.
 */

void
ngx_http_monitoring_history_roll(ngx_http_monitoring_zone_t *zone,
    time_t now)
{
    ngx_uint_t                      epoch;
    ngx_http_monitoring_fine_t     *f;
    ngx_http_monitoring_point_t    *p;
    ngx_http_monitoring_history_t  *h;

    h = zone->sh->history;
    epoch = now / NGX_HTTP_MONITORING_SLOT;

    f = &h->fine[epoch % NGX_HTTP_MONITORING_FINE_SLOTS];
    p = &h->hour[epoch % NGX_HTTP_MONITORING_HOUR_POINTS];

    if (f->epoch == epoch && p->epoch == epoch) {
        return;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (h->open < epoch) {
        ngx_http_monitoring_close_slot(h, h->open);
        ngx_http_monitoring_sum_days(h, epoch);

    } else if (h->open > epoch) {

        /* the clock was set back: go on from now */

        h->open = epoch;
    }

    if (p->epoch != epoch) {
        ngx_memzero((u_char *) p + sizeof(ngx_atomic_t),
                    sizeof(ngx_http_monitoring_point_t)
                    - sizeof(ngx_atomic_t));
        ngx_memory_barrier();
        p->epoch = epoch;
    }

    if (f->epoch != epoch) {
        ngx_memzero((u_char *) f->bucket, sizeof(f->bucket));
        ngx_memory_barrier();
        f->epoch = epoch;
    }

    if (h->open < epoch) {
        h->open = epoch;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static void
ngx_http_monitoring_close_slot(ngx_http_monitoring_history_t *h,
    ngx_uint_t epoch)
{
    uint64_t                      total;
    uint64_t                      bucket[NGX_HTTP_MONITORING_FINE_BUCKETS];
    ngx_uint_t                    i;
    ngx_http_monitoring_fine_t   *f;
    ngx_http_monitoring_point_t  *p;

    f = &h->fine[epoch % NGX_HTTP_MONITORING_FINE_SLOTS];
    p = &h->hour[epoch % NGX_HTTP_MONITORING_HOUR_POINTS];

    if (f->epoch != epoch || p->epoch != epoch) {
        return;
    }

    total = 0;

    for (i = 0; i < NGX_HTTP_MONITORING_FINE_BUCKETS; i++) {
        bucket[i] = f->bucket[i];
        total += bucket[i];
    }

    if (total == 0) {
        return;
    }

    /* in microseconds: the middle of a bucket may be a half millisecond */

    p->p50 = (ngx_atomic_uint_t)
             (1000 * ngx_http_monitoring_fine_quantile(bucket, total, 0.50));
    p->p95 = (ngx_atomic_uint_t)
             (1000 * ngx_http_monitoring_fine_quantile(bucket, total, 0.95));
    p->p99 = (ngx_atomic_uint_t)
             (1000 * ngx_http_monitoring_fine_quantile(bucket, total, 0.99));
}


/*
 * a day point (5 minutes) sums the hour points of its period; its
 * percentiles are the request-weighted means of theirs, an approximation
 * good enough for a chart
 */

static void
ngx_http_monitoring_sum_days(ngx_http_monitoring_history_t *h,
    ngx_uint_t epoch)
{
    double                        p50, p95, p99;
    uint64_t                      n, total;
    ngx_uint_t                    q, e, i, per, current, first;
    ngx_http_monitoring_point_t  *d, *p;

    per = NGX_HTTP_MONITORING_DAY_STEP / NGX_HTTP_MONITORING_SLOT;
    current = epoch / per;

    /* the periods whose points are still in the hour ring */

    first = (epoch - NGX_HTTP_MONITORING_HOUR_POINTS + 1) / per;

    if (h->day_last + 1 > first) {
        first = h->day_last + 1;
    }

    for (q = first; q < current; q++) {
        d = &h->day[q % NGX_HTTP_MONITORING_DAY_POINTS];

        ngx_memzero(d, sizeof(ngx_http_monitoring_point_t));

        total = 0;
        p50 = 0;
        p95 = 0;
        p99 = 0;

        for (e = q * per; e < (q + 1) * per; e++) {
            p = &h->hour[e % NGX_HTTP_MONITORING_HOUR_POINTS];

            if (p->epoch != e) {
                continue;
            }

            n = 0;

            for (i = 0; i < NGX_HTTP_MONITORING_CLASSES; i++) {
                d->status[i] += p->status[i];
                n += p->status[i];
            }

            d->time_sum += p->time_sum;

            total += n;
            p50 += (double) n * p->p50;
            p95 += (double) n * p->p95;
            p99 += (double) n * p->p99;
        }

        if (total) {
            d->p50 = (ngx_atomic_uint_t) (p50 / total);
            d->p95 = (ngx_atomic_uint_t) (p95 / total);
            d->p99 = (ngx_atomic_uint_t) (p99 / total);
        }

        ngx_memory_barrier();

        d->epoch = q;
    }

    if (current > 0 && h->day_last < current - 1) {
        h->day_last = current - 1;
    }
}


/*
 * the statistics of the last "seconds" (at most a minute): the slots
 * that cover them, the current one included, so that the window holds
 * between "seconds" and "seconds" + 10 of data
 */

void
ngx_http_monitoring_window(ngx_http_monitoring_zone_t *zone,
    ngx_uint_t seconds, ngx_http_monitoring_window_t *w)
{
    double                          started;
    ngx_uint_t                      epoch, e, k, i;
    ngx_time_t                     *tp;
    ngx_http_monitoring_fine_t     *f;
    ngx_http_monitoring_point_t    *p;
    ngx_http_monitoring_history_t  *h;

    ngx_memzero(w, sizeof(ngx_http_monitoring_window_t));

    tp = ngx_timeofday();

    ngx_http_monitoring_history_roll(zone, tp->sec);

    h = zone->sh->history;
    epoch = tp->sec / NGX_HTTP_MONITORING_SLOT;
    k = seconds / NGX_HTTP_MONITORING_SLOT;

    /*
     * a request adds to its fine bucket before its point: reading the
     * point first, a slot never has more requests than latencies
     */

    for (e = epoch - k; e <= epoch; e++) {
        f = &h->fine[e % NGX_HTTP_MONITORING_FINE_SLOTS];
        p = &h->hour[e % NGX_HTTP_MONITORING_HOUR_POINTS];

        if (p->epoch != e || f->epoch != e) {
            continue;
        }

        for (i = 0; i < NGX_HTTP_MONITORING_CLASSES; i++) {
            w->status[i] += p->status[i];
            w->requests += p->status[i];
        }

        w->time_sum += p->time_sum;

        for (i = 0; i < NGX_HTTP_MONITORING_FINE_BUCKETS; i++) {
            w->fine[i] += f->bucket[i];
            w->latencies += f->bucket[i];
        }
    }

    w->seconds = seconds;
    w->covered = (double) k * NGX_HTTP_MONITORING_SLOT
                 + tp->sec % NGX_HTTP_MONITORING_SLOT + tp->msec / 1000.0;

    /* a zone younger than the window */

    started = (double) tp->sec - (double) zone->sh->start_time
              + tp->msec / 1000.0;

    if (w->covered > started) {
        w->covered = ngx_max(started, 1.0);
    }
}


/*
 * Per series, two halves of per-bucket counts, each a minute long, the
 * current one and the one before: enough for the rates and the p95 of
 * the endpoint tables.  A half is cleared by the worker that claims it
 * for a new minute; requests counted meanwhile by others may be lost,
 * which is fine for these tables (the counters stay exact).
 */

void
ngx_http_monitoring_half_record(ngx_http_monitoring_series_t *s, ngx_uint_t i,
    ngx_uint_t status, time_t now)
{
    ngx_uint_t         minute, n;
    ngx_atomic_t      *half;
    ngx_atomic_uint_t  old;

    minute = now / NGX_HTTP_MONITORING_HALF;
    half = ngx_http_monitoring_half(s, minute & 1);

    old = half[0];

    if (old != minute) {

        /*
         * "minute + 1" marks a half being cleared: readers never take it
         * for a minute of theirs, other writers leave it alone
         */

        if (old == minute + 1
            || !ngx_atomic_cmp_set(&half[0], old, minute + 1))
        {
            return;
        }

        n = s->bounds->n;

        ngx_memzero((u_char *) &half[1], (n + 2) * sizeof(ngx_atomic_t));
        ngx_memory_barrier();

        half[0] = minute;
    }

    (void) ngx_atomic_fetch_add(&half[2 + i], 1);

    if (status >= 500) {
        (void) ngx_atomic_fetch_add(&half[1], 1);
    }
}


/* the last minute of a series, sliding: the previous half weighted */

void
ngx_http_monitoring_series_window(ngx_http_monitoring_series_t *s,
    double *rps, double *error_rate, double *p95)
{
    double         weight, total, errors;
    double         bucket[NGX_HTTP_MONITORING_MAX_BUCKETS + 1];
    ngx_uint_t     minute, i, n, h;
    ngx_time_t    *tp;
    ngx_atomic_t  *half;

    tp = ngx_timeofday();
    minute = tp->sec / NGX_HTTP_MONITORING_HALF;
    n = ngx_min(s->bounds->n, NGX_HTTP_MONITORING_MAX_BUCKETS);

    total = 0;
    errors = 0;

    for (i = 0; i <= n; i++) {
        bucket[i] = 0;
    }

    for (h = 0; h < 2; h++) {
        half = ngx_http_monitoring_half(s, (minute - h) & 1);

        if (half[0] != minute - h) {
            continue;
        }

        weight = h ? 1.0 - (tp->sec % NGX_HTTP_MONITORING_HALF
                            + tp->msec / 1000.0)
                           / NGX_HTTP_MONITORING_HALF
                   : 1.0;

        for (i = 0; i <= n; i++) {
            bucket[i] += weight * half[2 + i];
            total += weight * half[2 + i];
        }

        errors += weight * half[1];
    }

    *rps = total / NGX_HTTP_MONITORING_HALF;
    *error_rate = total ? errors / total : 0;
    *p95 = ngx_http_monitoring_bucket_quantile(s->bounds, bucket, 0.95);
}
