
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


#ifndef _NGX_HTTP_MONITORING_MODULE_H_INCLUDED_
#define _NGX_HTTP_MONITORING_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_monitoring_expr.h"
#include "ngx_http_monitoring_webhook.h"


#define NGX_HTTP_MONITORING_VERSION        "0.1.0"

/* bump whenever the layout of the shared memory structures changes */
#define NGX_HTTP_MONITORING_LAYOUT         5

#define NGX_HTTP_MONITORING_MIN_SIZE       (256 * 1024)
#define NGX_HTTP_MONITORING_MAX_BUCKETS    32
#define NGX_HTTP_MONITORING_MAX_WORKERS    256
#define NGX_HTTP_MONITORING_MAX_STATUS     1000
#define NGX_HTTP_MONITORING_PART_MAX       255
#define NGX_HTTP_MONITORING_VALUE_MAX      128
#define NGX_HTTP_MONITORING_NAME_MAX       64
#define NGX_HTTP_MONITORING_MAX_LABELS     8
#define NGX_HTTP_MONITORING_MAX_CAPTURES   9
#define NGX_HTTP_MONITORING_KEY_MAX        4096
#define NGX_HTTP_MONITORING_CHUNK_SIZE     (16 * 1024)
#define NGX_HTTP_MONITORING_LOG_INTERVAL   60

/*
 * Window statistics: a ring of 10 second slots with a fine latency
 * histogram each (log-linear: exact below 64 ms, then 32 buckets per
 * power of two, relative error under 1.6%), enough for a 1 minute
 * window; an hour of 10 second points and a day of 5 minute points for
 * the charts.
 */

#define NGX_HTTP_MONITORING_SLOT           10
#define NGX_HTTP_MONITORING_FINE_SLOTS     8
#define NGX_HTTP_MONITORING_FINE_LINEAR    64
#define NGX_HTTP_MONITORING_FINE_SUB       32
#define NGX_HTTP_MONITORING_FINE_OCTAVES   16
#define NGX_HTTP_MONITORING_FINE_BUCKETS                                      \
    (NGX_HTTP_MONITORING_FINE_LINEAR                                          \
     + NGX_HTTP_MONITORING_FINE_SUB * NGX_HTTP_MONITORING_FINE_OCTAVES)
#define NGX_HTTP_MONITORING_HOUR_POINTS    360
#define NGX_HTTP_MONITORING_DAY_STEP       300
#define NGX_HTTP_MONITORING_DAY_POINTS     288
#define NGX_HTTP_MONITORING_MAX_WINDOW     60
#define NGX_HTTP_MONITORING_CLASSES        6

/* per series: two minutes of per-bucket counts for the endpoint tables */
#define NGX_HTTP_MONITORING_HALF           60

/*
 * Alerts: a rule keeps up to 64 samples of the counters it reads, the
 * last 10 transitions, and resolved alerts are re-sent for 15 minutes,
 * as Prometheus does.
 */

#define NGX_HTTP_MONITORING_SAMPLES        64
#define NGX_HTTP_MONITORING_TRANSITIONS    10
#define NGX_HTTP_MONITORING_MAX_WEBHOOKS   8
#define NGX_HTTP_MONITORING_RESOLVED_KEEP  (15 * 60 * 1000)

#define NGX_HTTP_MONITORING_INACTIVE       0
#define NGX_HTTP_MONITORING_PENDING        1
#define NGX_HTTP_MONITORING_FIRING         2
#define NGX_HTTP_MONITORING_RESOLVED       3

/* the values of a sample: time, requests, matched, time sum, buckets */
#define NGX_HTTP_MONITORING_SAMPLE_TIME    0
#define NGX_HTTP_MONITORING_SAMPLE_REQS    1
#define NGX_HTTP_MONITORING_SAMPLE_MATCHED 2
#define NGX_HTTP_MONITORING_SAMPLE_SUM     3
#define NGX_HTTP_MONITORING_SAMPLE_BUCKETS 4

/* the first byte of a series key: what the series counts */
#define NGX_HTTP_MONITORING_REQUEST        0
#define NGX_HTTP_MONITORING_UPSTREAM       1
#define NGX_HTTP_MONITORING_KINDS          2


typedef struct ngx_http_monitoring_series_s  ngx_http_monitoring_series_t;
typedef struct ngx_http_monitoring_status_s  ngx_http_monitoring_status_t;
typedef struct ngx_http_monitoring_bounds_s  ngx_http_monitoring_bounds_t;
typedef struct ngx_http_monitoring_main_conf_s
    ngx_http_monitoring_main_conf_t;


/* histogram upper bounds in milliseconds, "+Inf" is implied */

struct ngx_http_monitoring_bounds_s {
    ngx_http_monitoring_bounds_t    *next;
    ngx_uint_t                       n;
    uint32_t                         msec[1];
};


struct ngx_http_monitoring_status_s {
    ngx_http_monitoring_status_t    *next;
    ngx_atomic_t                     count;
    ngx_uint_t                       status;
};


/*
 * A series is the set of counters of one label set.  It is allocated once
 * under the slab mutex, published into the hash chain with a single pointer
 * store and never freed while the zone lives, so readers walk the chains
 * without a lock.  The key and the escaped Prometheus label text follow the
 * bucket counters in the same allocation.
 */

struct ngx_http_monitoring_series_s {
    ngx_http_monitoring_series_t    *next;
    ngx_http_monitoring_status_t    *status;
    ngx_http_monitoring_bounds_t    *bounds;
    u_char                          *labels;
    uint32_t                         hash;
    uint16_t                         key_len;
    uint16_t                         labels_len:15;
    uint16_t                         probe:1;   /* /health requests */
    ngx_atomic_t                     time_sum;
    ngx_atomic_t                     request_bytes;
    ngx_atomic_t                     response_bytes;
    ngx_atomic_t                     slow;
    ngx_atomic_t                     bucket[1];
};


typedef struct {
    ngx_atomic_t                     requests;
    ngx_atomic_t                     pid;
    ngx_atomic_t                     generation;
} ngx_http_monitoring_worker_t;


typedef struct {
    ngx_atomic_t                     epoch;     /* time / 10 */
    ngx_atomic_t                     bucket[NGX_HTTP_MONITORING_FINE_BUCKETS];
} ngx_http_monitoring_fine_t;


/* status[0] counts responses without a status class (0, 9) */

typedef struct {
    ngx_atomic_t                     epoch;
    ngx_atomic_t                     status[NGX_HTTP_MONITORING_CLASSES];
    ngx_atomic_t                     time_sum;
    ngx_atomic_t                     p50;
    ngx_atomic_t                     p95;
    ngx_atomic_t                     p99;
} ngx_http_monitoring_point_t;


typedef struct {
    ngx_http_monitoring_fine_t       fine[NGX_HTTP_MONITORING_FINE_SLOTS];
    ngx_http_monitoring_point_t      hour[NGX_HTTP_MONITORING_HOUR_POINTS];
    ngx_http_monitoring_point_t      day[NGX_HTTP_MONITORING_DAY_POINTS];
    ngx_atomic_t                     day_last;  /* last period summed */
    ngx_atomic_t                     open;      /* last slot opened */
} ngx_http_monitoring_history_t;


/* statistics over a window, for the API, /health and alerts */

typedef struct {
    ngx_uint_t                       seconds;
    double                           covered;   /* seconds of data */
    uint64_t                         requests;
    uint64_t                         latencies;
    uint64_t                         status[NGX_HTTP_MONITORING_CLASSES];
    uint64_t                         time_sum;
    uint64_t                         fine[NGX_HTTP_MONITORING_FINE_BUCKETS];
} ngx_http_monitoring_window_t;


/* alert state, in shared memory: one per rule, kept across reloads */

typedef struct {
    uint64_t                         at;        /* unix time, msec */
    double                           value;
    ngx_uint_t                       state;
    ngx_uint_t                       has_value;
} ngx_http_monitoring_transition_t;


/* what a webhook has received of an alert */

typedef struct {
    uint64_t                         sent;      /* alertmanager: last sent */
    ngx_uint_t                       seq;       /* generic: transitions */
} ngx_http_monitoring_sent_t;


typedef struct {
    u_char                           name[NGX_HTTP_MONITORING_NAME_MAX];
    size_t                           name_len;
    uint32_t                         hash;
    ngx_uint_t                       state;
    uint64_t                         active_at;
    uint64_t                         fired_at;
    uint64_t                         resolved_at;
    uint64_t                         cleared_at;
    uint64_t                         evaluated_at;
    double                           value;
    ngx_uint_t                       has_value;
    ngx_uint_t                       seq;       /* transitions so far */
    ngx_http_monitoring_transition_t transitions[
                                         NGX_HTTP_MONITORING_TRANSITIONS];
    uint64_t                        *samples;
    ngx_uint_t                       head;
    ngx_uint_t                       count;
    ngx_http_monitoring_sent_t       sent[NGX_HTTP_MONITORING_MAX_WEBHOOKS];
} ngx_http_monitoring_alert_state_t;


typedef struct {
    uint32_t                         hash;      /* of its URL */
    ngx_atomic_t                     results[
                                         NGX_HTTP_MONITORING_WEBHOOK_RESULTS];
    ngx_uint_t                       failures;  /* in a row */
    uint64_t                         retry_at;
    ngx_pid_t                        busy;      /* delivering */
    uint64_t                         busy_until;
} ngx_http_monitoring_hook_state_t;


/*
 * One worker at a time evaluates: the one holding the lease, which it
 * renews each tick; a lease is taken over once it expires, and only by
 * a worker of the configuration the rule table was built for.
 */

typedef struct {
    ngx_uint_t                       generation;
    ngx_pid_t                        owner;
    ngx_msec_t                       expires;   /* monotonic */
    ngx_msec_t                       last;      /* monotonic */
    ngx_atomic_t                     evaluations;
    ngx_uint_t                       nrules;
    ngx_http_monitoring_alert_state_t  *rules;
    ngx_http_monitoring_hook_state_t hooks[NGX_HTTP_MONITORING_MAX_WEBHOOKS];

    /* alert records of a snapshot, for the first rule table */
    u_char                          *restore;
    size_t                           restore_len;
} ngx_http_monitoring_alerts_t;


/* lives in shared memory */

typedef struct {
    ngx_uint_t                       layout;
    ngx_uint_t                       generation;
    ngx_atomic_t                     start_time;
    ngx_uint_t                       hash_mask;
    ngx_http_monitoring_series_t   **hash;
    ngx_http_monitoring_bounds_t    *bounds;
    u_char                          *chunk;
    size_t                           chunk_free;
    ngx_atomic_t                     nseries;
    ngx_atomic_t                     dropped;
    ngx_atomic_t                     restarts;
    ngx_atomic_t                     full_logged;
    ngx_atomic_t                     full;      /* an allocation failed */
    ngx_atomic_t                     overflow_used[
                                         NGX_HTTP_MONITORING_KINDS];
    ngx_http_monitoring_series_t    *overflow[NGX_HTTP_MONITORING_KINDS];
    ngx_atomic_t                     overflow_status[
                                         NGX_HTTP_MONITORING_KINDS]
                                         [NGX_HTTP_MONITORING_MAX_STATUS];
    ngx_http_monitoring_worker_t     workers[
                                         NGX_HTTP_MONITORING_MAX_WORKERS];
    ngx_http_monitoring_history_t   *history;
    ngx_http_monitoring_alerts_t    *alerts;

    /* snapshots: who writes them, and a binary upgrade under way */
    uint64_t                         instance;
    uint64_t                         created;   /* unix time, msec */
    ngx_atomic_t                     snap_seq;
    ngx_atomic_t                     await_final;
    ngx_pid_t                        previous;  /* its master */
    ngx_atomic_t                     persist_failed;
} ngx_http_monitoring_sh_t;


/* one per zone and configuration cycle, shm_zone->data */

typedef struct {
    ngx_http_monitoring_sh_t        *sh;
    ngx_slab_pool_t                 *shpool;
    ngx_shm_zone_t                  *shm_zone;
    ngx_str_t                        name;
    ngx_str_t                        label;
    ngx_uint_t                       max_series;
    ngx_uint_t                       generation;
    ngx_array_t                      alerts;   /* alert_t * */
    ngx_http_monitoring_main_conf_t *mmcf;
    ngx_str_t                        persist;
    ngx_msec_t                       persist_interval;
    ngx_msec_t                       persist_next;

    /* a worker's own: the counters of each rule read at this tick */
    uint64_t                        *values;
} ngx_http_monitoring_zone_t;


typedef struct {
    ngx_str_t                        name;
    ngx_str_t                        text;
    ngx_http_monitoring_expr_t       expr;
    ngx_msec_t                       window;
    ngx_msec_t                       for_time;
    ngx_msec_t                       keep_firing_for;
    ngx_msec_t                       every;     /* between samples */
    ngx_str_t                        severity;
    ngx_str_t                        endpoint;  /* a glob, empty: any */
    ngx_str_t                        summary;
    ngx_str_t                        description;
    ngx_array_t                     *labels;    /* ngx_keyval_t */
    ngx_str_t                        labels_text;  /* ,k="v" escaped */
    ngx_shm_zone_t                  *zone;
    ngx_http_monitoring_bounds_t    *bounds;    /* of quantiles */
    ngx_uint_t                       nvalues;   /* of a sample */
    ngx_uint_t                       nsamples;
    ngx_uint_t                       index;     /* in the zone's rules */
    uint32_t                         hash;
    unsigned                         critical:1;
} ngx_http_monitoring_alert_t;


typedef struct {
    ngx_shm_zone_t                  *shm_zone;
    char                            *directive;
    ngx_str_t                        file;
    ngx_uint_t                       line;
} ngx_http_monitoring_zone_ref_t;


struct ngx_http_monitoring_main_conf_s {
    ngx_array_t                      zones;    /* ngx_shm_zone_t * */
    ngx_array_t                      refs;     /* zone_ref_t */

    /* monitoring_health_thresholds, error rates in 1/10000 */
    ngx_uint_t                       error_warn;
    ngx_uint_t                       error_crit;
    ngx_msec_t                       p95_warn;
    ngx_msec_t                       p95_crit;
    ngx_uint_t                       window;
    ngx_uint_t                       thresholds_set;

    ngx_array_t                      alerts;    /* alert_t */
    ngx_array_t                      webhooks;  /* webhook_t */
    ngx_msec_t                       alert_interval;
    ngx_str_t                        alert_url;
    ngx_array_t                     *alert_labels;  /* ngx_keyval_t */
    ngx_str_t                        alert_instance;
    ngx_http_monitoring_bounds_t    *bounds;    /* the http level's */
    ngx_array_t                      lists;     /* bounds_t *, in use */
};


/* the start of the request keys of a server: kind, [len] server name */

typedef struct {
    u_char                          *key;
    size_t                           len;
} ngx_http_monitoring_srv_conf_t;


/* a value that is one variable is read by its index, without a script */

typedef struct {
    ngx_str_t                        name;
    ngx_int_t                        index;
    ngx_http_complex_value_t         value;
} ngx_http_monitoring_label_t;


/* a replacement is a list of literal parts and capture references */

typedef struct {
    ngx_str_t                        text;
    ngx_int_t                        capture;   /* -1: literal text */
} ngx_http_monitoring_part_t;


typedef struct {
    ngx_regex_t                     *regex;
    ngx_str_t                        pattern;
    ngx_array_t                      parts;     /* part_t */
} ngx_http_monitoring_rule_t;


typedef struct {
    ngx_shm_zone_t                  *zone;
    ngx_http_complex_value_t        *endpoint;
    ngx_array_t                     *labels;    /* label_t */
    ngx_array_t                     *rules;     /* rule_t */
    ngx_flag_t                       normalize_auto;
    ngx_http_monitoring_bounds_t    *bounds;
    ngx_msec_t                       slow_threshold;
    ngx_array_t                     *metrics;  /* ngx_shm_zone_t * */
    ngx_shm_zone_t                  *dashboard;
    ngx_shm_zone_t                  *health;
    ngx_str_t                        handler_file;
    ngx_uint_t                       handler_line;
} ngx_http_monitoring_loc_conf_t;


/* after the buckets: two halves of window counters, then the key */

#define ngx_http_monitoring_half(s, i)                                        \
    (&(s)->bucket[(s)->bounds->n + 1] + (i) * ((s)->bounds->n + 3))

#define ngx_http_monitoring_key(s)                                            \
    ((u_char *) ngx_http_monitoring_half(s, 2))

#define ngx_http_monitoring_kind(s)  (ngx_http_monitoring_key(s)[0])


ngx_int_t ngx_http_monitoring_init_zone(ngx_shm_zone_t *shm_zone, void *data);
void ngx_http_monitoring_register_worker(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log);
ngx_http_monitoring_series_t *ngx_http_monitoring_series_get(
    ngx_http_monitoring_zone_t *zone, u_char *key, size_t len,
    ngx_http_monitoring_bounds_t *bounds, ngx_log_t *log);
void ngx_http_monitoring_status_add(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_series_t *s, ngx_uint_t status, ngx_uint_t n,
    ngx_log_t *log);
size_t ngx_http_monitoring_zone_used(ngx_http_monitoring_zone_t *zone);
size_t ngx_http_monitoring_escape(u_char *dst, u_char *src, size_t len);
ngx_shm_zone_t *ngx_http_monitoring_zone_ref(ngx_conf_t *cf, ngx_str_t *name,
    char *directive);

ngx_int_t ngx_http_monitoring_log_handler(ngx_http_request_t *r);
size_t ngx_http_monitoring_utf8_copy(u_char *dst, u_char *src, size_t len,
    size_t max);
u_char *ngx_http_monitoring_key_part(u_char *p, ngx_str_t *value,
    size_t max);

char *ngx_http_monitoring_rule_compile(ngx_conf_t *cf,
    ngx_http_monitoring_rule_t *rule, ngx_str_t *regex,
    ngx_str_t *replacement);
u_char *ngx_http_monitoring_endpoint_part(ngx_http_request_t *r,
    ngx_http_monitoring_loc_conf_t *mlcf, ngx_str_t *value, u_char *p);
void ngx_http_monitoring_normalize_auto(ngx_str_t *value, u_char *buf,
    size_t max, ngx_str_t *result);
void ngx_http_monitoring_normalize_init(void);

ngx_int_t ngx_http_monitoring_metrics_handler(ngx_http_request_t *r);

ngx_uint_t ngx_http_monitoring_fine_index(ngx_msec_t ms);
double ngx_http_monitoring_fine_quantile(uint64_t *bucket, uint64_t total,
    double q);
double ngx_http_monitoring_bucket_quantile(ngx_http_monitoring_bounds_t *b,
    double *bucket, double q);

void ngx_http_monitoring_history_record(ngx_http_monitoring_zone_t *zone,
    ngx_msec_t ms, ngx_uint_t status, time_t now);
void ngx_http_monitoring_half_record(ngx_http_monitoring_series_t *s,
    ngx_uint_t i, ngx_uint_t status, time_t now);
void ngx_http_monitoring_history_roll(ngx_http_monitoring_zone_t *zone,
    time_t now);
void ngx_http_monitoring_window(ngx_http_monitoring_zone_t *zone,
    ngx_uint_t seconds, ngx_http_monitoring_window_t *w);
void ngx_http_monitoring_series_window(ngx_http_monitoring_series_t *s,
    double *rps, double *error_rate, double *p95);
ngx_str_t *ngx_http_monitoring_label_names(ngx_uint_t kind);

ngx_uint_t ngx_http_monitoring_health_status(
    ngx_http_monitoring_main_conf_t *mmcf, ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_window_t *w, double *error_rate, double *p95,
    ngx_uint_t *firing);

extern ngx_str_t  ngx_http_monitoring_health_names[];

char *ngx_http_monitoring_alert(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_monitoring_alert_labels(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_monitoring_alert_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_monitoring_alerts_conf(ngx_conf_t *cf,
    ngx_http_monitoring_main_conf_t *mmcf);
ngx_int_t ngx_http_monitoring_alerts_init_zone(
    ngx_http_monitoring_zone_t *zone, ngx_log_t *log);
ngx_int_t ngx_http_monitoring_alerts_init_process(ngx_cycle_t *cycle);
void ngx_http_monitoring_alerts_exit_process(ngx_cycle_t *cycle);
ngx_uint_t ngx_http_monitoring_alerts_firing(ngx_http_monitoring_zone_t *zone,
    ngx_uint_t *critical);
void *ngx_http_monitoring_alerts_json(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_main_conf_t *mmcf);
size_t ngx_http_monitoring_alerts_size(ngx_http_monitoring_zone_t *zone);
u_char *ngx_http_monitoring_alerts_metrics(ngx_http_monitoring_zone_t *zone,
    u_char *p);
size_t ngx_http_monitoring_hooks_size(ngx_http_monitoring_zone_t *zone);
u_char *ngx_http_monitoring_hooks_metrics(ngx_http_monitoring_zone_t *zone,
    u_char *p);
void ngx_http_monitoring_notify(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log);
ngx_uint_t ngx_http_monitoring_json_str(void *o, const char *name,
    ngx_str_t *value);
uint64_t *ngx_http_monitoring_alerts_counters(
    ngx_http_monitoring_zone_t *zone, ngx_log_t *log);
void ngx_http_monitoring_alerts_restore(ngx_http_monitoring_zone_t *zone,
    uint64_t *own, ngx_log_t *log);

ngx_int_t ngx_http_monitoring_snapshot_check(u_char *data, size_t len,
    ngx_str_t *zone_name, const char **reason);
ngx_int_t ngx_http_monitoring_snapshot_apply(ngx_http_monitoring_zone_t *zone,
    u_char *data, size_t len, ngx_uint_t alerts, ngx_log_t *log);
void ngx_http_monitoring_snapshot_alerts(ngx_http_monitoring_zone_t *zone,
    ngx_http_monitoring_alert_t **rules, ngx_http_monitoring_alert_state_t *st,
    ngx_uint_t n, ngx_uint_t *restored, u_char *which);
ngx_int_t ngx_http_monitoring_persist_restore(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log);
ngx_int_t ngx_http_monitoring_persist_check(ngx_http_monitoring_zone_t *zone,
    ngx_log_t *log);
ngx_int_t ngx_http_monitoring_persist_init_process(ngx_cycle_t *cycle);
void ngx_http_monitoring_persist_exit(ngx_cycle_t *cycle);
ngx_int_t ngx_http_monitoring_api_handler(ngx_http_request_t *r,
    ngx_http_monitoring_zone_t *zone);
ngx_int_t ngx_http_monitoring_dashboard_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_monitoring_health_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_monitoring_add_header(ngx_http_request_t *r, char *key,
    char *value);
ngx_int_t ngx_http_monitoring_send_json(ngx_http_request_t *r,
    ngx_uint_t status, void *json);


extern ngx_module_t                     ngx_http_monitoring_module;
extern ngx_http_monitoring_bounds_t    *ngx_http_monitoring_default_bounds;


#endif /* _NGX_HTTP_MONITORING_MODULE_H_INCLUDED_ */
