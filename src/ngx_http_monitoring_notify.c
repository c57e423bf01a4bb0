
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_http_monitoring_module.h"


/*
 * What each webhook is sent, and when.  Alertmanager gets every firing
 * alert again each "resend", and a resolved one for 15 minutes, as
 * Prometheus' notifier does; a generic webhook gets one object per
 * transition to firing or resolved, in order.  What a webhook has
 * received is kept with the alert in the zone, so a delivery is neither
 * lost nor repeated when the worker that evaluates changes; one delivery
 * per webhook is under way at a time, and failures back off.
 */

#define NGX_HTTP_MONITORING_BACKOFF_MAX  60000


/* an alert as it was when the delivery started */

typedef struct {
    ngx_uint_t                       rule;
    uint32_t                         hash;
    ngx_uint_t                       state;
    uint64_t                         fired_at;
    uint64_t                         resolved_at;
    uint64_t                         at;        /* of the transition */
    double                           value;
    ngx_uint_t                       has_value;
    ngx_uint_t                       seq;
} ngx_http_monitoring_entry_t;


typedef struct {
    ngx_http_monitoring_zone_t      *zone;
    ngx_http_monitoring_webhook_t   *webhook;
    ngx_uint_t                       generation;
    uint32_t                         hash;
    uint64_t                         now;
    ngx_log_t                       *log;
    ngx_uint_t                       n;
    ngx_http_monitoring_entry_t      entries[1];
} ngx_http_monitoring_delivery_t;


static void ngx_http_monitoring_notify_hook(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_webhook_t *wh, uint64_t now, ngx_log_t *log);
static ngx_uint_t ngx_http_monitoring_pick(ngx_http_monitoring_delivery_t *d,
    ngx_http_monitoring_alerts_t *a);
static char *ngx_http_monitoring_body(ngx_http_monitoring_delivery_t *d);
static cJSON *ngx_http_monitoring_alertmanager(
    ngx_http_monitoring_delivery_t *d, ngx_http_monitoring_entry_t *e);
static cJSON *ngx_http_monitoring_generic(ngx_http_monitoring_delivery_t *d,
    ngx_http_monitoring_entry_t *e);
static ngx_uint_t ngx_http_monitoring_common(cJSON *o,
    ngx_http_monitoring_alert_t *rule, ngx_uint_t labels);
static ngx_uint_t ngx_http_monitoring_extra(cJSON *o,
    ngx_http_monitoring_alert_t *rule,
    ngx_http_monitoring_main_conf_t *mmcf);
static ngx_str_t *ngx_http_monitoring_instance(
    ngx_http_monitoring_main_conf_t *mmcf);
static ngx_uint_t ngx_http_monitoring_add_time(cJSON *o, const char *name,
    uint64_t ms);
static void ngx_http_monitoring_delivered(void *data, ngx_uint_t result,
    ngx_uint_t status);
static void ngx_http_monitoring_result(ngx_http_monitoring_delivery_t *d,
    ngx_uint_t result);
static uint64_t ngx_http_monitoring_now(void);


static ngx_str_t  ngx_http_monitoring_notify_states[] = {
    ngx_string("inactive"),
    ngx_string("pending"),
    ngx_string("firing"),
    ngx_string("resolved")
};


/* monitoring_alert_webhook URL [format=] [timeout=] [resend=] */

char *
ngx_http_monitoring_alert_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_monitoring_main_conf_t *mmcf = conf;

    u_char                         *p;
    ngx_int_t                       n;
    ngx_str_t                      *value, s;
    ngx_uint_t                      i, format;
    ngx_http_monitoring_webhook_t  *wh;

    value = cf->args->elts;

    if (mmcf->webhooks.nelts == NGX_HTTP_MONITORING_MAX_WEBHOOKS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many \"%V\" directives, at most %d",
                           &cmd->name, NGX_HTTP_MONITORING_MAX_WEBHOOKS);
        return NGX_CONF_ERROR;
    }

    /* the URL shows up in metrics labels: printable ASCII only */

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid character in URL of \"%V\" "
                               "directive", &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    wh = mmcf->webhooks.elts;

    for (i = 0; i < mmcf->webhooks.nelts; i++) {
        if (wh[i].url.len == value[1].len
            && ngx_strncmp(wh[i].url.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate URL in \"%V\" directive",
                               &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    wh = ngx_array_push(&mmcf->webhooks);
    if (wh == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(wh, sizeof(ngx_http_monitoring_webhook_t));

    wh->url = value[1];
    wh->index = mmcf->webhooks.nelts - 1;
    wh->file = cf->conf_file->file.name;
    wh->line = cf->conf_file->line;
    wh->format = NGX_HTTP_MONITORING_WEBHOOK_ALERTMANAGER;
    wh->timeout = NGX_CONF_UNSET_MSEC;
    wh->resend = NGX_CONF_UNSET_MSEC;
    format = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "format=", 7) == 0) {

            if (format) {
                goto duplicate;
            }

            format = 1;

            if (ngx_strcmp(value[i].data, "format=alertmanager") == 0) {
                wh->format = NGX_HTTP_MONITORING_WEBHOOK_ALERTMANAGER;
                continue;
            }

            if (ngx_strcmp(value[i].data, "format=generic") == 0) {
                wh->format = NGX_HTTP_MONITORING_WEBHOOK_GENERIC;
                continue;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid format \"%s\" in \"%V\" directive, "
                               "alertmanager or generic",
                               value[i].data + 7, &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {

            if (wh->timeout != NGX_CONF_UNSET_MSEC) {
                goto duplicate;
            }

            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            n = ngx_parse_time(&s, 0);

            if (n == NGX_ERROR || n < 1 || n > 600000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid timeout \"%V\" in \"%V\" "
                                   "directive, a time up to 10m", &s,
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            wh->timeout = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "resend=", 7) == 0) {

            if (wh->resend != NGX_CONF_UNSET_MSEC) {
                goto duplicate;
            }

            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            n = ngx_parse_time(&s, 0);

            if (n == NGX_ERROR || n < 1000 || n > 24 * 3600 * 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid resend \"%V\" in \"%V\" "
                                   "directive, a time from 1s to 1d", &s,
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            wh->resend = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (wh->format == NGX_HTTP_MONITORING_WEBHOOK_GENERIC
        && wh->resend != NGX_CONF_UNSET_MSEC)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"resend=\" applies to \"format=alertmanager\" "
                           "only, a generic webhook gets each transition "
                           "once, in \"%V\" directive", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (wh->timeout == NGX_CONF_UNSET_MSEC) {
        wh->timeout = 5000;
    }

    if (wh->resend == NGX_CONF_UNSET_MSEC) {
        wh->resend = 60000;
    }

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* after an evaluation, by the worker that made it */

void
ngx_http_monitoring_notify(ngx_http_monitoring_zone_t *zone, ngx_log_t *log)
{
    uint64_t                        now;
    ngx_uint_t                      i;
    ngx_http_monitoring_webhook_t  *wh;

    wh = zone->mmcf->webhooks.elts;
    now = ngx_http_monitoring_now();

    for (i = 0; i < zone->mmcf->webhooks.nelts; i++) {
        ngx_http_monitoring_notify_hook(zone, &wh[i], now, log);
    }
}


static void
ngx_http_monitoring_notify_hook(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_webhook_t *wh, uint64_t now, ngx_log_t *log)
{
    char                              *body;
    ngx_http_monitoring_alerts_t      *a;
    ngx_http_monitoring_hook_state_t  *hs;
    ngx_http_monitoring_delivery_t    *d;

    if (zone->alerts.nelts == 0) {
        return;
    }

    d = ngx_alloc(sizeof(ngx_http_monitoring_delivery_t)
                  + zone->alerts.nelts * sizeof(ngx_http_monitoring_entry_t),
                  log);
    if (d == NULL) {
        return;
    }

    d->zone = zone;
    d->webhook = wh;
    d->generation = zone->generation;
    d->now = now;
    d->log = log;
    d->n = 0;

    a = zone->sh->alerts;
    hs = &a->hooks[wh->index];

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (a->generation != zone->generation
        || a->nrules != zone->alerts.nelts
        || (hs->busy != 0 && hs->busy_until > now)
        || hs->retry_at > now
        || ngx_http_monitoring_pick(d, a) == 0)
    {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        ngx_free(d);
        return;
    }

    d->hash = hs->hash;
    hs->busy = ngx_pid;
    hs->busy_until = now + wh->timeout + 1000;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    body = ngx_http_monitoring_body(d);

    if (body == NULL) {
        ngx_http_monitoring_result(d, NGX_HTTP_MONITORING_WEBHOOK_ERROR);
        ngx_free(d);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "monitoring alerts: to \"%V\": %s", &wh->name, body);

    if (ngx_http_monitoring_webhook_post(wh, (u_char *) body,
                                         ngx_strlen(body), log,
                                         ngx_http_monitoring_delivered, d)
        != NGX_OK)
    {
        ngx_http_monitoring_result(d, NGX_HTTP_MONITORING_WEBHOOK_ERROR);
        ngx_free(d);
    }

    cJSON_free(body);
}


/* the alerts the webhook is due, under the lock; 0 when none */

static ngx_uint_t
ngx_http_monitoring_pick(ngx_http_monitoring_delivery_t *d,
    ngx_http_monitoring_alerts_t *a)
{
    uint64_t                            sent;
    ngx_uint_t                          i, j, seq;
    ngx_http_monitoring_entry_t        *e;
    ngx_http_monitoring_webhook_t      *wh;
    ngx_http_monitoring_transition_t   *t, *f;
    ngx_http_monitoring_alert_state_t  *st;

    wh = d->webhook;

    for (i = 0; i < a->nrules; i++) {
        st = &a->rules[i];

        if (wh->format == NGX_HTTP_MONITORING_WEBHOOK_GENERIC) {

            /* the oldest transition not delivered yet, if still known */

            seq = st->sent[wh->index].seq;
            t = NULL;

            if (seq + NGX_HTTP_MONITORING_TRANSITIONS < st->seq) {
                seq = st->seq - NGX_HTTP_MONITORING_TRANSITIONS;
            }

            for ( /* void */ ; seq < st->seq; seq++) {
                t = &st->transitions[seq % NGX_HTTP_MONITORING_TRANSITIONS];

                if (t->state == NGX_HTTP_MONITORING_FIRING
                    || t->state == NGX_HTTP_MONITORING_RESOLVED)
                {
                    break;
                }
            }

            st->sent[wh->index].seq = seq;

            if (seq == st->seq || t == NULL) {
                continue;
            }

            e = &d->entries[d->n++];

            e->rule = i;
            e->hash = st->hash;
            e->state = t->state;
            e->at = t->at;
            e->value = t->value;
            e->has_value = t->has_value;
            e->seq = seq;
            e->resolved_at = (t->state == NGX_HTTP_MONITORING_RESOLVED)
                             ? t->at : 0;

            /* when this episode began firing, if still known */

            e->fired_at = st->fired_at;

            for (j = seq + 1; j-- > st->seq - ngx_min(st->seq,
                                          NGX_HTTP_MONITORING_TRANSITIONS);
                 /* void */)
            {
                f = &st->transitions[j % NGX_HTTP_MONITORING_TRANSITIONS];

                if (f->state == NGX_HTTP_MONITORING_FIRING) {
                    e->fired_at = f->at;
                    break;
                }
            }

            /* one transition a delivery */

            return 1;
        }

        sent = st->sent[wh->index].sent;

        if (st->state == NGX_HTTP_MONITORING_FIRING) {
            if (st->fired_at <= sent && sent + wh->resend > d->now) {
                continue;
            }

        } else if (st->state == NGX_HTTP_MONITORING_RESOLVED) {
            if (d->now - st->resolved_at >= NGX_HTTP_MONITORING_RESOLVED_KEEP
                || (st->resolved_at <= sent && sent + wh->resend > d->now))
            {
                continue;
            }

        } else {
            continue;
        }

        e = &d->entries[d->n++];

        e->rule = i;
        e->hash = st->hash;
        e->state = st->state;
        e->at = d->now;
        e->value = st->value;
        e->has_value = st->has_value;
        e->seq = st->seq;
        e->fired_at = st->fired_at;
        e->resolved_at = st->resolved_at;
    }

    return d->n;
}


static char *
ngx_http_monitoring_body(ngx_http_monitoring_delivery_t *d)
{
    char        *body;
    cJSON       *root, *o;
    ngx_uint_t   i;

    if (d->webhook->format == NGX_HTTP_MONITORING_WEBHOOK_GENERIC) {
        root = ngx_http_monitoring_generic(d, &d->entries[0]);

    } else {
        root = cJSON_CreateArray();

        for (i = 0; root != NULL && i < d->n; i++) {
            o = ngx_http_monitoring_alertmanager(d, &d->entries[i]);

            if (o == NULL || !cJSON_AddItemToArray(root, o)) {
                cJSON_Delete(o);
                cJSON_Delete(root);
                root = NULL;
            }
        }
    }

    if (root == NULL) {
        return NULL;
    }

    body = cJSON_PrintUnformatted(root);

    cJSON_Delete(root);

    return body;
}


/*
 * {labels, annotations, startsAt, endsAt, generatorURL}: a firing alert
 * ends a few resends ahead unless it is sent again, as in Prometheus
 */

static cJSON *
ngx_http_monitoring_alertmanager(ngx_http_monitoring_delivery_t *d,
    ngx_http_monitoring_entry_t *e)
{
    cJSON                         *o, *labels, *ann;
    uint64_t                       ends;
    ngx_str_t                      url;
    ngx_uint_t                     failed;
    ngx_http_monitoring_alert_t  **rules, *rule;
    u_char                         buf[64];

    rules = d->zone->alerts.elts;
    rule = rules[e->rule];

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    failed = 0;

    labels = cJSON_AddObjectToObject(o, "labels");
    ann = cJSON_AddObjectToObject(o, "annotations");

    if (labels == NULL || ann == NULL) {
        cJSON_Delete(o);
        return NULL;
    }

    failed |= ngx_http_monitoring_json_str(labels, "alertname", &rule->name);
    failed |= ngx_http_monitoring_json_str(labels, "severity",
                                          &rule->severity);
    failed |= ngx_http_monitoring_json_str(labels, "instance",
                                   ngx_http_monitoring_instance(d->zone->mmcf));
    failed |= ngx_http_monitoring_common(labels, rule, 1);
    failed |= ngx_http_monitoring_extra(labels, rule, d->zone->mmcf);
    failed |= ngx_http_monitoring_common(ann, rule, 0);

    if (e->has_value) {
        url.data = buf;
        url.len = ngx_sprintf(buf, "%.4f", e->value) - buf;

        while (url.len > 1 && buf[url.len - 1] == '0') {
            url.len--;
        }

        if (buf[url.len - 1] == '.') {
            url.len--;
        }

        failed |= ngx_http_monitoring_json_str(ann, "value", &url);
    }

    failed |= ngx_http_monitoring_add_time(o, "startsAt", e->fired_at);

    if (e->state == NGX_HTTP_MONITORING_RESOLVED) {
        ends = e->resolved_at;

    } else {
        ends = d->now + 4 * ngx_max(d->webhook->resend,
                                    d->zone->mmcf->alert_interval);
    }

    failed |= ngx_http_monitoring_add_time(o, "endsAt", ends);

    if (d->zone->mmcf->alert_url.len) {
        url.len = d->zone->mmcf->alert_url.len + sizeof("#alert-") - 1
                  + rule->name.len;
        url.data = ngx_alloc(url.len, d->log);

        if (url.data == NULL) {
            failed = 1;

        } else {
            ngx_sprintf(url.data, "%V#alert-%V", &d->zone->mmcf->alert_url,
                        &rule->name);

            failed |= ngx_http_monitoring_json_str(o, "generatorURL", &url);
            ngx_free(url.data);
        }
    }

    if (failed) {
        cJSON_Delete(o);
        return NULL;
    }

    return o;
}


/* one transition: documented in docs/alerts.md */

static cJSON *
ngx_http_monitoring_generic(ngx_http_monitoring_delivery_t *d,
    ngx_http_monitoring_entry_t *e)
{
    cJSON                         *o, *labels;
    ngx_uint_t                     failed;
    ngx_http_monitoring_alert_t  **rules, *rule;

    rules = d->zone->alerts.elts;
    rule = rules[e->rule];

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    failed = 0;

    failed |= ngx_http_monitoring_json_str(o, "alertname", &rule->name);
    failed |= ngx_http_monitoring_json_str(o, "state",
                                  &ngx_http_monitoring_notify_states[e->state]);
    failed |= ngx_http_monitoring_json_str(o, "severity", &rule->severity);
    failed |= ngx_http_monitoring_json_str(o, "instance",
                                   ngx_http_monitoring_instance(d->zone->mmcf));
    failed |= ngx_http_monitoring_json_str(o, "zone", &d->zone->name);
    failed |= ngx_http_monitoring_json_str(o, "expr", &rule->text);

    failed |= ((e->has_value ? cJSON_AddNumberToObject(o, "value", e->value)
                             : cJSON_AddNullToObject(o, "value"))
               == NULL);

    failed |= ngx_http_monitoring_add_time(o, "at", e->at);
    failed |= ngx_http_monitoring_add_time(o, "startsAt", e->fired_at);

    if (e->state == NGX_HTTP_MONITORING_RESOLVED) {
        failed |= ngx_http_monitoring_add_time(o, "endsAt", e->resolved_at);
    }

    failed |= ngx_http_monitoring_common(o, rule, 0);

    labels = cJSON_AddObjectToObject(o, "labels");

    failed |= (labels == NULL);

    if (labels != NULL) {
        failed |= ngx_http_monitoring_common(labels, rule, 1);
        failed |= ngx_http_monitoring_extra(labels, rule, d->zone->mmcf);
    }

    if (failed) {
        cJSON_Delete(o);
        return NULL;
    }

    return o;
}


/* the rule's own labels, or its summary and description */

static ngx_uint_t
ngx_http_monitoring_common(cJSON *o, ngx_http_monitoring_alert_t *rule,
    ngx_uint_t labels)
{
    u_char        name[NGX_HTTP_MONITORING_NAME_MAX + 1];
    ngx_uint_t    i, failed;
    ngx_keyval_t  *kv;

    failed = 0;

    if (!labels) {
        if (rule->summary.len) {
            failed |= ngx_http_monitoring_json_str(o, "summary",
                                                  &rule->summary);
        }

        if (rule->description.len) {
            failed |= ngx_http_monitoring_json_str(o, "description",
                                                  &rule->description);
        }

        return failed;
    }

    if (rule->labels == NULL) {
        return 0;
    }

    kv = rule->labels->elts;

    for (i = 0; i < rule->labels->nelts; i++) {
        *ngx_cpymem(name, kv[i].key.data, kv[i].key.len) = '\0';

        failed |= ngx_http_monitoring_json_str(o, (char *) name,
                                              &kv[i].value);
    }

    return failed;
}


/*
 * The labels of monitoring_alert_label (without "instance"), after the rule's:
 * as Prometheus' external labels, a rule's own label of the same name wins.
 */

static ngx_uint_t
ngx_http_monitoring_extra(cJSON *o, ngx_http_monitoring_alert_t *rule,
    ngx_http_monitoring_main_conf_t *mmcf)
{
    u_char        name[NGX_HTTP_MONITORING_NAME_MAX + 1];
    ngx_uint_t    i, j, failed;
    ngx_keyval_t  *kv, *own;

    if (mmcf->alert_labels == NULL) {
        return 0;
    }

    failed = 0;
    kv = mmcf->alert_labels->elts;

    for (i = 0; i < mmcf->alert_labels->nelts; i++) {

        if (rule->labels) {
            own = rule->labels->elts;

            for (j = 0; j < rule->labels->nelts; j++) {
                if (own[j].key.len == kv[i].key.len
                    && ngx_strncmp(own[j].key.data, kv[i].key.data,
                                   kv[i].key.len)
                       == 0)
                {
                    break;
                }
            }

            if (j < rule->labels->nelts) {
                continue;
            }
        }

        *ngx_cpymem(name, kv[i].key.data, kv[i].key.len) = '\0';

        failed |= ngx_http_monitoring_json_str(o, (char *) name,
                                              &kv[i].value);
    }

    return failed;
}


/* monitoring_alert_label instance NAME, or the host name */

static ngx_str_t *
ngx_http_monitoring_instance(ngx_http_monitoring_main_conf_t *mmcf)
{
    return mmcf->alert_instance.data ? &mmcf->alert_instance
                                     : (ngx_str_t *) &ngx_cycle->hostname;
}


/* a string of any length from the configuration or the zone; 1 on error */

ngx_uint_t
ngx_http_monitoring_json_str(void *o, const char *name, ngx_str_t *value)
{
    char    *s;
    cJSON   *item;

    if (value->len == 0) {
        return cJSON_AddStringToObject(o, name, "") == NULL;
    }

    s = ngx_alloc(value->len + 1, ngx_cycle->log);
    if (s == NULL) {
        return 1;
    }

    *ngx_cpymem(s, value->data, value->len) = '\0';

    item = cJSON_AddStringToObject(o, name, s);

    ngx_free(s);

    return item == NULL;
}


/* RFC 3339 in UTC with milliseconds, as Alertmanager writes them */

static ngx_uint_t
ngx_http_monitoring_add_time(cJSON *o, const char *name, uint64_t ms)
{
    ngx_tm_t  tm;
    u_char    buf[sizeof("1970-01-01T00:00:00.000Z")];

    ngx_gmtime((time_t) (ms / 1000), &tm);

    ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02d.%03dZ%Z",
                tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                (int) (ms % 1000));

    return cJSON_AddStringToObject(o, name, (char *) buf) == NULL;
}


static void
ngx_http_monitoring_delivered(void *data, ngx_uint_t result,
    ngx_uint_t status)
{
    ngx_http_monitoring_delivery_t *d = data;

    ngx_http_monitoring_zone_t     *zone;
    ngx_http_monitoring_webhook_t  *wh;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, d->log, 0,
                   "monitoring alerts: delivery result %ui, status %ui",
                   result, status);

    ngx_http_monitoring_result(d, result);

    zone = d->zone;
    wh = d->webhook;

    ngx_free(d);

    /* a generic webhook may have more transitions waiting */

    if (result == NGX_HTTP_MONITORING_WEBHOOK_SUCCESS
        && wh->format == NGX_HTTP_MONITORING_WEBHOOK_GENERIC
        && !ngx_exiting)
    {
        ngx_http_monitoring_notify_hook(zone, wh, ngx_http_monitoring_now(),
                                        ngx_cycle->log);
    }
}


/* counts the result; on success, marks what the webhook has received */

static void
ngx_http_monitoring_result(ngx_http_monitoring_delivery_t *d,
    ngx_uint_t result)
{
    uint64_t                            now;
    ngx_msec_t                          backoff, cap;
    ngx_uint_t                          i, index;
    ngx_http_monitoring_zone_t         *zone;
    ngx_http_monitoring_entry_t        *e;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_hook_state_t   *hs;
    ngx_http_monitoring_alert_state_t  *st;

    zone = d->zone;
    index = d->webhook->index;
    a = zone->sh->alerts;
    hs = &a->hooks[index];
    now = ngx_http_monitoring_now();

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* the webhook may be gone with a reload meanwhile */

    if (hs->hash != d->hash) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    hs->results[result]++;

    if (hs->busy == ngx_pid) {
        hs->busy = 0;
    }

    if (result != NGX_HTTP_MONITORING_WEBHOOK_SUCCESS) {
        hs->failures++;

        cap = (d->webhook->format == NGX_HTTP_MONITORING_WEBHOOK_GENERIC)
              ? NGX_HTTP_MONITORING_BACKOFF_MAX
              : ngx_min(d->webhook->resend, NGX_HTTP_MONITORING_BACKOFF_MAX);

        backoff = (hs->failures > 16) ? cap
                  : ngx_min(cap, (ngx_msec_t) 1000 << (hs->failures - 1));

        hs->retry_at = now + backoff;

        ngx_shmtx_unlock(&zone->shpool->mutex);

        /* the client has logged why at the "warn" level */

        ngx_log_error(NGX_LOG_INFO, d->log, 0,
                      "alert delivery to \"%V\" failed (%V), retry in %Mms",
                      &d->webhook->name,
                      &ngx_http_monitoring_webhook_results[result], backoff);
        return;
    }

    hs->failures = 0;
    hs->retry_at = 0;

    if (a->generation == d->generation && a->nrules == zone->alerts.nelts) {

        for (i = 0; i < d->n; i++) {
            e = &d->entries[i];
            st = &a->rules[e->rule];

            if (st->hash != e->hash) {
                continue;
            }

            if (d->webhook->format == NGX_HTTP_MONITORING_WEBHOOK_GENERIC) {
                if (st->sent[index].seq <= e->seq) {
                    st->sent[index].seq = e->seq + 1;
                }

            } else {
                st->sent[index].sent = d->now;
            }
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


size_t
ngx_http_monitoring_hooks_size(ngx_http_monitoring_zone_t *zone)
{
    size_t                          size;
    ngx_uint_t                      i;
    ngx_http_monitoring_webhook_t  *wh;

    wh = zone->mmcf->webhooks.elts;
    size = 0;

    for (i = 0; i < zone->mmcf->webhooks.nelts; i++) {
        size += NGX_HTTP_MONITORING_WEBHOOK_RESULTS
                * (sizeof("nginx_monitoring_webhook_deliveries_total"
                          "{webhook=\"\",result=\"http_error\"} \n")
                   + zone->label.len + wh[i].name.len + NGX_INT64_LEN);
    }

    return size;
}


/* nginx_monitoring_webhook_deliveries_total{webhook,result} */

u_char *
ngx_http_monitoring_hooks_metrics(ngx_http_monitoring_zone_t *zone,
    u_char *p)
{
    uint32_t                        hash;
    ngx_uint_t                      i, r;
    ngx_http_monitoring_alerts_t   *a;
    ngx_http_monitoring_webhook_t  *wh;

    a = zone->sh->alerts;

    if (a == NULL || zone->alerts.nelts == 0) {
        return p;
    }

    wh = zone->mmcf->webhooks.elts;

    for (i = 0; i < zone->mmcf->webhooks.nelts; i++) {

        /* counters of another configuration's webhook read as zero */

        hash = ngx_crc32_short(wh[i].url.data, wh[i].url.len) | 1;

        for (r = 0; r < NGX_HTTP_MONITORING_WEBHOOK_RESULTS; r++) {
            p = ngx_sprintf(p, "nginx_monitoring_webhook_deliveries_total"
                            "{%Vwebhook=\"%V\",result=\"%V\"} %uA\n",
                            &zone->label, &wh[i].name,
                            &ngx_http_monitoring_webhook_results[r],
                            (a->hooks[i].hash == hash)
                            ? a->hooks[i].results[r] : 0);
        }
    }

    return p;
}


static uint64_t
ngx_http_monitoring_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}
