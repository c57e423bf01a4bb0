/*
 * ngx_http_monitoring_module dashboard; assembled into the page by embed.sh.
 *
 * Every value from the JSON document reaches the page through textContent,
 * createElement or setAttribute: nothing from the data is ever parsed as
 * HTML, so a request path or a label holding markup stays text.
 */

(function () {
    'use strict';

    var SVGNS = 'http://www.w3.org/2000/svg';
    var DASH = '\u2014';
    var DEFAULT_REFRESH = 5;
    var FETCH_TIMEOUT = 10000;
    var STATES = { healthy: 1, warning: 1, degraded: 1 };

    var state = {
        data: null,
        timer: null,
        inflight: false,
        received: 0,
        sort: { key: null, dir: 1 }
    };


    /* DOM helpers */

    function $(id) {
        return document.getElementById(id);
    }

    function el(tag, cls, text) {
        var e = document.createElement(tag);

        if (cls) {
            e.className = cls;
        }
        if (text !== undefined && text !== null) {
            e.textContent = String(text);
        }
        return e;
    }

    function sv(tag, attrs) {
        var e = document.createElementNS(SVGNS, tag);
        var k;

        for (k in attrs) {
            if (Object.prototype.hasOwnProperty.call(attrs, k)) {
                e.setAttribute(k, String(attrs[k]));
            }
        }
        return e;
    }

    function clear(node) {
        while (node.firstChild) {
            node.removeChild(node.firstChild);
        }
    }

    function setText(id, text) {
        var e = $(id);

        if (e) {
            e.textContent = text === undefined || text === null
                            ? '' : String(text);
        }
    }

    function obj(v) {
        return v !== null && typeof v === 'object' && !Array.isArray(v)
               ? v : {};
    }

    function arr(v) {
        return Array.isArray(v) ? v : [];
    }

    function num(v) {
        return typeof v === 'number' && isFinite(v) ? v : null;
    }

    function str(v) {
        if (v === undefined || v === null) {
            return '';
        }
        return typeof v === 'object' ? JSON.stringify(v) : String(v);
    }


    /* formatting */

    function fixed(v, d) {
        return v.toLocaleString('en-US', {
            minimumFractionDigits: d,
            maximumFractionDigits: d
        });
    }

    function fmtCount(v) {
        v = num(v);
        return v === null ? DASH : fixed(Math.round(v), 0);
    }

    function fmtRate(v) {
        v = num(v);
        if (v === null) {
            return DASH;
        }
        if (v === 0) {
            return '0';
        }
        return fixed(v, v < 10 ? 2 : v < 100 ? 1 : 0);
    }

    function fmtPct(ratio) {
        var v = num(ratio);

        if (v === null) {
            return DASH;
        }
        v *= 100;
        if (v === 0) {
            return '0%';
        }
        if (v < 0.01) {
            return '<0.01%';
        }
        return fixed(v, v < 10 ? 2 : v < 100 ? 1 : 0) + '%';
    }

    /* [number, unit] for a latency in milliseconds */
    function msParts(v) {
        v = num(v);
        if (v === null) {
            return [DASH, ''];
        }
        if (v >= 1000) {
            return [fixed(v / 1000, v >= 10000 ? 1 : 2), 's'];
        }
        return [fixed(v, v >= 100 ? 0 : v >= 10 ? 1 : 2), 'ms'];
    }

    function fmtMs(v) {
        var p = msParts(v);

        return p[1] ? p[0] + ' ' + p[1] : p[0];
    }

    function fmtBytes(v) {
        var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        var i = 0;

        v = num(v);
        if (v === null) {
            return DASH;
        }
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return (i === 0 ? fixed(v, 0) : fixed(v, v < 10 ? 2 : v < 100 ? 1 : 0))
               + ' ' + units[i];
    }

    function fmtCompact(v) {
        var a = Math.abs(v);

        if (a >= 1e9) {
            return trim(v / 1e9) + 'G';
        }
        if (a >= 1e6) {
            return trim(v / 1e6) + 'M';
        }
        if (a >= 1e4) {
            return trim(v / 1e3) + 'k';
        }
        return trim(v);
    }

    function trim(v) {
        return String(parseFloat(v.toPrecision(3)));
    }

    function fmtValue(v) {
        if (typeof v === 'number') {
            return isFinite(v) ? String(parseFloat(v.toPrecision(4))) : DASH;
        }
        return v === null || v === undefined ? DASH : str(v);
    }

    /* an alert's value in the unit of its rule */
    function fmtAlertValue(v, unit) {
        if (typeof v !== 'number' || !isFinite(v)) {
            return fmtValue(v);
        }
        switch (unit) {
        case 'ratio':
            return fmtPct(v);
        case 'ms':
            return fmtMs(v);
        case '/s':
            return fmtRate(v) + '/s';
        default:
            return fmtValue(v);
        }
    }

    function pad(n) {
        return n < 10 ? '0' + n : String(n);
    }

    function fmtClock(t, seconds) {
        var d;

        t = num(t);
        if (t === null) {
            return DASH;
        }
        d = new Date(t * 1000);
        return pad(d.getHours()) + ':' + pad(d.getMinutes())
               + (seconds ? ':' + pad(d.getSeconds()) : '');
    }

    function fmtDateTime(t) {
        t = num(t);
        return t === null ? '' : new Date(t * 1000).toString();
    }

    /* "45s", "10m", "2h 3m", "3d 4h" */
    function fmtDuration(s) {
        var big, small;

        s = Math.max(0, Math.round(s));
        if (s < 60) {
            return s + 's';
        }
        if (s < 3600) {
            big = Math.floor(s / 60) + 'm';
            small = s % 60 + 's';
        } else if (s < 86400) {
            big = Math.floor(s / 3600) + 'h';
            small = Math.floor(s % 3600 / 60) + 'm';
        } else {
            big = Math.floor(s / 86400) + 'd';
            small = Math.floor(s % 86400 / 3600) + 'h';
        }
        return small.charAt(0) === '0' ? big : big + ' ' + small;
    }

    /* a window length: "60 s", "5 min", "1 h", "90 s" */
    function fmtSpan(s) {
        s = Math.round(s);
        if (s >= 3600 && s % 3600 === 0) {
            return s / 3600 + ' h';
        }
        if (s >= 120 && s % 60 === 0) {
            return s / 60 + ' min';
        }
        return s + ' s';
    }

    function fmtDate(t) {
        var d = new Date(t * 1000);

        return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-'
               + pad(d.getDate()) + ' ' + fmtClock(t, false);
    }

    /* "1xx".."5xx" for a numeric status code, else "other" */
    function codeClass(code) {
        var s = str(code);

        return /^[1-5][0-9][0-9]$/.test(s) ? s.charAt(0) + 'xx' : 'other';
    }

    /* threshold level of a value: '', 'warning' or 'degraded' */
    function level(v, th) {
        v = num(v);
        th = obj(th);
        if (v === null) {
            return '';
        }
        if (num(th.critical) !== null && v > th.critical) {
            return 'degraded';
        }
        if (num(th.warning) !== null && v > th.warning) {
            return 'warning';
        }
        return '';
    }


    /* banner */

    function renderBanner(d) {
        var banner = $('banner');
        var st = str(d.status);
        var th = obj(d.thresholds);
        var er = obj(th.error_rate);
        var p95 = obj(th.p95_ms);
        var t = num(d.generated_at);
        var parts = [];

        banner.setAttribute('data-state',
                            STATES.hasOwnProperty(st) ? st : 'unknown');
        banner.classList.remove('stale');
        setText('status', st || 'unknown');
        setText('zone', str(d.zone) || DASH);

        setText('generated', t === null
                ? 'no timestamp' : 'data at ' + fmtClock(t, true));
        $('generated').setAttribute('title', fmtDateTime(t));

        if (num(er.warning) !== null || num(p95.warning) !== null) {
            parts.push('warning above errors ' + fmtPct(er.warning)
                       + ' or p95 ' + fmtMs(p95.warning));
        }
        if (num(er.critical) !== null || num(p95.critical) !== null) {
            parts.push('degraded above ' + fmtPct(er.critical)
                       + ' or ' + fmtMs(p95.critical));
        }
        setText('thresholds', parts.join(', '));

        $('note').hidden = true;
        setText('note', '');

        document.title = (st ? st + ' \u00b7 ' : '')
                         + (d.zone ? str(d.zone) + ' \u00b7 ' : '')
                         + 'nginx monitoring';
    }

    function renderFailure(err) {
        var banner = $('banner');
        var note = $('note');
        var msg = 'data unavailable';

        if (err && err.message) {
            msg += ' (' + err.message + ')';
        }
        if (state.data && num(state.data.generated_at) !== null) {
            msg += ' \u2014 showing data from '
                   + fmtClock(state.data.generated_at, true);
        }
        note.textContent = msg;
        note.hidden = false;
        banner.classList.add('stale');
        if (!state.data) {
            setText('generated', 'no data received yet');
        }
    }


    /* tiles */

    function setTile(id, value, unit, sub, lvl) {
        var tile = $('tile-' + id);

        setText('v-' + id, value);
        if (unit !== null) {
            setText('u-' + id, unit);
        }
        setText('s-' + id, sub);
        tile.classList.remove('warning', 'degraded');
        if (lvl) {
            tile.classList.add(lvl);
        }
    }

    function renderTiles(d) {
        var w = obj(d.window);
        var lat = obj(w.latency_ms);
        var th = obj(d.thresholds);
        var totals = obj(d.totals);
        var secs = num(w.seconds) !== null ? w.seconds
                   : num(th.window_seconds);
        var span = secs !== null ? 'last ' + fmtSpan(secs) : 'window';
        var p;

        setTile('rps', fmtRate(w.rps), null, 'average, ' + span, '');
        setTile('err', fmtPct(w.error_rate), null,
                '5xx share, ' + span, level(w.error_rate, th.error_rate));

        p = msParts(lat.p50);
        setTile('p50', p[0], p[1],
                num(lat.mean) !== null ? 'mean ' + fmtMs(lat.mean) : span,
                '');
        p = msParts(lat.p95);
        setTile('p95', p[0], p[1],
                num(lat.p90) !== null ? 'p90 ' + fmtMs(lat.p90) : span,
                level(lat.p95, th.p95_ms));
        p = msParts(lat.p99);
        setTile('p99', p[0], p[1], span, '');

        setTile('req', fmtCount(w.requests), null,
                num(totals.requests) !== null
                ? span + ', ' + fmtCount(totals.requests) + ' total'
                : span, '');
    }


    /* charts */

    function niceScale(max) {
        var raw, p, f, step;

        if (!(max > 0)) {
            max = 1;
        }
        raw = max / 4;
        p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
        f = raw / p;
        step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10)
               * p;
        return { step: step, top: Math.ceil(max / step - 1e-9) * step };
    }

    /*
     * opt: {
     *   box, legend: element ids; range: seconds shown; end: right edge;
     *   step: seconds between points; points: [{t, v: [..]}] sorted by t;
     *   series: [{name, cls, area, fmt}]; yfmt; tick: x tick interval
     * }
     */
    function drawChart(opt) {
        var box = $(opt.box);
        var legend = $(opt.legend);
        var W, H = 170, m = { l: 46, r: 12, t: 10, b: 22 };
        var iw, ih, t0, t1, pts, max, sc, s, i, j, v, g, y, x, off, first;
        var cursor, dots, hit, items, at;

        clear(box);
        clear(legend);

        t1 = opt.end;
        t0 = t1 - opt.range;
        pts = opt.points.filter(function (p) {
            return p.t >= t0 - opt.step && p.t <= t1;
        });

        at = el('span', 'lg-item lg-at');
        legend.appendChild(at);
        items = opt.series.map(function (se) {
            var item = el('span', 'lg-item');
            var b = el('b');

            item.appendChild(el('span', 'sw ' + se.cls));
            item.appendChild(document.createTextNode(se.name + ' '));
            item.appendChild(b);
            legend.appendChild(item);
            return b;
        });

        max = 0;
        for (i = 0; i < pts.length; i++) {
            for (j = 0; j < opt.series.length; j++) {
                v = pts[i].v[j];
                if (v !== null && v > max) {
                    max = v;
                }
            }
        }

        function showLegend(p, hover) {
            var k;

            at.textContent = p === null ? ''
                             : hover ? fmtClock(p.t, true) : 'latest';
            for (k = 0; k < items.length; k++) {
                items[k].textContent = p
                    ? opt.series[k].fmt(p.v[k]) : DASH;
            }
        }

        function latest() {
            var k, q;

            for (k = pts.length - 1; k >= 0; k--) {
                q = pts[k];
                if (q.v.some(function (z) { return z !== null; })) {
                    return q;
                }
            }
            return null;
        }

        showLegend(latest(), false);

        if (latest() === null) {
            box.appendChild(el('div', 'empty', 'no data yet'));
            return;
        }

        W = Math.max(260, Math.floor(box.clientWidth || 600));
        iw = W - m.l - m.r;
        ih = H - m.t - m.b;
        sc = niceScale(max);

        function X(t) {
            return m.l + (t - t0) / (t1 - t0) * iw;
        }

        function Y(val) {
            return m.t + ih - Math.min(val, sc.top) / sc.top * ih;
        }

        s = sv('svg', {
            width: W, height: H, viewBox: '0 0 ' + W + ' ' + H,
            role: 'img', 'aria-label': opt.label
        });

        /* horizontal grid and y labels */
        for (i = 0; i * sc.step <= sc.top + sc.step * 1e-6; i++) {
            v = i * sc.step;
            y = Math.round(Y(v)) + 0.5;
            s.appendChild(sv('line', {
                x1: m.l, x2: W - m.r, y1: y, y2: y,
                'class': i === 0 ? 'axis' : 'grid'
            }));
            g = sv('text', {
                x: m.l - 6, y: y + 4, 'text-anchor': 'end'
            });
            g.textContent = opt.yfmt(v);
            s.appendChild(g);
        }

        /* x ticks at round local times */
        off = -new Date(t1 * 1000).getTimezoneOffset() * 60;
        first = Math.ceil((t0 + off) / opt.tick) * opt.tick - off;
        for (x = first; x <= t1; x += opt.tick) {
            v = X(x);
            if (v < m.l + 16 || v > W - m.r - 16) {
                continue;
            }
            g = sv('text', { x: v, y: H - 5, 'text-anchor': 'middle' });
            g.textContent = fmtClock(x, false);
            s.appendChild(g);
            s.appendChild(sv('line', {
                x1: Math.round(v) + 0.5, x2: Math.round(v) + 0.5,
                y1: m.t + ih, y2: m.t + ih + 4, 'class': 'axis'
            }));
        }

        /* series, split into segments at gaps and missing values */
        opt.series.forEach(function (se, k) {
            var segs = [], cur = null, prev = null;

            pts.forEach(function (p) {
                var val = p.v[k];

                if (val === null) {
                    cur = null;
                    return;
                }
                if (cur === null || prev === null
                    || p.t - prev > opt.step * 1.5)
                {
                    cur = [];
                    segs.push(cur);
                }
                cur.push([X(Math.max(p.t, t0)), Y(val)]);
                prev = p.t;
            });

            segs.forEach(function (seg) {
                var d = seg.map(function (q, n) {
                    return (n ? 'L' : 'M') + q[0].toFixed(1) + ' '
                           + q[1].toFixed(1);
                }).join('');
                var base = Y(0).toFixed(1);

                if (seg.length === 1) {
                    s.appendChild(sv('circle', {
                        cx: seg[0][0].toFixed(1), cy: seg[0][1].toFixed(1),
                        r: 2, 'class': se.cls
                    }));
                    return;
                }
                if (se.area) {
                    s.appendChild(sv('path', {
                        d: d + 'L' + seg[seg.length - 1][0].toFixed(1) + ' '
                           + base + 'L' + seg[0][0].toFixed(1) + ' ' + base
                           + 'Z',
                        'class': 'area'
                    }));
                }
                s.appendChild(sv('path', { d: d, 'class': 'line ' + se.cls }));
            });
        });

        /* hover: a cursor line and the values of the nearest point */
        cursor = sv('line', {
            x1: 0, x2: 0, y1: m.t, y2: m.t + ih, 'class': 'cursor',
            visibility: 'hidden'
        });
        s.appendChild(cursor);
        dots = opt.series.map(function (se) {
            var c = sv('circle', {
                r: 3, cx: 0, cy: 0, 'class': se.cls, visibility: 'hidden'
            });

            s.appendChild(c);
            return c;
        });
        hit = sv('rect', {
            x: m.l, y: m.t, width: iw, height: ih, 'class': 'hit'
        });
        s.appendChild(hit);

        function nearest(t) {
            var lo = 0, hi = pts.length - 1, mid;

            while (hi - lo > 1) {
                mid = (lo + hi) >> 1;
                if (pts[mid].t < t) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            return Math.abs(pts[lo].t - t) <= Math.abs(pts[hi].t - t)
                   ? pts[lo] : pts[hi];
        }

        function move(ev) {
            var r = s.getBoundingClientRect();
            var px = (ev.clientX - r.left) * (W / (r.width || W));
            var p = nearest(t0 + (px - m.l) / iw * (t1 - t0));
            var cx = X(Math.max(p.t, t0)).toFixed(1);

            cursor.setAttribute('x1', cx);
            cursor.setAttribute('x2', cx);
            cursor.setAttribute('visibility', 'visible');
            dots.forEach(function (c, k) {
                var val = p.v[k];

                if (val === null) {
                    c.setAttribute('visibility', 'hidden');
                    return;
                }
                c.setAttribute('cx', cx);
                c.setAttribute('cy', Y(val).toFixed(1));
                c.setAttribute('visibility', 'visible');
            });
            showLegend(p, true);
        }

        function leave() {
            cursor.setAttribute('visibility', 'hidden');
            dots.forEach(function (c) {
                c.setAttribute('visibility', 'hidden');
            });
            showLegend(latest(), false);
        }

        hit.addEventListener('pointermove', move);
        hit.addEventListener('pointerdown', move);
        hit.addEventListener('pointerleave', leave);

        box.appendChild(s);
    }

    /*
     * history points -> chart points.  A point's rate is requests /
     * step_seconds; a bucket still in progress (t + step after generated_at)
     * would show as a false dip, so it gets no rate, only its latency.
     */
    function historyPoints(h, end) {
        var step = num(h.step_seconds) || 1;

        return arr(h.points).filter(function (p) {
            return p !== null && typeof p === 'object' && num(p.t) !== null;
        }).map(function (p) {
            var rq = num(p.requests), er = num(p.errors);

            if (end !== null && p.t + step > end) {
                rq = null;
                er = null;
            }
            return {
                t: p.t,
                rps: rq === null ? null : rq / step,
                eps: er === null ? null : er / step,
                p50: num(p.p50),
                p95: num(p.p95)
            };
        }).sort(function (a, b) {
            return a.t - b.t;
        });
    }

    function renderHistory(d, key, prefix, range, ticks) {
        var h = obj(d[key]);
        var step = num(h.step_seconds) || (range > 3600 ? 300 : 10);
        var gen = num(d.generated_at);
        var pts = historyPoints(h, gen);
        var end = gen;
        var wide = ($(prefix + '-rps').clientWidth || 600) >= 480;

        if (end === null) {
            end = pts.length ? pts[pts.length - 1].t + step
                  : Date.now() / 1000;
        }

        drawChart({
            box: prefix + '-rps', legend: 'lg' + prefix.slice(2) + '-rps',
            label: 'requests per second', range: range, end: end,
            step: step, tick: wide ? ticks[0] : ticks[1],
            yfmt: fmtCompact,
            points: pts.map(function (p) {
                return { t: p.t, v: [p.rps, p.eps] };
            }),
            series: [
                { name: 'req/s', cls: 's-rps', area: true, fmt: fmtRate },
                { name: 'errors/s', cls: 's-err', fmt: fmtRate }
            ]
        });

        drawChart({
            box: prefix + '-lat', legend: 'lg' + prefix.slice(2) + '-lat',
            label: 'latency in milliseconds', range: range, end: end,
            step: step, tick: wide ? ticks[0] : ticks[1],
            yfmt: function (v) {
                return v >= 1000 ? trim(v / 1000) + 's' : fmtCompact(v);
            },
            points: pts.map(function (p) {
                return { t: p.t, v: [p.p95, p.p50] };
            }),
            series: [
                { name: 'p95', cls: 's-p95', fmt: fmtMs },
                { name: 'p50', cls: 's-p50', fmt: fmtMs }
            ]
        });
    }

    function renderCharts(d) {
        renderHistory(d, 'history', 'ch-h', 3600, [600, 1200]);
        renderHistory(d, 'history_24h', 'ch-d', 86400, [10800, 21600]);
    }


    /* status codes */

    function renderCodes(d) {
        var w = obj(d.window);
        var st = obj(w.status);
        var classes = ['1xx', '2xx', '3xx', '4xx', '5xx'];
        var bar = $('codes-bar');
        var list = $('codes-classes');
        var totals = $('codes-totals');
        var codes = obj(obj(d.totals).status);
        var total = 0;
        var keys;

        clear(bar);
        clear(list);
        clear(totals);

        classes.forEach(function (c) {
            total += num(st[c]) || 0;
        });
        if (num(w.seconds) !== null) {
            setText('codes-window-title', 'Last ' + fmtSpan(w.seconds));
        }

        classes.forEach(function (c) {
            var n = num(st[c]) || 0;
            var li = el('li');
            var seg;

            if (n > 0 && total > 0) {
                seg = el('span', 'k-' + c);
                seg.style.width = (n / total * 100) + '%';
                seg.setAttribute('title', c + ': ' + fmtCount(n));
                bar.appendChild(seg);
            }
            li.appendChild(el('span', 'chip k-' + c));
            li.appendChild(el('span', null, c));
            li.appendChild(el('b', null, fmtCount(num(st[c]))));
            li.appendChild(el('span', 'pct',
                              total > 0 ? fmtPct(n / total) : ''));
            list.appendChild(li);
        });
        bar.setAttribute('title', total > 0 ? '' : 'no requests');

        keys = Object.keys(codes).sort(function (a, b) {
            var x = parseInt(a, 10), y = parseInt(b, 10);

            if (isNaN(x) || isNaN(y)) {
                return a < b ? -1 : a > b ? 1 : 0;
            }
            return x - y;
        });
        if (keys.length === 0) {
            totals.appendChild(el('li', 'none', 'no requests yet'));
            return;
        }
        keys.forEach(function (k) {
            var li = el('li');

            li.appendChild(el('span', 'chip k-' + codeClass(k)));
            li.appendChild(el('span', 'code', k));
            li.appendChild(el('span', null, fmtCount(codes[k])));
            totals.appendChild(li);
        });
    }


    /* endpoints and upstreams */

    function emptyRow(body, cols, text) {
        var tr = el('tr');
        var td = el('td', 'empty', text);

        td.setAttribute('colspan', String(cols));
        tr.appendChild(td);
        body.appendChild(tr);
    }

    function cell(tr, text, cls, label) {
        var td = el('td', cls || null, text);

        if (label) {
            td.setAttribute('data-label', label);
        }
        tr.appendChild(td);
        return td;
    }

    function sortRows(rows) {
        var key = state.sort.key, dir = state.sort.dir;

        if (!key) {
            return rows;
        }
        return rows.map(function (r, i) {
            return [r, i];
        }).sort(function (a, b) {
            var x = a[0][key], y = b[0][key], c;

            if (typeof x === 'number' || typeof y === 'number') {
                x = num(x);
                y = num(y);
                c = x === null ? (y === null ? 0 : -1)
                    : y === null ? 1 : x - y;
            } else {
                x = str(x);
                y = str(y);
                c = x < y ? -1 : x > y ? 1 : 0;
            }
            return c * dir || a[1] - b[1];
        }).map(function (p) {
            return p[0];
        });
    }

    /*
     * the rows of d[name] into the table body of that id, cleared, with
     * their count; an empty table gets one row saying so
     */
    function tableRows(d, name, columns, empty) {
        var body = $(name);
        var rows = arr(d[name]).filter(function (r) {
            return r !== null && typeof r === 'object';
        });

        clear(body);
        setText(name + '-count', rows.length ? '(' + rows.length + ')' : '');
        if (rows.length === 0) {
            emptyRow(body, columns, empty);
        }
        return rows;
    }

    /* the error rate, p95 and request cells both tables end with */
    function rateCells(tr, r, th) {
        cell(tr, fmtRate(r.rps), 'num', 'Req/s');
        cell(tr, fmtPct(r.error_rate),
             'num ' + level(r.error_rate, th.error_rate), 'Errors');
        cell(tr, fmtMs(r.p95_ms), 'num ' + level(r.p95_ms, th.p95_ms),
             'p95');
        cell(tr, fmtCount(r.requests), 'num', 'Requests');
    }

    function renderEndpoints(d) {
        var body = $('endpoints');
        var th = obj(d.thresholds);
        var rows = tableRows(d, 'endpoints', 7, 'no requests recorded yet');

        sortRows(rows).forEach(function (r) {
            var tr = el('tr');
            var ep = cell(tr, str(r.endpoint), 'ep');
            var labels = obj(r.labels);
            var keys = Object.keys(labels);

            if (keys.length) {
                ep.appendChild(el('div', 'labels', keys.map(function (k) {
                    return k + '=' + str(labels[k]);
                }).join('  ')));
            }
            cell(tr, str(r.method), 'method', 'Method');
            cell(tr, str(r.server), 'server', 'Server');
            rateCells(tr, r, th);
            body.appendChild(tr);
        });
    }

    function renderUpstreams(d) {
        var body = $('upstreams');
        var th = obj(d.thresholds);
        var rows = tableRows(d, 'upstreams', 6,
                             'no upstream requests recorded');

        rows.forEach(function (r) {
            var tr = el('tr');

            cell(tr, str(r.upstream), 'ep');
            cell(tr, r.peer === undefined || r.peer === null
                     ? DASH : str(r.peer), 'peer', 'Peer');
            rateCells(tr, r, th);
            body.appendChild(tr);
        });
    }

    function initSorting() {
        var buttons = document.querySelectorAll('th button[data-sort]');

        Array.prototype.forEach.call(buttons, function (b) {
            b.addEventListener('click', function () {
                var key = b.getAttribute('data-sort');
                var text = key === 'endpoint' || key === 'method'
                           || key === 'server';

                if (state.sort.key !== key) {
                    state.sort.key = key;
                    state.sort.dir = text ? 1 : -1;
                } else if (state.sort.dir === (text ? 1 : -1)) {
                    state.sort.dir = -state.sort.dir;
                } else {
                    state.sort.key = null;
                }
                Array.prototype.forEach.call(buttons, function (o) {
                    if (o === b && state.sort.key) {
                        o.setAttribute('aria-sort', state.sort.dir > 0
                                       ? 'ascending' : 'descending');
                    } else {
                        o.removeAttribute('aria-sort');
                    }
                });
                if (state.data) {
                    guard(renderEndpoints, state.data);
                }
            });
        });
    }


    /* alerts */

    function renderAlerts(d) {
        var box = $('alerts');
        var a = obj(d.alerts);
        var rules = arr(a.rules).filter(function (r) {
            return r !== null && typeof r === 'object';
        });
        var rank = { firing: 0, pending: 1 };
        var now = num(d.generated_at);
        var list, summary;

        clear(box);
        setText('alerts-count', '');

        if (a.configured !== true) {
            box.appendChild(el('p', 'empty', 'No alert rules configured'));
            return;
        }

        summary = fmtCount(num(a.firing) || 0) + ' firing \u00b7 '
                  + fmtCount(num(a.pending) || 0) + ' pending \u00b7 '
                  + rules.length + (rules.length === 1 ? ' rule' : ' rules');
        box.appendChild(el('p', 'alert-summary', summary));
        if (num(a.firing) > 0) {
            setText('alerts-count', '(' + fmtCount(a.firing) + ' firing)');
        }
        if (rules.length === 0) {
            return;
        }

        list = el('ul', 'alert-list');
        rules.map(function (r, i) {
            return [r, i];
        }).sort(function (x, y) {
            var rx = rank.hasOwnProperty(str(x[0].state))
                     ? rank[str(x[0].state)] : 2;
            var ry = rank.hasOwnProperty(str(y[0].state))
                     ? rank[str(y[0].state)] : 2;

            return rx - ry || x[1] - y[1];
        }).forEach(function (p) {
            var r = p[0];
            var st = str(r.state) || 'unknown';
            var li = el('li');
            var head = el('div', 'alert-head');
            var meta = el('div', 'alert-meta');
            var since = num(r.since);
            var bits = [];
            var trans;

            head.appendChild(el('span', 'badge '
                + (/^(firing|pending|resolved|inactive)$/.test(st) ? st : ''),
                st));
            li.id = 'alert-' + str(r.name);
            head.appendChild(el('span', 'alert-name', str(r.name)));
            if (r.severity !== undefined && r.severity !== null) {
                head.appendChild(el('span', 'badge', str(r.severity)));
            }
            li.appendChild(head);

            if (r.expr !== undefined && r.expr !== null) {
                meta.appendChild(el('code', null, str(r.expr)));
                meta.appendChild(document.createTextNode(' \u00b7 '));
            }
            bits.push('value ' + fmtAlertValue(r.value, str(r.unit)));
            if (since !== null) {
                bits.push('since ' + fmtClock(since, true)
                          + (now !== null && now >= since
                             ? ' (' + fmtDuration(now - since) + ')' : ''));
            }
            meta.appendChild(document.createTextNode(bits.join(' \u00b7 ')));
            li.appendChild(meta);
            if (typeof r.summary === 'string' && r.summary !== '') {
                li.appendChild(el('div', 'alert-summary-text', r.summary));
            }

            trans = arr(r.transitions).filter(function (t) {
                return t !== null && typeof t === 'object';
            }).slice(-4).reverse();
            if (trans.length) {
                li.appendChild(el('div', 'alert-trans', 'recent: '
                    + trans.map(function (t) {
                        return str(t.state) + ' at ' + fmtClock(t.at, true);
                    }).join(', ')));
            }
            list.appendChild(li);
        });
        box.appendChild(list);
    }


    /* footer: zone health and totals */

    function renderFooter(d) {
        var t = obj(d.totals);
        var zb = obj(t.zone_bytes);
        var zh = $('zone-health');
        var used = num(zb.used), size = num(zb.size);
        var dropped = num(t.dropped);
        var line = [], meter, bar, span;

        clear(zh);
        zh.appendChild(document.createTextNode(
            'Zone ' + (str(d.zone) || DASH) + ': '
            + fmtCount(t.series) + ' series \u00b7 '));
        span = el('span', dropped > 0 ? 'warning' : null,
                  fmtCount(dropped) + ' dropped');
        zh.appendChild(span);
        zh.appendChild(document.createTextNode(
            ' \u00b7 ' + fmtBytes(used) + ' of ' + fmtBytes(size) + ' used'));
        if (used !== null && size) {
            meter = el('span', 'meter');
            bar = el('span');
            bar.style.width = Math.min(100, used / size * 100) + '%';
            meter.appendChild(bar);
            zh.appendChild(meter);
            zh.appendChild(document.createTextNode(fmtPct(used / size)));
        }

        if (num(t.requests) !== null) {
            line.push(fmtCount(t.requests) + ' requests');
        }
        if (num(t.slow) !== null) {
            line.push(fmtCount(t.slow) + ' slow');
        }
        if (num(t.request_bytes) !== null) {
            line.push(fmtBytes(t.request_bytes) + ' received');
        }
        if (num(t.response_bytes) !== null) {
            line.push(fmtBytes(t.response_bytes) + ' sent');
        }
        if (num(t.start_time) !== null) {
            line.push('since ' + fmtDate(t.start_time)
                      + (num(d.generated_at) !== null
                         ? ' (' + fmtDuration(d.generated_at - t.start_time)
                           + ')' : ''));
        }
        setText('totals-line', line.length ? 'Totals: ' + line.join(' \u00b7 ')
                                           : '');
    }


    /* refresh loop */

    function guard(fn, d) {
        try {
            fn(d);
        } catch (e) {
            if (window.console) {
                window.console.error(e);
            }
        }
    }

    function render(d) {
        guard(renderBanner, d);
        guard(renderTiles, d);
        guard(renderCharts, d);
        guard(renderCodes, d);
        guard(renderAlerts, d);
        guard(renderEndpoints, d);
        guard(renderUpstreams, d);
        guard(renderFooter, d);
    }

    function apiUrl() {
        var p = window.location.pathname;

        return p.charAt(p.length - 1) === '/' ? p + 'api' : p + '/api';
    }

    function refreshSeconds() {
        var r = state.data ? num(state.data.refresh_seconds) : null;

        if (r === null || r <= 0) {
            return DEFAULT_REFRESH;
        }
        return Math.min(Math.max(r, 1), 3600);
    }

    function schedule() {
        clearTimeout(state.timer);
        state.timer = setTimeout(poll, refreshSeconds() * 1000);
    }

    function poll() {
        var ctrl = typeof AbortController === 'function'
                   ? new AbortController() : null;
        var abort = null;

        if (state.inflight) {
            return;
        }
        if (document.hidden && state.received > 0) {
            /* resumed by the visibilitychange listener */
            clearTimeout(state.timer);
            state.timer = null;
            return;
        }

        state.inflight = true;
        if (ctrl) {
            abort = setTimeout(function () {
                ctrl.abort();
            }, FETCH_TIMEOUT);
        }

        fetch(apiUrl(), {
            cache: 'no-store',
            credentials: 'same-origin',
            headers: { 'Accept': 'application/json' },
            signal: ctrl ? ctrl.signal : undefined
        }).then(function (r) {
            if (!r.ok) {
                throw new Error('HTTP ' + r.status);
            }
            return r.json();
        }).then(function (d) {
            if (d === null || typeof d !== 'object' || Array.isArray(d)) {
                throw new Error('not a monitoring document');
            }
            state.data = d;
            state.received++;
            render(d);
        }).catch(function (e) {
            renderFailure(e && e.name === 'AbortError'
                          ? new Error('timed out') : e);
        }).then(function () {
            clearTimeout(abort);
            state.inflight = false;
            schedule();
        });
    }

    function init() {
        var pending = 0;

        initSorting();

        window.addEventListener('resize', function () {
            if (pending) {
                return;
            }
            pending = window.requestAnimationFrame(function () {
                pending = 0;
                if (state.data) {
                    guard(renderCharts, state.data);
                }
            });
        });

        document.addEventListener('visibilitychange', function () {
            if (!document.hidden && state.timer === null && !state.inflight) {
                poll();
            }
        });

        poll();
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', init);
    } else {
        init();
    }
}());
