
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_http_monitoring_module.h"


/*
 * Alert rules are evaluated by one worker per tick, over samples of the
 * counters of the series they select: the value over a window is the
 * difference between the counters now and at the newest sample at least
 * a window old, as Prometheus' increase() without extrapolation.  The
 * state of each rule lives in the zone, so every worker, the dashboard
 * and the next configuration see the same.
 */

#define NGX_HTTP_MONITORING_DAY_MSEC  (24 * 60 * 60 * 1000)


/* the table holds the states of this configuration's rules */

#define ngx_http_monitoring_alerts_ready(zone, a)                             \
    ((a) != NULL && (a)->generation == (zone)->generation                     \
     && (a)->nrules == (zone)->alerts.nelts && (a)->nrules != 0)


static ngx_int_t ngx_http_monitoring_alert_quoted(ngx_conf_t *cf,
    ngx_http_monitoring_alert_t *rule, ngx_uint_t *i, ngx_str_t *param);
static char *ngx_http_monitoring_alert_param(ngx_conf_t *cf,
    ngx_http_monitoring_alert_t *rule, ngx_str_t *value);
static ngx_int_t ngx_http_monitoring_alert_time(ngx_conf_t *cf,
    ngx_http_monitoring_alert_t *rule, ngx_str_t *value, ngx_msec_t *msec,
    ngx_msec_t min);
static ngx_int_t ngx_http_monitoring_alert_kv(ngx_conf_t *cf,
    ngx_array_t **labels, ngx_str_t *k, ngx_str_t *v, ngx_str_t *where,
    ngx_uint_t instance);
static ngx_int_t ngx_http_monitoring_alert_label(ngx_conf_t *cf,
    ngx_http_monitoring_alert_t *rule, ngx_str_t *value);
static ngx_int_t ngx_http_monitoring_alert_utf8(ngx_str_t *s);
static ngx_int_t ngx_http_monitoring_alert_name(ngx_str_t *name,
    ngx_uint_t loose);
static ngx_int_t ngx_http_monitoring_alerts_adopt(
    ngx_http_monitoring_zone_t *zone, ngx_log_t *log);
static ngx_int_t ngx_http_monitoring_alert_prepare(ngx_conf_t *cf,
    ngx_http_monitoring_main_conf_t *mmcf, ngx_http_monitoring_alert_t *rule);
static void ngx_http_monitoring_alert_tick(ngx_event_t *ev);
static void ngx_http_monitoring_alert_evaluate(
    ngx_http_monitoring_zone_t *zone, ngx_msec_t interval, ngx_log_t *log);
static void ngx_http_monitoring_alert_collect(
    ngx_http_monitoring_zone_t *zone);
static void ngx_http_monitoring_alert_add(ngx_http_monitoring_alert_t *rule,
    uint64_t *v, ngx_http_monitoring_series_t *s,
    ngx_http_monitoring_zone_t *zone);
static void ngx_http_monitoring_alert_step(ngx_http_monitoring_alert_t *rule,
    ngx_http_monitoring_alert_state_t *st, uint64_t *cur, uint64_t now,
    ngx_msec_t interval);
static ngx_uint_t ngx_http_monitoring_alert_value(
    ngx_http_monitoring_alert_t *rule, uint64_t *cur, uint64_t *old,
    uint64_t now, double *value);
static void ngx_http_monitoring_alert_transition(
    ngx_http_monitoring_alert_state_t *st, ngx_uint_t state, uint64_t now);
static ngx_uint_t ngx_http_monitoring_glob(u_char *glob, size_t glob_len,
    u_char *s, size_t len);
static ngx_http_monitoring_alert_state_t *ngx_http_monitoring_alert_find(
    ngx_http_monitoring_zone_t *zone, ngx_http_monitoring_alerts_t *a,
    ngx_uint_t i);
static double ngx_http_monitoring_alert_seconds(uint64_t ms);


static ngx_str_t  ngx_http_monitoring_alert_states[] = {
    ngx_string("inactive"),
    ngx_string("pending"),
    ngx_string("firing"),
    ngx_string("resolved")
};


static ngx_event_t  ngx_http_monitoring_alert_event;


/*
 * monitoring_alert NAME "EXPR" [window=TIME] [for=TIME]
 *     [keep_firing_for=TIME] [severity=S] [zone=Z] [endpoint=GLOB]
 *     [summary=TEXT] [description=TEXT] [label:K=V ...]
 */

char *
ngx_http_monitoring_alert(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_main_conf_t *mmcf = conf;

    ngx_str_t                         *value, param;
    ngx_uint_t                         i;
    ngx_http_monitoring_alert_t       *rule;
    ngx_http_monitoring_expr_error_t   err;

    value = cf->args->elts;

    if (ngx_http_monitoring_alert_name(&value[1], 0) != NGX_OK
        || value[1].len >= NGX_HTTP_MONITORING_NAME_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid alert rule name \"%V\" in \"%V\" "
                           "directive, letters, digits and \"_\" up to %d "
                           "characters", &value[1], &cmd->name,
                           NGX_HTTP_MONITORING_NAME_MAX - 1);
        return NGX_CONF_ERROR;
    }

    rule = mmcf->alerts.elts;

    for (i = 0; i < mmcf->alerts.nelts; i++) {
        if (rule[i].name.len == value[1].len
            && ngx_strncmp(rule[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate alert rule \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(&mmcf->alerts);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_monitoring_alert_t));

    rule->name = value[1];
    rule->text = value[2];

    if (ngx_http_monitoring_expr_parse(value[2].data, value[2].len,
                                       &rule->expr, &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid expression \"%V\" in alert rule \"%V\": "
                           "%s \"%*s\"", &value[2], &value[1], err.reason,
                           err.len, value[2].data + err.pos);
        return NGX_CONF_ERROR;
    }

    rule->window = NGX_CONF_UNSET_MSEC;
    rule->for_time = NGX_CONF_UNSET_MSEC;
    rule->keep_firing_for = NGX_CONF_UNSET_MSEC;

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_http_monitoring_alert_quoted(cf, rule, &i, &param)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_monitoring_alert_param(cf, rule, &param)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (rule->window == NGX_CONF_UNSET_MSEC) {
        rule->window = 60000;
    }

    if (rule->for_time == NGX_CONF_UNSET_MSEC) {
        rule->for_time = 0;
    }

    if (rule->keep_firing_for == NGX_CONF_UNSET_MSEC) {
        rule->keep_firing_for = 0;
    }

    if (rule->severity.len == 0) {
        ngx_str_set(&rule->severity, "warning");
    }

    rule->critical = (rule->severity.len == sizeof("critical") - 1
                      && ngx_strncmp(rule->severity.data, "critical",
                                     sizeof("critical") - 1)
                         == 0);

    return NGX_CONF_OK;
}


/*
 * summary="Disk almost full" as written in the specification: nginx
 * splits it at the spaces, so the words are joined again up to the
 * closing quote; "summary=Disk almost full" works as usual
 */

static ngx_int_t
ngx_http_monitoring_alert_quoted(ngx_conf_t *cf,
    ngx_http_monitoring_alert_t *rule, ngx_uint_t *i, ngx_str_t *param)
{
    u_char      *eq, *p;
    size_t       len;
    ngx_str_t   *value;
    ngx_uint_t   j;

    value = cf->args->elts;
    *param = value[*i];

    eq = ngx_strlchr(param->data, param->data + param->len, '=');

    if (eq == NULL || eq + 1 == param->data + param->len || eq[1] != '"') {
        return NGX_OK;
    }

    len = param->len;

    for (j = *i; j < cf->args->nelts; j++) {
        if (j > *i) {
            len += 1 + value[j].len;
        }

        if (value[j].len && value[j].data[value[j].len - 1] == '"'
            && (j > *i || &value[j].data[value[j].len - 1] > eq + 1))
        {
            break;
        }
    }

    if (j == cf->args->nelts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unbalanced quotes in \"%V\" in alert rule \"%V\"",
                           &value[*i], &rule->name);
        return NGX_ERROR;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    param->data = p;

    /* name=, the words without the quotes, joined by single spaces */

    p = ngx_cpymem(p, value[*i].data, eq + 1 - value[*i].data);
    p = ngx_cpymem(p, eq + 2, value[*i].data + value[*i].len - (eq + 2));

    for ( /* void */ ; *i < j; (*i)++) {
        *p++ = ' ';
        p = ngx_cpymem(p, value[*i + 1].data, value[*i + 1].len);
    }

    param->len = p - 1 - param->data;

    return NGX_OK;
}


static char *
ngx_http_monitoring_alert_param(ngx_conf_t *cf,
    ngx_http_monitoring_alert_t *rule, ngx_str_t *value)
{
    u_char     *eq;
    ngx_str_t   name, s, *target;

    if (ngx_strncmp(value->data, "label:", sizeof("label:") - 1) == 0) {
        return (ngx_http_monitoring_alert_label(cf, rule, value) == NGX_OK)
               ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    eq = ngx_strlchr(value->data, value->data + value->len, '=');

    if (eq == NULL) {
        goto invalid;
    }

    name.data = value->data;
    name.len = eq - value->data;
    s.data = eq + 1;
    s.len = value->data + value->len - s.data;

#define ngx_http_monitoring_param_is(p)                                       \
    (name.len == sizeof(p) - 1 && ngx_strncmp(name.data, p, name.len) == 0)

    if (ngx_http_monitoring_param_is("window")) {
        return (ngx_http_monitoring_alert_time(cf, rule, value, &rule->window,
                                               1000)
                == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_monitoring_param_is("for")) {
        return (ngx_http_monitoring_alert_time(cf, rule, value,
                                               &rule->for_time, 0)
                == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_monitoring_param_is("keep_firing_for")) {
        return (ngx_http_monitoring_alert_time(cf, rule, value,
                                               &rule->keep_firing_for, 0)
                == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_monitoring_param_is("zone")) {

        if (rule->zone != NULL) {
            goto duplicate;
        }

        rule->zone = ngx_http_monitoring_zone_ref(cf, &s, "monitoring_alert");

        return (rule->zone != NULL) ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_monitoring_param_is("severity")) {
        target = &rule->severity;

        if (ngx_http_monitoring_alert_name(&s, 1) != NGX_OK
            || s.len > NGX_HTTP_MONITORING_NAME_MAX)
        {
            goto invalid_value;
        }

    } else if (ngx_http_monitoring_param_is("endpoint")) {
        target = &rule->endpoint;

        if (s.len == 0 || s.len > NGX_HTTP_MONITORING_PART_MAX) {
            goto invalid_value;
        }

    } else if (ngx_http_monitoring_param_is("summary")) {
        target = &rule->summary;

        if (ngx_http_monitoring_alert_utf8(&s) != NGX_OK) {
            goto invalid_value;
        }

    } else if (ngx_http_monitoring_param_is("description")) {
        target = &rule->description;

        if (ngx_http_monitoring_alert_utf8(&s) != NGX_OK) {
            goto invalid_value;
        }

    } else {
        goto invalid;
    }

#undef ngx_http_monitoring_param_is

    if (target->data != NULL) {
        goto duplicate;
    }

    *target = s;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in alert rule \"%V\"",
                       value, &rule->name);
    return NGX_CONF_ERROR;

invalid_value:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid %V \"%V\" in alert rule \"%V\"",
                       &name, &s, &rule->name);
    return NGX_CONF_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\" in alert rule \"%V\"",
                       value, &rule->name);
    return NGX_CONF_ERROR;
}


/* "5m", "30s", "1h", "500ms", as other nginx times; at most a day */

static ngx_int_t
ngx_http_monitoring_alert_time(ngx_conf_t *cf,
    ngx_http_monitoring_alert_t *rule, ngx_str_t *value, ngx_msec_t *msec,
    ngx_msec_t min)
{
    u_char     *eq;
    ngx_int_t   n;
    ngx_str_t   name, s;

    eq = ngx_strlchr(value->data, value->data + value->len, '=');

    name.data = value->data;
    name.len = eq - value->data;
    s.data = eq + 1;
    s.len = value->data + value->len - s.data;

    if (*msec != NGX_CONF_UNSET_MSEC) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate parameter \"%V\" in alert rule \"%V\"",
                           value, &rule->name);
        return NGX_ERROR;
    }

    n = ngx_parse_time(&s, 0);

    if (n == NGX_ERROR || (ngx_msec_t) n < min
        || n > NGX_HTTP_MONITORING_DAY_MSEC)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V \"%V\" in alert rule \"%V\", "
                           "a time from %s to 1d", &name, &s, &rule->name,
                           min ? "1s" : "0s");
        return NGX_ERROR;
    }

    *msec = (ngx_msec_t) n;

    return NGX_OK;
}


/* label:K=V, rendered in /metrics and sent with the alert */

static ngx_int_t
ngx_http_monitoring_alert_label(ngx_conf_t *cf,
    ngx_http_monitoring_alert_t *rule, ngx_str_t *value)
{
    u_char     *eq;
    ngx_str_t   k, v, where;

    k.data = value->data + sizeof("label:") - 1;
    eq = ngx_strlchr(k.data, value->data + value->len, '=');

    if (eq == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in alert rule \"%V\", "
                           "expected label:NAME=VALUE", value, &rule->name);
        return NGX_ERROR;
    }

    k.len = eq - k.data;
    v.data = eq + 1;
    v.len = value->data + value->len - v.data;

    where.len = sizeof("alert rule \"\"") - 1 + rule->name.len;
    where.data = ngx_pnalloc(cf->pool, where.len);
    if (where.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(where.data, "alert rule \"%V\"", &rule->name);

    return ngx_http_monitoring_alert_kv(cf, &rule->labels, &k, &v, &where, 0);
}


/* monitoring_alert_label NAME VALUE: on every alert delivered */

char *
ngx_http_monitoring_alert_labels(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_monitoring_main_conf_t *mmcf = conf;

    ngx_str_t   *value, where;
    ngx_uint_t   instance;

    value = cf->args->elts;

    instance = (value[1].len == sizeof("instance") - 1
                && ngx_strncmp(value[1].data, "instance", value[1].len) == 0);

    if (instance && mmcf->alert_instance.data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate label \"instance\" in \"%V\"",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    where.len = sizeof("\"\"") - 1 + cmd->name.len;
    where.data = ngx_pnalloc(cf->pool, where.len);
    if (where.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(where.data, "\"%V\"", &cmd->name);

    if (ngx_http_monitoring_alert_kv(cf, &mmcf->alert_labels, &value[1],
                                     &value[2], &where, 1)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* checked as the others are, kept apart: it replaces the host name */

    if (instance) {
        mmcf->alert_instance = value[2];
        mmcf->alert_labels->nelts--;
    }

    return NGX_CONF_OK;
}


/*
 * A label of alerts, checked and added to *labels (ngx_keyval_t); "where"
 * names the rule or the directive in messages.  "instance" is the host
 * name unless monitoring_alert_label sets it.
 */

static ngx_int_t
ngx_http_monitoring_alert_kv(ngx_conf_t *cf, ngx_array_t **labels,
    ngx_str_t *k, ngx_str_t *v, ngx_str_t *where, ngx_uint_t instance)
{
    ngx_str_t     *r, *last;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    /* the last one, "instance", monitoring_alert_label may set */

    static ngx_str_t  reserved[] = {
        ngx_string("alertname"),
        ngx_string("alertstate"),
        ngx_string("severity"),
        ngx_string("zone"),
        ngx_string("instance")
    };

    last = reserved + sizeof(reserved) / sizeof(ngx_str_t) - (instance != 0);

    if (ngx_http_monitoring_alert_name(k, 0) != NGX_OK
        || k->len > NGX_HTTP_MONITORING_NAME_MAX
        || (k->len >= 2 && k->data[0] == '_' && k->data[1] == '_'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid label name \"%V\" in %V", k, where);
        return NGX_ERROR;
    }

    for (r = reserved; r < last; r++) {
        if (r->len == k->len && ngx_strncmp(r->data, k->data, k->len) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "label \"%V\" in %V is set by the module",
                               k, where);
            return NGX_ERROR;
        }
    }

    if (ngx_http_monitoring_alert_utf8(v) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "label value \"%V\" in %V is not valid UTF-8",
                           v, where);
        return NGX_ERROR;
    }

    if (v->len > NGX_HTTP_MONITORING_VALUE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "label value \"%V\" in %V is longer than %d bytes",
                           v, where, NGX_HTTP_MONITORING_VALUE_MAX);
        return NGX_ERROR;
    }

    if (*labels == NULL) {
        *labels = ngx_array_create(cf->pool, 2, sizeof(ngx_keyval_t));
        if (*labels == NULL) {
            return NGX_ERROR;
        }
    }

    kv = (*labels)->elts;

    for (i = 0; i < (*labels)->nelts; i++) {
        if (kv[i].key.len == k->len
            && ngx_strncmp(kv[i].key.data, k->data, k->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate label \"%V\" in %V", k, where);
            return NGX_ERROR;
        }
    }

    kv = ngx_array_push(*labels);
    if (kv == NULL) {
        return NGX_ERROR;
    }

    kv->key = *k;
    kv->value = *v;

    return NGX_OK;
}


/* texts go into JSON and Prometheus labels as they are: UTF-8 only */

static ngx_int_t
ngx_http_monitoring_alert_utf8(ngx_str_t *s)
{
    u_char  *p, *last;

    p = s->data;
    last = p + s->len;

    while (p < last) {

        if (*p < 0x80) {
            if (*p++ < 0x20) {
                return NGX_ERROR;
            }

            continue;
        }

        if (ngx_utf8_decode(&p, last - p) > 0x10ffff) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* [A-Za-z_][A-Za-z0-9_]*, or with a leading digit and "-" for severities */

static ngx_int_t
ngx_http_monitoring_alert_name(ngx_str_t *name, ngx_uint_t loose)
{
    u_char  *p, *last;

    if (name->len == 0) {
        return NGX_ERROR;
    }

    p = name->data;
    last = p + name->len;

    if (!loose && *p >= '0' && *p <= '9') {
        return NGX_ERROR;
    }

    for ( /* void */ ; p < last; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '_'
            || (loose && *p == '-'))
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * once the http block is parsed: each rule finds its zone and learns how
 * its samples are laid out
 */

ngx_int_t
ngx_http_monitoring_alerts_conf(ngx_conf_t *cf,
    ngx_http_monitoring_main_conf_t *mmcf)
{
    char                           *rc;
    ngx_str_t                       file;
    ngx_uint_t                      i, j, line;
    ngx_http_monitoring_alert_t    *rule;
    ngx_http_monitoring_webhook_t  *wh;

    if (mmcf->alert_interval == NGX_CONF_UNSET_MSEC) {
        mmcf->alert_interval = 5000;
    }

    if (mmcf->alert_interval < 1000) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"monitoring_alert_interval\" must be at least 1s");
        return NGX_ERROR;
    }

    rule = mmcf->alerts.elts;

    for (i = 0; i < mmcf->alerts.nelts; i++) {
        if (ngx_http_monitoring_alert_prepare(cf, mmcf, &rule[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* now that a "resolver" anywhere in http{} is known */

    wh = mmcf->webhooks.elts;

    file = cf->conf_file->file.name;
    line = cf->conf_file->line;

    for (i = 0; i < mmcf->webhooks.nelts; i++) {

        /* errors name the directive's place, as when it was read */

        cf->conf_file->file.name = wh[i].file;
        cf->conf_file->line = wh[i].line;

        rc = ngx_http_monitoring_webhook_init(cf, &wh[i]);

        cf->conf_file->file.name = file;
        cf->conf_file->line = line;

        if (rc != NGX_CONF_OK) {
            return NGX_ERROR;
        }

        /* URLs that differ in credentials only would be one series */

        for (j = 0; j < i; j++) {
            if (wh[j].name.len == wh[i].name.len
                && ngx_strncmp(wh[j].name.data, wh[i].name.data,
                               wh[i].name.len)
                   == 0)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "duplicate webhook \"%V\" in "
                              "\"monitoring_alert_webhook\"", &wh[i].name);
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_alert_prepare(ngx_conf_t *cf,
    ngx_http_monitoring_main_conf_t *mmcf, ngx_http_monitoring_alert_t *rule)
{
    u_char                        *p;
    size_t                         len;
    ngx_uint_t                     i;
    ngx_keyval_t                  *kv;
    ngx_shm_zone_t               **zones;
    ngx_http_monitoring_zone_t    *zone;
    ngx_http_monitoring_alert_t  **rp;
    char                           canonical[128];

    if (rule->zone == NULL) {

        if (mmcf->zones.nelts != 1) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "alert rule \"%V\" needs a \"zone=\" parameter: %s",
                          &rule->name,
                          mmcf->zones.nelts ? "several zones are declared"
                                            : "no zone is declared");
            return NGX_ERROR;
        }

        zones = mmcf->zones.elts;
        rule->zone = zones[0];
    }

    if (rule->window < mmcf->alert_interval) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the window of alert rule \"%V\" is shorter than "
                      "\"monitoring_alert_interval\" %Mms",
                      &rule->name, mmcf->alert_interval);
        return NGX_ERROR;
    }

    /* samples every tick, or sparser for long windows: 64 cover one */

    rule->every = ngx_max(mmcf->alert_interval,
                          (rule->window + NGX_HTTP_MONITORING_SAMPLES - 5)
                          / (NGX_HTTP_MONITORING_SAMPLES - 4));
    rule->nsamples = ngx_min(NGX_HTTP_MONITORING_SAMPLES,
                             rule->window / rule->every + 3);

    rule->nvalues = NGX_HTTP_MONITORING_SAMPLE_BUCKETS;

    if (rule->expr.metric == NGX_HTTP_MONITORING_EXPR_QUANTILE) {
        rule->bounds = mmcf->bounds;
        rule->nvalues += rule->bounds->n + 1;
    }

    /* what the state depends on: it is kept over reloads while equal */

    len = ngx_http_monitoring_expr_print(&rule->expr, canonical,
                                         sizeof(canonical));

    rule->hash = ngx_crc32_short((u_char *) canonical, len);
    rule->hash ^= ngx_crc32_short(rule->endpoint.data, rule->endpoint.len);
    rule->hash ^= (uint32_t) (rule->window * 31 + rule->nvalues * 7
                              + rule->every * 13 + rule->nsamples);

    if (rule->bounds != NULL) {
        rule->hash ^= ngx_crc32_short((u_char *) rule->bounds->msec,
                                      rule->bounds->n * sizeof(uint32_t));
    }

    /* the extra labels as Prometheus text, escaped once */

    if (rule->labels != NULL) {
        kv = rule->labels->elts;
        len = 0;

        for (i = 0; i < rule->labels->nelts; i++) {
            len += sizeof(",=\"\"") - 1 + kv[i].key.len
                   + 2 * kv[i].value.len;
        }

        p = ngx_pnalloc(cf->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        rule->labels_text.data = p;

        for (i = 0; i < rule->labels->nelts; i++) {
            *p++ = ',';
            p = ngx_cpymem(p, kv[i].key.data, kv[i].key.len);
            *p++ = '=';
            *p++ = '"';
            p += ngx_http_monitoring_escape(p, kv[i].value.data,
                                            kv[i].value.len);
            *p++ = '"';
        }

        rule->labels_text.len = p - rule->labels_text.data;
    }

    zone = rule->zone->data;

    rp = ngx_array_push(&zone->alerts);
    if (rp == NULL) {
        return NGX_ERROR;
    }

    rule->index = zone->alerts.nelts - 1;
    *rp = rule;

    return NGX_OK;
}


/* in init_zone: the alert state of a new zone, without rules yet */

ngx_int_t
ngx_http_monitoring_alerts_init_zone(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log)
{
    ngx_http_monitoring_alerts_t  *a;

    if (zone->sh->alerts != NULL) {
        return NGX_OK;
    }

    a = ngx_slab_calloc(zone->shpool, sizeof(ngx_http_monitoring_alerts_t));
    if (a == NULL) {
        return NGX_ERROR;
    }

    zone->sh->alerts = a;

    return NGX_OK;
}


/*
 * by the first worker of a configuration, so that a reload that fails
 * leaves the rules of the running one in place: the state of the rules
 * of the previous configuration that are unchanged moves to the new
 * table, the rest starts inactive; webhooks keep their counters by URL
 */

static ngx_int_t
ngx_http_monitoring_alerts_adopt(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log)
{
    uint32_t                            hash;
    uint64_t                           *values;
    ngx_uint_t                          i, j, k, n, restored;
    ngx_time_t                         *tp;
    ngx_slab_pool_t                    *shpool;
    ngx_http_monitoring_alert_t       **rules;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_webhook_t      *wh;
    ngx_http_monitoring_alert_state_t  *states, *st, *old;
    ngx_uint_t                          remap[NGX_HTTP_MONITORING_MAX_WEBHOOKS];
    ngx_uint_t                          kept[NGX_HTTP_MONITORING_MAX_WEBHOOKS];
    ngx_http_monitoring_hook_state_t    hooks[NGX_HTTP_MONITORING_MAX_WEBHOOKS];

    shpool = zone->shpool;
    a = zone->sh->alerts;

    ngx_shmtx_lock(&shpool->mutex);

    if (a->generation == zone->generation) {
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_OK;
    }

    /* webhooks by URL: old slot j becomes new slot remap[j] */

    ngx_memzero(hooks, sizeof(hooks));
    ngx_memzero(kept, sizeof(kept));

    for (j = 0; j < NGX_HTTP_MONITORING_MAX_WEBHOOKS; j++) {
        remap[j] = NGX_HTTP_MONITORING_MAX_WEBHOOKS;
    }

    wh = zone->mmcf->webhooks.elts;

    for (i = 0; i < zone->mmcf->webhooks.nelts; i++) {
        hash = ngx_crc32_short(wh[i].url.data, wh[i].url.len) | 1;

        for (j = 0; j < NGX_HTTP_MONITORING_MAX_WEBHOOKS; j++) {
            if (a->hooks[j].hash == hash
                && remap[j] == NGX_HTTP_MONITORING_MAX_WEBHOOKS)
            {
                hooks[i] = a->hooks[j];
                hooks[i].busy = 0;
                remap[j] = i;
                kept[i] = 1;
                break;
            }
        }

        hooks[i].hash = hash;
    }

    ngx_memcpy(a->hooks, hooks, sizeof(hooks));

    n = zone->alerts.nelts;
    rules = zone->alerts.elts;
    states = NULL;

    /* a restored zone does not start from zero */

    values = zone->values;

    if (zone->generation == 1 && n) {
        ngx_http_monitoring_alert_collect(zone);
    }

    if (n) {
        states = ngx_slab_calloc_locked(shpool,
                              n * sizeof(ngx_http_monitoring_alert_state_t));
        if (states == NULL) {
            goto failed;
        }
    }

    for (i = 0; i < n; i++) {
        st = &states[i];

        old = NULL;

        for (j = 0; j < a->nrules; j++) {
            if (a->rules[j].name_len == rules[i]->name.len
                && ngx_strncmp(a->rules[j].name, rules[i]->name.data,
                               rules[i]->name.len)
                   == 0)
            {
                old = &a->rules[j];
                break;
            }
        }

        if (old != NULL && old->hash == rules[i]->hash) {
            *st = *old;
            old->samples = NULL;

            ngx_memzero(st->sent, sizeof(st->sent));

            for (j = 0; j < NGX_HTTP_MONITORING_MAX_WEBHOOKS; j++) {
                k = remap[j];

                if (k < NGX_HTTP_MONITORING_MAX_WEBHOOKS) {
                    st->sent[k] = old->sent[j];
                }
            }

            /* a new generic webhook gets the transitions from now on */

            for (k = 0; k < NGX_HTTP_MONITORING_MAX_WEBHOOKS; k++) {
                if (!kept[k]) {
                    st->sent[k].seq = st->seq;
                }
            }

            values += rules[i]->nvalues;
            continue;
        }

        if (old != NULL) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "alert rule \"%V\" changed, its state starts over",
                          &rules[i]->name);
        }

        ngx_memcpy(st->name, rules[i]->name.data, rules[i]->name.len);
        st->name_len = rules[i]->name.len;
        st->hash = rules[i]->hash;

        st->samples = ngx_slab_calloc_locked(shpool,
                                             rules[i]->nsamples
                                             * rules[i]->nvalues
                                             * sizeof(uint64_t));
        if (st->samples == NULL) {
            goto failed;
        }

        /*
         * the counters of a new zone, as they are before its first
         * request: the first sample, so that the requests before the
         * first tick count too
         */

        if (zone->generation == 1) {
            tp = ngx_timeofday();

            ngx_memcpy(st->samples, values,
                       rules[i]->nvalues * sizeof(uint64_t));
            st->samples[NGX_HTTP_MONITORING_SAMPLE_TIME] =
                                          (uint64_t) tp->sec * 1000 + tp->msec;
            st->head = 1;
            st->count = 1;
        }

        values += rules[i]->nvalues;
    }

    /* the states a snapshot kept, for a zone restored at the start */

    ngx_http_monitoring_snapshot_alerts(zone, rules, states, n, &restored,
                                        NULL);

    if (restored) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "monitoring zone \"%V\": %ui alert states restored",
                      &zone->name, restored);
    }

    for (j = 0; j < a->nrules; j++) {
        if (a->rules[j].samples != NULL) {
            ngx_slab_free_locked(shpool, a->rules[j].samples);
        }
    }

    if (a->rules != NULL) {
        ngx_slab_free_locked(shpool, a->rules);
    }

    a->rules = states;
    a->nrules = n;
    a->generation = zone->generation;
    a->owner = 0;
    a->expires = 0;

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;

failed:

    /* the old rules stop, the new ones never start: nginx still runs */

    for (i = 0; states != NULL && i < n; i++) {
        if (states[i].samples != NULL) {
            ngx_slab_free_locked(shpool, states[i].samples);
        }
    }

    if (states != NULL) {
        ngx_slab_free_locked(shpool, states);
    }

    for (j = 0; j < a->nrules; j++) {
        if (a->rules[j].samples != NULL) {
            ngx_slab_free_locked(shpool, a->rules[j].samples);
        }
    }

    if (a->rules != NULL) {
        ngx_slab_free_locked(shpool, a->rules);
    }

    a->rules = NULL;
    a->nrules = 0;
    a->generation = zone->generation;

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "monitoring zone \"%V\" has no room for the state of its "
                  "alert rules, they are not evaluated; give the zone "
                  "more memory", &zone->name);

    return NGX_OK;
}


ngx_int_t
ngx_http_monitoring_alerts_init_process(ngx_cycle_t *cycle)
{
    size_t                            size;
    ngx_uint_t                        i, j;
    ngx_shm_zone_t                  **zones;
    ngx_http_monitoring_zone_t       *zone;
    ngx_http_monitoring_alert_t     **rules;
    ngx_http_monitoring_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_monitoring_module);

    zones = mmcf->zones.elts;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        zone = zones[i]->data;
        rules = zone->alerts.elts;
        size = 0;

        for (j = 0; j < zone->alerts.nelts; j++) {
            size += rules[j]->nvalues * sizeof(uint64_t);
        }

        if (size) {
            zone->values = ngx_palloc(cycle->pool, size);
            if (zone->values == NULL) {
                return NGX_ERROR;
            }
        }

        /* also without rules: those of the previous configuration stop */

        if (ngx_http_monitoring_alerts_adopt(zone, cycle->log) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (mmcf->alerts.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_monitoring_alert_event.handler = ngx_http_monitoring_alert_tick;
    ngx_http_monitoring_alert_event.data = mmcf;
    ngx_http_monitoring_alert_event.log = cycle->log;
    ngx_http_monitoring_alert_event.cancelable = 1;

    ngx_add_timer(&ngx_http_monitoring_alert_event, mmcf->alert_interval);

    return NGX_OK;
}


/* a worker that leaves hands its leases over at once */

void
ngx_http_monitoring_alerts_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i;
    ngx_shm_zone_t                  **zones;
    ngx_http_monitoring_zone_t       *zone;
    ngx_http_monitoring_alerts_t     *a;
    ngx_http_monitoring_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_monitoring_module);
    if (mmcf == NULL || mmcf->alerts.nelts == 0) {
        return;
    }

    zones = mmcf->zones.elts;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        zone = zones[i]->data;
        a = zone->sh->alerts;

        if (a == NULL) {
            continue;
        }

        ngx_shmtx_lock(&zone->shpool->mutex);

        if (a->owner == ngx_pid) {
            a->owner = 0;
            a->expires = 0;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);
    }
}


static void
ngx_http_monitoring_alert_tick(ngx_event_t *ev)
{
    ngx_uint_t                        i;
    ngx_shm_zone_t                  **zones;
    ngx_http_monitoring_zone_t       *zone;
    ngx_http_monitoring_main_conf_t  *mmcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    mmcf = ev->data;
    zones = mmcf->zones.elts;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        zone = zones[i]->data;

        if (zone->alerts.nelts) {
            ngx_http_monitoring_alert_evaluate(zone, mmcf->alert_interval,
                                               ev->log);
        }
    }

    ngx_add_timer(ev, mmcf->alert_interval);
}


static void
ngx_http_monitoring_alert_evaluate(ngx_http_monitoring_zone_t *zone,
    ngx_msec_t interval, ngx_log_t *log)
{
    uint64_t                       now, *values;
    ngx_uint_t                     i;
    ngx_time_t                    *tp;
    ngx_msec_t                     mono;
    ngx_http_monitoring_alert_t  **rules;
    ngx_http_monitoring_alerts_t  *a;

    a = zone->sh->alerts;
    mono = ngx_current_msec;

    /* in a binary upgrade the old nginx evaluates until it exits */

    if (zone->sh->await_final) {
        return;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (!ngx_http_monitoring_alerts_ready(zone, a)
        || (a->owner != ngx_pid && a->owner != 0
            && (ngx_msec_int_t) (a->expires - mono) > 0))
    {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    if (a->owner != ngx_pid) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "monitoring alerts: lease of zone \"%V\" taken",
                       &zone->name);
    }

    a->owner = ngx_pid;
    a->expires = mono + 3 * interval;

    /* a lease taken over mid-tick waits for the next one */

    if (a->last != 0
        && (ngx_msec_int_t) (mono - a->last) < (ngx_msec_int_t) interval / 2)
    {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    a->last = mono;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /* the series are read without the lock, as a scrape reads them */

    ngx_http_monitoring_alert_collect(zone);

    tp = ngx_timeofday();
    now = (uint64_t) tp->sec * 1000 + tp->msec;

    rules = zone->alerts.elts;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (ngx_http_monitoring_alerts_ready(zone, a)) {
        a->evaluations++;
        values = zone->values;

        for (i = 0; i < zone->alerts.nelts; i++) {
            ngx_http_monitoring_alert_step(rules[i], &a->rules[i], values,
                                           now, interval);
            values += rules[i]->nvalues;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_http_monitoring_notify(zone, log);
}


/* the counters now, summed over the series each rule selects */

static void
ngx_http_monitoring_alert_collect(ngx_http_monitoring_zone_t *zone)
{
    u_char                        *k;
    uint64_t                      *v;
    ngx_uint_t                     i, slot, status;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_alert_t  **rules;
    ngx_http_monitoring_series_t  *s;

    static u_char  overflow[] = "__overflow__";

    sh = zone->sh;
    rules = zone->alerts.elts;

    v = zone->values;

    for (i = 0; i < zone->alerts.nelts; i++) {
        ngx_memzero(v, rules[i]->nvalues * sizeof(uint64_t));
        v += rules[i]->nvalues;
    }

    for (slot = 0; slot <= sh->hash_mask + 1; slot++) {

        s = (slot <= sh->hash_mask) ? sh->hash[slot]
                                    : sh->overflow[NGX_HTTP_MONITORING_REQUEST];

        for ( /* void */ ; s; s = s->next) {

            if (ngx_http_monitoring_kind(s) != NGX_HTTP_MONITORING_REQUEST
                || s->probe)
            {
                continue;
            }

            /* the endpoint follows the server in the key */

            k = ngx_http_monitoring_key(s);

            if (s->key_len > 1) {
                k += 2 + k[1];
            }

            v = zone->values;

            for (i = 0; i < zone->alerts.nelts; i++) {

                if (rules[i]->endpoint.len == 0
                    || (s->key_len > 1
                        && ngx_http_monitoring_glob(rules[i]->endpoint.data,
                                                    rules[i]->endpoint.len,
                                                    k + 1, *k))
                    || (s->key_len == 1
                        && ngx_http_monitoring_glob(rules[i]->endpoint.data,
                                                    rules[i]->endpoint.len,
                                                    overflow,
                                                    sizeof(overflow) - 1)))
                {
                    ngx_http_monitoring_alert_add(rules[i], v, s, zone);
                }

                v += rules[i]->nvalues;
            }

            if (slot > sh->hash_mask) {
                break;
            }
        }
    }

    /* statuses that found no room in their series */

    v = zone->values;

    for (i = 0; i < zone->alerts.nelts; i++) {

        if (rules[i]->endpoint.len == 0
            || ngx_http_monitoring_glob(rules[i]->endpoint.data,
                                        rules[i]->endpoint.len, overflow,
                                        sizeof(overflow) - 1))
        {
            for (status = rules[i]->expr.status_lo;
                 status <= rules[i]->expr.status_hi
                 && status < NGX_HTTP_MONITORING_MAX_STATUS;
                 status++)
            {
                v[NGX_HTTP_MONITORING_SAMPLE_MATCHED] +=
                      sh->overflow_status[NGX_HTTP_MONITORING_REQUEST][status];
            }
        }

        v += rules[i]->nvalues;
    }
}


static void
ngx_http_monitoring_alert_add(ngx_http_monitoring_alert_t *rule, uint64_t *v,
    ngx_http_monitoring_series_t *s, ngx_http_monitoring_zone_t *zone)
{
    uint64_t                       n;
    ngx_uint_t                     i, j;
    ngx_http_monitoring_bounds_t  *sb, *rb;
    ngx_http_monitoring_status_t  *st;

    sb = s->bounds;

    for (i = 0; i <= sb->n; i++) {
        v[NGX_HTTP_MONITORING_SAMPLE_REQS] += s->bucket[i];
    }

    v[NGX_HTTP_MONITORING_SAMPLE_SUM] += s->time_sum;

    if (rule->expr.status_hi) {
        for (st = s->status; st; st = st->next) {
            if (st->status >= rule->expr.status_lo
                && st->status <= rule->expr.status_hi)
            {
                v[NGX_HTTP_MONITORING_SAMPLE_MATCHED] += st->count;
            }
        }
    }

    rb = rule->bounds;

    if (rb == NULL) {
        return;
    }

    v += NGX_HTTP_MONITORING_SAMPLE_BUCKETS;

    /* other buckets fold into the first rule bucket that holds them */

    j = 0;

    for (i = 0; i <= sb->n; i++) {
        n = s->bucket[i];

        if (i == sb->n) {
            j = rb->n;

        } else {
            while (j < rb->n && rb->msec[j] < sb->msec[i]) {
                j++;
            }
        }

        v[j] += n;
    }
}


static void
ngx_http_monitoring_alert_step(ngx_http_monitoring_alert_t *rule,
    ngx_http_monitoring_alert_state_t *st, uint64_t *cur, uint64_t now,
    ngx_msec_t interval)
{
    double       value;
    uint64_t    *old, *smp, *newest;
    ngx_uint_t   j, k, n, cond, has;

    n = rule->nsamples;

    /* the newest sample at least a window old, else the oldest one */

    old = NULL;
    newest = NULL;

    for (j = 0; j < st->count; j++) {
        k = (st->head + n - 1 - j) % n;
        smp = st->samples + k * rule->nvalues;

        if (j == 0) {
            newest = smp;
        }

        old = smp;

        if (smp[NGX_HTTP_MONITORING_SAMPLE_TIME] + rule->window <= now) {
            break;
        }
    }

    if (old != NULL
        && (old[NGX_HTTP_MONITORING_SAMPLE_REQS]
            > cur[NGX_HTTP_MONITORING_SAMPLE_REQS]
            || old[NGX_HTTP_MONITORING_SAMPLE_TIME] >= now))
    {
        /* counters that went back, or a clock that did */
        st->count = 0;
        old = NULL;
        newest = NULL;
    }

    has = (old != NULL)
          ? ngx_http_monitoring_alert_value(rule, cur, old, now, &value) : 0;

    if (newest == NULL
        || now - newest[NGX_HTTP_MONITORING_SAMPLE_TIME] + interval / 2
           >= rule->every)
    {
        smp = st->samples + st->head * rule->nvalues;

        ngx_memcpy(smp, cur, rule->nvalues * sizeof(uint64_t));
        smp[NGX_HTTP_MONITORING_SAMPLE_TIME] = now;

        st->head = (st->head + 1) % n;

        if (st->count < n) {
            st->count++;
        }
    }

    cond = has && ngx_http_monitoring_expr_holds(&rule->expr, value);

    st->has_value = has;
    st->value = has ? value : 0;
    st->evaluated_at = now;

    switch (st->state) {

    case NGX_HTTP_MONITORING_PENDING:

        if (!cond) {
            ngx_http_monitoring_alert_transition(st,
                                         NGX_HTTP_MONITORING_INACTIVE, now);
            return;
        }

        if (now - st->active_at >= rule->for_time) {
            goto fire;
        }

        return;

    case NGX_HTTP_MONITORING_FIRING:

        if (cond) {
            st->cleared_at = 0;
            return;
        }

        /* as Prometheus: kept since the first evaluation found it false */

        if (st->cleared_at == 0) {
            st->cleared_at = now;
        }

        if (now - st->cleared_at < rule->keep_firing_for) {
            return;
        }

        st->resolved_at = now;
        ngx_http_monitoring_alert_transition(st,
                                         NGX_HTTP_MONITORING_RESOLVED, now);
        return;

    default: /* NGX_HTTP_MONITORING_INACTIVE, NGX_HTTP_MONITORING_RESOLVED */

        if (!cond) {
            if (st->state == NGX_HTTP_MONITORING_RESOLVED
                && now - st->resolved_at >= NGX_HTTP_MONITORING_RESOLVED_KEEP)
            {
                st->state = NGX_HTTP_MONITORING_INACTIVE;
            }

            return;
        }

        st->active_at = now;

        if (rule->for_time == 0) {
            goto fire;
        }

        ngx_http_monitoring_alert_transition(st, NGX_HTTP_MONITORING_PENDING,
                                             now);
        return;
    }

fire:

    st->fired_at = now;
    st->cleared_at = 0;
    st->resolved_at = 0;

    ngx_http_monitoring_alert_transition(st, NGX_HTTP_MONITORING_FIRING, now);
}


/* 0 when the window holds no value: no requests, except for rps */

static ngx_uint_t
ngx_http_monitoring_alert_value(ngx_http_monitoring_alert_t *rule,
    uint64_t *cur, uint64_t *old, uint64_t now, double *value)
{
    double                         seconds, requests, matched;
    ngx_uint_t                     i;
    ngx_http_monitoring_bounds_t  *b;
    double                         bucket[NGX_HTTP_MONITORING_MAX_BUCKETS + 1];

    seconds = (now - old[NGX_HTTP_MONITORING_SAMPLE_TIME]) / 1000.0;
    requests = (double) (cur[NGX_HTTP_MONITORING_SAMPLE_REQS]
                         - old[NGX_HTTP_MONITORING_SAMPLE_REQS]);
    matched = (double) (cur[NGX_HTTP_MONITORING_SAMPLE_MATCHED]
                        - old[NGX_HTTP_MONITORING_SAMPLE_MATCHED]);

    if (rule->expr.metric == NGX_HTTP_MONITORING_EXPR_RPS) {
        *value = requests / seconds;
        return 1;
    }

    if (requests == 0) {
        return 0;
    }

    switch (rule->expr.metric) {

    case NGX_HTTP_MONITORING_EXPR_ERROR_RATE:
    case NGX_HTTP_MONITORING_EXPR_RATIO:
        *value = matched / requests;
        break;

    case NGX_HTTP_MONITORING_EXPR_COUNT:
        *value = matched;
        break;

    case NGX_HTTP_MONITORING_EXPR_RATE:
        *value = matched / seconds;
        break;

    case NGX_HTTP_MONITORING_EXPR_MEAN:
        *value = (cur[NGX_HTTP_MONITORING_SAMPLE_SUM]
                  - old[NGX_HTTP_MONITORING_SAMPLE_SUM]) / requests;
        break;

    default: /* NGX_HTTP_MONITORING_EXPR_QUANTILE */

        b = rule->bounds;

        for (i = 0; i <= b->n; i++) {
            bucket[i] = (double)
                        (cur[NGX_HTTP_MONITORING_SAMPLE_BUCKETS + i]
                         - old[NGX_HTTP_MONITORING_SAMPLE_BUCKETS + i]);
        }

        *value = ngx_http_monitoring_bucket_quantile(b, bucket,
                                                     rule->expr.quantile);
        if (*value < 0) {
            return 0;
        }

        break;
    }

    return 1;
}


static void
ngx_http_monitoring_alert_transition(ngx_http_monitoring_alert_state_t *st,
    ngx_uint_t state, uint64_t now)
{
    ngx_http_monitoring_transition_t  *t;

    t = &st->transitions[st->seq % NGX_HTTP_MONITORING_TRANSITIONS];

    t->at = now;
    t->state = state;
    t->value = st->value;
    t->has_value = st->has_value;

    st->seq++;
    st->state = state;
}


/* "*" matches any run of bytes, "?" any one byte */

static ngx_uint_t
ngx_http_monitoring_glob(u_char *glob, size_t glob_len, u_char *s,
    size_t len)
{
    u_char  *g, *gl, *p, *last, *star, *mark;

    g = glob;
    gl = glob + glob_len;
    p = s;
    last = s + len;
    star = NULL;
    mark = NULL;

    while (p < last) {

        if (g < gl && (*g == '?' || *g == *p)) {
            g++;
            p++;
            continue;
        }

        if (g < gl && *g == '*') {
            star = ++g;
            mark = p;
            continue;
        }

        if (star == NULL) {
            return 0;
        }

        g = star;
        p = ++mark;
    }

    while (g < gl && *g == '*') {
        g++;
    }

    return g == gl;
}


/* a copy of the counters every rule reads now, or NULL */

uint64_t *
ngx_http_monitoring_alerts_counters(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log)
{
    size_t                         size;
    uint64_t                      *copy;
    ngx_uint_t                     i;
    ngx_http_monitoring_alert_t  **rules;

    if (zone->values == NULL) {
        return NULL;
    }

    rules = zone->alerts.elts;
    size = 0;

    for (i = 0; i < zone->alerts.nelts; i++) {
        size += rules[i]->nvalues * sizeof(uint64_t);
    }

    copy = ngx_alloc(size, log);
    if (copy == NULL) {
        return NULL;
    }

    ngx_http_monitoring_alert_collect(zone);
    ngx_memcpy(copy, zone->values, size);

    return copy;
}


/*
 * in a binary upgrade, once the old nginx's last snapshot is added: its
 * alert states, kept in the zone, replace those of the rules here,
 * which were not evaluated meanwhile.  Its samples lack what the new
 * nginx counted since it started ("own"): spread over that time, as if
 * evenly, so that a window sees it neither as a burst nor at all.
 */

void
ngx_http_monitoring_alerts_restore(ngx_http_monitoring_zone_t *zone,
    uint64_t *own, ngx_log_t *log)
{
    u_char                             *which;
    double                              part;
    uint64_t                            now, *smp;
    ngx_uint_t                          i, j, k, restored;
    ngx_time_t                         *tp;
    ngx_http_monitoring_alert_t       **rules;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_alert_state_t  *st;

    a = zone->sh->alerts;
    rules = zone->alerts.elts;
    restored = 0;

    tp = ngx_timeofday();
    now = (uint64_t) tp->sec * 1000 + tp->msec;

    which = ngx_alloc(zone->alerts.nelts + 1, log);

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (ngx_http_monitoring_alerts_ready(zone, a) && which != NULL) {
        ngx_memzero(which, a->nrules);

        ngx_http_monitoring_snapshot_alerts(zone, zone->alerts.elts,
                                            a->rules, a->nrules, &restored,
                                            which);

        for (i = 0; own != NULL && i < a->nrules; i++) {
            st = &a->rules[i];

            /* a rule the old nginx did not have starts from now */

            if (!which[i]) {
                st->count = 0;
                st->head = 0;
                own += rules[i]->nvalues;
                continue;
            }

            for (j = 0; j < st->count; j++) {
                smp = st->samples + j * rules[i]->nvalues;

                part = (smp[NGX_HTTP_MONITORING_SAMPLE_TIME]
                        <= zone->sh->created
                        || now <= zone->sh->created)
                       ? 0
                       : (double) (smp[NGX_HTTP_MONITORING_SAMPLE_TIME]
                                   - zone->sh->created)
                         / (now - zone->sh->created);

                for (k = NGX_HTTP_MONITORING_SAMPLE_REQS;
                     k < rules[i]->nvalues;
                     k++)
                {
                    smp[k] += (uint64_t) (own[k] * ngx_min(part, 1.0));
                }
            }

            own += rules[i]->nvalues;
        }

    }

    if (a->restore != NULL) {
        ngx_slab_free_locked(zone->shpool, a->restore);
        a->restore = NULL;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (which != NULL) {
        ngx_free(which);
    }

    if (restored) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "monitoring zone \"%V\": %ui alert states of the "
                      "previous nginx go on", &zone->name, restored);
    }
}


/*
 * under the lock, the state of a rule for readers: while old and new
 * workers overlap, a rule of one configuration is found in the table of
 * the other by its name and definition
 */

static ngx_http_monitoring_alert_state_t *
ngx_http_monitoring_alert_find(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_alerts_t *a, ngx_uint_t i)
{
    ngx_uint_t                     j;
    ngx_http_monitoring_alert_t  **rules;

    if (ngx_http_monitoring_alerts_ready(zone, a)) {
        return &a->rules[i];
    }

    if (a == NULL) {
        return NULL;
    }

    rules = zone->alerts.elts;

    for (j = 0; j < a->nrules; j++) {
        if (a->rules[j].hash == rules[i]->hash
            && a->rules[j].name_len == rules[i]->name.len
            && ngx_memcmp(a->rules[j].name, rules[i]->name.data,
                          rules[i]->name.len)
               == 0)
        {
            return &a->rules[j];
        }
    }

    return NULL;
}


/* for /health: firing alerts, and whether one of them is critical */

ngx_uint_t
ngx_http_monitoring_alerts_firing(ngx_http_monitoring_zone_t *zone,
    ngx_uint_t *critical)
{
    ngx_uint_t                          i, n;
    ngx_http_monitoring_alert_t       **rules;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_alert_state_t  *st;

    *critical = 0;
    a = zone->sh->alerts;

    if (zone->alerts.nelts == 0) {
        return 0;
    }

    rules = zone->alerts.elts;
    n = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < zone->alerts.nelts; i++) {
        st = ngx_http_monitoring_alert_find(zone, a, i);

        if (st != NULL && st->state == NGX_HTTP_MONITORING_FIRING) {
            n++;
            *critical |= rules[i]->critical;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return n;
}


/* the "alerts" object of the JSON API */

void *
ngx_http_monitoring_alerts_json(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_main_conf_t *mmcf)
{
    cJSON                              *o, *list, *r, *t, *lo, *ts;
    uint64_t                            since;
    ngx_uint_t                          i, j, n, firing, pending, failed;
    ngx_keyval_t                       *kv;
    ngx_http_monitoring_alert_t       **rules, *rule;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_transition_t   *tr;
    ngx_http_monitoring_alert_state_t  *states, *st;
    u_char                              name[NGX_HTTP_MONITORING_NAME_MAX
                                             + 1];

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    failed = 0;
    firing = 0;
    pending = 0;

    n = zone->alerts.nelts;
    a = zone->sh->alerts;

    if (cJSON_AddBoolToObject(o, "configured", n != 0) == NULL
        || cJSON_AddNumberToObject(o, "interval_seconds",
                                   mmcf->alert_interval / 1000.0)
           == NULL)
    {
        goto failed;
    }

    list = cJSON_AddArrayToObject(o, "rules");
    if (list == NULL) {
        goto failed;
    }

    /* a copy, so that cJSON allocates without the lock */

    states = NULL;

    if (n && a != NULL) {
        states = ngx_alloc(n * sizeof(ngx_http_monitoring_alert_state_t),
                           ngx_cycle->log);
        if (states == NULL) {
            goto failed;
        }

        ngx_shmtx_lock(&zone->shpool->mutex);

        for (i = 0; i < n; i++) {
            st = ngx_http_monitoring_alert_find(zone, a, i);

            if (st != NULL) {
                ngx_memcpy(&states[i], st,
                           sizeof(ngx_http_monitoring_alert_state_t));

            } else {
                ngx_memzero(&states[i],
                            sizeof(ngx_http_monitoring_alert_state_t));
            }
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);
    }

    rules = zone->alerts.elts;

    for (i = 0; i < n && states != NULL; i++) {
        rule = rules[i];
        st = &states[i];

        firing += (st->state == NGX_HTTP_MONITORING_FIRING);
        pending += (st->state == NGX_HTTP_MONITORING_PENDING);

        r = cJSON_CreateObject();

        if (r == NULL || !cJSON_AddItemToArray(list, r)) {
            cJSON_Delete(r);
            failed = 1;
            break;
        }

        since = (st->state == NGX_HTTP_MONITORING_FIRING) ? st->fired_at
                : (st->state == NGX_HTTP_MONITORING_PENDING) ? st->active_at
                : (st->state == NGX_HTTP_MONITORING_RESOLVED) ? st->resolved_at
                : 0;

        failed |= ngx_http_monitoring_json_str(r, "name", &rule->name);
        failed |= ngx_http_monitoring_json_str(r, "state",
                                  &ngx_http_monitoring_alert_states[st->state]);
        failed |= ngx_http_monitoring_json_str(r, "severity",
                                               &rule->severity);
        failed |= ngx_http_monitoring_json_str(r, "expr", &rule->text);

        failed |= ((st->has_value
                    ? cJSON_AddNumberToObject(r, "value", st->value)
                    : cJSON_AddNullToObject(r, "value"))
                   == NULL);

        failed |= (cJSON_AddStringToObject(r, "unit",
                        ngx_http_monitoring_expr_unit_name(rule->expr.unit))
                   == NULL);

        failed |= ((since
                    ? cJSON_AddNumberToObject(r, "since",
                                  ngx_http_monitoring_alert_seconds(since))
                    : cJSON_AddNullToObject(r, "since"))
                   == NULL);

        failed |= ((st->evaluated_at
                    ? cJSON_AddNumberToObject(r, "evaluated_at",
                          ngx_http_monitoring_alert_seconds(st->evaluated_at))
                    : cJSON_AddNullToObject(r, "evaluated_at"))
                   == NULL);

        failed |= (cJSON_AddNumberToObject(r, "window_seconds",
                                           rule->window / 1000.0)
                   == NULL);
        failed |= (cJSON_AddNumberToObject(r, "for_seconds",
                                           rule->for_time / 1000.0)
                   == NULL);
        failed |= (cJSON_AddNumberToObject(r, "keep_firing_for_seconds",
                                           rule->keep_firing_for / 1000.0)
                   == NULL);

        failed |= (rule->endpoint.len
                   ? ngx_http_monitoring_json_str(r, "endpoint",
                                                  &rule->endpoint)
                   : (cJSON_AddNullToObject(r, "endpoint") == NULL));

        failed |= ngx_http_monitoring_json_str(r, "summary", &rule->summary);
        failed |= ngx_http_monitoring_json_str(r, "description",
                                               &rule->description);

        lo = cJSON_AddObjectToObject(r, "labels");
        failed |= (lo == NULL);

        if (lo != NULL && rule->labels != NULL) {
            kv = rule->labels->elts;

            for (j = 0; j < rule->labels->nelts; j++) {
                *ngx_cpymem(name, kv[j].key.data, kv[j].key.len) = '\0';

                failed |= ngx_http_monitoring_json_str(lo, (char *) name,
                                                       &kv[j].value);
            }
        }

        ts = cJSON_AddArrayToObject(r, "transitions");
        failed |= (ts == NULL);

        /* oldest first, the last ten */

        j = (st->seq > NGX_HTTP_MONITORING_TRANSITIONS)
            ? st->seq - NGX_HTTP_MONITORING_TRANSITIONS : 0;

        for ( /* void */ ; ts != NULL && j < st->seq; j++) {
            tr = &st->transitions[j % NGX_HTTP_MONITORING_TRANSITIONS];

            t = cJSON_CreateObject();

            if (t == NULL || !cJSON_AddItemToArray(ts, t)) {
                cJSON_Delete(t);
                failed = 1;
                break;
            }

            failed |= ngx_http_monitoring_json_str(t, "state",
                                  &ngx_http_monitoring_alert_states[tr->state]);
            failed |= (cJSON_AddNumberToObject(t, "at",
                                      ngx_http_monitoring_alert_seconds(tr->at))
                       == NULL);
            failed |= ((tr->has_value
                        ? cJSON_AddNumberToObject(t, "value", tr->value)
                        : cJSON_AddNullToObject(t, "value"))
                       == NULL);
        }
    }

    if (states != NULL) {
        ngx_free(states);
    }

    if (failed
        || cJSON_AddNumberToObject(o, "firing", firing) == NULL
        || cJSON_AddNumberToObject(o, "pending", pending) == NULL)
    {
        goto failed;
    }

    return o;

failed:

    cJSON_Delete(o);

    return NULL;
}


/* nginx_alerts: 1 for each pending or firing rule, as Prometheus' ALERTS */

size_t
ngx_http_monitoring_alerts_size(ngx_http_monitoring_zone_t *zone)
{
    size_t                         size;
    ngx_uint_t                     i;
    ngx_http_monitoring_alert_t  **rules;

    rules = zone->alerts.elts;
    size = 0;

    for (i = 0; i < zone->alerts.nelts; i++) {
        size += sizeof("nginx_alerts{,alertname=\"\",alertstate=\"pending\","
                       "severity=\"\"} 1\n")
                + zone->label.len + rules[i]->name.len
                + rules[i]->severity.len + rules[i]->labels_text.len;
    }

    return size;
}


u_char *
ngx_http_monitoring_alerts_metrics(ngx_http_monitoring_zone_t *zone,
    u_char *p)
{
    ngx_uint_t                          i, state;
    ngx_http_monitoring_alert_t       **rules;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_alert_state_t  *st;

    a = zone->sh->alerts;
    rules = zone->alerts.elts;

    /* a reload may be replacing the table */

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < zone->alerts.nelts; i++) {
        st = ngx_http_monitoring_alert_find(zone, a, i);

        if (st == NULL) {
            continue;
        }

        state = st->state;

        if (state != NGX_HTTP_MONITORING_PENDING
            && state != NGX_HTTP_MONITORING_FIRING)
        {
            continue;
        }

        p = ngx_sprintf(p, "nginx_alerts{%Valertname=\"%V\",alertstate=\"%V\","
                        "severity=\"%V\"%V} 1\n",
                        &zone->label, &rules[i]->name,
                        &ngx_http_monitoring_alert_states[state],
                        &rules[i]->severity, &rules[i]->labels_text);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return p;
}


static double
ngx_http_monitoring_alert_seconds(uint64_t ms)
{
    return (double) (ms / 1000) + (ms % 1000) / 1000.0;
}
