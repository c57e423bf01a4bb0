
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


/*
 * libFuzzer target for the snapshot loader.  A real zone is made once by
 * the module's own ngx_http_monitoring_init_zone() in a block of memory
 * with the slab allocator of fuzz/fuzz_nginx.c, which hands out what is
 * left and no more, so that a zone fills as a real one does.  Each input
 * is checked by ngx_http_monitoring_snapshot_check() and, if it passes,
 * added to the zone by ngx_http_monitoring_snapshot_apply(); the alert
 * records it leaves in the zone are then taken by the rules below through
 * ngx_http_monitoring_snapshot_alerts(), as the first worker does.
 *
 * An input that starts with a byte 0xf0..0xff is the body of a snapshot:
 * the harness puts a valid header before it (magic, version, byte order,
 * size, CRC32, layout, zone "main"), so that mutations reach the records.
 * The low two bits of that byte give the zone's max_series (none, 4, 16,
 * 64), the next two the memory the zone has left for this input (all
 * there is, or none, a page, 6 pages: a 16 KB chunk, see fuzz_nginx.c,
 * and nothing of the chunk the zone carves series from).
 * Any other input is a whole file.
 *
 * The zone is made afresh every NGX_HTTP_MONITORING_FUZZ_INPUTS inputs
 * and after an input that filled it.  After each input every series in
 * the hash chains must have a valid key, the label text the key renders
 * to, valid UTF-8, strictly increasing bounds, n <= 32, and statuses
 * below 1000 without repeats; a restored alert state must be one the
 * rules can use.  A broken invariant is reported on stderr and ends in
 * abort(), which libFuzzer saves as a crash.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <sanitizer/asan_interface.h>
#include "ngx_http_monitoring_module.h"
#include "fuzz_nginx.h"
#include "fuzz_utf8.h"


#define NGX_HTTP_MONITORING_FUZZ_ZONE_SIZE  NGX_HTTP_MONITORING_MIN_SIZE
#define NGX_HTTP_MONITORING_FUZZ_INPUTS     64
#define NGX_HTTP_MONITORING_FUZZ_MARKER     0xf0
#define NGX_HTTP_MONITORING_FUZZ_RULES      4
#define NGX_HTTP_MONITORING_FUZZ_HOOK       1


/* the header of the snapshot format, as docs/persistence.md has it */

typedef struct {
    u_char                           magic[8];
    uint32_t                         version;
    uint32_t                         order;
    uint64_t                         instance;
    uint64_t                         seq;
    uint64_t                         written;
    uint64_t                         start_time;
    uint64_t                         size;
    uint32_t                         crc;
    uint32_t                         flags;
    uint32_t                         name_len;
    uint32_t                         layout;
    u_char                           name[NGX_HTTP_MONITORING_NAME_MAX];
} ngx_http_monitoring_fuzz_header_t;


/* a rule of the seeds: its name, its hash and the shape of its samples */

typedef struct {
    char                            *name;
    uint32_t                         hash;
    ngx_uint_t                       nsamples;
    ngx_uint_t                       nvalues;
} ngx_http_monitoring_fuzz_rule_t;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static u_char *ngx_http_monitoring_fuzz_snapshot(u_char *body, size_t size,
    size_t *len);
static void ngx_http_monitoring_fuzz_zone_init(void);
static void ngx_http_monitoring_fuzz_alerts(void);
static void ngx_http_monitoring_fuzz_verify(ngx_uint_t before);
static void ngx_http_monitoring_fuzz_series(ngx_http_monitoring_series_t *s,
    ngx_uint_t slot);
static size_t ngx_http_monitoring_fuzz_labels(u_char *dst, u_char *key,
    size_t len);
static void ngx_http_monitoring_fuzz_fail(const char *fmt, ...);


/*
 * the rules of the seeds (monitoring_alert_interval 1s, buckets 5ms 50ms
 * 500ms), and one with the name and hash of a seed's rule but samples of
 * another shape
 */

static ngx_http_monitoring_fuzz_rule_t  ngx_http_monitoring_fuzz_list[] = {

    /* Errors "count(5xx) > 0" window=10s: 13 samples of 4 values */
    { "Errors", 0x74d00d1a, 13, 4 },

    /* Slow "p95 > 200ms" window=10s for=2s: 4 values, 3 bounds + 1 */
    { "Slow", 0x59c156e1, 13, 8 },

    /* Users "error_rate > 0.5" window=5s, an endpoint: 8 of 4 */
    { "Users", 0xf1c88e65, 8, 4 },
    { "Users", 0xf1c88e65, 9, 4 }
};


/* the webhook of the seeds, here in another slot */

static ngx_str_t  ngx_http_monitoring_fuzz_hook =
    ngx_string("http://127.0.0.1:18193/hook");


static ngx_uint_t  ngx_http_monitoring_fuzz_max_series[] = { 0, 4, 16, 64 };

static size_t  ngx_http_monitoring_fuzz_left[] = {
    NGX_HTTP_MONITORING_FUZZ_ALL, 0, 4096, 6 * 4096
};


static u_char                        *ngx_http_monitoring_fuzz_mem;
static ngx_uint_t                     ngx_http_monitoring_fuzz_inputs;
static ngx_log_t                      ngx_http_monitoring_fuzz_log;
static ngx_shm_zone_t                 ngx_http_monitoring_fuzz_shm_zone;
static ngx_http_monitoring_zone_t     ngx_http_monitoring_fuzz_zone;

static ngx_str_t                      ngx_http_monitoring_fuzz_name =
    ngx_string("main");

static ngx_http_monitoring_alert_t    ngx_http_monitoring_fuzz_rules[
                                          NGX_HTTP_MONITORING_FUZZ_RULES];
static ngx_http_monitoring_alert_t   *ngx_http_monitoring_fuzz_rulep[
                                          NGX_HTTP_MONITORING_FUZZ_RULES];
static ngx_http_monitoring_alert_state_t  ngx_http_monitoring_fuzz_states[
                                          NGX_HTTP_MONITORING_FUZZ_RULES];

/* the samples of each rule, of exactly their size */
static uint64_t                      *ngx_http_monitoring_fuzz_samples[
                                          NGX_HTTP_MONITORING_FUZZ_RULES];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    u_char                           *snap;
    size_t                            len;
    ngx_uint_t                        i;
    const char                       *reason;
    ngx_http_monitoring_alert_t      *rule;
    ngx_http_monitoring_fuzz_rule_t  *fr;

    ngx_pid = getpid();

    /* errors only: a full zone warns at each new zone */

    ngx_http_monitoring_fuzz_log.log_level = NGX_LOG_ERR;

    /* page aligned, as shared memory is */

    ngx_http_monitoring_fuzz_mem = aligned_alloc(getpagesize(),
                                        NGX_HTTP_MONITORING_FUZZ_ZONE_SIZE);
    if (ngx_http_monitoring_fuzz_mem == NULL) {
        abort();
    }

    for (i = 0; i < NGX_HTTP_MONITORING_FUZZ_RULES; i++) {
        fr = &ngx_http_monitoring_fuzz_list[i];
        rule = &ngx_http_monitoring_fuzz_rules[i];

        rule->name.data = (u_char *) fr->name;
        rule->name.len = ngx_strlen(fr->name);
        rule->hash = fr->hash;
        rule->nsamples = fr->nsamples;
        rule->nvalues = fr->nvalues;
        rule->index = i;

        ngx_http_monitoring_fuzz_rulep[i] = rule;

        ngx_http_monitoring_fuzz_samples[i] = calloc(fr->nsamples
                                                     * fr->nvalues,
                                                     sizeof(uint64_t));
        if (ngx_http_monitoring_fuzz_samples[i] == NULL) {
            abort();
        }
    }

    ngx_http_monitoring_fuzz_zone_init();

    /* the header made here is still the module's */

    snap = ngx_http_monitoring_fuzz_snapshot(NULL, 0, &len);
    reason = NULL;

    if (ngx_http_monitoring_snapshot_check(snap, len,
                                           &ngx_http_monitoring_fuzz_name,
                                           &reason)
        != NGX_OK)
    {
        ngx_http_monitoring_fuzz_fail("an empty snapshot with the header "
                                      "of fuzz/snapshot_fuzz.c does not "
                                      "verify: %s; did the format change?",
                                      reason ? reason : "no reason");
    }

    free(snap);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *snap;
    size_t                       len, left;
    ngx_int_t                    rc;
    ngx_uint_t                   before;
    const char                  *reason;
    ngx_http_monitoring_zone_t  *zone;

    zone = &ngx_http_monitoring_fuzz_zone;

    if (ngx_http_monitoring_fuzz_inputs++ == NGX_HTTP_MONITORING_FUZZ_INPUTS
        || zone->sh->full)
    {
        ngx_http_monitoring_fuzz_zone_init();
        ngx_http_monitoring_fuzz_inputs = 1;
    }

    zone->max_series = 0;
    left = NGX_HTTP_MONITORING_FUZZ_ALL;

    /* exactly the bytes of the snapshot, so that reading past them shows */

    if (size > 0 && data[0] >= NGX_HTTP_MONITORING_FUZZ_MARKER) {
        zone->max_series = ngx_http_monitoring_fuzz_max_series[data[0] & 3];
        left = ngx_http_monitoring_fuzz_left[(data[0] >> 2) & 3];

        snap = ngx_http_monitoring_fuzz_snapshot((u_char *) data + 1,
                                                 size - 1, &len);

    } else {
        len = size;

        snap = malloc(len ? len : 1);
        if (snap == NULL) {
            abort();
        }

        ngx_memcpy(snap, data, size);
    }

    /* a limit takes the rest of the chunk series are carved from too */

    ngx_http_monitoring_fuzz_slab_left(zone->shpool, left);

    if (left != NGX_HTTP_MONITORING_FUZZ_ALL) {
        zone->sh->chunk_free = 0;
    }

    before = zone->sh->nseries;
    reason = NULL;

    rc = ngx_http_monitoring_snapshot_check(snap, len,
                                            &ngx_http_monitoring_fuzz_name,
                                            &reason);

    if (rc == NGX_OK) {
        rc = ngx_http_monitoring_snapshot_apply(zone, snap, len, 1,
                                                &ngx_http_monitoring_fuzz_log);
        if (rc != NGX_OK) {
            ngx_http_monitoring_fuzz_fail("snapshot_apply() returned %ld",
                                          (long) rc);
        }

        ngx_http_monitoring_fuzz_alerts();

    } else if (rc != NGX_DECLINED || reason == NULL) {
        ngx_http_monitoring_fuzz_fail("snapshot_check() returned %ld, "
                                      "reason %s", (long) rc,
                                      reason ? reason : "not set");
    }

    free(snap);

    ngx_http_monitoring_fuzz_verify(before);

    return 0;
}


/* the body with a header before it, as the module writes one */

static u_char *
ngx_http_monitoring_fuzz_snapshot(u_char *body, size_t size, size_t *len)
{
    u_char                             *snap;
    ngx_http_monitoring_fuzz_header_t  *h;

    *len = sizeof(ngx_http_monitoring_fuzz_header_t) + size;

    snap = malloc(*len);
    if (snap == NULL) {
        abort();
    }

    h = (ngx_http_monitoring_fuzz_header_t *) snap;
    ngx_memzero(h, sizeof(ngx_http_monitoring_fuzz_header_t));

    ngx_memcpy(h->magic, "NGXMONS\n", 8);
    h->version = 1;
    h->order = 0x01020304;
    h->instance = 1;
    h->seq = 1;
    h->written = (uint64_t) ngx_time() * 1000;
    h->start_time = ngx_time();
    h->size = size;
    h->name_len = ngx_http_monitoring_fuzz_name.len;
    h->layout = NGX_HTTP_MONITORING_LAYOUT;
    ngx_memcpy(h->name, ngx_http_monitoring_fuzz_name.data, h->name_len);

    if (size) {
        ngx_memcpy(snap + sizeof(ngx_http_monitoring_fuzz_header_t), body,
                   size);
    }

    h->crc = ngx_crc32_long(snap + sizeof(ngx_http_monitoring_fuzz_header_t),
                            size);

    return snap;
}


/* a new zone, as nginx makes one at its start: zeroed, a slab pool */

static void
ngx_http_monitoring_fuzz_zone_init(void)
{
    ngx_slab_pool_t             *sp;
    ngx_shm_zone_t              *shm_zone;
    ngx_http_monitoring_zone_t  *zone;

    ASAN_UNPOISON_MEMORY_REGION(ngx_http_monitoring_fuzz_mem,
                                NGX_HTTP_MONITORING_FUZZ_ZONE_SIZE);
    ngx_memzero(ngx_http_monitoring_fuzz_mem,
                NGX_HTTP_MONITORING_FUZZ_ZONE_SIZE);

    shm_zone = &ngx_http_monitoring_fuzz_shm_zone;
    zone = &ngx_http_monitoring_fuzz_zone;

    ngx_memzero(shm_zone, sizeof(ngx_shm_zone_t));
    ngx_memzero(zone, sizeof(ngx_http_monitoring_zone_t));

    shm_zone->shm.addr = ngx_http_monitoring_fuzz_mem;
    shm_zone->shm.size = NGX_HTTP_MONITORING_FUZZ_ZONE_SIZE;
    shm_zone->shm.name = ngx_http_monitoring_fuzz_name;
    shm_zone->shm.log = &ngx_http_monitoring_fuzz_log;
    shm_zone->init = ngx_http_monitoring_init_zone;
    shm_zone->data = zone;

    zone->shm_zone = shm_zone;
    zone->name = ngx_http_monitoring_fuzz_name;

    /* src/core/ngx_cycle.c, ngx_init_zone_pool() */

    sp = (ngx_slab_pool_t *) shm_zone->shm.addr;

    sp->end = shm_zone->shm.addr + shm_zone->shm.size;
    sp->min_shift = 3;
    sp->addr = shm_zone->shm.addr;

    if (ngx_shmtx_create(&sp->mutex, &sp->lock, NULL) != NGX_OK) {
        abort();
    }

    ngx_slab_init(sp);

    if (shm_zone->init(shm_zone, NULL) != NGX_OK) {
        ngx_http_monitoring_fuzz_fail("init_zone() of %zu bytes failed",
                                      shm_zone->shm.size);
    }

    if (zone->sh == NULL || zone->sh->alerts == NULL || zone->sh->full) {
        ngx_http_monitoring_fuzz_fail("init_zone() made no usable zone");
    }

    /* as ngx_http_monitoring_alerts_adopt() sets a webhook's slot */

    zone->sh->alerts->hooks[NGX_HTTP_MONITORING_FUZZ_HOOK].hash =
        ngx_crc32_short(ngx_http_monitoring_fuzz_hook.data,
                        ngx_http_monitoring_fuzz_hook.len) | 1;
}


/*
 * the alert records kept in the zone, taken by the rules of the first
 * worker under the lock, as ngx_http_monitoring_alerts_adopt() does
 */

static void
ngx_http_monitoring_fuzz_alerts(void)
{
    ngx_uint_t                          i, j, restored;
    ngx_http_monitoring_alert_t        *rule;
    ngx_http_monitoring_alerts_t       *a;
    ngx_http_monitoring_alert_state_t  *st;

    a = ngx_http_monitoring_fuzz_zone.sh->alerts;

    if (a->restore == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_MONITORING_FUZZ_RULES; i++) {
        st = &ngx_http_monitoring_fuzz_states[i];
        ngx_memzero(st, sizeof(ngx_http_monitoring_alert_state_t));
        st->samples = ngx_http_monitoring_fuzz_samples[i];
    }

    ngx_shmtx_lock(&ngx_http_monitoring_fuzz_zone.shpool->mutex);

    ngx_http_monitoring_snapshot_alerts(&ngx_http_monitoring_fuzz_zone,
                                        ngx_http_monitoring_fuzz_rulep,
                                        ngx_http_monitoring_fuzz_states,
                                        NGX_HTTP_MONITORING_FUZZ_RULES,
                                        &restored, NULL);

    ngx_shmtx_unlock(&ngx_http_monitoring_fuzz_zone.shpool->mutex);

    if (a->restore != NULL || a->restore_len != 0) {
        ngx_http_monitoring_fuzz_fail("alert records left in the zone");
    }

    for (i = 0; i < NGX_HTTP_MONITORING_FUZZ_RULES; i++) {
        rule = &ngx_http_monitoring_fuzz_rules[i];
        st = &ngx_http_monitoring_fuzz_states[i];

        if (st->samples != ngx_http_monitoring_fuzz_samples[i]) {
            ngx_http_monitoring_fuzz_fail("rule %s: samples moved",
                                          rule->name.data);
        }

        if (st->state > NGX_HTTP_MONITORING_RESOLVED
            || st->head >= rule->nsamples || st->count > rule->nsamples)
        {
            ngx_http_monitoring_fuzz_fail("rule %s: state %lu, head %lu, "
                                          "count %lu of %lu samples",
                                          rule->name.data,
                                          (unsigned long) st->state,
                                          (unsigned long) st->head,
                                          (unsigned long) st->count,
                                          (unsigned long) rule->nsamples);
        }

        for (j = 0; j < NGX_HTTP_MONITORING_TRANSITIONS; j++) {
            if (st->transitions[j].state > NGX_HTTP_MONITORING_RESOLVED) {
                ngx_http_monitoring_fuzz_fail("rule %s: transition %lu "
                                              "in state %lu",
                                              rule->name.data,
                                              (unsigned long) j,
                                              (unsigned long)
                                                  st->transitions[j].state);
            }
        }

        /* a state restored is the rule's own */

        if (st->name_len != 0
            && (st->name_len != rule->name.len || st->hash != rule->hash
                || ngx_memcmp(st->name, rule->name.data, st->name_len) != 0))
        {
            ngx_http_monitoring_fuzz_fail("rule %s: state of another rule",
                                          rule->name.data);
        }
    }
}


/* every series the chains hold, and the overflow series */

static void
ngx_http_monitoring_fuzz_verify(ngx_uint_t before)
{
    ngx_uint_t                     slot, n, kind, max;
    ngx_http_monitoring_sh_t      *sh;
    ngx_http_monitoring_series_t  *s;

    sh = ngx_http_monitoring_fuzz_zone.sh;
    max = ngx_http_monitoring_fuzz_zone.max_series;
    n = 0;

    /* max_series stops new series, those of before may be more */

    if (max && sh->nseries > ngx_max(before, max)) {
        ngx_http_monitoring_fuzz_fail("%lu series, from %lu, past "
                                      "max_series=%lu",
                                      (unsigned long) sh->nseries,
                                      (unsigned long) before,
                                      (unsigned long) max);
    }

    for (slot = 0; slot <= sh->hash_mask; slot++) {
        for (s = sh->hash[slot]; s; s = s->next) {

            if (++n > sh->nseries) {
                ngx_http_monitoring_fuzz_fail("more series in the chains "
                                              "than the %lu counted",
                                              (unsigned long) sh->nseries);
            }

            ngx_http_monitoring_fuzz_series(s, slot);
        }
    }

    if (n != sh->nseries) {
        ngx_http_monitoring_fuzz_fail("%lu series in the chains, %lu "
                                      "counted", (unsigned long) n,
                                      (unsigned long) sh->nseries);
    }

    for (kind = 0; kind < NGX_HTTP_MONITORING_KINDS; kind++) {
        s = sh->overflow[kind];

        if (s == NULL || s->key_len != 1
            || ngx_http_monitoring_kind(s) != kind)
        {
            ngx_http_monitoring_fuzz_fail("overflow series of kind %lu "
                                          "broken", (unsigned long) kind);
        }

        ngx_http_monitoring_fuzz_series(s, (ngx_uint_t) -1);
    }
}


static void
ngx_http_monitoring_fuzz_series(ngx_http_monitoring_series_t *s,
    ngx_uint_t slot)
{
    u_char                        *key, *k, *last;
    size_t                         len;
    ngx_uint_t                     i, n, parts, fixed;
    ngx_http_monitoring_status_t  *st, *other;
    u_char                         labels[4 * NGX_HTTP_MONITORING_KEY_MAX];

    key = ngx_http_monitoring_key(s);
    len = s->key_len;

    /* the bounds */

    if (s->bounds == NULL || s->bounds->n > NGX_HTTP_MONITORING_MAX_BUCKETS) {
        ngx_http_monitoring_fuzz_fail("series with %lu bounds",
                                      s->bounds ? (unsigned long) s->bounds->n
                                                : 0);
    }

    for (i = 1; i < s->bounds->n; i++) {
        if (s->bounds->msec[i] <= s->bounds->msec[i - 1]) {
            ngx_http_monitoring_fuzz_fail("bound %lu of a series is %u, "
                                          "after %u", (unsigned long) i,
                                          s->bounds->msec[i],
                                          s->bounds->msec[i - 1]);
        }
    }

    /* the key: kind, the kind's fixed parts, pairs of name and value */

    if (len == 0 || len > NGX_HTTP_MONITORING_KEY_MAX
        || key[0] >= NGX_HTTP_MONITORING_KINDS)
    {
        ngx_http_monitoring_fuzz_fail("series key of %lu bytes, kind %d",
                                      (unsigned long) len,
                                      len ? key[0] : -1);
    }

    if (slot != (ngx_uint_t) -1) {
        if (len < 2
            || s->hash != ngx_murmur_hash2(key, len)
            || (s->hash & ngx_http_monitoring_fuzz_zone.sh->hash_mask)
               != slot)
        {
            ngx_http_monitoring_fuzz_fail("series of %lu bytes in the "
                                          "wrong chain or with another "
                                          "hash", (unsigned long) len);
        }
    }

    fixed = (key[0] == NGX_HTTP_MONITORING_REQUEST) ? 3 : 2;
    parts = 0;
    last = key + len;

    for (k = key + 1; k < last; k += 1 + *k, parts++) {

        if (*k > last - k - 1) {
            ngx_http_monitoring_fuzz_fail("key part %lu runs past the key",
                                          (unsigned long) parts);
        }

        if (parts >= fixed && (parts - fixed) % 2 == 0) {

            if (*k == 0 || (k[1] >= '0' && k[1] <= '9')) {
                ngx_http_monitoring_fuzz_fail("label name %lu empty or "
                                              "starts with a digit",
                                              (unsigned long) parts);
            }

            for (i = 1; i <= *k; i++) {
                if (!((k[i] >= 'a' && k[i] <= 'z')
                      || (k[i] >= 'A' && k[i] <= 'Z')
                      || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
                {
                    ngx_http_monitoring_fuzz_fail("label name %lu holds "
                                                  "0x%02x",
                                                  (unsigned long) parts,
                                                  k[i]);
                }
            }

        } else if (!ngx_http_monitoring_fuzz_utf8_valid(k + 1, *k)) {
            ngx_http_monitoring_fuzz_fail("key part %lu is not valid UTF-8",
                                          (unsigned long) parts);
        }
    }

    if (len > 1 && (parts < fixed || (parts - fixed) % 2 != 0)) {
        ngx_http_monitoring_fuzz_fail("key of %lu parts", (unsigned long)
                                      parts);
    }

    /* the label text: what the key renders to, valid UTF-8 */

    n = ngx_http_monitoring_fuzz_labels(labels, key, len);

    if (s->labels != key + len
        || s->labels_len != n
        || ngx_memcmp(s->labels, labels, n) != 0)
    {
        ngx_http_monitoring_fuzz_fail("label text of %lu bytes \"%.*s\", "
                                      "expected %lu bytes \"%.*s\"",
                                      (unsigned long) s->labels_len,
                                      (int) s->labels_len, s->labels,
                                      (unsigned long) n, (int) n, labels);
    }

    if (!ngx_http_monitoring_fuzz_utf8_valid(s->labels, s->labels_len)) {
        ngx_http_monitoring_fuzz_fail("label text is not valid UTF-8");
    }

    /* statuses below 1000, each once */

    n = 0;

    for (st = s->status; st; st = st->next) {

        if (st->status >= NGX_HTTP_MONITORING_MAX_STATUS
            || ++n > NGX_HTTP_MONITORING_MAX_STATUS)
        {
            ngx_http_monitoring_fuzz_fail("status %lu, or more than %d",
                                          (unsigned long) st->status,
                                          NGX_HTTP_MONITORING_MAX_STATUS);
        }

        for (other = st->next; other; other = other->next) {
            if (other->status == st->status) {
                ngx_http_monitoring_fuzz_fail("status %lu twice",
                                              (unsigned long) st->status);
            }
        }
    }
}


/*
 * name="value",... with the kind's fixed names, \\, \" and \n escaped;
 * a key of the kind byte alone is an overflow series
 */

static size_t
ngx_http_monitoring_fuzz_labels(u_char *dst, u_char *key, size_t len)
{
    u_char      *p, *k, *last;
    ngx_uint_t   i, parts;

    static const char  *request[] = { "server", "endpoint", "method" };
    static const char  *upstream[] = { "upstream", "peer" };

    if (len == 1) {
        return ngx_sprintf(dst, "%s", key[0] == NGX_HTTP_MONITORING_REQUEST
                           ? "server=\"\",endpoint=\"__overflow__\","
                             "method=\"\""
                           : "upstream=\"__overflow__\",peer=\"\"")
               - dst;
    }

    p = dst;
    last = key + len;
    parts = 0;

    for (k = key + 1; k < last; k += 1 + *k) {

        if (p != dst) {
            *p++ = ',';
        }

        if (key[0] == NGX_HTTP_MONITORING_REQUEST && parts < 3) {
            p = ngx_sprintf(p, "%s", request[parts]);

        } else if (key[0] == NGX_HTTP_MONITORING_UPSTREAM && parts < 2) {
            p = ngx_sprintf(p, "%s", upstream[parts]);

        } else {
            p = ngx_cpymem(p, k + 1, *k);
            k += 1 + *k;
        }

        parts++;

        *p++ = '=';
        *p++ = '"';

        for (i = 1; i <= *k; i++) {
            switch (k[i]) {

            case '\\':
                *p++ = '\\';
                *p++ = '\\';
                break;

            case '"':
                *p++ = '\\';
                *p++ = '"';
                break;

            case '\n':
                *p++ = '\\';
                *p++ = 'n';
                break;

            default:
                *p++ = k[i];
            }
        }

        *p++ = '"';
    }

    return p - dst;
}


static void
ngx_http_monitoring_fuzz_fail(const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "snapshot_fuzz: ");

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");

    abort();
}
