# The demo of ngx_http_monitoring_module (docs/demo.md) in a container,
# from Debian's archive only:
#
#     docker build -t nginx-monitoring-demo .
#     docker run --rm -p 127.0.0.1:8080:8080 nginx-monitoring-demo
#
# then http://localhost:8080/monitoring.  The module is built against
# Debian's nginx (nginx-dev), then the image runs demo/run.sh: nginx
# with the demo configuration, and the traffic generator (DEMO_TRAFFIC=0
# turns it off).  Unlike "make run", the demo server listens on every
# address and /metrics and /monitoring are open to every client
# (DEMO_LISTEN, DEMO_ALLOW below): publish the port on 127.0.0.1, as
# above, to keep them to this host.


FROM debian:bookworm-slim AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        make gcc libc6-dev nginx-dev libcjson-dev libpcre2-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY config Makefile ./
COPY src/ src/
COPY html/ html/
RUN make


FROM debian:bookworm-slim

# libnginx-mod-http-echo: echo_sleep, the demo's latencies;
# curl: the traffic generator and the health check

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        nginx libnginx-mod-http-echo libcjson1 curl \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /src/build/ngx_http_monitoring_module.so \
     /usr/lib/nginx/modules/ngx_http_monitoring_module.so
COPY demo/ /usr/share/nginx-monitoring-demo/

ENV PORT=8080 \
    BACKEND_PORT=8081 \
    MODULE=/usr/lib/nginx/modules/ngx_http_monitoring_module.so \
    DEMO_PREFIX=/var/lib/nginx/demo \
    DEMO_LISTEN=0.0.0.0 \
    DEMO_ALLOW=all \
    DEMO_URL_HOST=localhost

# the configuration, with the module just built, passes nginx -t
RUN bash /usr/share/nginx-monitoring-demo/run.sh --check

EXPOSE 8080

# nginx and the module answer: /health's JSON, with 200 or 503 alike
# (the demo's incidents make it "degraded", 503, on purpose)
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD curl -s -m 2 "http://127.0.0.1:${PORT}/health" | grep -q '"status"'

# SIGTERM (docker stop) and SIGINT make it stop nginx and the generator
CMD ["bash", "/usr/share/nginx-monitoring-demo/run.sh"]
