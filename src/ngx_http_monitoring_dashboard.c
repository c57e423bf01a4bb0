
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"

/* generated at configure time from html/ by html/embed.sh */
#include <ngx_http_monitoring_dashboard_html.h>




/*
 * The page at the location, its JSON at LOCATION/api or ?format=json.
 * The page holds no data: it fetches the JSON and puts every value in
 * with textContent; its policy allows no other host.
 */

ngx_int_t
ngx_http_monitoring_dashboard_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        format;
    ngx_buf_t                       *b;
    ngx_chain_t                      out;
    ngx_http_monitoring_loc_conf_t  *mlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_monitoring_module);

    if ((r->uri.len >= sizeof("/api") - 1
         && ngx_strncmp(r->uri.data + r->uri.len - (sizeof("/api") - 1),
                        "/api", sizeof("/api") - 1)
            == 0)
        || (ngx_http_arg(r, (u_char *) "format", sizeof("format") - 1,
                         &format)
            == NGX_OK
            && format.len == sizeof("json") - 1
            && ngx_strncmp(format.data, "json", sizeof("json") - 1) == 0))
    {
        return ngx_http_monitoring_api_handler(r, mlcf->dashboard->data);
    }

    if (ngx_http_monitoring_add_header(r, "Content-Security-Policy",
                                   "default-src 'none'; connect-src 'self'; "
                                   "script-src 'unsafe-inline'; "
                                   "style-src 'unsafe-inline'; "
                                   "img-src data:; base-uri 'none'; "
                                   "form-action 'none'; "
                                   "frame-ancestors 'self'")
           != NGX_OK
        || ngx_http_monitoring_add_header(r, "X-Content-Type-Options",
                                          "nosniff")
           != NGX_OK
        || ngx_http_monitoring_add_header(r, "Cache-Control", "no-cache")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n =
                                   sizeof(ngx_http_monitoring_dashboard_html);
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = ngx_http_monitoring_dashboard_html;
    b->last = b->pos + sizeof(ngx_http_monitoring_dashboard_html);
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_monitoring_add_header(ngx_http_request_t *r, char *key,
    char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}
