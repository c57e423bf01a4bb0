
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_module.h"
#include "ngx_http_monitoring_webhook.h"


/*
 * The non-blocking HTTP client that delivers alerts, after nginx's OCSP
 * stapling client: one pool per delivery, its own log context, the peer
 * connected by ngx_event_connect_peer(), and one cancelable timer over
 * the whole delivery, from resolving to the status line of the answer.
 * The connection is marked idle so that a worker shutting down closes it
 * at once instead of waiting for the webhook.
 */


#define NGX_HTTP_MONITORING_WEBHOOK_BUFFER  512


typedef struct {
    ngx_http_monitoring_webhook_t        *webhook;

    ngx_http_monitoring_webhook_done_pt   done;
    void                                 *data;

    ngx_addr_t                           *addrs;
    ngx_uint_t                            naddrs;
    ngx_uint_t                            naddr;

    ngx_resolver_ctx_t                   *resolve;
    ngx_peer_connection_t                 peer;
    ngx_buf_t                            *request;
    ngx_buf_t                            *response;

    /* posted to start the delivery, then its timer */
    ngx_event_t                           event;

    ngx_uint_t                            state;
    ngx_uint_t                            count;
    ngx_uint_t                            status;
    size_t                                received;

    ngx_pool_t                           *pool;
    ngx_log_t                            *log;

    unsigned                              connected:1;
} ngx_http_monitoring_webhook_ctx_t;


static ngx_int_t ngx_http_monitoring_webhook_split(ngx_pool_t *pool,
    ngx_str_t *url, ngx_str_t *name, ngx_str_t *userinfo);
static ngx_int_t ngx_http_monitoring_webhook_header(ngx_conf_t *cf,
    ngx_http_monitoring_webhook_t *wh, ngx_url_t *u, ngx_str_t *userinfo);
static void ngx_http_monitoring_webhook_start(ngx_event_t *ev);
static void ngx_http_monitoring_webhook_resolve_handler(
    ngx_resolver_ctx_t *resolve);
static ngx_int_t ngx_http_monitoring_webhook_cmp_addrs(const void *one,
    const void *two);
static void ngx_http_monitoring_webhook_connect(
    ngx_http_monitoring_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_monitoring_webhook_test_connect(
    ngx_http_monitoring_webhook_ctx_t *ctx);
static void ngx_http_monitoring_webhook_write_handler(ngx_event_t *wev);
static void ngx_http_monitoring_webhook_read_handler(ngx_event_t *rev);
static void ngx_http_monitoring_webhook_dummy_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_monitoring_webhook_parse_status_line(
    ngx_http_monitoring_webhook_ctx_t *ctx, u_char *p, u_char *last);
static void ngx_http_monitoring_webhook_timeout_handler(ngx_event_t *ev);
static void ngx_http_monitoring_webhook_error(
    ngx_http_monitoring_webhook_ctx_t *ctx, ngx_err_t err, char *text);
static void ngx_http_monitoring_webhook_finish(
    ngx_http_monitoring_webhook_ctx_t *ctx, ngx_uint_t result);
static u_char *ngx_http_monitoring_webhook_log_error(ngx_log_t *log,
    u_char *buf, size_t len);


ngx_str_t  ngx_http_monitoring_webhook_results[] = {
    ngx_string("success"),
    ngx_string("http_error"),
    ngx_string("invalid"),
    ngx_string("timeout"),
    ngx_string("error")
};


char *
ngx_http_monitoring_webhook_init(ngx_conf_t *cf,
    ngx_http_monitoring_webhook_t *wh)
{
    u_char                    *p;
    ngx_str_t                  userinfo;
    ngx_url_t                  u;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_http_monitoring_webhook_split(cf->pool, &wh->url, &wh->name,
                                          &userinfo)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = wh->url.data;

    for (i = 0; i < wh->url.len; i++) {
        if (p[i] <= ' ' || p[i] == '#' || p[i] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid webhook URL \"%V\"", &wh->name);
            return NGX_CONF_ERROR;
        }
    }

    if (wh->name.len >= 8
        && ngx_strncasecmp(wh->name.data, (u_char *) "https://", 8) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "https webhook \"%V\" is not supported, "
                           "use http to a local relay", &wh->name);
        return NGX_CONF_ERROR;
    }

    if (wh->name.len < 7
        || ngx_strncasecmp(wh->name.data, (u_char *) "http://", 7) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL prefix in webhook \"%V\"", &wh->name);
        return NGX_CONF_ERROR;
    }

    /*
     * Names resolve here, as for proxy_pass, unless the http{} level
     * has a resolver: then they resolve at each delivery.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.len = wh->name.len - 7;
    u.url.data = wh->name.data + 7;
    u.default_port = 80;
    u.uri_part = 1;

    if (clcf->resolver && clcf->resolver->connections.nelts) {
        u.no_resolve = 1;
    }

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in webhook \"%V\"", u.err, &wh->name);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs) {
        wh->addrs = u.addrs;
        wh->naddrs = u.naddrs;

    } else {
        wh->host = u.host;
        wh->port = u.port;
        wh->resolver = clcf->resolver;

        /* the http{} level itself is never merged */

        wh->resolver_timeout = (clcf->resolver_timeout == NGX_CONF_UNSET_MSEC)
                               ? 30000 : clcf->resolver_timeout;
    }

    wh->naddr = 0;

    if (ngx_http_monitoring_webhook_header(cf, wh, &u, &userinfo) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the name: the URL with any user:password@ removed */

static ngx_int_t
ngx_http_monitoring_webhook_split(ngx_pool_t *pool, ngx_str_t *url,
    ngx_str_t *name, ngx_str_t *userinfo)
{
    u_char  *p, *at, *host, *last;

    host = url->data;
    last = url->data + url->len;

    for (p = url->data; p + 2 < last; p++) {

        if (*p == '/' || *p == '?' || *p == '#') {
            break;
        }

        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            host = p + 3;
            break;
        }
    }

    /*
     * the last "@" before a query: a password with an unencoded "/" is
     * still hidden (an "@" in the path must be written as %40)
     */

    at = NULL;

    for (p = host; p < last; p++) {

        if (*p == '?' || *p == '#') {
            break;
        }

        if (*p == '@') {
            at = p;
        }
    }

    if (at == NULL) {
        *name = *url;
        ngx_str_null(userinfo);
        return NGX_OK;
    }

    userinfo->len = at - host;
    userinfo->data = host;

    name->len = url->len - (at + 1 - host);
    name->data = ngx_pnalloc(pool, name->len);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(name->data, url->data, host - url->data);
    ngx_memcpy(p, at + 1, last - (at + 1));

    return NGX_OK;
}


/* the request line and the headers that do not depend on the body */

static ngx_int_t
ngx_http_monitoring_webhook_header(ngx_conf_t *cf,
    ngx_http_monitoring_webhook_t *wh, ngx_url_t *u, ngx_str_t *userinfo)
{
    u_char     *p, *src;
    size_t      len;
    ngx_str_t   uri, host, plain, auth;

    uri = u->uri;

    if (uri.len == 0 || uri.data[0] != '/') {

        /* no path, or only arguments */

        uri.len++;
        uri.data = ngx_pnalloc(cf->pool, uri.len);
        if (uri.data == NULL) {
            return NGX_ERROR;
        }

        *uri.data = '/';
        ngx_memcpy(uri.data + 1, u->uri.data, u->uri.len);
    }

#if (NGX_HAVE_UNIX_DOMAIN)

    if (u->family == AF_UNIX) {
        ngx_str_set(&host, "localhost");

    } else
#endif
    {
        host.len = u->host.len;
        host.data = u->host.data;

        if (!u->no_port) {
            host.len += 1 + u->port_text.len;
        }
    }

    ngx_str_null(&auth);

    if (userinfo->len) {

        /* "user:password", percent-decoded, as Basic credentials */

        plain.data = ngx_pnalloc(cf->pool, userinfo->len + 1);
        if (plain.data == NULL) {
            return NGX_ERROR;
        }

        p = plain.data;
        src = userinfo->data;

        ngx_unescape_uri(&p, &src, userinfo->len, 0);

        if (ngx_strlchr(plain.data, p, ':') == NULL) {
            *p++ = ':';
        }

        plain.len = p - plain.data;

        auth.len = ngx_base64_encoded_length(plain.len);
        auth.data = ngx_pnalloc(cf->pool, auth.len);
        if (auth.data == NULL) {
            return NGX_ERROR;
        }

        ngx_encode_base64(&auth, &plain);
    }

    len = sizeof("POST ") - 1 + uri.len + sizeof(" HTTP/1.1" CRLF) - 1
          + sizeof("Host: ") - 1 + host.len + sizeof(CRLF) - 1
          + sizeof("User-Agent: nginx-monitoring/"
                   NGX_HTTP_MONITORING_VERSION CRLF) - 1
          + sizeof("Content-Type: application/json" CRLF) - 1
          + sizeof("Connection: close" CRLF) - 1;

    if (auth.len) {
        len += sizeof("Authorization: Basic ") - 1 + auth.len
               + sizeof(CRLF) - 1;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    wh->header.data = p;

    p = ngx_cpymem(p, "POST ", sizeof("POST ") - 1);
    p = ngx_cpymem(p, uri.data, uri.len);
    p = ngx_cpymem(p, " HTTP/1.1" CRLF, sizeof(" HTTP/1.1" CRLF) - 1);

    p = ngx_cpymem(p, "Host: ", sizeof("Host: ") - 1);
    p = ngx_cpymem(p, host.data, host.len);
    *p++ = CR; *p++ = LF;

    p = ngx_cpymem(p, "User-Agent: nginx-monitoring/"
                   NGX_HTTP_MONITORING_VERSION CRLF,
                   sizeof("User-Agent: nginx-monitoring/"
                          NGX_HTTP_MONITORING_VERSION CRLF) - 1);

    p = ngx_cpymem(p, "Content-Type: application/json" CRLF,
                   sizeof("Content-Type: application/json" CRLF) - 1);

    if (auth.len) {
        p = ngx_cpymem(p, "Authorization: Basic ",
                       sizeof("Authorization: Basic ") - 1);
        p = ngx_cpymem(p, auth.data, auth.len);
        *p++ = CR; *p++ = LF;
    }

    p = ngx_cpymem(p, "Connection: close" CRLF,
                   sizeof("Connection: close" CRLF) - 1);

    wh->header.len = p - wh->header.data;

    return NGX_OK;
}


ngx_int_t
ngx_http_monitoring_webhook_post(ngx_http_monitoring_webhook_t *wh,
    u_char *body, size_t len, ngx_log_t *log,
    ngx_http_monitoring_webhook_done_pt done, void *data)
{
    ngx_buf_t                          *b;
    ngx_pool_t                         *pool;
    ngx_http_monitoring_webhook_ctx_t  *ctx;

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ctx = ngx_pcalloc(pool, sizeof(ngx_http_monitoring_webhook_ctx_t));
    if (ctx == NULL) {
        goto failed;
    }

    ctx->log = ngx_palloc(pool, sizeof(ngx_log_t));
    if (ctx->log == NULL) {
        goto failed;
    }

    *ctx->log = *log;

    ctx->log->handler = ngx_http_monitoring_webhook_log_error;
    ctx->log->data = ctx;
    ctx->log->action = "sending alert to webhook";

    pool->log = ctx->log;

    ctx->pool = pool;
    ctx->webhook = wh;
    ctx->done = done;
    ctx->data = data;

    b = ngx_create_temp_buf(pool, wh->header.len
                                  + sizeof("Content-Length: ") - 1
                                  + NGX_SIZE_T_LEN
                                  + sizeof(CRLF CRLF) - 1 + len);
    if (b == NULL) {
        goto failed;
    }

    b->last = ngx_cpymem(b->last, wh->header.data, wh->header.len);
    b->last = ngx_sprintf(b->last, "Content-Length: %uz" CRLF CRLF, len);
    b->last = ngx_cpymem(b->last, body, len);

    ctx->request = b;

    /* done() is never called from here: the delivery starts when posted */

    ctx->event.handler = ngx_http_monitoring_webhook_start;
    ctx->event.data = ctx;
    ctx->event.log = ctx->log;
    ctx->event.cancelable = 1;

    ngx_post_event(&ctx->event, &ngx_posted_next_events);

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


static void
ngx_http_monitoring_webhook_start(ngx_event_t *ev)
{
    ngx_resolver_ctx_t                 *resolve, temp;
    ngx_http_monitoring_webhook_t      *wh;
    ngx_http_monitoring_webhook_ctx_t  *ctx;

    ctx = ev->data;
    wh = ctx->webhook;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "webhook \"%V\" start", &wh->name);

    if (ngx_exiting) {
        ngx_http_monitoring_webhook_error(ctx, 0, "worker is shutting down");
        return;
    }

    ev->handler = ngx_http_monitoring_webhook_timeout_handler;
    ngx_add_timer(ev, wh->timeout);

    if (wh->addrs) {
        ctx->addrs = wh->addrs;
        ctx->naddrs = wh->naddrs;

        ngx_http_monitoring_webhook_connect(ctx);
        return;
    }

    ctx->log->action = "resolving webhook";

    temp.name = wh->host;

    resolve = ngx_resolve_start(wh->resolver, &temp);

    if (resolve == NULL || resolve == NGX_NO_RESOLVER) {
        ngx_http_monitoring_webhook_error(ctx, 0, "resolver failed");
        return;
    }

    resolve->name = wh->host;
    resolve->handler = ngx_http_monitoring_webhook_resolve_handler;
    resolve->data = ctx;
    resolve->timeout = wh->resolver_timeout;
    resolve->cancelable = 1;

    ctx->resolve = resolve;

    if (ngx_resolve_name(resolve) != NGX_OK) {
        ctx->resolve = NULL;
        ngx_http_monitoring_webhook_error(ctx, 0, "resolver failed");
        return;
    }

    /* the handler may have been called already, ctx may be gone */
}


static void
ngx_http_monitoring_webhook_resolve_handler(ngx_resolver_ctx_t *resolve)
{
    ngx_http_monitoring_webhook_ctx_t *ctx = resolve->data;

    u_char                         *p;
    size_t                          len;
    socklen_t                       socklen;
    ngx_uint_t                      i;
    struct sockaddr                *sockaddr;
    ngx_http_monitoring_webhook_t  *wh;

    wh = ctx->webhook;

    if (resolve->state) {
        ctx->log->action = NULL;
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "webhook \"%V\" failed: %V could not be resolved "
                      "(%i: %s)", &wh->name, &resolve->name, resolve->state,
                      ngx_resolver_strerror(resolve->state));
        ngx_http_monitoring_webhook_finish(ctx,
                                           NGX_HTTP_MONITORING_WEBHOOK_ERROR);
        return;
    }

    ctx->naddrs = resolve->naddrs;
    ctx->addrs = ngx_pcalloc(ctx->pool, ctx->naddrs * sizeof(ngx_addr_t));
    if (ctx->addrs == NULL) {
        goto failed;
    }

    for (i = 0; i < resolve->naddrs; i++) {

        socklen = resolve->addrs[i].socklen;

        sockaddr = ngx_palloc(ctx->pool, socklen);
        if (sockaddr == NULL) {
            goto failed;
        }

        ngx_memcpy(sockaddr, resolve->addrs[i].sockaddr, socklen);
        ngx_inet_set_port(sockaddr, wh->port);

        ctx->addrs[i].sockaddr = sockaddr;
        ctx->addrs[i].socklen = socklen;

        p = ngx_pnalloc(ctx->pool, NGX_SOCKADDR_STRLEN);
        if (p == NULL) {
            goto failed;
        }

        len = ngx_sock_ntop(sockaddr, socklen, p, NGX_SOCKADDR_STRLEN, 1);

        ctx->addrs[i].name.len = len;
        ctx->addrs[i].name.data = p;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "webhook \"%V\" resolved to %V",
                       &wh->name, &ctx->addrs[i].name);
    }

    ngx_resolve_name_done(resolve);
    ctx->resolve = NULL;

    /*
     * the resolver rotates the addresses of a name: sorted, they keep
     * the order in which wh->naddr steps through them
     */

    ngx_sort(ctx->addrs, ctx->naddrs, sizeof(ngx_addr_t),
             ngx_http_monitoring_webhook_cmp_addrs);

    ngx_http_monitoring_webhook_connect(ctx);
    return;

failed:

    ngx_http_monitoring_webhook_error(ctx, 0, "resolver failed");
}


static ngx_int_t
ngx_http_monitoring_webhook_cmp_addrs(const void *one, const void *two)
{
    ngx_addr_t  *first, *second;

    first = (ngx_addr_t *) one;
    second = (ngx_addr_t *) two;

    if (first->socklen != second->socklen) {
        return (ngx_int_t) first->socklen - (ngx_int_t) second->socklen;
    }

    return ngx_memcmp(first->sockaddr, second->sockaddr, first->socklen);
}


static void
ngx_http_monitoring_webhook_connect(ngx_http_monitoring_webhook_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_err_t                       err;
    ngx_addr_t                     *addr;
    ngx_connection_t               *c;
    ngx_http_monitoring_webhook_t  *wh;

    wh = ctx->webhook;

    if (ngx_exiting) {
        ngx_http_monitoring_webhook_error(ctx, 0, "worker is shutting down");
        return;
    }

    ctx->naddr = wh->naddr % ctx->naddrs;
    addr = &ctx->addrs[ctx->naddr];

    ctx->peer.sockaddr = addr->sockaddr;
    ctx->peer.socklen = addr->socklen;
    ctx->peer.name = &addr->name;
    ctx->peer.get = ngx_event_get_peer;
    ctx->peer.log = ctx->log;
    ctx->peer.log_error = NGX_ERROR_INFO;

    ctx->log->action = "connecting to webhook";

    rc = ngx_event_connect_peer(&ctx->peer);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "webhook \"%V\" connect: %i", &wh->name, rc);

    if (rc == NGX_ERROR) {
        ngx_http_monitoring_webhook_error(ctx, 0, "no connection");
        return;
    }

    if (rc == NGX_BUSY || rc == NGX_DECLINED) {
        err = ngx_socket_errno;

        /* the next delivery tries the next address */

        wh->naddr = ctx->naddr + 1;

        ngx_http_monitoring_webhook_error(ctx, err, "connect() failed");
        return;
    }

    /* rc == NGX_OK || rc == NGX_AGAIN */

    c = ctx->peer.connection;

    c->data = ctx;
    c->pool = ctx->pool;

    /* closed by ngx_close_idle_connections() when the worker exits */
    c->idle = 1;

    c->read->handler = ngx_http_monitoring_webhook_read_handler;
    c->write->handler = ngx_http_monitoring_webhook_write_handler;

    if (rc == NGX_OK) {
        ctx->connected = 1;
        ngx_http_monitoring_webhook_write_handler(c->write);
    }
}


static ngx_int_t
ngx_http_monitoring_webhook_test_connect(
    ngx_http_monitoring_webhook_ctx_t *ctx)
{
    int                err;
    socklen_t          len;
    ngx_connection_t  *c;

    c = ctx->peer.connection;

#if (NGX_HAVE_KQUEUE)

    if (ngx_event_flags & NGX_USE_KQUEUE_EVENT)  {
        if (c->write->pending_eof || c->read->pending_eof) {
            if (c->write->pending_eof) {
                err = c->write->kq_errno;

            } else {
                err = c->read->kq_errno;
            }

            goto failed;
        }

    } else
#endif
    {
        err = 0;
        len = sizeof(int);

        /*
         * BSDs and Linux return 0 and set a pending error in err
         * Solaris returns -1 and sets errno
         */

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            goto failed;
        }
    }

    ctx->connected = 1;
    ctx->log->action = "sending alert to webhook";

    return NGX_OK;

failed:

    /* the next delivery tries the next address */

    ctx->webhook->naddr = ctx->naddr + 1;

    ngx_http_monitoring_webhook_error(ctx, err, "connect() failed");

    return NGX_ERROR;
}


static void
ngx_http_monitoring_webhook_write_handler(ngx_event_t *wev)
{
    ssize_t                             n;
    ngx_buf_t                          *b;
    ngx_connection_t                   *c;
    ngx_http_monitoring_webhook_ctx_t  *ctx;

    c = wev->data;
    ctx = c->data;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, wev->log, 0,
                   "webhook write handler");

    if (!ctx->connected
        && ngx_http_monitoring_webhook_test_connect(ctx) != NGX_OK)
    {
        return;
    }

    b = ctx->request;

    while (b->pos < b->last) {

        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_monitoring_webhook_error(ctx, 0, "no write event");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_monitoring_webhook_error(ctx, ngx_socket_errno,
                                              "send() failed");
            return;
        }

        b->pos += n;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, wev->log, 0,
                   "webhook request sent: %uz bytes", b->last - b->start);

    wev->handler = ngx_http_monitoring_webhook_dummy_handler;

    ctx->log->action = "reading response from webhook";

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_monitoring_webhook_error(ctx, 0, "no write event");
    }
}


static void
ngx_http_monitoring_webhook_read_handler(ngx_event_t *rev)
{
    ssize_t                             n;
    ngx_int_t                           rc;
    ngx_buf_t                          *b;
    ngx_connection_t                   *c;
    ngx_http_monitoring_webhook_t      *wh;
    ngx_http_monitoring_webhook_ctx_t  *ctx;

    c = rev->data;
    ctx = c->data;
    wh = ctx->webhook;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, rev->log, 0,
                   "webhook read handler");

    if (c->close) {
        ngx_http_monitoring_webhook_error(ctx, 0, "worker is shutting down");
        return;
    }

    if (!ctx->connected
        && ngx_http_monitoring_webhook_test_connect(ctx) != NGX_OK)
    {
        return;
    }

    if (ctx->response == NULL) {
        ctx->response = ngx_create_temp_buf(ctx->pool,
                                          NGX_HTTP_MONITORING_WEBHOOK_BUFFER);
        if (ctx->response == NULL) {
            ngx_http_monitoring_webhook_error(ctx, 0, "out of memory");
            return;
        }
    }

    /* only the status line matters: the buffer is reused for each read */

    b = ctx->response;

    for ( ;; ) {

        n = c->recv(c, b->start, b->end - b->start);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_monitoring_webhook_error(ctx, 0, "no read event");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_monitoring_webhook_error(ctx, ngx_socket_errno,
                                              "recv() failed");
            return;
        }

        if (n == 0) {
            break;
        }

        ctx->received += n;

        rc = ngx_http_monitoring_webhook_parse_status_line(ctx, b->start,
                                                           b->start + n);

        if (rc == NGX_AGAIN) {
            continue;
        }

        ctx->log->action = NULL;

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                          "webhook \"%V\" failed: invalid status line",
                          &wh->name);
            ngx_http_monitoring_webhook_finish(ctx,
                                          NGX_HTTP_MONITORING_WEBHOOK_INVALID);
            return;
        }

        /* rc == NGX_OK */

        if (ctx->status >= NGX_HTTP_OK
            && ctx->status < NGX_HTTP_SPECIAL_RESPONSE)
        {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                           "webhook \"%V\" delivered: %ui",
                           &wh->name, ctx->status);
            ngx_http_monitoring_webhook_finish(ctx,
                                          NGX_HTTP_MONITORING_WEBHOOK_SUCCESS);
            return;
        }

        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "webhook \"%V\" failed: answered %ui",
                      &wh->name, ctx->status);
        ngx_http_monitoring_webhook_finish(ctx,
                                       NGX_HTTP_MONITORING_WEBHOOK_HTTP_ERROR);
        return;
    }

    /* the webhook closed the connection before a whole status line */

    if (ctx->received == 0) {
        ngx_http_monitoring_webhook_error(ctx, 0,
                                          "connection closed without "
                                          "a response");
        return;
    }

    ctx->log->action = NULL;

    ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                  "webhook \"%V\" failed: connection closed "
                  "in the status line", &wh->name);

    ngx_http_monitoring_webhook_finish(ctx,
                                       NGX_HTTP_MONITORING_WEBHOOK_INVALID);
}


static void
ngx_http_monitoring_webhook_dummy_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "webhook dummy handler");
}


/*
 * "HTTP/1.x NNN" followed by a space or the end of the line; interim
 * 1xx responses and their headers are skipped
 */

static ngx_int_t
ngx_http_monitoring_webhook_parse_status_line(
    ngx_http_monitoring_webhook_ctx_t *ctx, u_char *p, u_char *last)
{
    u_char  ch;
    enum {
        sw_start = 0,
        sw_minor_digit,
        sw_space,
        sw_status,
        sw_end_of_status,
        sw_skip_line,
        sw_line_start,
        sw_almost_done
    } state;

    static u_char  version[] = "HTTP/1.";

    state = ctx->state;

    for ( /* void */ ; p < last; p++) {
        ch = *p;

        switch (state) {

        /* "HTTP/1." */
        case sw_start:
            if (ch != version[ctx->count]) {
                return NGX_ERROR;
            }

            if (++ctx->count == sizeof(version) - 1) {
                state = sw_minor_digit;
            }

            break;

        case sw_minor_digit:
            if (ch < '0' || ch > '9') {
                return NGX_ERROR;
            }

            state = sw_space;
            break;

        case sw_space:
            if (ch != ' ') {
                return NGX_ERROR;
            }

            ctx->count = 0;
            ctx->status = 0;
            state = sw_status;
            break;

        case sw_status:
            if (ch < '0' || ch > '9') {
                return NGX_ERROR;
            }

            ctx->status = ctx->status * 10 + (ch - '0');

            if (++ctx->count == 3) {
                state = sw_end_of_status;
            }

            break;

        case sw_end_of_status:
            if (ch != ' ' && ch != CR && ch != LF) {
                return NGX_ERROR;
            }

            if (ctx->status < 100) {
                return NGX_ERROR;
            }

            if (ctx->status >= 200) {
                ctx->state = sw_start;
                return NGX_OK;
            }

            /* an interim response */

            state = (ch == LF) ? sw_line_start : sw_skip_line;
            break;

        case sw_skip_line:
            if (ch == LF) {
                state = sw_line_start;
            }

            break;

        case sw_line_start:
            switch (ch) {
            case CR:
                state = sw_almost_done;
                break;
            case LF:
                ctx->count = 0;
                state = sw_start;
                break;
            default:
                state = sw_skip_line;
            }

            break;

        /* the empty line after the headers of an interim response */
        case sw_almost_done:
            if (ch != LF) {
                return NGX_ERROR;
            }

            ctx->count = 0;
            state = sw_start;
            break;
        }
    }

    ctx->state = state;

    return NGX_AGAIN;
}


static void
ngx_http_monitoring_webhook_timeout_handler(ngx_event_t *ev)
{
    char                               *action;
    ngx_http_monitoring_webhook_ctx_t  *ctx;

    ctx = ev->data;

    action = ctx->log->action;
    ctx->log->action = NULL;

    if (!ctx->connected && ctx->peer.connection) {

        /* the next delivery tries the next address */

        ctx->webhook->naddr = ctx->naddr + 1;
    }

    ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                  "webhook \"%V\" failed: timed out while %s",
                  &ctx->webhook->name, action);

    ngx_http_monitoring_webhook_finish(ctx,
                                       NGX_HTTP_MONITORING_WEBHOOK_TIMEOUT);
}


static void
ngx_http_monitoring_webhook_error(ngx_http_monitoring_webhook_ctx_t *ctx,
    ngx_err_t err, char *text)
{
    ctx->log->action = NULL;

    ngx_log_error(NGX_LOG_WARN, ctx->log, err, "webhook \"%V\" failed: %s",
                  &ctx->webhook->name, text);

    ngx_http_monitoring_webhook_finish(ctx, NGX_HTTP_MONITORING_WEBHOOK_ERROR);
}


static void
ngx_http_monitoring_webhook_finish(ngx_http_monitoring_webhook_ctx_t *ctx,
    ngx_uint_t result)
{
    void                                 *data;
    ngx_uint_t                            status;
    ngx_http_monitoring_webhook_done_pt   done;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "webhook \"%V\" done: %V",
                   &ctx->webhook->name,
                   &ngx_http_monitoring_webhook_results[result]);

    if (ctx->event.timer_set) {
        ngx_del_timer(&ctx->event);
    }

    if (ctx->event.posted) {
        ngx_delete_posted_event(&ctx->event);
    }

    if (ctx->resolve) {
        ngx_resolve_name_done(ctx->resolve);
    }

    if (ctx->peer.connection) {
        ngx_close_connection(ctx->peer.connection);
    }

    done = ctx->done;
    data = ctx->data;

    status = (result == NGX_HTTP_MONITORING_WEBHOOK_SUCCESS
              || result == NGX_HTTP_MONITORING_WEBHOOK_HTTP_ERROR)
             ? ctx->status : 0;

    ngx_destroy_pool(ctx->pool);

    done(data, result, status);
}


static u_char *
ngx_http_monitoring_webhook_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char                             *p;
    ngx_http_monitoring_webhook_ctx_t  *ctx;

    p = buf;
    ctx = log->data;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s, webhook: \"%V\"",
                         log->action, &ctx->webhook->name);
        len -= p - buf;
        buf = p;
    }

    if (ctx->peer.name) {
        p = ngx_snprintf(buf, len, ", peer: %V", ctx->peer.name);
    }

    return p;
}
