
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"


static ngx_int_t ngx_http_monitoring_parse_msec(ngx_str_t *value,
    ngx_msec_t *msec);
static char *ngx_http_monitoring_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_monitoring(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_monitoring_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_monitoring_normalize(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_monitoring_label(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_monitoring_buckets(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_monitoring_slow_threshold(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_monitoring_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_monitoring_dashboard(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_monitoring_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_monitoring_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_shm_zone_t **zone, ngx_http_handler_pt handler);
static char *ngx_http_monitoring_set_handler(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_handler_pt handler);
static char *ngx_http_monitoring_thresholds(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_monitoring_parse_ratio(ngx_str_t *value,
    ngx_uint_t *ratio);
static char *ngx_http_monitoring_resolve(ngx_conf_t *cf,
    ngx_http_monitoring_loc_conf_t *conf, ngx_shm_zone_t **zone,
    char *directive);
static void *ngx_http_monitoring_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_monitoring_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_monitoring_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_monitoring_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_monitoring_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_monitoring_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_monitoring_init_process(ngx_cycle_t *cycle);
static void ngx_http_monitoring_exit_process(ngx_cycle_t *cycle);
static void ngx_http_monitoring_exit_master(ngx_cycle_t *cycle);


/* label names the module renders itself */

static ngx_str_t  ngx_http_monitoring_reserved[] = {
    ngx_string("zone"),
    ngx_string("server"),
    ngx_string("endpoint"),
    ngx_string("method"),
    ngx_string("status"),
    ngx_string("le"),
    ngx_string("worker"),
    ngx_string("upstream"),
    ngx_string("peer"),
    ngx_string("state"),
    ngx_string("version"),
    ngx_string("module_version"),
    ngx_string("alertname"),
    ngx_string("alertstate"),
    ngx_string("severity"),
    ngx_string("instance"),
    ngx_string("job"),
    ngx_string("quantile"),
    ngx_null_string
};


/*
 * the Prometheus client defaults, 5ms .. 10s; the layout is that of
 * ngx_http_monitoring_bounds_t with its msec[] array sized
 */

static struct {
    ngx_http_monitoring_bounds_t    *next;
    ngx_uint_t                       n;
    uint32_t                         msec[11];
} ngx_http_monitoring_default_bounds_data = {
    NULL, 11, { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 }
};

ngx_http_monitoring_bounds_t  *ngx_http_monitoring_default_bounds =
    (ngx_http_monitoring_bounds_t *) &ngx_http_monitoring_default_bounds_data;


static ngx_command_t  ngx_http_monitoring_commands[] = {

    { ngx_string("monitoring_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_monitoring_zone,
      0,
      0,
      NULL },

    { ngx_string("monitoring"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_monitoring,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_monitoring_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_normalize"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_monitoring_normalize,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_normalize_auto"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_monitoring_loc_conf_t, normalize_auto),
      NULL },

    { ngx_string("monitoring_label"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_monitoring_label,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_buckets"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_monitoring_buckets,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_slow_threshold"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_monitoring_slow_threshold,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_monitoring_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_dashboard"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_monitoring_dashboard,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_monitoring_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_health_thresholds"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_monitoring_thresholds,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_alert"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_monitoring_alert,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_alert_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_monitoring_main_conf_t, alert_interval),
      NULL },

    { ngx_string("monitoring_alert_webhook"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_monitoring_alert_webhook,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_alert_label"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_monitoring_alert_labels,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("monitoring_alert_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_monitoring_main_conf_t, alert_url),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_monitoring_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_monitoring_init,              /* postconfiguration */

    ngx_http_monitoring_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_monitoring_create_srv_conf,   /* create server configuration */
    ngx_http_monitoring_merge_srv_conf,    /* merge server configuration */

    ngx_http_monitoring_create_loc_conf,   /* create location configuration */
    ngx_http_monitoring_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_monitoring_module = {
    NGX_MODULE_V1,
    &ngx_http_monitoring_module_ctx,       /* module context */
    ngx_http_monitoring_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_monitoring_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_monitoring_exit_process,      /* exit process */
    ngx_http_monitoring_exit_master,       /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * "5ms", "0.25s", "2s", "1m", or a bare number of seconds ("0.005"), as in
 * Prometheus bucket lists; NGX_DECLINED for a time that is not a whole
 * number of milliseconds
 */

static ngx_int_t
ngx_http_monitoring_parse_msec(ngx_str_t *value, ngx_msec_t *msec)
{
    u_char      *p, *last;
    uint64_t     n, frac, scale, unit;
    ngx_uint_t   digits;

    p = value->data;
    last = p + value->len;

    if (last - p >= 2 && last[-2] == 'm' && last[-1] == 's') {
        unit = 1000000;
        last -= 2;

    } else if (last - p >= 1 && last[-1] == 's') {
        unit = 1000000000;
        last -= 1;

    } else if (last - p >= 1 && last[-1] == 'm') {
        unit = 60000000000ULL;
        last -= 1;

    } else {
        unit = 1000000000;
    }

    n = 0;
    digits = 0;

    while (p < last && *p >= '0' && *p <= '9') {
        if (n >= 10000000) {
            return NGX_ERROR;
        }

        n = n * 10 + (*p++ - '0');
        digits++;
    }

    frac = 0;
    scale = 1;

    if (p < last && *p == '.') {
        p++;

        while (p < last && *p >= '0' && *p <= '9') {
            if (scale < 1000000000) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;

            } else if (*p != '0') {
                return NGX_DECLINED;
            }

            p++;
            digits++;
        }
    }

    if (p != last || digits == 0) {
        return NGX_ERROR;
    }

    /* nanoseconds */

    n = n * unit + frac * unit / scale;

    if (frac * unit % scale != 0 || n % 1000000 != 0) {
        return NGX_DECLINED;
    }

    *msec = (ngx_msec_t) (n / 1000000);

    return NGX_OK;
}


static char *
ngx_http_monitoring_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_main_conf_t *mmcf = conf;

    u_char                       *p;
    ssize_t                       size;
    ngx_int_t                     n;
    ngx_str_t                    *value, s;
    ngx_uint_t                    i;
    ngx_shm_zone_t               *shm_zone, **zp;
    ngx_http_monitoring_zone_t   *zone;

    value = cf->args->elts;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
        {
            continue;
        }

        break;
    }

    if (value[1].len == 0
        || value[1].len > NGX_HTTP_MONITORING_NAME_MAX
        || p != value[1].data + value[1].len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone name \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\" directive",
                           &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < NGX_HTTP_MONITORING_MIN_SIZE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\" directive, "
                           "the minimum is %uzk", &value[2], &cmd->name,
                           (size_t) NGX_HTTP_MONITORING_MIN_SIZE / 1024);
        return NGX_CONF_ERROR;
    }

    zp = mmcf->zones.elts;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        if (zp[i]->shm.name.len == value[1].len
            && ngx_strncmp(zp[i]->shm.name.data, value[1].data,
                           value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate zone \"%V\" in \"%V\" directive",
                               &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_monitoring_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_series=",
                        sizeof("max_series=") - 1)
            == 0)
        {
            s.data = value[i].data + sizeof("max_series=") - 1;
            s.len = value[i].len - (sizeof("max_series=") - 1);

            if (zone->max_series) {
                goto duplicate;
            }

            n = ngx_atoi(s.data, s.len);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_series \"%V\" in \"%V\" "
                                   "directive", &s, &cmd->name);
                return NGX_CONF_ERROR;
            }

            zone->max_series = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "persist=", sizeof("persist=") - 1)
            == 0)
        {
            if (zone->persist.data != NULL) {
                goto duplicate;
            }

            zone->persist.data = value[i].data + sizeof("persist=") - 1;
            zone->persist.len = value[i].len - (sizeof("persist=") - 1);

            if (zone->persist.len == 0
                || zone->persist.data[zone->persist.len - 1] == '/')
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid persist \"%V\" in \"%V\" "
                                   "directive, a file name",
                                   &zone->persist, &cmd->name);
                return NGX_CONF_ERROR;
            }

            if (ngx_conf_full_name(cf->cycle, &zone->persist, 0) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "persist_interval=",
                        sizeof("persist_interval=") - 1)
            == 0)
        {
            if (zone->persist_interval) {
                goto duplicate;
            }

            s.data = value[i].data + sizeof("persist_interval=") - 1;
            s.len = value[i].len - (sizeof("persist_interval=") - 1);

            n = ngx_parse_time(&s, 0);

            if (n == NGX_ERROR || n < 1000 || n > 24 * 3600 * 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid persist_interval \"%V\" in "
                                   "\"%V\" directive, a time from 1s to 1d",
                                   &s, &cmd->name);
                return NGX_CONF_ERROR;
            }

            zone->persist_interval = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (zone->persist_interval && zone->persist.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"persist_interval=\" needs \"persist=\" in "
                           "\"%V\" directive", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (zone->persist_interval == 0) {
        zone->persist_interval = 60000;
    }

    shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                     &ngx_http_monitoring_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->name = value[1];
    zone->shm_zone = shm_zone;
    zone->mmcf = mmcf;

    if (ngx_array_init(&zone->alerts, cf->pool, 4,
                       sizeof(ngx_http_monitoring_alert_t *))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the label is rendered in every sample, escape it once */

    zone->label.data = ngx_pnalloc(cf->pool, sizeof("zone=\"\",") - 1
                                             + value[1].len);
    if (zone->label.data == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->label.len = ngx_sprintf(zone->label.data, "zone=\"%V\",", &value[1])
                      - zone->label.data;

    shm_zone->init = ngx_http_monitoring_init_zone;
    shm_zone->data = zone;

    zp = ngx_array_push(&mmcf->zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = shm_zone;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_monitoring(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    ngx_str_t  *value;

    if (mlcf->zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->zone = NULL;
        return NGX_CONF_OK;
    }

    mlcf->zone = ngx_http_monitoring_zone_ref(cf, &value[1], "monitoring");
    if (mlcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_monitoring_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (mlcf->endpoint != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"\" in \"%V\" directive",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    mlcf->endpoint = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (mlcf->endpoint == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = mlcf->endpoint;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_monitoring_normalize(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    ngx_str_t                   *value;
    ngx_http_monitoring_rule_t  *rule;

    if (mlcf->rules == NULL) {
        mlcf->rules = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_monitoring_rule_t));
        if (mlcf->rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(mlcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    return ngx_http_monitoring_rule_compile(cf, rule, &value[1], &value[2]);
}


static char *
ngx_http_monitoring_label(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    u_char                            *p;
    ngx_str_t                         *value, name;
    ngx_uint_t                         i;
    ngx_http_monitoring_label_t       *label;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'
            || (p != value[1].data && *p >= '0' && *p <= '9'))
        {
            continue;
        }

        break;
    }

    if (value[1].len == 0
        || value[1].len > NGX_HTTP_MONITORING_NAME_MAX
        || p != value[1].data + value[1].len
        || (value[1].len >= 2 && value[1].data[0] == '_'
            && value[1].data[1] == '_'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid label name \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    for (i = 0; ngx_http_monitoring_reserved[i].len; i++) {
        if (value[1].len == ngx_http_monitoring_reserved[i].len
            && ngx_strncmp(value[1].data, ngx_http_monitoring_reserved[i].data,
                           value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "reserved label name \"%V\" in \"%V\" "
                               "directive", &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    if (mlcf->labels == NULL) {
        mlcf->labels = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_monitoring_label_t));
        if (mlcf->labels == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    label = mlcf->labels->elts;

    for (i = 0; i < mlcf->labels->nelts; i++) {
        if (label[i].name.len == value[1].len
            && ngx_strcmp(label[i].name.data, value[1].data) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate label \"%V\" in \"%V\" directive",
                               &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    if (mlcf->labels->nelts == NGX_HTTP_MONITORING_MAX_LABELS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many labels in \"%V\" directive, "
                           "the maximum is %d", &cmd->name,
                           NGX_HTTP_MONITORING_MAX_LABELS);
        return NGX_CONF_ERROR;
    }

    if (value[2].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"\" in \"%V\" directive",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_array_push(mlcf->labels) == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * kept sorted by name, so that the same labels given in another
     * order make the same series
     */

    label = mlcf->labels->elts;

    for (i = mlcf->labels->nelts - 1; i > 0; i--) {
        if (ngx_strcmp(label[i - 1].name.data, value[1].data) < 0) {
            break;
        }

        label[i] = label[i - 1];
    }

    label = &label[i];

    label->name = value[1];
    label->index = NGX_ERROR;

    if (value[2].len > 1 && value[2].data[0] == '$') {

        for (p = value[2].data + 1; p < value[2].data + value[2].len; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                || (*p >= '0' && *p <= '9') || *p == '_')
            {
                continue;
            }

            break;
        }

        if (p == value[2].data + value[2].len) {
            name.data = value[2].data + 1;
            name.len = value[2].len - 1;

            label->index = ngx_http_get_variable_index(cf, &name);

            if (label->index == NGX_ERROR) {
                return NGX_CONF_ERROR;
            }

            return NGX_CONF_OK;
        }
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &label->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_monitoring_buckets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    ngx_int_t                      rc;
    ngx_str_t                     *value;
    ngx_msec_t                     msec;
    ngx_uint_t                     i, n;
    ngx_http_monitoring_bounds_t  *bounds;

    if (mlcf->bounds != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    if (n > NGX_HTTP_MONITORING_MAX_BUCKETS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many buckets in \"%V\" directive, "
                           "the maximum is %d", &cmd->name,
                           NGX_HTTP_MONITORING_MAX_BUCKETS);
        return NGX_CONF_ERROR;
    }

    bounds = ngx_pcalloc(cf->pool, sizeof(ngx_http_monitoring_bounds_t)
                                   + (n - 1) * sizeof(uint32_t));
    if (bounds == NULL) {
        return NGX_CONF_ERROR;
    }

    bounds->n = n;

    for (i = 0; i < n; i++) {
        rc = ngx_http_monitoring_parse_msec(&value[i + 1], &msec);

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid bucket \"%V\" in \"%V\" directive, "
                               "the resolution is 1ms",
                               &value[i + 1], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (rc != NGX_OK || msec > 0xffffffff) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid bucket \"%V\" in \"%V\" directive",
                               &value[i + 1], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (msec == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid bucket \"%V\" in \"%V\" directive, "
                               "it must be positive",
                               &value[i + 1], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (i > 0 && msec <= bounds->msec[i - 1]) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid bucket \"%V\" in \"%V\" directive, "
                               "buckets must increase",
                               &value[i + 1], &cmd->name);
            return NGX_CONF_ERROR;
        }

        bounds->msec[i] = (uint32_t) msec;
    }

    mlcf->bounds = bounds;

    return NGX_CONF_OK;
}


static char *
ngx_http_monitoring_slow_threshold(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   msec;

    if (mlcf->slow_threshold != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_monitoring_parse_msec(&value[1], &msec) != NGX_OK
        || msec == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    mlcf->slow_threshold = msec;

    return NGX_CONF_OK;
}


static char *
ngx_http_monitoring_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    ngx_str_t        *value;
    ngx_uint_t        i;
    ngx_shm_zone_t  **zp;

    if (mlcf->metrics != NULL) {
        return "is duplicate";
    }

    mlcf->metrics = ngx_array_create(cf->pool, 1, sizeof(ngx_shm_zone_t *));
    if (mlcf->metrics == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        zp = ngx_array_push(mlcf->metrics);
        if (zp == NULL) {
            return NGX_CONF_ERROR;
        }

        *zp = ngx_http_monitoring_zone_ref(cf, &value[i],
                                           "monitoring_metrics");
        if (*zp == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return ngx_http_monitoring_set_handler(cf, cmd,
                                          ngx_http_monitoring_metrics_handler);
}


/*
 * A handler without a zone takes the one its location records into,
 * else the only zone declared: known once the http block is merged.
 */

static ngx_shm_zone_t  ngx_http_monitoring_unresolved;


static char *
ngx_http_monitoring_dashboard(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    return ngx_http_monitoring_handler(cf, cmd, &mlcf->dashboard,
                                       ngx_http_monitoring_dashboard_handler);
}


static char *
ngx_http_monitoring_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_monitoring_loc_conf_t *mlcf = conf;

    return ngx_http_monitoring_handler(cf, cmd, &mlcf->health,
                                       ngx_http_monitoring_health_handler);
}


static char *
ngx_http_monitoring_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_shm_zone_t **zone, ngx_http_handler_pt handler)
{
    ngx_str_t                       *value;
    ngx_http_monitoring_loc_conf_t  *mlcf;

    if (*zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        *zone = ngx_http_monitoring_zone_ref(cf, &value[1],
                                             (char *) cmd->name.data);
        if (*zone == NULL) {
            return NGX_CONF_ERROR;
        }

    } else {
        mlcf = ngx_http_conf_get_module_loc_conf(cf,
                                                 ngx_http_monitoring_module);

        *zone = &ngx_http_monitoring_unresolved;
        mlcf->handler_file = cf->conf_file->file.name;
        mlcf->handler_line = cf->conf_file->line;
    }

    return ngx_http_monitoring_set_handler(cf, cmd, handler);
}


/* a location has one content handler */

static char *
ngx_http_monitoring_set_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_handler_pt handler)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive conflicts with another "
                           "content handler in this location", &cmd->name);
        return NGX_CONF_ERROR;
    }

    clcf->handler = handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_monitoring_resolve(ngx_conf_t *cf,
    ngx_http_monitoring_loc_conf_t *conf, ngx_shm_zone_t **zone,
    char *directive)
{
    ngx_shm_zone_t                  **zones;
    ngx_http_monitoring_main_conf_t  *mmcf;

    if (*zone != &ngx_http_monitoring_unresolved) {
        return NGX_CONF_OK;
    }

    if (conf->zone != NULL) {
        *zone = conf->zone;
        return NGX_CONF_OK;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_monitoring_module);

    if (mmcf->zones.nelts == 1) {
        zones = mmcf->zones.elts;
        *zone = zones[0];
        return NGX_CONF_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"%s\" directive needs a zone: %s, and its location "
                  "records into none, in %V:%ui", directive,
                  mmcf->zones.nelts ? "several zones are declared"
                                    : "no zone is declared",
                  &conf->handler_file, conf->handler_line);

    return NGX_CONF_ERROR;
}


/*
 * monitoring_health_thresholds error_rate=1%,5% p95=200ms,500ms window=1m
 */

static char *
ngx_http_monitoring_thresholds(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_monitoring_main_conf_t *mmcf = conf;

    u_char      *comma;
    ngx_str_t   *value, warn, crit, s;
    ngx_uint_t   i, w, c;
    ngx_msec_t   wm, cm;

    if (mmcf->thresholds_set) {
        return "is duplicate";
    }

    mmcf->thresholds_set = 1;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "window=", sizeof("window=") - 1)
            == 0)
        {
            s.data = value[i].data + sizeof("window=") - 1;
            s.len = value[i].len - (sizeof("window=") - 1);

            if (ngx_http_monitoring_parse_msec(&s, &wm) != NGX_OK
                || wm == 0
                || wm % (NGX_HTTP_MONITORING_SLOT * 1000) != 0
                || wm > NGX_HTTP_MONITORING_MAX_WINDOW * 1000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid window \"%V\" in \"%V\" "
                                   "directive, it must be 10s, 20s, ... 1m",
                                   &s, &cmd->name);
                return NGX_CONF_ERROR;
            }

            mmcf->window = wm / 1000;
            continue;
        }

        s = value[i];

        if (ngx_strncmp(s.data, "error_rate=", sizeof("error_rate=") - 1)
            == 0)
        {
            s.data += sizeof("error_rate=") - 1;
            s.len -= sizeof("error_rate=") - 1;

        } else if (ngx_strncmp(s.data, "p95=", sizeof("p95=") - 1) == 0) {
            s.data += sizeof("p95=") - 1;
            s.len -= sizeof("p95=") - 1;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\" "
                               "directive", &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        comma = ngx_strlchr(s.data, s.data + s.len, ',');

        if (comma == NULL) {
            goto invalid;
        }

        warn.data = s.data;
        warn.len = comma - s.data;
        crit.data = comma + 1;
        crit.len = s.data + s.len - crit.data;

        if (value[i].data[0] == 'e') {
            if (ngx_http_monitoring_parse_ratio(&warn, &w) != NGX_OK
                || ngx_http_monitoring_parse_ratio(&crit, &c) != NGX_OK)
            {
                goto invalid;
            }

            if (w > c) {
                goto order;
            }

            mmcf->error_warn = w;
            mmcf->error_crit = c;

        } else {
            if (ngx_http_monitoring_parse_msec(&warn, &wm) != NGX_OK
                || ngx_http_monitoring_parse_msec(&crit, &cm) != NGX_OK)
            {
                goto invalid;
            }

            if (wm > cm) {
                goto order;
            }

            mmcf->p95_warn = wm;
            mmcf->p95_crit = cm;
        }
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;

order:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "the warning threshold is above the critical one",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* "1%", "0.5%" or a fraction "0.01", in 1/10000 */

static ngx_int_t
ngx_http_monitoring_parse_ratio(ngx_str_t *value, ngx_uint_t *ratio)
{
    u_char      *p, *last;
    uint64_t     n, scale;
    ngx_uint_t   percent, digits;

    p = value->data;
    last = p + value->len;

    percent = (last > p && last[-1] == '%');

    if (percent) {
        last--;
    }

    n = 0;
    scale = 0;
    digits = 0;

    for ( /* void */ ; p < last; p++) {

        if (*p == '.' && scale == 0) {
            scale = 1;
            continue;
        }

        if (*p < '0' || *p > '9' || n > 1000000 || scale > 100000000) {
            return NGX_ERROR;
        }

        n = n * 10 + (*p - '0');
        digits++;

        if (scale) {
            scale *= 10;
        }
    }

    if (digits == 0) {
        return NGX_ERROR;
    }

    if (scale == 0) {
        scale = 1;
    }

    /* percent: n / scale / 100; fraction: n / scale; in 1/10000 */

    n = percent ? n * 100 : n * 10000;

    if (n % scale != 0 || n / scale > 10000) {
        return NGX_ERROR;
    }

    *ratio = (ngx_uint_t) (n / scale);

    return NGX_OK;
}


/*
 * zones may be declared after they are used, as with limit_req_zone;
 * references are checked once the http block is parsed
 */

ngx_shm_zone_t *
ngx_http_monitoring_zone_ref(ngx_conf_t *cf, ngx_str_t *name, char *directive)
{
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_monitoring_zone_ref_t   *ref;
    ngx_http_monitoring_main_conf_t  *mmcf;

    shm_zone = ngx_shared_memory_add(cf, name, 0, &ngx_http_monitoring_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_monitoring_module);

    ref = ngx_array_push(&mmcf->refs);
    if (ref == NULL) {
        return NULL;
    }

    ref->shm_zone = shm_zone;
    ref->directive = directive;
    ref->file = cf->conf_file->file.name;
    ref->line = cf->conf_file->line;

    return shm_zone;
}


static void *
ngx_http_monitoring_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_monitoring_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_monitoring_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mmcf->zones, cf->pool, 2, sizeof(ngx_shm_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&mmcf->refs, cf->pool, 4,
                       sizeof(ngx_http_monitoring_zone_ref_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&mmcf->lists, cf->pool, 2,
                       sizeof(ngx_http_monitoring_bounds_t *))
        != NGX_OK
        || ngx_array_init(&mmcf->alerts, cf->pool, 4,
                          sizeof(ngx_http_monitoring_alert_t))
           != NGX_OK
        || ngx_array_init(&mmcf->webhooks, cf->pool, 2,
                          sizeof(ngx_http_monitoring_webhook_t))
           != NGX_OK)
    {
        return NULL;
    }

    mmcf->alert_interval = NGX_CONF_UNSET_MSEC;

    /* 1% and 5% of 5xx, p95 200ms and 500ms, over a minute */

    mmcf->error_warn = 100;
    mmcf->error_crit = 500;
    mmcf->p95_warn = 200;
    mmcf->p95_crit = 500;
    mmcf->window = 60;

    return mmcf;
}


static void *
ngx_http_monitoring_create_srv_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_monitoring_srv_conf_t));
}


/*
 * the server label is made safe once, here: the first server_name of
 * the server block, "_" when it has none
 */

static char *
ngx_http_monitoring_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_monitoring_srv_conf_t *conf = child;

    u_char                    *p;
    ngx_str_t                  name;
    ngx_http_core_srv_conf_t  *cscf;

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    name = cscf->server_name;

    if (name.len == 0) {
        ngx_str_set(&name, "_");
    }

    conf->key = ngx_pnalloc(cf->pool, 2 + NGX_HTTP_MONITORING_PART_MAX);
    if (conf->key == NULL) {
        return NGX_CONF_ERROR;
    }

    p = conf->key;
    *p++ = NGX_HTTP_MONITORING_REQUEST;

    conf->len = ngx_http_monitoring_key_part(p, &name,
                                             NGX_HTTP_MONITORING_PART_MAX)
                - conf->key;

    return NGX_CONF_OK;
}


static void *
ngx_http_monitoring_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_monitoring_loc_conf_t  *mlcf;

    mlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_monitoring_loc_conf_t));
    if (mlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mlcf->labels = NULL;
     *     mlcf->rules = NULL;
     *     mlcf->metrics = NULL;
     */

    mlcf->zone = NGX_CONF_UNSET_PTR;
    mlcf->endpoint = NGX_CONF_UNSET_PTR;
    mlcf->normalize_auto = NGX_CONF_UNSET;
    mlcf->bounds = NGX_CONF_UNSET_PTR;
    mlcf->slow_threshold = NGX_CONF_UNSET_MSEC;

    return mlcf;
}


static char *
ngx_http_monitoring_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_monitoring_loc_conf_t *prev = parent;
    ngx_http_monitoring_loc_conf_t *conf = child;

    ngx_uint_t                        i;
    ngx_http_monitoring_bounds_t    **b, **bp;
    ngx_http_monitoring_main_conf_t  *mmcf;

    ngx_conf_merge_ptr_value(conf->zone, prev->zone, NULL);
    ngx_conf_merge_ptr_value(conf->endpoint, prev->endpoint, NULL);
    ngx_conf_merge_value(conf->normalize_auto, prev->normalize_auto, 1);

    /* as proxy_set_header: a level with its own list inherits none */

    if (conf->labels == NULL) {
        conf->labels = prev->labels;
    }

    if (conf->rules == NULL) {
        conf->rules = prev->rules;
    }

    /* an "if" block in a metrics location runs the same handler */

    if (conf->metrics == NULL) {
        conf->metrics = prev->metrics;
    }

    if (conf->dashboard == NULL) {
        conf->dashboard = prev->dashboard;
    }

    if (conf->health == NULL) {
        conf->health = prev->health;
    }

    if (ngx_http_monitoring_resolve(cf, conf, &conf->dashboard,
                                    "monitoring_dashboard")
        != NGX_CONF_OK
        || ngx_http_monitoring_resolve(cf, conf, &conf->health,
                                       "monitoring_health")
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_ptr_value(conf->bounds, prev->bounds,
                             ngx_http_monitoring_default_bounds);

    /* every bucket list in use, to tell a reload that changes them */

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_monitoring_module);

    b = mmcf->lists.elts;

    for (i = 0; i < mmcf->lists.nelts; i++) {
        if (b[i] == conf->bounds) {
            break;
        }
    }

    if (i == mmcf->lists.nelts) {
        bp = ngx_array_push(&mmcf->lists);
        if (bp == NULL) {
            return NGX_CONF_ERROR;
        }

        *bp = conf->bounds;
    }
    ngx_conf_merge_msec_value(conf->slow_threshold, prev->slow_threshold,
                              1000);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_monitoring_init(ngx_conf_t *cf)
{
    ngx_uint_t                        i, j;
    ngx_shm_zone_t                  **zp;
    ngx_http_handler_pt              *h;
    ngx_http_core_main_conf_t        *cmcf;
    ngx_http_monitoring_zone_t       *zone, *other;
    ngx_http_monitoring_zone_ref_t   *ref;
    ngx_http_monitoring_loc_conf_t   *mlcf;
    ngx_http_monitoring_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_monitoring_module);
    mlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_monitoring_module);

    ref = mmcf->refs.elts;

    for (i = 0; i < mmcf->refs.nelts; i++) {
        if (ref[i].shm_zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown zone \"%V\" in \"%s\" directive in %V:%ui",
                          &ref[i].shm_zone->shm.name, ref[i].directive,
                          &ref[i].file, ref[i].line);
            return NGX_ERROR;
        }
    }

    /* two zones in one snapshot file would overwrite each other */

    zp = mmcf->zones.elts;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        zone = zp[i]->data;

        for (j = 0; zone->persist.len && j < i; j++) {
            other = zp[j]->data;

            if (other->persist.len == zone->persist.len
                && ngx_strncmp(other->persist.data, zone->persist.data,
                               zone->persist.len)
                   == 0)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "monitoring zones \"%V\" and \"%V\" have "
                              "the same persist file \"%V\"",
                              &other->name, &zone->name, &zone->persist);
                return NGX_ERROR;
            }
        }
    }

    /* quantiles in alerts use the buckets of the http level */

    mmcf->bounds = (mlcf->bounds == NGX_CONF_UNSET_PTR)
                   ? ngx_http_monitoring_default_bounds : mlcf->bounds;

    if (ngx_http_monitoring_alerts_conf(cf, mmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mmcf->zones.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_monitoring_normalize_init();

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_monitoring_log_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_monitoring_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i;
    ngx_shm_zone_t                  **zones;
    ngx_http_monitoring_main_conf_t  *mmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_monitoring_module);
    if (mmcf == NULL) {
        return NGX_OK;
    }

    zones = mmcf->zones.elts;

    for (i = 0; i < mmcf->zones.nelts; i++) {
        ngx_http_monitoring_register_worker(zones[i]->data, cycle->log);
    }

    if (ngx_http_monitoring_alerts_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_monitoring_persist_init_process(cycle);
}


static void
ngx_http_monitoring_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    ngx_http_monitoring_alerts_exit_process(cycle);
}


/* the last snapshots, once the workers are gone */

static void
ngx_http_monitoring_exit_master(ngx_cycle_t *cycle)
{
    ngx_http_monitoring_persist_exit(cycle);
}
