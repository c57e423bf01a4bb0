
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <stdio.h>
#include <string.h>
#include "ngx_http_monitoring_expr.h"


#define NGX_HTTP_MONITORING_EXPR_DIGITS  15

#define ngx_http_monitoring_expr_min(a, b)  ((a) < (b) ? (a) : (b))


typedef struct {
    const unsigned char                *start;
    const unsigned char                *p;
    const unsigned char                *last;
    ngx_http_monitoring_expr_error_t   *err;
} ngx_http_monitoring_expr_ctx_t;


static int ngx_http_monitoring_expr_metric(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr);
static int ngx_http_monitoring_expr_class(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr);
static int ngx_http_monitoring_expr_op(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr);
static int ngx_http_monitoring_expr_number(
    ngx_http_monitoring_expr_ctx_t *ctx, ngx_http_monitoring_expr_t *expr);
static int ngx_http_monitoring_expr_unit(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr, const unsigned char *number);
static int ngx_http_monitoring_expr_fail(ngx_http_monitoring_expr_ctx_t *ctx,
    const char *reason, const unsigned char *token, size_t len);
static void ngx_http_monitoring_expr_space(
    ngx_http_monitoring_expr_ctx_t *ctx);
static size_t ngx_http_monitoring_expr_word(
    ngx_http_monitoring_expr_ctx_t *ctx, const unsigned char *p);


static const char  *ngx_http_monitoring_expr_ops[] = {
    ">", ">=", "<", "<=", "==", "!="
};


static const char  *ngx_http_monitoring_expr_units[] = {
    "ratio", "/s", "ms", "count"
};


/*
 * parses "METRIC OP NUMBER[UNIT]"; 0 on success, -1 with err set to the
 * reason and the offending token
 */

int
ngx_http_monitoring_expr_parse(const unsigned char *text, size_t len,
    ngx_http_monitoring_expr_t *expr, ngx_http_monitoring_expr_error_t *err)
{
    const unsigned char             *number;
    ngx_http_monitoring_expr_ctx_t   ctx;

    memset(expr, 0, sizeof(ngx_http_monitoring_expr_t));

    ctx.start = text;
    ctx.p = text;
    ctx.last = text + len;
    ctx.err = err;

    ngx_http_monitoring_expr_space(&ctx);

    if (ctx.p == ctx.last) {
        return ngx_http_monitoring_expr_fail(&ctx, "empty expression",
                                             ctx.p, 0);
    }

    if (ngx_http_monitoring_expr_metric(&ctx, expr) != 0) {
        return -1;
    }

    ngx_http_monitoring_expr_space(&ctx);

    if (ngx_http_monitoring_expr_op(&ctx, expr) != 0) {
        return -1;
    }

    ngx_http_monitoring_expr_space(&ctx);

    number = ctx.p;

    if (ngx_http_monitoring_expr_number(&ctx, expr) != 0) {
        return -1;
    }

    if (ngx_http_monitoring_expr_unit(&ctx, expr, number) != 0) {
        return -1;
    }

    ngx_http_monitoring_expr_space(&ctx);

    if (ctx.p != ctx.last) {
        return ngx_http_monitoring_expr_fail(&ctx, "unexpected", ctx.p,
                                  ngx_http_monitoring_expr_word(&ctx, ctx.p));
    }

    return 0;
}


static int
ngx_http_monitoring_expr_metric(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr)
{
    size_t                len;
    unsigned              n;
    const unsigned char  *name;

    name = ctx->p;

    while (ctx->p < ctx->last
           && ((*ctx->p >= 'a' && *ctx->p <= 'z')
               || (*ctx->p >= '0' && *ctx->p <= '9') || *ctx->p == '_'))
    {
        ctx->p++;
    }

    len = ctx->p - name;

#define ngx_http_monitoring_expr_is(s)                                        \
    (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)

    if (ngx_http_monitoring_expr_is("error_rate")) {
        expr->metric = NGX_HTTP_MONITORING_EXPR_ERROR_RATE;
        expr->unit = NGX_HTTP_MONITORING_EXPR_RATIO_UNIT;
        expr->status_lo = 500;
        expr->status_hi = 599;
        return 0;
    }

    if (ngx_http_monitoring_expr_is("rps")) {
        expr->metric = NGX_HTTP_MONITORING_EXPR_RPS;
        expr->unit = NGX_HTTP_MONITORING_EXPR_PER_SECOND;
        return 0;
    }

    if (ngx_http_monitoring_expr_is("mean")) {
        expr->metric = NGX_HTTP_MONITORING_EXPR_MEAN;
        expr->unit = NGX_HTTP_MONITORING_EXPR_MSEC;
        return 0;
    }

    /* p50, p95, p99, any pNN from p1 to p99, and p999 */

    if (len >= 2 && len <= 4 && name[0] == 'p' && name[1] != '0') {
        n = 0;

        for (len = 1; name + len < ctx->p; len++) {
            if (name[len] < '0' || name[len] > '9') {
                break;
            }

            n = n * 10 + name[len] - '0';
        }

        if (name + len == ctx->p && (ctx->p - name < 4 || n == 999)) {
            expr->metric = NGX_HTTP_MONITORING_EXPR_QUANTILE;
            expr->unit = NGX_HTTP_MONITORING_EXPR_MSEC;
            expr->quantile = (n == 999) ? 0.999 : n / 100.0;
            return 0;
        }

        len = ctx->p - name;
    }

    if (ngx_http_monitoring_expr_is("count")) {
        expr->metric = NGX_HTTP_MONITORING_EXPR_COUNT;
        expr->unit = NGX_HTTP_MONITORING_EXPR_COUNT_UNIT;

    } else if (ngx_http_monitoring_expr_is("rate")) {
        expr->metric = NGX_HTTP_MONITORING_EXPR_RATE;
        expr->unit = NGX_HTTP_MONITORING_EXPR_PER_SECOND;

    } else if (ngx_http_monitoring_expr_is("ratio")) {
        expr->metric = NGX_HTTP_MONITORING_EXPR_RATIO;
        expr->unit = NGX_HTTP_MONITORING_EXPR_RATIO_UNIT;

    } else {
        return ngx_http_monitoring_expr_fail(ctx, len ? "unknown metric"
                                                      : "expected a metric",
                                     name,
                                     ngx_http_monitoring_expr_word(ctx, name));
    }

#undef ngx_http_monitoring_expr_is

    ngx_http_monitoring_expr_space(ctx);

    if (ctx->p == ctx->last || *ctx->p != '(') {
        return ngx_http_monitoring_expr_fail(ctx,
                                       "expected \"(\" and a status class "
                                       "after", name, len);
    }

    ctx->p++;

    return ngx_http_monitoring_expr_class(ctx, expr);
}


/* "5xx" or a status code, then ")" */

static int
ngx_http_monitoring_expr_class(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr)
{
    const unsigned char  *c, *p;

    ngx_http_monitoring_expr_space(ctx);

    c = ctx->p;

    if (ctx->last - c >= 3 && c[0] >= '1' && c[0] <= '5'
        && (c[1] == 'x' || c[1] == 'X') && (c[2] == 'x' || c[2] == 'X'))
    {
        expr->status_lo = (c[0] - '0') * 100;
        expr->status_hi = expr->status_lo + 99;

    } else if (ctx->last - c >= 3 && c[0] >= '1' && c[0] <= '9'
               && c[1] >= '0' && c[1] <= '9' && c[2] >= '0' && c[2] <= '9')
    {
        expr->status_lo = (c[0] - '0') * 100 + (c[1] - '0') * 10
                          + (c[2] - '0');
        expr->status_hi = expr->status_lo;

    } else {
        goto invalid;
    }

    ctx->p += 3;

    if (ctx->p < ctx->last && *ctx->p >= '0' && *ctx->p <= '9') {
        goto invalid;
    }

    ngx_http_monitoring_expr_space(ctx);

    if (ctx->p == ctx->last || *ctx->p != ')') {
        return ngx_http_monitoring_expr_fail(ctx, "expected \")\" at",
                                 ctx->p,
                                 ngx_http_monitoring_expr_word(ctx, ctx->p));
    }

    ctx->p++;

    return 0;

invalid:

    /* the class as written: letters and digits */

    for (p = c; p < ctx->last; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')
              || (*p >= 'A' && *p <= 'Z')))
        {
            break;
        }
    }

    return ngx_http_monitoring_expr_fail(ctx,
                                  "expected a status class (5xx) or "
                                  "code (429), not", c,
                                  (p > c) ? (size_t) (p - c)
                                          : ngx_http_monitoring_expr_word(ctx,
                                                                          c));
}


static int
ngx_http_monitoring_expr_op(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr)
{
    const unsigned char  *p;

    p = ctx->p;

    if (p < ctx->last && (*p == '>' || *p == '<')) {
        expr->op = (*p == '>') ? NGX_HTTP_MONITORING_EXPR_GT
                               : NGX_HTTP_MONITORING_EXPR_LT;
        ctx->p++;

        if (ctx->p < ctx->last && *ctx->p == '=') {
            expr->op++;
            ctx->p++;
        }

        return 0;
    }

    if (ctx->last - p >= 2 && (p[0] == '=' || p[0] == '!') && p[1] == '=') {
        expr->op = (p[0] == '=') ? NGX_HTTP_MONITORING_EXPR_EQ
                                 : NGX_HTTP_MONITORING_EXPR_NE;
        ctx->p += 2;
        return 0;
    }

    return ngx_http_monitoring_expr_fail(ctx,
                                   "expected an operator "
                                   "(> >= < <= == !=), not", p,
                                   ngx_http_monitoring_expr_word(ctx, p));
}


/* digits with an optional fraction: no sign, exponent, "inf" or "nan" */

static int
ngx_http_monitoring_expr_number(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr)
{
    double                n, scale;
    unsigned              digits, point;
    const unsigned char  *start;

    start = ctx->p;
    n = 0;
    scale = 1;
    digits = 0;
    point = 0;

    for ( /* void */ ; ctx->p < ctx->last; ctx->p++) {

        if (*ctx->p == '.' && !point) {
            point = 1;
            continue;
        }

        if (*ctx->p < '0' || *ctx->p > '9') {
            break;
        }

        if (++digits > NGX_HTTP_MONITORING_EXPR_DIGITS) {
            return ngx_http_monitoring_expr_fail(ctx, "number too long",
                                 start,
                                 ngx_http_monitoring_expr_word(ctx, start));
        }

        n = n * 10 + (*ctx->p - '0');

        if (point) {
            scale *= 10;
        }
    }

    if (digits == 0) {
        return ngx_http_monitoring_expr_fail(ctx, "expected a number, not",
                                 start,
                                 ngx_http_monitoring_expr_word(ctx, start));
    }

    expr->threshold = n / scale;

    return 0;
}


/* the unit must fit the metric; ratios are fractions or percentages */

static int
ngx_http_monitoring_expr_unit(ngx_http_monitoring_expr_ctx_t *ctx,
    ngx_http_monitoring_expr_t *expr, const unsigned char *number)
{
    size_t                len;
    const unsigned char  *unit;

    unit = ctx->p;

    while (ctx->p < ctx->last && *ctx->p != ' ' && *ctx->p != '\t') {
        ctx->p++;
    }

    len = ctx->p - unit;

#define ngx_http_monitoring_expr_is(s)                                        \
    (len == sizeof(s) - 1 && memcmp(unit, s, len) == 0)

    switch (expr->unit) {

    case NGX_HTTP_MONITORING_EXPR_RATIO_UNIT:

        if (ngx_http_monitoring_expr_is("%")) {
            expr->threshold /= 100;

        } else if (len) {
            break;
        }

        if (expr->threshold > 1) {
            return ngx_http_monitoring_expr_fail(ctx,
                                    "a ratio is at most 100% (or 1), not",
                                    number, ctx->p - number);
        }

        return 0;

    case NGX_HTTP_MONITORING_EXPR_PER_SECOND:

        if (len == 0 || ngx_http_monitoring_expr_is("/s")) {
            return 0;
        }

        break;

    case NGX_HTTP_MONITORING_EXPR_MSEC:

        if (ngx_http_monitoring_expr_is("ms")) {
            return 0;
        }

        if (ngx_http_monitoring_expr_is("s")) {
            expr->threshold *= 1000;

            /* in milliseconds it must still print in 15 digits */

            if (expr->threshold >= 1e15) {
                return ngx_http_monitoring_expr_fail(ctx, "number too long",
                                                     number, ctx->p - number);
            }

            return 0;
        }

        if (len == 0) {
            return ngx_http_monitoring_expr_fail(ctx,
                                      "a latency needs a unit (ms or s):",
                                      number, ctx->p - number);
        }

        break;

    default: /* NGX_HTTP_MONITORING_EXPR_COUNT_UNIT */

        if (len == 0) {
            return 0;
        }

        break;
    }

#undef ngx_http_monitoring_expr_is

    return ngx_http_monitoring_expr_fail(ctx, "unit does not fit the metric:",
                                         number, ctx->p - number);
}


static int
ngx_http_monitoring_expr_fail(ngx_http_monitoring_expr_ctx_t *ctx,
    const char *reason, const unsigned char *token, size_t len)
{
    ctx->err->reason = reason;
    ctx->err->pos = token - ctx->start;
    ctx->err->len = len;

    return -1;
}


static void
ngx_http_monitoring_expr_space(ngx_http_monitoring_expr_ctx_t *ctx)
{
    while (ctx->p < ctx->last && (*ctx->p == ' ' || *ctx->p == '\t')) {
        ctx->p++;
    }
}


/* the length of the token at p, for error messages: up to a space */

static size_t
ngx_http_monitoring_expr_word(ngx_http_monitoring_expr_ctx_t *ctx,
    const unsigned char *p)
{
    const unsigned char  *q;

    for (q = p; q < ctx->last && *q != ' ' && *q != '\t'; q++) {
        /* void */
    }

    if (q == p && p < ctx->last) {
        q++;
    }

    return q - p;
}


int
ngx_http_monitoring_expr_holds(const ngx_http_monitoring_expr_t *expr,
    double value)
{
    switch (expr->op) {

    case NGX_HTTP_MONITORING_EXPR_GT:
        return value > expr->threshold;

    case NGX_HTTP_MONITORING_EXPR_GE:
        return value >= expr->threshold;

    case NGX_HTTP_MONITORING_EXPR_LT:
        return value < expr->threshold;

    case NGX_HTTP_MONITORING_EXPR_LE:
        return value <= expr->threshold;

    case NGX_HTTP_MONITORING_EXPR_EQ:
        return value == expr->threshold;

    default: /* NGX_HTTP_MONITORING_EXPR_NE */
        return value != expr->threshold;
    }
}


/* the canonical text of an expression, which parses back to itself */

size_t
ngx_http_monitoring_expr_print(const ngx_http_monitoring_expr_t *expr,
    char *buf, size_t size)
{
    int          n;
    double       scale;
    unsigned     digits;
    char         metric[32], number[48];
    const char  *unit;

    switch (expr->metric) {

    case NGX_HTTP_MONITORING_EXPR_ERROR_RATE:
        n = snprintf(metric, sizeof(metric), "error_rate");
        break;

    case NGX_HTTP_MONITORING_EXPR_RPS:
        n = snprintf(metric, sizeof(metric), "rps");
        break;

    case NGX_HTTP_MONITORING_EXPR_QUANTILE:
        n = snprintf(metric, sizeof(metric), "p%u",
                     (unsigned) (expr->quantile * 1000 + 0.5) % 10
                     ? (unsigned) (expr->quantile * 1000 + 0.5)
                     : (unsigned) (expr->quantile * 100 + 0.5));
        break;

    case NGX_HTTP_MONITORING_EXPR_MEAN:
        n = snprintf(metric, sizeof(metric), "mean");
        break;

    default:
        n = snprintf(metric, sizeof(metric), "%s(",
                     expr->metric == NGX_HTTP_MONITORING_EXPR_COUNT ? "count"
                     : expr->metric == NGX_HTTP_MONITORING_EXPR_RATE ? "rate"
                     : "ratio");

        if (expr->status_lo == expr->status_hi) {
            n += snprintf(metric + n, sizeof(metric) - n, "%u)",
                          expr->status_lo);

        } else {
            n += snprintf(metric + n, sizeof(metric) - n, "%uxx)",
                          expr->status_lo / 100);
        }

        break;
    }

    (void) n;

    /*
     * fixed point in at most 15 digits, as the parser takes them, without
     * trailing zeros: "%g" could write an exponent
     */

    for (digits = 1, scale = 10; scale <= expr->threshold; scale *= 10) {
        digits++;
    }

    n = snprintf(number, sizeof(number), "%.*f",
                 digits < 15 ? (int) ngx_http_monitoring_expr_min(12,
                                                              15 - digits)
                             : 0,
                 expr->threshold);

    if (memchr(number, '.', n) != NULL) {

        while (number[n - 1] == '0') {
            number[--n] = '\0';
        }

        if (number[n - 1] == '.') {
            number[--n] = '\0';
        }
    }

    unit = (expr->unit == NGX_HTTP_MONITORING_EXPR_MSEC) ? "ms"
           : (expr->unit == NGX_HTTP_MONITORING_EXPR_PER_SECOND) ? "/s" : "";

    n = snprintf(buf, size, "%s %s %s%s", metric,
                 ngx_http_monitoring_expr_ops[expr->op], number, unit);

    return (n < 0) ? 0 : (size_t) n;
}


const char *
ngx_http_monitoring_expr_unit_name(ngx_http_monitoring_expr_unit_e unit)
{
    return ngx_http_monitoring_expr_units[unit];
}
