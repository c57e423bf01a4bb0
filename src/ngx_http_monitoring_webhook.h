
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#ifndef _NGX_HTTP_MONITORING_WEBHOOK_H_INCLUDED_
#define _NGX_HTTP_MONITORING_WEBHOOK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_MONITORING_WEBHOOK_ALERTMANAGER  0
#define NGX_HTTP_MONITORING_WEBHOOK_GENERIC       1

/* delivery results, also the index of the result counters */
#define NGX_HTTP_MONITORING_WEBHOOK_SUCCESS      0   /* 2xx */
#define NGX_HTTP_MONITORING_WEBHOOK_HTTP_ERROR   1   /* answered, not 2xx */
#define NGX_HTTP_MONITORING_WEBHOOK_INVALID      2   /* answered garbage */
#define NGX_HTTP_MONITORING_WEBHOOK_TIMEOUT      3
#define NGX_HTTP_MONITORING_WEBHOOK_ERROR        4   /* resolve, connect, I/O,
                                                        closed early */
#define NGX_HTTP_MONITORING_WEBHOOK_RESULTS      5


/* "success", "http_error", "invalid", "timeout", "error" */
extern ngx_str_t  ngx_http_monitoring_webhook_results[];


typedef struct {
    ngx_str_t                 url;        /* as configured */
    ngx_str_t                 name;       /* url with any user:password@
                                             removed: for logs, metrics
                                             labels, JSON */
    ngx_uint_t                format;     /* set by caller */
    ngx_msec_t                timeout;    /* set by caller; whole delivery:
                                             resolve+connect+send+receive */
    ngx_msec_t                resend;     /* set by caller, not used by the
                                             client */
    ngx_uint_t                index;      /* set by caller */
    ngx_str_t                 file;       /* set by caller: where the */
    ngx_uint_t                line;       /* directive is, for errors */

    /* private, set by ngx_http_monitoring_webhook_init() */

    ngx_addr_t               *addrs;      /* NULL: resolved per delivery */
    ngx_uint_t                naddrs;
    ngx_uint_t                naddr;      /* the address to connect to next */

    ngx_str_t                 host;       /* to resolve */
    in_port_t                 port;

    ngx_resolver_t           *resolver;
    ngx_msec_t                resolver_timeout;

    ngx_str_t                 header;     /* request line and headers up to
                                             Content-Length */
} ngx_http_monitoring_webhook_t;


typedef void (*ngx_http_monitoring_webhook_done_pt)(void *data,
    ngx_uint_t result, ngx_uint_t status);


/*
 * At configuration, with cf at the http{} level, once the http{} block
 * is parsed (init_main_conf, postconfiguration), so that a "resolver"
 * anywhere in http{} is seen: parses wh->url; NGX_CONF_OK, or logs an
 * emerg naming the URL and returns NGX_CONF_ERROR.
 */

char *ngx_http_monitoring_webhook_init(ngx_conf_t *cf,
    ngx_http_monitoring_webhook_t *wh);

/*
 * In a worker: starts one delivery of a copy of body.  NGX_OK: done() will
 * be called exactly once, always later from the event loop, never from
 * inside this call; NGX_ERROR: nothing started, done() not called.
 *
 * A worker shutting down gracefully ends the deliveries it has connected
 * (done() with NGX_HTTP_MONITORING_WEBHOOK_ERROR) and starts no new ones;
 * a delivery still resolving, or still posted, when the worker exits is
 * dropped with the process, without done().
 */

ngx_int_t ngx_http_monitoring_webhook_post(ngx_http_monitoring_webhook_t *wh,
    u_char *body, size_t len, ngx_log_t *log,
    ngx_http_monitoring_webhook_done_pt done, void *data);


#endif /* _NGX_HTTP_MONITORING_WEBHOOK_H_INCLUDED_ */
