# ngx_http_monitoring_module
#
#   make          build the dynamic module against the system nginx
#   make deps     install the Debian packages the project needs
#   make run      start the demo: a real nginx with the module on 127.0.0.1
#                 (installs the packages of the build and the demo only)
#   make test     run the whole test suite through a real nginx
#   make test-asan   the same with the module built with AddressSanitizer
#                 and UBSan into build/asan/, nginx run with their runtimes
#   make fuzz     replay the fuzz regressions, then fuzz FUZZ_TIME s (60)
#   make fuzz-smoke  the same for 10 s, as CI does
#   make static   build nginx itself with the module compiled in, from
#                 Debian's pristine nginx source, into build/static/nginx,
#                 and run the smoke tests through it (docs/static-build.md)

SHELL :=	/bin/bash

NGINX_SRC ?=	/usr/share/nginx/src
NGINX ?=	/usr/sbin/nginx
BUILD ?=	build
PORT ?=		8080
BACKEND_PORT ?=	8081
FUZZ_TIME ?=	60
FUZZ_CC ?=	clang

# appended to nginx's own --with-cc-opt, and the --with-ld-opt, at configure
MODULE_CC_OPT ?=
MODULE_LD_OPT ?=

MODULE :=	$(BUILD)/ngx_http_monitoring_module.so
SOURCES :=	config $(wildcard src/*.c src/*.h)
PAGE :=		$(wildcard html/*)

# fuzz target NAME: fuzz/NAME_fuzz.c with the sources in FUZZ_SRCS_NAME,
# seeded from fuzz/corpus/NAME/, after replaying fuzz/regressions/NAME/.
# Every target is compiled against the headers of the configured nginx
# tree, $(BUILD)/nginx; nginx-dev has no core sources, so the few core
# functions a target reaches are in fuzz/fuzz_nginx.c.  Files of src/
# are linked whole: lld drops the functions a target does not reach,
# and with them what those call in nginx.
FUZZ_TARGETS :=	expr normalize escape snapshot
FUZZ_SRCS_expr :=	src/ngx_http_monitoring_expr.c
FUZZ_SRCS_normalize :=	src/ngx_http_monitoring_normalize.c \
			src/ngx_http_monitoring_record.c \
			fuzz/fuzz_utf8.c fuzz/fuzz_nginx.c
FUZZ_SRCS_escape :=	src/ngx_http_monitoring_record.c \
			src/ngx_http_monitoring_zone.c fuzz/fuzz_utf8.c
FUZZ_SRCS_snapshot :=	src/ngx_http_monitoring_persist.c \
			src/ngx_http_monitoring_zone.c \
			src/ngx_http_monitoring_alert.c \
			src/ngx_http_monitoring_record.c \
			src/ngx_http_monitoring_module.c \
			fuzz/fuzz_utf8.c fuzz/fuzz_nginx.c
# inputs up to 256 bytes, FUZZ_MAX_LEN_NAME for a target that needs more:
# a snapshot of a zone record and a few series is some 25 KB
FUZZ_MAX_LEN :=	256
FUZZ_MAX_LEN_snapshot :=	65536
FUZZ_INCS :=	$(addprefix -I$(BUILD)/nginx/,src/core src/event \
		src/event/modules src/os/unix objs src/http src/http/modules \
		src/http/v2) -Isrc
FUZZ_FLAGS :=	-g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -ffunction-sections -fdata-sections \
		-fsanitize-address-globals-dead-stripping \
		-fuse-ld=lld -Wl,--gc-sections
FUZZ_LIBS :=	-lpcre2-8 -lcjson
FUZZ_BINS :=	$(FUZZ_TARGETS:%=$(BUILD)/fuzz/%_fuzz)

# test-asan: the module built with ASan and UBSan into $(ASAN_BUILD)/;
# nginx, not instrumented, run by $(ASAN_BUILD)/nginx-asan, which
# preloads the runtimes into nginx alone and sends ASan's reports to the
# test's logs/asan.PID (docs/sanitizers.md, also on leak detection)
ASAN_BUILD ?=	$(BUILD)/asan
SAN_CC_OPT :=	-O1 -fno-omit-frame-pointer -U_FORTIFY_SOURCE \
		-fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_LD_OPT :=	-fsanitize=address,undefined
SAN_PRELOAD =	$(shell $(CC) -print-file-name=libasan.so):$\
		$(shell $(CC) -print-file-name=libubsan.so)
SAN_ASAN_OPTIONS ?= detect_leaks=0:detect_stack_use_after_return=1:$\
		strict_string_checks=1:quarantine_size_mb=16
SAN_UBSAN_OPTIONS ?= print_stacktrace=1

# static: nginx itself, from the pristine upstream source of the system
# nginx's version that Debian's archive carries, fetched with apt-get
# source from a deb-src entry for bookworm main ($(STATIC_APT_LIST) when
# there is none yet), configured with Debian's flags and the module as
# --add-module, into $(STATIC_BUILD)/nginx; the smoke tests then run
# through it, with no load_module for the module (docs/static-build.md)
STATIC_BUILD ?=	$(BUILD)/static
STATIC_VERSION ?= 1.22.1
STATIC_MIRROR ?= http://deb.debian.org/debian
STATIC_APT_LIST ?= /etc/apt/sources.list.d/ngx-monitoring-src.sources
STATIC_ORIG :=	$(STATIC_BUILD)/nginx_$(STATIC_VERSION).orig.tar.gz
STATIC_SRC :=	$(STATIC_BUILD)/nginx-$(STATIC_VERSION)
STATIC_NGINX :=	$(STATIC_BUILD)/nginx
STATIC_SMOKE ?=	t/directives.t t/counts.t t/exposition.t t/openmetrics.t \
		t/labels.t t/normalize.t t/upstream.t t/api.t t/health.t \
		t/alert_config.t

DEPS =		nginx nginx-dev libcjson-dev libpcre2-dev \
		libnginx-mod-http-echo gcc make libc6-dev perl curl \
		prometheus prometheus-alertmanager apache2-utils chromium \
		fonts-dejavu-core
# what make run needs: the build and the demo, none of the test tools
RUN_DEPS =	nginx nginx-dev libcjson-dev libpcre2-dev \
		libnginx-mod-http-echo gcc make libc6-dev curl
FUZZ_DEPS =	clang libclang-rt-14-dev lld nginx nginx-dev libpcre2-dev \
		libcjson-dev
STATIC_DEPS =	nginx nginx-dev libnginx-mod-http-echo libcjson-dev \
		libpcre2-dev libssl-dev zlib1g-dev gcc make libc6-dev perl \
		prometheus apache2-utils

.PHONY: all deps run-deps fuzz-deps static-deps run test test-asan fuzz \
	fuzz-smoke static clean

all: $(MODULE)

deps: PACKAGES = $(DEPS)
run-deps: PACKAGES = $(RUN_DEPS)
fuzz-deps: PACKAGES = $(FUZZ_DEPS)
static-deps: PACKAGES = $(STATIC_DEPS)

deps run-deps fuzz-deps static-deps:
	@missing=; \
	for p in $(PACKAGES); do \
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
	            | sed -n "s/.*--with-cc-opt='\([^']*\)'.*/\1/p") \
	            $(MODULE_CC_OPT)" \
	        --with-ld-opt="$(MODULE_LD_OPT)" \
	        --add-dynamic-module=$(CURDIR) > configure.log \
	    || { cat configure.log; tail -20 objs/autoconf.err; exit 1; }

$(MODULE): $(BUILD)/nginx/objs/Makefile $(SOURCES)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/ngx_http_monitoring_module.so $@.tmp
	mv -f $@.tmp $@

# the demo (docs/demo.md): nginx and its traffic generator in the
# foreground, in $(BUILD)/demo, until Ctrl-C; DEMO_* knobs pass through
run: run-deps $(MODULE)
	@PORT='$(PORT)' BACKEND_PORT='$(BACKEND_PORT)' NGINX='$(NGINX)' \
	    MODULE='$(abspath $(MODULE))' \
	    DEMO_PREFIX='$(abspath $(BUILD))/demo' exec demo/run.sh

test: deps $(MODULE)
	prove -I t/lib t/

test-asan: deps
	$(MAKE) all BUILD=$(ASAN_BUILD) MODULE_CC_OPT='$(SAN_CC_OPT)' \
	    MODULE_LD_OPT='$(SAN_LD_OPT)'
	@# "exec -a": the script stays argv[0], what nginx runs on USR2
	@{ echo '#!/bin/bash'; \
	  echo '# nginx for make test-asan, from the Makefile'; \
	  echo 'log= p='; \
	  echo 'for a; do'; \
	  echo '    [ "$$p" = -p ] && log="log_path=$${a%/}/logs/asan:"; p=$$a'; \
	  echo 'done'; \
	  echo 'LD_PRELOAD=$(SAN_PRELOAD) \'; \
	  echo 'ASAN_OPTIONS=$${log}$(SAN_ASAN_OPTIONS) \'; \
	  echo 'UBSAN_OPTIONS=$(SAN_UBSAN_OPTIONS) \'; \
	  echo 'exec -a "$$0" $(NGINX) "$$@"'; } > $(ASAN_BUILD)/nginx-asan
	chmod +x $(ASAN_BUILD)/nginx-asan
	TEST_NGINX_BINARY=$(CURDIR)/$(ASAN_BUILD)/nginx-asan \
	TEST_NGINX_MODULE=$(CURDIR)/$(ASAN_BUILD)/ngx_http_monitoring_module.so \
	prove -I t/lib t/

# the pristine upstream tarball of Debian's source package, the version
# of the system nginx and of nginx-dev's headers (the tests load Debian's
# echo module, built for that version, into the static nginx)
$(STATIC_ORIG):
	@v=$$($(NGINX) -v 2>&1 | sed -n 's|^nginx version: nginx/||p'); \
	h=$$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"$$/\1/p' \
	    $(NGINX_SRC)/src/core/nginx.h 2>/dev/null); \
	if [ "$$v" != $(STATIC_VERSION) ] || [ "$$h" != $(STATIC_VERSION) ]; \
	then \
	    echo "make static builds nginx $(STATIC_VERSION), but $(NGINX)" \
	        "is \"$$v\" and $(NGINX_SRC) is \"$$h\""; \
	    exit 1; \
	fi
	@if ! apt-get indextargets --format '$$(CODENAME) $$(COMPONENT)' \
	        'Created-By: Sources' | grep -qx 'bookworm main'; \
	then \
	    echo "adding deb-src for bookworm main: $(STATIC_APT_LIST)"; \
	    printf '%s\n' '# nginx source for make static' 'Types: deb-src' \
	        'URIs: $(STATIC_MIRROR)' 'Suites: bookworm' \
	        'Components: main' \
	        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
	        > $(STATIC_APT_LIST); \
	fi
	apt-get update -q
	rm -rf $(STATIC_BUILD)/apt
	mkdir -p $(STATIC_BUILD)/apt
	cd $(STATIC_BUILD)/apt && apt-get source -q --download-only nginx/bookworm
	@[ -f $(STATIC_BUILD)/apt/$(notdir $@) ] || { \
	    echo "no $(notdir $@) in Debian's nginx source:"; \
	    ls $(STATIC_BUILD)/apt; exit 1; }
	mv $(STATIC_BUILD)/apt/$(notdir $@) $@
	rm -rf $(STATIC_BUILD)/apt

$(STATIC_SRC)/objs/Makefile: $(STATIC_ORIG) config $(PAGE)
	rm -rf $(STATIC_SRC)
	tar -xzf $(STATIC_ORIG) -C $(STATIC_BUILD) --no-same-owner
	cd $(STATIC_SRC) && source $(NGINX_SRC)/conf_flags \
	    && ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$$($(NGINX) -V 2>&1 \
	            | sed -n "s/.*--with-cc-opt='\([^']*\)'.*/\1/p") \
	            $(MODULE_CC_OPT)" \
	        --with-ld-opt="$$($(NGINX) -V 2>&1 \
	            | sed -n "s/.*--with-ld-opt='\([^']*\)'.*/\1/p") \
	            $(MODULE_LD_OPT)" \
	        --add-module=$(CURDIR) > configure.log \
	    || { cat configure.log; tail -20 objs/autoconf.err; exit 1; }

$(STATIC_NGINX): $(STATIC_SRC)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(STATIC_SRC) -f objs/Makefile binary
	cp $(STATIC_SRC)/objs/nginx $@.tmp
	mv -f $@.tmp $@

static: static-deps $(STATIC_NGINX)
	@$(STATIC_NGINX) -V 2>&1 | grep -qF -- '--add-module=$(CURDIR)' \
	    || { echo "$(STATIC_NGINX): no --add-module=$(CURDIR)"; exit 1; }
	TEST_NGINX_BINARY=$(CURDIR)/$(STATIC_NGINX) TEST_NGINX_STATIC=1 \
	prove -I t/lib $(STATIC_SMOKE)

.SECONDEXPANSION:
$(BUILD)/fuzz/%_fuzz: fuzz/%_fuzz.c $$(FUZZ_SRCS_$$*) $(wildcard fuzz/*.h) \
		$(SOURCES) $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_INCS) -o $@.tmp $< $(FUZZ_SRCS_$*) \
	    $(FUZZ_LIBS)
	mv -f $@.tmp $@

fuzz: fuzz-deps $(FUZZ_BINS)
	@set -e; \
	$(foreach t,$(FUZZ_TARGETS), \
	    max_len_$(t)=$(or $(FUZZ_MAX_LEN_$(t)),$(FUZZ_MAX_LEN));) \
	for t in $(FUZZ_TARGETS); do \
	    eval max_len=\$$max_len_$$t; \
	    echo "$$t: regressions"; \
	    $(BUILD)/fuzz/$${t}_fuzz fuzz/regressions/$$t/* \
	        > $(BUILD)/fuzz/$$t-regressions.log 2>&1 \
	        || { cat $(BUILD)/fuzz/$$t-regressions.log; exit 1; }; \
	    mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	    cp fuzz/corpus/$$t/* $(BUILD)/fuzz/corpus/$$t/; \
	    echo "$$t: fuzzing for $(FUZZ_TIME) s"; \
	    $(BUILD)/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_TIME) \
	        -max_len=$$max_len -artifact_prefix=$(BUILD)/fuzz/$$t- \
	        $(BUILD)/fuzz/corpus/$$t; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_TIME=10

clean:
	rm -rf $(BUILD)
