
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


/*
 * The few nginx core functions the fuzz targets reach, for a binary
 * without nginx: nginx-dev ships the headers, not the core sources.
 * Allocation comes from the heap, never freed (only configuration
 * allocates, once); the regex functions follow nginx 1.22's PCRE2 code
 * in src/core/ngx_regex.c without its allocator hooks; the log
 * functions print the format, unexpanded, to stderr.
 *
 * The module's own sources are linked whole, with --gc-sections: what
 * the targets do not reach is dropped, and so are its references.
 */

#include <ngx_config.h>
#include <ngx_core.h>


static void              *ngx_http_monitoring_fuzz_pool;
static pcre2_match_data  *ngx_http_monitoring_fuzz_md;
static ngx_uint_t         ngx_http_monitoring_fuzz_md_size;


/*
 * a pool never frees, as nginx's until it is destroyed: each allocation
 * is linked to the last, so that LeakSanitizer sees them all reachable
 */

void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    void  **p;

    p = malloc(NGX_ALIGNMENT + size);
    if (p == NULL) {
        return NULL;
    }

    *p = ngx_http_monitoring_fuzz_pool;
    ngx_http_monitoring_fuzz_pool = p;

    return (u_char *) p + NGX_ALIGNMENT;
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);
    if (p != NULL) {
        ngx_memzero(p, size);
    }

    return p;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void    *elt, *new;
    size_t   size;

    if (a->nelts == a->nalloc) {
        size = a->size * a->nalloc;

        new = ngx_palloc(a->pool, 2 * size);
        if (new == NULL) {
            return NULL;
        }

        ngx_memcpy(new, a->elts, size);
        a->elts = new;
        a->nalloc *= 2;
    }

    elt = (u_char *) a->elts + a->size * a->nelts;
    a->nelts++;

    return elt;
}


ngx_int_t
ngx_regex_compile(ngx_regex_compile_t *rc)
{
    int          n, errcode;
    size_t       erroff;
    uint32_t     options;
    pcre2_code  *re;
    u_char       errstr[128];

    options = 0;

    if (rc->options & NGX_REGEX_CASELESS) {
        options |= PCRE2_CASELESS;
    }

    if (rc->options & NGX_REGEX_MULTILINE) {
        options |= PCRE2_MULTILINE;
    }

    re = pcre2_compile(rc->pattern.data, rc->pattern.len, options,
                       &errcode, &erroff, NULL);

    if (re == NULL) {
        pcre2_get_error_message(errcode, errstr, sizeof(errstr));

        n = snprintf((char *) rc->err.data, rc->err.len,
                     "pcre2_compile() failed: %s at %zu", errstr, erroff);
        rc->err.len = ngx_min((size_t) ngx_max(n, 0), rc->err.len);

        return NGX_ERROR;
    }

    rc->regex = re;

    if (pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &rc->captures) < 0
        || pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &rc->named_captures)
           < 0
        || pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &rc->name_size)
           < 0
        || pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &rc->names) < 0)
    {
        ngx_str_set(&rc->err, "pcre2_pattern_info() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_regex_exec(ngx_regex_t *re, ngx_str_t *s, int *captures, ngx_uint_t size)
{
    size_t      *ov;
    ngx_int_t    rc;
    ngx_uint_t   n, i;

    if (ngx_http_monitoring_fuzz_md == NULL
        || size > ngx_http_monitoring_fuzz_md_size)
    {
        if (ngx_http_monitoring_fuzz_md) {
            pcre2_match_data_free(ngx_http_monitoring_fuzz_md);
        }

        ngx_http_monitoring_fuzz_md_size = size;
        ngx_http_monitoring_fuzz_md = pcre2_match_data_create(size / 3,
                                                              NULL);

        if (ngx_http_monitoring_fuzz_md == NULL) {
            return PCRE2_ERROR_NOMEMORY;
        }
    }

    rc = pcre2_match(re, s->data, s->len, 0, 0, ngx_http_monitoring_fuzz_md,
                     NULL);

    if (rc < 0) {
        return rc;
    }

    n = pcre2_get_ovector_count(ngx_http_monitoring_fuzz_md);
    ov = pcre2_get_ovector_pointer(ngx_http_monitoring_fuzz_md);

    if (n > size / 3) {
        n = size / 3;
    }

    for (i = 0; i < n; i++) {
        captures[i * 2] = ov[i * 2];
        captures[i * 2 + 1] = ov[i * 2 + 1];
    }

    return rc;
}


void ngx_cdecl
ngx_conf_log_error(ngx_uint_t level, ngx_conf_t *cf, ngx_err_t err,
    const char *fmt, ...)
{
    fprintf(stderr, "nginx configuration: %s\n", fmt);
}


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    fprintf(stderr, "nginx log: %s\n", fmt);
}
