
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#ifndef _NGX_HTTP_MONITORING_FUZZ_UTF8_H_INCLUDED_
#define _NGX_HTTP_MONITORING_FUZZ_UTF8_H_INCLUDED_


#include <stddef.h>


size_t ngx_http_monitoring_fuzz_utf8_char(const unsigned char *p,
    size_t len);
int ngx_http_monitoring_fuzz_utf8_valid(const unsigned char *p, size_t len);
size_t ngx_http_monitoring_fuzz_utf8_copy(unsigned char *dst,
    const unsigned char *src, size_t len, size_t max);


#endif /* _NGX_HTTP_MONITORING_FUZZ_UTF8_H_INCLUDED_ */
