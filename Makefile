# stripelink - one Makefile, top to bottom: tunables, sources, rules.
#   make run    installs what is missing, builds, starts on :$(STRIPELINK_PORT)
#   make test   installs what the tests need, builds, runs every test
#   make bench  runs the benchmarks under bench/
#   make fuzz   runs each libFuzzer target for $(FUZZ_SECONDS) s

# ---- tunables ----
CC       ?= gcc
CXX      ?= g++
OPT      ?= -O2
CSTD      = -std=c11 -D_GNU_SOURCE
WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CXXWARN   = -Wall -Wextra
PKGS      = fcgi libcurl json-c libctemplate sqlite3 libpq libcrypto
SANITIZE  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CC   = clang
FUZZ_SAN  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 60
export STRIPELINK_PORT ?= 8080

# Debian packages: to build and run, and what the tests add.
RUN_DEBS  = build-essential pkg-config libfcgi-dev libcurl4-openssl-dev libjson-c-dev \
            libctemplate-dev libsqlite3-dev libpq-dev libssl-dev nginx
TEST_DEBS = libcmocka-dev curl sqlite3 postgresql-15 chromium clang libfuzzer-14-dev libclang-rt-14-dev systemd openssl
BENCH_DEBS = wrk

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# ---- sources ----
# Every src/*.c but the programs' mains is a module of the library that the
# programs, the unit tests and the benchmarks link against.
MAINS     = src/main.c src/sync_main.c
LIB_C     = $(filter-out $(MAINS),$(sort $(wildcard src/*.c)))
LIB_CXX   = src/view.cc
UNIT_C    = $(sort $(wildcard tests/unit/test_*.c))
BENCH_C   = $(sort $(wildcard bench/bench_*.c))
FUZZ_C    = $(sort $(wildcard tests/fuzz/fuzz_*.c))

B         = build
OBJ       = $(LIB_C:src/%.c=$(B)/obj/%.o) $(LIB_CXX:src/%.cc=$(B)/obj/%.o)
ASAN_OBJ  = $(LIB_C:src/%.c=$(B)/asan/%.o) $(LIB_CXX:src/%.cc=$(B)/asan/%.o)
UNIT_BIN  = $(UNIT_C:tests/unit/%.c=$(B)/tests/%)
ASAN_BIN  = $(UNIT_C:tests/unit/%.c=$(B)/tests-asan/%)
BENCH_BIN = $(BENCH_C:bench/%.c=$(B)/bench/%)
# the C modules again, built by clang with coverage for libFuzzer (no C++:
# the fuzz targets do not reach the template shim)
FUZZ_OBJ  = $(LIB_C:src/%.c=$(B)/fuzz-obj/%.o)
FUZZ_BIN  = $(FUZZ_C:tests/fuzz/%.c=$(B)/fuzz/%)
PROGRAMS  = cgi-bin/stripelink $(if $(wildcard src/sync_main.c),cgi-bin/stripelink-sync)

.PHONY: install uninstall
.PHONY: all programs run test unit unit-asan integration integration-asan valgrind bench bench-rss fuzz fuzz-test clean deps test-deps bench-deps

# The public targets install what is missing first, then build in a
# sub-make, so pkg-config sees libraries installed a moment ago.
all: deps
	@$(MAKE) --no-print-directory programs
programs: $(PROGRAMS)

# ---- dependencies: install only what is missing ----
deps:
	@sh tests/install-debs.sh $(RUN_DEBS)
test-deps: deps
	@sh tests/install-debs.sh $(TEST_DEBS)
	@sh tests/install-node-modules.sh
bench-deps: test-deps
	@sh tests/install-debs.sh $(BENCH_DEBS)

# ---- build ----
$(B)/obj/%.o: src/%.c src/*.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(OPT) -g $(WARN) $(PKG_CFLAGS) -c $< -o $@
$(B)/obj/%.o: src/%.cc src/view.h
	@mkdir -p $(@D)
	$(CXX) -std=c++11 $(OPT) -g $(CXXWARN) $(PKG_CFLAGS) -c $< -o $@
$(B)/asan/%.o: src/%.c src/*.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O1 -g $(WARN) $(SANITIZE) $(PKG_CFLAGS) -c $< -o $@
$(B)/asan/%.o: src/%.cc src/view.h
	@mkdir -p $(@D)
	$(CXX) -std=c++11 -O1 -g $(CXXWARN) $(SANITIZE) $(PKG_CFLAGS) -c $< -o $@

$(B)/libstripelink.a: $(OBJ)
	ar rcs $@ $^
$(B)/libstripelink-asan.a: $(ASAN_OBJ)
	ar rcs $@ $^

cgi-bin/stripelink: src/main.c $(B)/libstripelink.a
	$(CC) $(CSTD) $(OPT) -g $(WARN) $(PKG_CFLAGS) -Isrc $< $(B)/libstripelink.a $(PKG_LIBS) -lstdc++ -lpthread -o $@
# the FastCGI program built with AddressSanitizer + UBSan: integration
# tests run against it too, so leaks and memory errors on the real request
# path fail the build (LeakSanitizer reports when the worker exits)
# the sync worker beside it: run starts the stripelink-sync next to itself,
# and webhook events waiting for their customer are completed there
$(B)/asan-bin/stripelink-sync: src/sync_main.c $(B)/libstripelink-asan.a
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O1 -g $(WARN) $(SANITIZE) $(PKG_CFLAGS) -Isrc $< $(B)/libstripelink-asan.a $(PKG_LIBS) -lstdc++ -lpthread -o $@
$(B)/asan-bin/stripelink: src/main.c $(B)/libstripelink-asan.a
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O1 -g $(WARN) $(SANITIZE) $(PKG_CFLAGS) -Isrc $< $(B)/libstripelink-asan.a $(PKG_LIBS) -lstdc++ -lpthread -o $@

cgi-bin/stripelink-sync: src/sync_main.c $(B)/libstripelink.a
	$(CC) $(CSTD) $(OPT) -g $(WARN) $(PKG_CFLAGS) -Isrc $< $(B)/libstripelink.a $(PKG_LIBS) -lstdc++ -lpthread -o $@

$(B)/tests/%: tests/unit/%.c tests/unit/*.h $(B)/libstripelink.a
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O0 -g $(WARN) $(PKG_CFLAGS) -Isrc $< $(B)/libstripelink.a $(PKG_LIBS) $(CMOCKA_LIBS) -lstdc++ -lpthread -o $@
$(B)/tests-asan/%: tests/unit/%.c tests/unit/*.h $(B)/libstripelink-asan.a
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O1 -g $(WARN) $(SANITIZE) $(PKG_CFLAGS) -Isrc $< $(B)/libstripelink-asan.a $(PKG_LIBS) $(CMOCKA_LIBS) -lstdc++ -lpthread -o $@
$(B)/fuzz-obj/%.o: src/%.c src/*.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CSTD) -O1 -g $(WARN) -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(PKG_CFLAGS) -c $< -o $@
$(B)/libstripelink-fuzz.a: $(FUZZ_OBJ)
	ar rcs $@ $^
$(B)/fuzz/%: tests/fuzz/%.c $(B)/libstripelink-fuzz.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CSTD) -O1 -g $(WARN) -fsanitize=fuzzer $(FUZZ_SAN) $(PKG_CFLAGS) -Isrc $< $(B)/libstripelink-fuzz.a $(PKG_LIBS) -lstdc++ -lpthread -o $@

$(B)/bench/%: bench/%.c $(B)/libstripelink.a
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O2 -g $(WARN) $(PKG_CFLAGS) -Isrc $< $(B)/libstripelink.a $(PKG_LIBS) -lstdc++ -lpthread -lm -o $@

# ---- run ----
run: all
	exec ./cgi-bin/stripelink run

# ---- install (Debian conventions; DESTDIR for staging) ----
#   $(PREFIX)/bin/stripelink          the command (reads the service's settings)
#   $(PREFIX)/lib/stripelink/         the programs (stripelink, stripelink-sync)
#   $(PREFIX)/share/stripelink/       templates/, static/, nginx/ (nginx.conf.in, site.conf.in), README.md
#   $(UNITDIR)/stripelink.service     the systemd unit
#   $(SYSCONFDIR)/stripelink/stripelink.env  the settings (kept when already there)
#   $(STATEDIR)                       the data (0700; never removed by uninstall)
# With an empty DESTDIR it also creates the system user "stripelink".
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
STATEDIR   ?= /var/lib/stripelink
UNITDIR    ?= /etc/systemd/system
SHAREDIR    = $(PREFIX)/share/stripelink
LIBDIR      = $(PREFIX)/lib/stripelink
INSTALL_SUBST = sed -e 's|@SHAREDIR@|$(SHAREDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
                    -e 's|@STATEDIR@|$(STATEDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install: all
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SHAREDIR)/nginx \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/stripelink
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(LIBDIR)/
	$(INSTALL_SUBST) dist/stripelink.sh.in >$(DESTDIR)$(PREFIX)/bin/stripelink
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/stripelink
	cp -R templates static $(DESTDIR)$(SHAREDIR)/
	chmod -R u=rwX,go=rX $(DESTDIR)$(SHAREDIR)/templates $(DESTDIR)$(SHAREDIR)/static
	install -m 0644 nginx/nginx.conf.in nginx/site.conf.in $(DESTDIR)$(SHAREDIR)/nginx/
	install -m 0644 README.md $(DESTDIR)$(SHAREDIR)/
	$(INSTALL_SUBST) dist/stripelink.service.in >$(DESTDIR)$(UNITDIR)/stripelink.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/stripelink.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/stripelink/stripelink.env ] || \
		install -m 0640 dist/stripelink.env $(DESTDIR)$(SYSCONFDIR)/stripelink/stripelink.env
	install -d -m 0700 $(DESTDIR)$(STATEDIR)
	@if [ -z "$(DESTDIR)" ]; then \
		getent passwd stripelink >/dev/null || \
			useradd --system --user-group --home-dir $(STATEDIR) --no-create-home \
				--shell /usr/sbin/nologin stripelink; \
		chown stripelink: $(STATEDIR); \
		systemctl daemon-reload 2>/dev/null || true; \
	fi

# Removes the program files; keeps the data, the settings and the user.
uninstall:
	@if [ -z "$(DESTDIR)" ]; then systemctl disable --now stripelink 2>/dev/null || true; fi
	rm -f $(DESTDIR)$(PREFIX)/bin/stripelink $(DESTDIR)$(UNITDIR)/stripelink.service
	rm -rf $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SHAREDIR)
	@echo "kept: $(DESTDIR)$(STATEDIR) (data), $(DESTDIR)$(SYSCONFDIR)/stripelink (settings), user stripelink"

# ---- tests ----
# tests/run.sh runs each suite, prints a summary and fails if any failed.
test: test-deps
	@$(MAKE) --no-print-directory $(PROGRAMS) $(UNIT_BIN) $(ASAN_BIN) $(B)/asan-bin/stripelink $(B)/asan-bin/stripelink-sync $(FUZZ_BIN)
	@sh tests/run.sh
unit: test-deps
	@$(MAKE) --no-print-directory $(UNIT_BIN)
	@sh tests/run.sh unit
unit-asan: test-deps
	@$(MAKE) --no-print-directory $(ASAN_BIN)
	@sh tests/run.sh unit-asan
integration: test-deps
	@$(MAKE) --no-print-directory $(PROGRAMS)
	@sh tests/run.sh integration
integration-asan: test-deps
	@$(MAKE) --no-print-directory $(PROGRAMS) $(B)/asan-bin/stripelink $(B)/asan-bin/stripelink-sync
	@sh tests/run.sh integration-asan
valgrind: test-deps
	@$(MAKE) --no-print-directory $(UNIT_BIN)
	@sh tests/run.sh valgrind

# the fuzz targets over their saved corpus, then a few seconds each
fuzz-test: test-deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@sh tests/run.sh fuzz
# each fuzz target for FUZZ_SECONDS; new inputs go to build/fuzz-corpus/
fuzz: test-deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/run.sh fuzz

# ---- benchmarks ----
bench: bench-deps
	@$(MAKE) --no-print-directory $(PROGRAMS) $(BENCH_BIN)
	@sh bench/run.sh

bench-rss: bench-deps
	@$(MAKE) --no-print-directory $(PROGRAMS)
	@sh bench/run.sh --rss

clean:
	rm -rf $(B) cgi-bin/stripelink cgi-bin/stripelink-sync
