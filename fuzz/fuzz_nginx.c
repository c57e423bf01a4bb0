
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
 * For a shared memory zone: a slab allocator that hands out memory as
 * nginx's does (chunks of a power of 2 from 8 bytes, whole pages from
 * half a page, in a pool of as many pages as ngx_slab_init() makes) but
 * never reuses it, and tells AddressSanitizer which bytes are handed
 * out, so that reading past an allocation or after ngx_slab_free() is
 * reported; a target may leave it less memory, to fill a zone at once
 * (ngx_http_monitoring_fuzz_slab_left(), fuzz_nginx.h); a mutex that
 * aborts on a deadlock (locked twice, as nginx's spins forever) and on
 * an unlock without a lock; the CRC32 tables and MurmurHash2 of nginx;
 * a cached time that stands still.
 *
 * The module's own sources are linked whole, with --gc-sections: what
 * the targets do not reach is dropped, and so are its references.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <sanitizer/asan_interface.h>
#include "fuzz_nginx.h"


/* where nginx keeps the slots and the pages of a slab pool */

typedef struct {
    u_char                   *pos;      /* never handed out from here */
    u_char                   *last;     /* the end of what may be */
    u_char                   *end;      /* the end of the pages */
} ngx_http_monitoring_fuzz_slab_t;


static void ngx_http_monitoring_fuzz_nginx_fail(const char *fmt, ...);


static void              *ngx_http_monitoring_fuzz_pool;
static pcre2_match_data  *ngx_http_monitoring_fuzz_md;
static ngx_uint_t         ngx_http_monitoring_fuzz_md_size;

static ngx_log_t          ngx_http_monitoring_fuzz_log = { NGX_LOG_WARN };
static ngx_cycle_t        ngx_http_monitoring_fuzz_cycle = {
                              NULL, NULL, &ngx_http_monitoring_fuzz_log
                          };

/* Sun, 30 Nov 2025 00:00:00 GMT */
static ngx_time_t         ngx_http_monitoring_fuzz_time = { 1764460800 };


/* an init cycle, as at the start of nginx: no configuration yet */

volatile ngx_cycle_t     *ngx_cycle = &ngx_http_monitoring_fuzz_cycle;
volatile ngx_time_t      *ngx_cached_time = &ngx_http_monitoring_fuzz_time;

ngx_uint_t                ngx_test_config;
ngx_uint_t                ngx_inherited;
ngx_pid_t                 ngx_pid;
ngx_uint_t                ngx_pagesize;
ngx_uint_t                ngx_pagesize_shift;


/* those of src/core/ngx_crc32.c */

static uint32_t  ngx_http_monitoring_fuzz_crc16[] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac,
    0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c
};

uint32_t  ngx_crc32_table256[] = {
    0x00000000, 0x77073096, 0xee0e612c, 0x990951ba,
    0x076dc419, 0x706af48f, 0xe963a535, 0x9e6495a3,
    0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
    0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91,
    0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de,
    0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
    0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec,
    0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5,
    0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
    0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b,
    0x35b5a8fa, 0x42b2986c, 0xdbbbc9d6, 0xacbcf940,
    0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
    0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116,
    0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
    0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
    0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d,
    0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a,
    0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
    0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818,
    0x7f6a0dbb, 0x086d3d2d, 0x91646c97, 0xe6635c01,
    0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
    0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457,
    0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea, 0xfcb9887c,
    0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
    0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2,
    0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb,
    0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
    0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
    0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086,
    0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
    0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4,
    0x59b33d17, 0x2eb40d81, 0xb7bd5c3b, 0xc0ba6cad,
    0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
    0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683,
    0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8,
    0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
    0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe,
    0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7,
    0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
    0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5,
    0xd6d6a3e8, 0xa1d1937e, 0x38d8c2c4, 0x4fdff252,
    0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
    0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60,
    0xdf60efc3, 0xa867df55, 0x316e8eef, 0x4669be79,
    0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
    0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f,
    0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04,
    0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
    0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a,
    0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713,
    0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
    0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21,
    0x86d3d2d4, 0xf1d4e242, 0x68ddb3f8, 0x1fda836e,
    0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
    0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c,
    0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
    0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
    0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db,
    0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0,
    0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
    0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6,
    0xbad03605, 0xcdd70693, 0x54de5729, 0x23d967bf,
    0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
    0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d
};


uint32_t  *ngx_crc32_table_short = ngx_http_monitoring_fuzz_crc16;


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


void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    void  *p;

    p = malloc(size);
    if (p == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "malloc(%uz) failed", size);
    }

    return p;
}


/* "%V", "%s" and "%Z" only: any other format is a new need, said at once */

u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    char       *s;
    va_list     args;
    ngx_str_t  *v;

    va_start(args, fmt);

    while (*fmt) {

        if (*fmt != '%') {
            *buf++ = *fmt++;
            continue;
        }

        switch (fmt[1]) {

        case 'V':
            v = va_arg(args, ngx_str_t *);
            buf = ngx_cpymem(buf, v->data, v->len);
            break;

        case 's':
            s = va_arg(args, char *);
            buf = ngx_cpymem(buf, s, ngx_strlen(s));
            break;

        case 'Z':
            *buf++ = '\0';
            break;

        case '%':
            *buf++ = '%';
            break;

        default:
            ngx_http_monitoring_fuzz_nginx_fail("ngx_sprintf(): format "
                                                "\"%s\" is not in "
                                                "fuzz_nginx.c", fmt);
        }

        fmt += 2;
    }

    va_end(args);

    return buf;
}


/* src/core/ngx_murmurhash.c, its shifts made unsigned for UBSan */

uint32_t
ngx_murmur_hash2(u_char *data, size_t len)
{
    uint32_t  h, k;

    h = 0 ^ len;

    while (len >= 4) {
        k  = data[0];
        k |= (uint32_t) data[1] << 8;
        k |= (uint32_t) data[2] << 16;
        k |= (uint32_t) data[3] << 24;

        k *= 0x5bd1e995;
        k ^= k >> 24;
        k *= 0x5bd1e995;

        h *= 0x5bd1e995;
        h ^= k;

        data += 4;
        len -= 4;
    }

    switch (len) {
    case 3:
        h ^= (uint32_t) data[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t) data[1] << 8;
        /* fall through */
    case 1:
        h ^= data[0];
        h *= 0x5bd1e995;
    }

    h ^= h >> 13;
    h *= 0x5bd1e995;
    h ^= h >> 15;

    return h;
}


ngx_int_t
ngx_shmtx_create(ngx_shmtx_t *mtx, ngx_shmtx_sh_t *addr, u_char *name)
{
    mtx->lock = &addr->lock;
    mtx->spin = 2048;

    return NGX_OK;
}


/* one process: a mutex taken again would never be given back */

void
ngx_shmtx_lock(ngx_shmtx_t *mtx)
{
    if (ngx_pid == 0) {
        ngx_http_monitoring_fuzz_nginx_fail("ngx_shmtx_lock(): ngx_pid is "
                                            "not set");
    }

    if (*mtx->lock != 0) {
        ngx_http_monitoring_fuzz_nginx_fail("ngx_shmtx_lock(): the mutex "
                                            "is held already, nginx would "
                                            "spin forever");
    }

    *mtx->lock = ngx_pid;
}


void
ngx_shmtx_unlock(ngx_shmtx_t *mtx)
{
    if (*mtx->lock != (ngx_atomic_uint_t) ngx_pid) {
        ngx_http_monitoring_fuzz_nginx_fail("ngx_shmtx_unlock(): the mutex "
                                            "is not held");
    }

    *mtx->lock = 0;
}


/*
 * A slab pool of as many pages as nginx 1.22 makes of the zone, after
 * its slots, statistics and page table; memory that is not handed out
 * is poisoned for AddressSanitizer.
 */

void
ngx_slab_init(ngx_slab_pool_t *pool)
{
    u_char                           *p;
    size_t                            size;
    ngx_uint_t                        n, pages;
    ngx_http_monitoring_fuzz_slab_t  *slab;

    if (ngx_pagesize == 0) {
        ngx_pagesize = getpagesize();

        for (n = ngx_pagesize; n >>= 1; ngx_pagesize_shift++) { /* void */ }
    }

    pool->min_size = (size_t) 1 << pool->min_shift;

    p = (u_char *) pool + sizeof(ngx_slab_pool_t);
    size = pool->end - p;

    n = ngx_pagesize_shift - pool->min_shift;

    slab = (ngx_http_monitoring_fuzz_slab_t *) p;
    p += n * sizeof(ngx_slab_page_t);

    pool->stats = (ngx_slab_stat_t *) p;
    ngx_memzero(pool->stats, n * sizeof(ngx_slab_stat_t));
    p += n * sizeof(ngx_slab_stat_t);

    size -= n * (sizeof(ngx_slab_page_t) + sizeof(ngx_slab_stat_t));

    pages = (ngx_uint_t) (size / (ngx_pagesize + sizeof(ngx_slab_page_t)));

    pool->start = ngx_align_ptr(p + pages * sizeof(ngx_slab_page_t),
                                ngx_pagesize);

    if (pages > (ngx_uint_t) (pool->end - pool->start) / ngx_pagesize) {
        pages = (pool->end - pool->start) / ngx_pagesize;
    }

    slab->pos = pool->start;
    slab->last = pool->start + pages * ngx_pagesize;
    slab->end = slab->last;

    pool->pfree = pages;
    pool->log_ctx = &pool->zero;
    pool->zero = '\0';

    ASAN_POISON_MEMORY_REGION(pool->start, slab->last - pool->start);
}


void *
ngx_slab_alloc(ngx_slab_pool_t *pool, size_t size)
{
    void  *p;

    ngx_shmtx_lock(&pool->mutex);

    p = ngx_slab_alloc_locked(pool, size);

    ngx_shmtx_unlock(&pool->mutex);

    return p;
}


/*
 * a chunk of the power of 2 nginx would take, or whole pages; no reuse.
 * The chunk is that of one byte more than asked for: a poisoned byte at
 * least follows each allocation, so that ngx_slab_free() finds its end.
 */

void *
ngx_slab_alloc_locked(ngx_slab_pool_t *pool, size_t size)
{
    u_char                           *p;
    size_t                            chunk, align;
    ngx_http_monitoring_fuzz_slab_t  *slab;

    slab = (ngx_http_monitoring_fuzz_slab_t *)
               ((u_char *) pool + sizeof(ngx_slab_pool_t));

    if (size + 1 > ngx_pagesize / 2) {
        chunk = ngx_align(size + 1, ngx_pagesize);
        align = ngx_pagesize;

    } else {
        for (chunk = pool->min_size; chunk < size + 1; chunk <<= 1) {
            /* void */
        }

        align = chunk;
    }

    p = ngx_align_ptr(slab->pos, align);

    if (p > slab->last || chunk > (size_t) (slab->last - p)) {

        if (pool->log_nomem) {
            ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                          "ngx_slab_alloc() failed: no memory%s",
                          pool->log_ctx);
        }

        return NULL;
    }

    slab->pos = p + chunk;
    pool->pfree = (slab->last - slab->pos) / ngx_pagesize;

    /* the bytes asked for, at least one so that a free can tell */

    ASAN_UNPOISON_MEMORY_REGION(p, ngx_max(size, 1));

    return p;
}


void *
ngx_slab_calloc(ngx_slab_pool_t *pool, size_t size)
{
    void  *p;

    ngx_shmtx_lock(&pool->mutex);

    p = ngx_slab_calloc_locked(pool, size);

    ngx_shmtx_unlock(&pool->mutex);

    return p;
}


void *
ngx_slab_calloc_locked(ngx_slab_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_slab_alloc_locked(pool, size);
    if (p) {
        ngx_memzero(p, size);
    }

    return p;
}


void
ngx_slab_free(ngx_slab_pool_t *pool, void *p)
{
    ngx_shmtx_lock(&pool->mutex);

    ngx_slab_free_locked(pool, p);

    ngx_shmtx_unlock(&pool->mutex);
}


/*
 * no more than "left" bytes to be handed out from now on, of the pages
 * there are; NGX_HTTP_MONITORING_FUZZ_ALL: all of them again
 */

void
ngx_http_monitoring_fuzz_slab_left(ngx_slab_pool_t *pool, size_t left)
{
    ngx_http_monitoring_fuzz_slab_t  *slab;

    slab = (ngx_http_monitoring_fuzz_slab_t *)
               ((u_char *) pool + sizeof(ngx_slab_pool_t));

    if (left > (size_t) (slab->end - slab->pos)) {
        slab->last = slab->end;

    } else {
        slab->last = slab->pos + left;
    }

    pool->pfree = (slab->last - slab->pos) / ngx_pagesize;
}


/* nginx's alerts are aborts here; the bytes handed out are poisoned */

void
ngx_slab_free_locked(ngx_slab_pool_t *pool, void *p)
{
    u_char                           *end;
    ngx_http_monitoring_fuzz_slab_t  *slab;

    slab = (ngx_http_monitoring_fuzz_slab_t *)
               ((u_char *) pool + sizeof(ngx_slab_pool_t));

    if ((u_char *) p < pool->start || (u_char *) p >= slab->pos) {
        ngx_http_monitoring_fuzz_nginx_fail("ngx_slab_free(): outside of "
                                            "pool");
    }

    if (((uintptr_t) p & (pool->min_size - 1)) != 0) {
        ngx_http_monitoring_fuzz_nginx_fail("ngx_slab_free(): pointer to "
                                            "wrong chunk");
    }

    if (__asan_address_is_poisoned(p)) {
        ngx_http_monitoring_fuzz_nginx_fail("ngx_slab_free(): chunk is "
                                            "already free");
    }

    end = __asan_region_is_poisoned(p, slab->pos - (u_char *) p);

    ASAN_POISON_MEMORY_REGION(p, (end ? end : slab->pos) - (u_char *) p);
}


static void
ngx_http_monitoring_fuzz_nginx_fail(const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "fuzz_nginx: ");

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");

    abort();
}
