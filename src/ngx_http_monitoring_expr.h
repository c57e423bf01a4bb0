
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#ifndef _NGX_HTTP_MONITORING_EXPR_H_INCLUDED_
#define _NGX_HTTP_MONITORING_EXPR_H_INCLUDED_


/*
 * The alert expression language: "METRIC OP NUMBER[UNIT]".  The parser
 * needs nothing of nginx at run time, so it can be fuzzed on its own.
 */

#include <stddef.h>


typedef enum {
    NGX_HTTP_MONITORING_EXPR_ERROR_RATE = 0,
    NGX_HTTP_MONITORING_EXPR_RPS,
    NGX_HTTP_MONITORING_EXPR_QUANTILE,
    NGX_HTTP_MONITORING_EXPR_MEAN,
    NGX_HTTP_MONITORING_EXPR_COUNT,
    NGX_HTTP_MONITORING_EXPR_RATE,
    NGX_HTTP_MONITORING_EXPR_RATIO
} ngx_http_monitoring_expr_metric_e;


typedef enum {
    NGX_HTTP_MONITORING_EXPR_GT = 0,
    NGX_HTTP_MONITORING_EXPR_GE,
    NGX_HTTP_MONITORING_EXPR_LT,
    NGX_HTTP_MONITORING_EXPR_LE,
    NGX_HTTP_MONITORING_EXPR_EQ,
    NGX_HTTP_MONITORING_EXPR_NE
} ngx_http_monitoring_expr_op_e;


/* what a value is measured in, for the API and the dashboard */

typedef enum {
    NGX_HTTP_MONITORING_EXPR_RATIO_UNIT = 0,   /* a fraction, 0..1 */
    NGX_HTTP_MONITORING_EXPR_PER_SECOND,
    NGX_HTTP_MONITORING_EXPR_MSEC,
    NGX_HTTP_MONITORING_EXPR_COUNT_UNIT
} ngx_http_monitoring_expr_unit_e;


typedef struct {
    ngx_http_monitoring_expr_metric_e   metric;
    ngx_http_monitoring_expr_op_e       op;
    ngx_http_monitoring_expr_unit_e     unit;

    /* p95: 0.95 */
    double                              quantile;

    /* count(), rate(), ratio(): 500..599 for 5xx, 429..429 for 429 */
    unsigned                            status_lo;
    unsigned                            status_hi;

    /* in the metric's unit: a fraction, per second, milliseconds, count */
    double                              threshold;
} ngx_http_monitoring_expr_t;


/* the reason and the offending token of a parse error */

typedef struct {
    const char                         *reason;
    size_t                              pos;
    size_t                              len;
} ngx_http_monitoring_expr_error_t;


int ngx_http_monitoring_expr_parse(const unsigned char *text, size_t len,
    ngx_http_monitoring_expr_t *expr, ngx_http_monitoring_expr_error_t *err);
int ngx_http_monitoring_expr_holds(const ngx_http_monitoring_expr_t *expr,
    double value);
size_t ngx_http_monitoring_expr_print(const ngx_http_monitoring_expr_t *expr,
    char *buf, size_t size);
const char *ngx_http_monitoring_expr_unit_name(
    ngx_http_monitoring_expr_unit_e unit);


#endif /* _NGX_HTTP_MONITORING_EXPR_H_INCLUDED_ */
