
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_http_monitoring_module.h"


/*
 * For load balancers: 200 while healthy or warning, 503 when degraded,
 * with the figures that decided it.
 */

ngx_int_t
ngx_http_monitoring_health_handler(ngx_http_request_t *r)
{
    cJSON                            *root, *p;
    double                            error_rate, p95, rps;
    ngx_tm_t                          tm;
    ngx_int_t                         rc;
    ngx_uint_t                        level, firing;
    ngx_str_t                        *status;
    ngx_http_monitoring_zone_t       *zone;
    ngx_http_monitoring_window_t     *w;
    ngx_http_monitoring_loc_conf_t   *mlcf;
    ngx_http_monitoring_main_conf_t  *mmcf;
    u_char                            checked[sizeof("1970-01-01T00:00:00Z")];

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_monitoring_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_monitoring_module);

    zone = mlcf->health->data;

    w = ngx_palloc(r->pool, sizeof(ngx_http_monitoring_window_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_monitoring_window(zone, mmcf->window, w);

    level = ngx_http_monitoring_health_status(mmcf, zone, w, &error_rate,
                                              &p95, &firing);
    status = &ngx_http_monitoring_health_names[level];

    rps = (double) (int64_t) (w->requests / w->covered * 1000 + 0.5) / 1000;

    root = cJSON_CreateObject();
    if (root == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_gmtime(ngx_time(), &tm);

    ngx_sprintf(checked, "%4d-%02d-%02dT%02d:%02d:%02dZ%Z",
                tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    if (cJSON_AddStringToObject(root, "status", (char *) status->data)
        == NULL
        || cJSON_AddNumberToObject(root, "error_rate", error_rate) == NULL)
    {
        cJSON_Delete(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = (p95 < 0) ? cJSON_AddNullToObject(root, "p95_ms")
                  : cJSON_AddNumberToObject(root, "p95_ms", p95);

    if (p == NULL
        || cJSON_AddNumberToObject(root, "rps", rps) == NULL
        || cJSON_AddNumberToObject(root, "alerts_firing", firing) == NULL
        || cJSON_AddStringToObject(root, "checked_at", (char *) checked)
           == NULL)
    {
        cJSON_Delete(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_monitoring_send_json(r, (level == 2)
                                            ? NGX_HTTP_SERVICE_UNAVAILABLE
                                            : NGX_HTTP_OK,
                                         root);
}
