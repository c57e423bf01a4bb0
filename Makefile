# ngx_http_monitoring_module
#
#   make          build the dynamic module against the system nginx
#   make deps     install the Debian packages the project needs
#   make run      start the demo: a real nginx with the module on 127.0.0.1
#   make test     run the whole test suite through a real nginx

SHELL :=	/bin/bash

NGINX_SRC ?=	/usr/share/nginx/src
NGINX ?=	/usr/sbin/nginx
BUILD ?=	build
PORT ?=		8080
BACKEND_PORT ?=	8081

MODULE :=	$(BUILD)/ngx_http_monitoring_module.so
SOURCES :=	config $(wildcard src/*.c src/*.h)
PAGE :=		$(wildcard html/*)

DEPS =		nginx nginx-dev libcjson-dev libpcre2-dev \
		libnginx-mod-http-echo gcc make libc6-dev perl curl \
		prometheus apache2-utils chromium fonts-dejavu-core

.PHONY: all deps run test clean

all: $(MODULE)

deps:
	@missing=; \
	for p in $(DEPS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD)/nginx/objs/Makefile: config $(PAGE)
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && source ./conf_flags \
	    && ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$$($(NGINX) -V 2>&1 \
	            | sed -n "s/.*--with-cc-opt='\([^']*\)'.*/\1/p")" \
	        --add-dynamic-module=$(CURDIR) > configure.log \
	    || { cat configure.log; tail -20 objs/autoconf.err; exit 1; }

$(MODULE): $(BUILD)/nginx/objs/Makefile $(SOURCES)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/ngx_http_monitoring_module.so $@.tmp
	mv -f $@.tmp $@

run: deps $(MODULE)
	@rm -rf $(BUILD)/demo && mkdir -p $(BUILD)/demo/logs $(BUILD)/demo/tmp
	@sed -e 's|@MODULE@|$(CURDIR)/$(MODULE)|g' -e 's|@PORT@|$(PORT)|g' \
	    -e 's|@BACKEND_PORT@|$(BACKEND_PORT)|g' \
	    demo/nginx.conf > $(BUILD)/demo/nginx.conf
	@echo
	@echo "  dashboard  http://127.0.0.1:$(PORT)/monitoring"
	@echo "  metrics    http://127.0.0.1:$(PORT)/metrics"
	@echo "  health     http://127.0.0.1:$(PORT)/health"
	@echo "  demo site  http://127.0.0.1:$(PORT)/"
	@echo "  stop with Ctrl-C"
	@echo
	exec $(NGINX) -p $(CURDIR)/$(BUILD)/demo/ -c nginx.conf \
	    -e logs/error.log -g 'daemon off;'

test: deps $(MODULE)
	prove -I t/lib t/

clean:
	rm -rf $(BUILD)
