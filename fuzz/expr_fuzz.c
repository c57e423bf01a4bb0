
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


/*
 * libFuzzer target for the alert expression parser.  Every input either
 * parses into an expression that keeps the invariants below and prints
 * back to itself, or fails with a reason and a token inside the input.
 * A broken invariant is reported on stderr and ends in abort(), which
 * libFuzzer saves as a crash.
 */

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ngx_http_monitoring_expr.h"


#define NGX_HTTP_MONITORING_FUZZ_TEXT  256


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_http_monitoring_fuzz_valid(
    const ngx_http_monitoring_expr_t *expr, const char *what);
static void ngx_http_monitoring_fuzz_print(
    const ngx_http_monitoring_expr_t *expr);
static void ngx_http_monitoring_fuzz_holds(
    const ngx_http_monitoring_expr_t *expr);
static int ngx_http_monitoring_fuzz_close(double a, double b);
static void ngx_http_monitoring_fuzz_fail(const char *fmt, ...);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                                rc;
    ngx_http_monitoring_expr_t         expr;
    ngx_http_monitoring_expr_error_t   err;

    err.reason = NULL;
    err.pos = (size_t) -1;
    err.len = (size_t) -1;

    rc = ngx_http_monitoring_expr_parse(data, size, &expr, &err);

    if (rc == -1) {

        if (err.reason == NULL) {
            ngx_http_monitoring_fuzz_fail("parse failed without a reason");
        }

        if (err.pos > size || err.len > size - err.pos) {
            ngx_http_monitoring_fuzz_fail("error token %zu+%zu outside "
                                          "the input of %zu bytes",
                                          err.pos, err.len, size);
        }

        return 0;
    }

    if (rc != 0) {
        ngx_http_monitoring_fuzz_fail("parse returned %d", rc);
    }

    ngx_http_monitoring_fuzz_valid(&expr, "parsed");
    ngx_http_monitoring_fuzz_print(&expr);
    ngx_http_monitoring_fuzz_holds(&expr);

    return 0;
}


static void
ngx_http_monitoring_fuzz_valid(const ngx_http_monitoring_expr_t *expr,
    const char *what)
{
    int                              status;
    ngx_http_monitoring_expr_unit_e  unit;

    /* the status range and the unit each metric comes with */

    switch (expr->metric) {

    case NGX_HTTP_MONITORING_EXPR_ERROR_RATE:
    case NGX_HTTP_MONITORING_EXPR_RATIO:
        status = 1;
        unit = NGX_HTTP_MONITORING_EXPR_RATIO_UNIT;
        break;

    case NGX_HTTP_MONITORING_EXPR_RATE:
        status = 1;
        unit = NGX_HTTP_MONITORING_EXPR_PER_SECOND;
        break;

    case NGX_HTTP_MONITORING_EXPR_COUNT:
        status = 1;
        unit = NGX_HTTP_MONITORING_EXPR_COUNT_UNIT;
        break;

    case NGX_HTTP_MONITORING_EXPR_RPS:
        status = 0;
        unit = NGX_HTTP_MONITORING_EXPR_PER_SECOND;
        break;

    case NGX_HTTP_MONITORING_EXPR_QUANTILE:
    case NGX_HTTP_MONITORING_EXPR_MEAN:
        status = 0;
        unit = NGX_HTTP_MONITORING_EXPR_MSEC;
        break;

    default:
        ngx_http_monitoring_fuzz_fail("%s: metric %d", what,
                                      (int) expr->metric);
        return;
    }

    if (expr->unit != unit) {
        ngx_http_monitoring_fuzz_fail("%s: unit %d for metric %d", what,
                                      (int) expr->unit, (int) expr->metric);
    }

    if ((unsigned) expr->op > NGX_HTTP_MONITORING_EXPR_NE) {
        ngx_http_monitoring_fuzz_fail("%s: op %d", what, (int) expr->op);
    }

    if (!isfinite(expr->threshold) || expr->threshold < 0) {
        ngx_http_monitoring_fuzz_fail("%s: threshold %g", what,
                                      expr->threshold);
    }

    if (expr->unit == NGX_HTTP_MONITORING_EXPR_RATIO_UNIT
        && expr->threshold > 1)
    {
        ngx_http_monitoring_fuzz_fail("%s: ratio threshold %.17g > 1", what,
                                      expr->threshold);
    }

    if (expr->metric == NGX_HTTP_MONITORING_EXPR_QUANTILE
        && !(expr->quantile > 0 && expr->quantile < 1))
    {
        ngx_http_monitoring_fuzz_fail("%s: quantile %.17g", what,
                                      expr->quantile);
    }

    if (status
        && (expr->status_lo > expr->status_hi || expr->status_lo < 100
            || expr->status_hi > 999))
    {
        ngx_http_monitoring_fuzz_fail("%s: status %u..%u", what,
                                      expr->status_lo, expr->status_hi);
    }
}


/* the canonical text parses back to the same expression */

static void
ngx_http_monitoring_fuzz_print(const ngx_http_monitoring_expr_t *expr)
{
    char                              *tight;
    char                               text[NGX_HTTP_MONITORING_FUZZ_TEXT];
    char                               text2[NGX_HTTP_MONITORING_FUZZ_TEXT];
    size_t                             n, n2;
    ngx_http_monitoring_expr_t         back;
    ngx_http_monitoring_expr_error_t   err;

    n = ngx_http_monitoring_expr_print(expr, text, sizeof(text));

    if (n == 0 || n >= sizeof(text) || strlen(text) != n) {
        ngx_http_monitoring_fuzz_fail("print returned %zu for \"%s\"",
                                      n, text);
    }

    /* a buffer one byte short is truncated, not overrun */

    tight = malloc(n);
    if (tight == NULL) {
        abort();
    }

    if (ngx_http_monitoring_expr_print(expr, tight, n) != n
        || tight[n - 1] != '\0')
    {
        ngx_http_monitoring_fuzz_fail("print into %zu bytes", n);
    }

    free(tight);

    err.reason = NULL;

    if (ngx_http_monitoring_expr_parse((const unsigned char *) text, n,
                                       &back, &err)
        != 0)
    {
        ngx_http_monitoring_fuzz_fail("printed \"%s\" does not parse: "
                                      "%s at %zu",
                                      text, err.reason ? err.reason : "?",
                                      err.pos);
    }

    ngx_http_monitoring_fuzz_valid(&back, "printed");

    if (back.metric != expr->metric
        || back.op != expr->op
        || back.unit != expr->unit
        || back.quantile != expr->quantile
        || back.status_lo != expr->status_lo
        || back.status_hi != expr->status_hi)
    {
        ngx_http_monitoring_fuzz_fail("printed \"%s\" parses to another "
                                      "expression", text);
    }

    if (!ngx_http_monitoring_fuzz_close(back.threshold, expr->threshold)) {
        ngx_http_monitoring_fuzz_fail("printed \"%s\" parses to threshold "
                                      "%.17g, not %.17g", text,
                                      back.threshold, expr->threshold);
    }

    /* and the canonical text is a fixed point */

    n2 = ngx_http_monitoring_expr_print(&back, text2, sizeof(text2));

    if (n2 != n || memcmp(text, text2, n) != 0) {
        ngx_http_monitoring_fuzz_fail("printed \"%s\" prints as \"%s\"",
                                      text, text2);
    }
}


static void
ngx_http_monitoring_fuzz_holds(const ngx_http_monitoring_expr_t *expr)
{
    int     eq, above, below, nan;
    double  t;

    t = expr->threshold;

    eq = ngx_http_monitoring_expr_holds(expr, t);
    above = ngx_http_monitoring_expr_holds(expr, nextafter(t, INFINITY));
    below = ngx_http_monitoring_expr_holds(expr, nextafter(t, -INFINITY));
    nan = ngx_http_monitoring_expr_holds(expr, NAN);

    (void) ngx_http_monitoring_expr_holds(expr, 0);
    (void) ngx_http_monitoring_expr_holds(expr, -1);
    (void) ngx_http_monitoring_expr_holds(expr, INFINITY);

    switch (expr->op) {

    case NGX_HTTP_MONITORING_EXPR_GT:
        if (eq || !above || below) {
            goto wrong;
        }
        break;

    case NGX_HTTP_MONITORING_EXPR_GE:
        if (!eq || !above || below) {
            goto wrong;
        }
        break;

    case NGX_HTTP_MONITORING_EXPR_LT:
        if (eq || above || !below) {
            goto wrong;
        }
        break;

    case NGX_HTTP_MONITORING_EXPR_LE:
        if (!eq || above || !below) {
            goto wrong;
        }
        break;

    case NGX_HTTP_MONITORING_EXPR_EQ:
        if (!eq || above || below) {
            goto wrong;
        }
        break;

    default: /* NGX_HTTP_MONITORING_EXPR_NE */
        if (eq || !above || !below) {
            goto wrong;
        }
        break;
    }

    /* a missing value (NaN) fires only "!=" */

    if (nan != (expr->op == NGX_HTTP_MONITORING_EXPR_NE)) {
        goto wrong;
    }

    return;

wrong:

    ngx_http_monitoring_fuzz_fail("holds(op %d, %.17g): at %d above %d "
                                  "below %d nan %d", (int) expr->op, t,
                                  eq, above, below, nan);
}


/* equal within 1e-9 relative or 1e-12 absolute */

static int
ngx_http_monitoring_fuzz_close(double a, double b)
{
    double  d;

    d = fabs(a - b);

    return d <= 1e-12 || d <= 1e-9 * fmax(fabs(a), fabs(b));
}


static void
ngx_http_monitoring_fuzz_fail(const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "expr_fuzz: ");

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");

    abort();
}
