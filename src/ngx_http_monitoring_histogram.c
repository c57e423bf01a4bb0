
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


static double ngx_http_monitoring_fine_value(ngx_uint_t i);


/*
 * The fine histogram: one bucket per millisecond below 64 ms, then 32
 * buckets per power of two, each 1/32 of its lower bound wide; a value
 * reported as the middle of its bucket is within 1/64 (1.6%) of the
 * truth.
 */

ngx_uint_t
ngx_http_monitoring_fine_index(ngx_msec_t ms)
{
    ngx_uint_t  octave;

    if (ms < NGX_HTTP_MONITORING_FINE_LINEAR) {
        return ms;
    }

    /* 2^6 = NGX_HTTP_MONITORING_FINE_LINEAR */

    for (octave = 6; octave < 6 + NGX_HTTP_MONITORING_FINE_OCTAVES; octave++)
    {
        if ((ms >> (octave + 1)) == 0) {
            return NGX_HTTP_MONITORING_FINE_LINEAR
                   + (octave - 6) * NGX_HTTP_MONITORING_FINE_SUB
                   + ((ms >> (octave - 5))
                      & (NGX_HTTP_MONITORING_FINE_SUB - 1));
        }
    }

    return NGX_HTTP_MONITORING_FINE_BUCKETS - 1;
}


static double
ngx_http_monitoring_fine_value(ngx_uint_t i)
{
    ngx_uint_t  octave, sub;

    if (i < NGX_HTTP_MONITORING_FINE_LINEAR) {
        return (double) i;
    }

    i -= NGX_HTTP_MONITORING_FINE_LINEAR;
    octave = 6 + i / NGX_HTTP_MONITORING_FINE_SUB;
    sub = i % NGX_HTTP_MONITORING_FINE_SUB;

    /* the middle of [lower, lower + width) */

    return (double) ((NGX_HTTP_MONITORING_FINE_SUB + sub) << (octave - 5))
           + (double) ((ngx_uint_t) 1 << (octave - 5)) / 2;
}


/* the value below which a share q of the requests fall, or -1 */

double
ngx_http_monitoring_fine_quantile(uint64_t *bucket, uint64_t total, double q)
{
    uint64_t    rank, seen;
    ngx_uint_t  i, last;

    if (total == 0) {
        return -1;
    }

    /* the rank of the quantile, as nearest-rank: ceil(q * total) */

    rank = (uint64_t) (q * total);

    if ((double) rank < q * total) {
        rank++;
    }

    if (rank == 0) {
        rank = 1;
    }

    seen = 0;
    last = 0;

    for (i = 0; i < NGX_HTTP_MONITORING_FINE_BUCKETS; i++) {
        if (bucket[i] == 0) {
            continue;
        }

        seen += bucket[i];
        last = i;

        if (seen >= rank) {
            return ngx_http_monitoring_fine_value(i);
        }
    }

    /* never beyond the slowest request seen */

    return seen ? ngx_http_monitoring_fine_value(last) : -1;
}


/*
 * a quantile from Prometheus buckets, interpolated within the bucket as
 * histogram_quantile() does; the +Inf bucket reports the highest bound
 */

double
ngx_http_monitoring_bucket_quantile(ngx_http_monitoring_bounds_t *b,
    double *bucket, double q)
{
    double      rank, seen, lower, total;
    ngx_uint_t  i;

    total = 0;

    for (i = 0; i <= b->n; i++) {
        total += bucket[i];
    }

    if (total == 0) {
        return -1;
    }

    rank = q * total;
    seen = 0;
    lower = 0;

    for (i = 0; i < b->n; i++) {
        if (seen + bucket[i] >= rank && bucket[i] > 0) {
            return lower + (b->msec[i] - lower) * (rank - seen) / bucket[i];
        }

        seen += bucket[i];
        lower = b->msec[i];
    }

    return b->n ? (double) b->msec[b->n - 1] : -1;
}
