
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


/*
 * libFuzzer target for label values.  The input is a label value of any
 * bytes: it is copied into a key part as the log handler does (valid
 * UTF-8, at most 128 bytes for a custom label, 255 for an endpoint or an
 * upstream), then escaped for Prometheus as the zone renders labels, and
 * put into JSON as the API does.  Each output must be valid and give the
 * copied value back.  A broken invariant is reported on stderr and ends
 * in abort(), which libFuzzer saves as a crash.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_http_monitoring_module.h"
#include "fuzz_utf8.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_http_monitoring_fuzz_part(u_char *data, size_t size,
    size_t max);
static void ngx_http_monitoring_fuzz_prometheus(u_char *value, size_t len);
static void ngx_http_monitoring_fuzz_json(u_char *value, size_t len);
static void ngx_http_monitoring_fuzz_fail(const char *fmt, ...);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_http_monitoring_fuzz_part((u_char *) data, size,
                                  NGX_HTTP_MONITORING_VALUE_MAX);
    ngx_http_monitoring_fuzz_part((u_char *) data, size,
                                  NGX_HTTP_MONITORING_PART_MAX);
    return 0;
}


static void
ngx_http_monitoring_fuzz_part(u_char *data, size_t size, size_t max)
{
    u_char     *key, *end, *ref, *again;
    size_t      len, n;
    ngx_str_t   value;

    /* exactly what a part may take: the length byte and "max" bytes */

    key = malloc(1 + max);
    ref = malloc(max);
    again = malloc(max);

    if (key == NULL || ref == NULL || again == NULL) {
        abort();
    }

    value.data = data;
    value.len = size;

    end = ngx_http_monitoring_key_part(key, &value, max);

    len = key[0];

    if (end != key + 1 + len || len > max) {
        ngx_http_monitoring_fuzz_fail("key part of %zu bytes for max %zu, "
                                      "ends at %td", len, max, end - key);
    }

    if (!ngx_http_monitoring_fuzz_utf8_valid(key + 1, len)) {
        ngx_http_monitoring_fuzz_fail("key part (max %zu) is not valid "
                                      "UTF-8", max);
    }

    /* the copy is the one the comment of utf8_copy describes */

    n = ngx_http_monitoring_fuzz_utf8_copy(ref, data, size, max);

    if (n != len || ngx_memcmp(ref, key + 1, len) != 0) {
        ngx_http_monitoring_fuzz_fail("key part (max %zu) of %zu bytes, "
                                      "expected %zu bytes%s", max, len, n,
                                      n == len ? " of other values" : "");
    }

    /* and a copy of the copy changes nothing */

    n = ngx_http_monitoring_utf8_copy(again, key + 1, len, max);

    if (n != len || ngx_memcmp(again, key + 1, len) != 0) {
        ngx_http_monitoring_fuzz_fail("the copy of a key part (max %zu) "
                                      "differs", max);
    }

    ngx_http_monitoring_fuzz_prometheus(key + 1, len);
    ngx_http_monitoring_fuzz_json(key + 1, len);

    free(again);
    free(ref);
    free(key);
}


/*
 * a Prometheus label value: UTF-8, a backslash, a double quote and a
 * line feed escaped as \\, \" and \n, and nothing else
 */

static void
ngx_http_monitoring_fuzz_prometheus(u_char *value, size_t len)
{
    u_char  *out, *back;
    size_t   n, m, i, b;

    n = ngx_http_monitoring_escape(NULL, value, len);

    /* exactly the size escape(NULL) said, as the zone allocates */

    out = malloc(n ? n : 1);
    back = malloc(len ? len : 1);

    if (out == NULL || back == NULL) {
        abort();
    }

    m = ngx_http_monitoring_escape(out, value, len);

    if (m != n) {
        ngx_http_monitoring_fuzz_fail("escape wrote %zu bytes, sized %zu",
                                      m, n);
    }

    if (!ngx_http_monitoring_fuzz_utf8_valid(out, n)) {
        ngx_http_monitoring_fuzz_fail("escaped label value is not valid "
                                      "UTF-8");
    }

    b = 0;

    for (i = 0; i < n; i++) {

        if (out[i] == '\n' || out[i] == '"') {
            ngx_http_monitoring_fuzz_fail("raw 0x%02x at %zu of the "
                                          "escaped label value", out[i], i);
        }

        if (b == len) {
            ngx_http_monitoring_fuzz_fail("escaped label value longer than "
                                          "the value");
        }

        if (out[i] != '\\') {
            back[b++] = out[i];
            continue;
        }

        if (++i == n) {
            ngx_http_monitoring_fuzz_fail("escaped label value ends in a "
                                          "backslash");
        }

        switch (out[i]) {

        case '\\':
        case '"':
            back[b++] = out[i];
            break;

        case 'n':
            back[b++] = '\n';
            break;

        default:
            ngx_http_monitoring_fuzz_fail("unknown escape \"\\%c\" at %zu",
                                          out[i], i);
        }
    }

    if (b != len || ngx_memcmp(back, value, len) != 0) {
        ngx_http_monitoring_fuzz_fail("escaped label value reads back "
                                      "as another value");
    }

    free(back);
    free(out);
}


/*
 * as the API writes a label value (ngx_http_monitoring_string() in
 * ngx_http_monitoring_api.c): NUL-terminated, into cJSON, printed; the
 * text is JSON that parses back to the value
 */

static void
ngx_http_monitoring_fuzz_json(u_char *value, size_t len)
{
    char    *text;
    size_t   n, i;
    cJSON   *item, *back;
    u_char   buf[NGX_HTTP_MONITORING_PART_MAX + 1];

    len = ngx_min(len, NGX_HTTP_MONITORING_PART_MAX);

    *ngx_cpymem(buf, value, len) = '\0';

    item = cJSON_CreateString((char *) buf);
    if (item == NULL) {
        abort();
    }

    text = cJSON_PrintUnformatted(item);
    if (text == NULL) {
        abort();
    }

    n = ngx_strlen(text);

    if (n < 2 || text[0] != '"' || text[n - 1] != '"') {
        ngx_http_monitoring_fuzz_fail("JSON string \"%s\" not quoted",
                                      text);
    }

    for (i = 0; i < n; i++) {
        if ((u_char) text[i] < 0x20) {
            ngx_http_monitoring_fuzz_fail("raw control 0x%02x at %zu of "
                                          "the JSON string", text[i], i);
        }
    }

    if (!ngx_http_monitoring_fuzz_utf8_valid((u_char *) text, n)) {
        ngx_http_monitoring_fuzz_fail("JSON string is not valid UTF-8");
    }

    back = cJSON_Parse(text);

    if (back == NULL || !cJSON_IsString(back)) {
        ngx_http_monitoring_fuzz_fail("JSON string %s does not parse",
                                      text);
    }

    if (ngx_strlen(back->valuestring) != len
        || ngx_memcmp(back->valuestring, value, len) != 0)
    {
        ngx_http_monitoring_fuzz_fail("JSON string %s holds %zu bytes, "
                                      "the label value %zu",
                                      text, ngx_strlen(back->valuestring),
                                      len);
    }

    cJSON_Delete(back);
    cJSON_free(text);
    cJSON_Delete(item);
}


static void
ngx_http_monitoring_fuzz_fail(const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "escape_fuzz: ");

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");

    abort();
}
