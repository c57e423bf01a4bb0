
/*
 * Copyright (C) The ngx_http_monitoring_module authors
 */


/*
 * UTF-8 as the fuzz targets check it, written apart from the module's
 * table of byte ranges: a sequence is decoded into its code point, which
 * must be in its length's range (no overlong form), at most U+10FFFF and
 * no surrogate (RFC 3629).
 */

#include <stdint.h>
#include <string.h>
#include "fuzz_utf8.h"


/* the length of the valid sequence at p, 0 if none starts there */

size_t
ngx_http_monitoring_fuzz_utf8_char(const unsigned char *p, size_t len)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (len == 0) {
        return 0;
    }

    if (p[0] < 0x80) {
        return 1;
    }

    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = p[0] & 0x1f;
        min = 0x80;

    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = p[0] & 0x0f;
        min = 0x800;

    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = p[0] & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


int
ngx_http_monitoring_fuzz_utf8_valid(const unsigned char *p, size_t len)
{
    size_t  n;

    while (len) {
        n = ngx_http_monitoring_fuzz_utf8_char(p, len);

        if (n == 0) {
            return 0;
        }

        p += n;
        len -= n;
    }

    return 1;
}


/*
 * what the module promises of a label value: whole sequences only, each
 * byte that starts none, and each control character but tab and
 * newline, as U+FFFD, stopping at the first that does not
 * fit into "max" bytes
 */

size_t
ngx_http_monitoring_fuzz_utf8_copy(unsigned char *dst,
    const unsigned char *src, size_t len, size_t max)
{
    size_t  d, i, n;

    d = 0;
    i = 0;

    while (i < len) {

        /* control characters but tab and newline too */

        n = (src[i] < 0x20 && src[i] != '\t' && src[i] != '\n') ? 0
            : ngx_http_monitoring_fuzz_utf8_char(src + i, len - i);

        if (n == 0) {
            if (max - d < 3) {
                break;
            }

            memcpy(dst + d, "\xef\xbf\xbd", 3);
            d += 3;
            i++;
            continue;
        }

        if (max - d < n) {
            break;
        }

        memcpy(dst + d, src + i, n);
        d += n;
        i += n;
    }

    return d;
}
