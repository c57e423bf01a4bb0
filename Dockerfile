# nginx with ngx_http_monitoring_module, from Debian's archive only.

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

RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx libcjson1 curl \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /src/build/ngx_http_monitoring_module.so \
     /usr/lib/nginx/modules/ngx_http_monitoring_module.so
COPY demo/nginx.conf /etc/nginx/monitoring-demo.conf

RUN mkdir -p /var/lib/nginx/demo/logs /var/lib/nginx/demo/tmp \
    && sed -e 's|@MODULE@|/usr/lib/nginx/modules/ngx_http_monitoring_module.so|' \
           -e 's|listen 127.0.0.1:@PORT@|listen 8080|' \
           -e 's|@BACKEND_PORT@|8081|g' \
           /etc/nginx/monitoring-demo.conf > /var/lib/nginx/demo/nginx.conf

EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=3s \
    CMD curl -fsS http://127.0.0.1:8080/health > /dev/null || exit 1

CMD ["nginx", "-p", "/var/lib/nginx/demo/", "-c", "nginx.conf", \
     "-e", "logs/error.log", "-g", "daemon off;"]
