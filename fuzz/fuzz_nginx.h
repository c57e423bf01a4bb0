
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#ifndef _NGX_HTTP_MONITORING_FUZZ_NGINX_H_INCLUDED_
#define _NGX_HTTP_MONITORING_FUZZ_NGINX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_MONITORING_FUZZ_ALL  ((size_t) -1)


void ngx_http_monitoring_fuzz_slab_left(ngx_slab_pool_t *pool, size_t left);


#endif /* _NGX_HTTP_MONITORING_FUZZ_NGINX_H_INCLUDED_ */
