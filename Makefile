# kefu - plain Makefile in the style of utf8proc's and zstd's lib/Makefile.
#
#   make            libraries (lib/), the kefu command line (build/bin/)
#   make check      every test: unit, data-driven cases, exports, install,
#                   fuzz corpus replay, Python and Lua bindings
#   make asan | ubsan | valgrind | fuzz | bench | install | uninstall
#
# User CFLAGS/LDFLAGS are added to, never overwritten.

VERSION_MAJOR := $(shell sed -n 's/^\#define KEFU_VERSION_MAJOR \([0-9]*\).*/\1/p' include/kefu.h)
VERSION_MINOR := $(shell sed -n 's/^\#define KEFU_VERSION_MINOR \([0-9]*\).*/\1/p' include/kefu.h)
VERSION_PATCH := $(shell sed -n 's/^\#define KEFU_VERSION_PATCH \([0-9]*\).*/\1/p' include/kefu.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
prefix ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir ?= $(exec_prefix)/bin
libdir ?= $(exec_prefix)/lib
includedir ?= $(prefix)/include
pkgconfigdir ?= $(libdir)/pkgconfig
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
DEPS := libpcre2-8 libutf8proc yaml-0.1
DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS) 2>/dev/null)
DEPS_LIBS := $(shell $(PKG_CONFIG) --libs $(DEPS) 2>/dev/null || echo -lpcre2-8 -lutf8proc -lyaml)

# B is the build directory; sanitizer builds use their own.
B ?= build/default
OUTLIB ?= lib
SAN ?=
OPT ?= -O2 -g
WERROR ?=
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter $(WERROR)
KEFU_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden \
               $(OPT) $(WARN) $(SAN) -Iinclude -Isrc $(DEPS_CFLAGS) $(CFLAGS)
KEFU_LDFLAGS := $(SAN) $(LDFLAGS)
LIBS := $(DEPS_LIBS) -lm -lpthread

SRC := $(sort $(wildcard src/*.c))
OBJ := $(patsubst src/%.c,$(B)/obj/%.o,$(SRC))
STATIC := $(OUTLIB)/libkefu.a
SONAME := libkefu.so.$(VERSION_MAJOR)
SHARED := $(OUTLIB)/libkefu.so.$(VERSION)
MAP := $(B)/kefu.map
PC := $(OUTLIB)/kefu.pc

CLI_SRC := $(sort $(wildcard examples/cli/*.c))
CLI := $(B)/bin/kefu
HOSTS := $(patsubst examples/%.c,$(B)/bin/%,$(wildcard examples/*.c))

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
CASE_RUNNER := $(B)/tests/case_runner

.PHONY: all lib cli check check-unit check-cases check-exports check-header \
        check-install check-fuzz check-bindings check-cli asan ubsan tsan valgrind fuzz \
        bench install uninstall clean deps run

all: lib cli
lib: $(STATIC) $(SHARED) $(PC)
cli: $(CLI) $(HOSTS)

$(B)/obj/%.o: src/%.c include/kefu.h $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(KEFU_CFLAGS) -c $< -o $@

$(STATIC): $(OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $(OBJ)

# The version script lists exactly the functions declared KEFU_API.
$(MAP): include/kefu.h tools/gen-map.sh
	@mkdir -p $(dir $@)
	sh tools/gen-map.sh include/kefu.h $(VERSION_MAJOR) > $@

$(SHARED): $(OBJ) $(MAP)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(MAP) \
	    -Wl,--no-undefined $(KEFU_LDFLAGS) -o $@ $(OBJ) $(LIBS)
	ln -sf libkefu.so.$(VERSION) $(OUTLIB)/$(SONAME)
	ln -sf $(SONAME) $(OUTLIB)/libkefu.so

PC_SED = sed -e 's|@PREFIX@|$(prefix)|g' -e 's|@LIBDIR@|$(libdir)|g' \
	    -e 's|@INCLUDEDIR@|$(includedir)|g' -e 's|@VERSION@|$(VERSION)|g'

# The build tree's kefu.pc points at the default prefix; install writes one
# for the prefix it installs to.
$(PC): pkgconfig/kefu.pc.in include/kefu.h
	@mkdir -p $(dir $@)
	$(PC_SED) $< > $@

$(CLI): $(CLI_SRC) $(wildcard examples/cli/*.h) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(KEFU_CFLAGS) -Iexamples/cli $(CLI_SRC) $(STATIC) $(KEFU_LDFLAGS) $(LIBS) -o $@

$(B)/bin/%: examples/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(KEFU_CFLAGS) $< $(STATIC) $(KEFU_LDFLAGS) $(LIBS) -o $@

# ---- tests ---------------------------------------------------------------

CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

$(B)/tests/%: tests/unit/%.c tests/unit/testutil.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(KEFU_CFLAGS) -Wno-missing-prototypes $< $(STATIC) $(KEFU_LDFLAGS) \
	    $(CMOCKA_LIBS) $(LIBS) -o $@

CASE_SRC := $(sort $(wildcard tests/case_*.c))
$(CASE_RUNNER): $(CASE_SRC) tests/case_runner.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(KEFU_CFLAGS) -Itests $(CASE_SRC) $(STATIC) $(KEFU_LDFLAGS) $(LIBS) -o $@

$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/standalone_driver.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(KEFU_CFLAGS) -Wno-missing-prototypes $< tests/fuzz/standalone_driver.c \
	    $(STATIC) $(KEFU_LDFLAGS) $(LIBS) -o $@

# TEST_WRAP runs each test binary (valgrind sets it).
TEST_WRAP ?=

check: WERROR = -Werror
check: all check-header check-unit check-cases check-exports check-fuzz \
       check-install check-bindings
	@echo "== sanitizers (ASan + UBSan, then TSan) and valgrind"
	@$(MAKE) -s asan
	@$(MAKE) -s tsan
	@$(MAKE) -s valgrind
	@sh tools/summary.sh $(B)/results build/asan/results build/tsan/results \
	    build/valgrind/results

check-unit: $(UNIT)
	@mkdir -p $(B)/results
	@sh tools/run-unit.sh "$(TEST_WRAP)" $(B)/results $(UNIT)

check-cases: $(CASE_RUNNER) $(CLI)
	@mkdir -p $(B)/results
	@$(TEST_WRAP) $(CASE_RUNNER) tests/cases > $(B)/results/cases.log 2>&1; \
	    rc=$$?; grep -v '^cases ' $(B)/results/cases.log | sed '$$d'; \
	    tail -n 1 $(B)/results/cases.log | sed 's/^/cases: /'; \
	    tail -n 1 $(B)/results/cases.log | awk '{print $$1, $$3}' > $(B)/results/cases.count; exit $$rc

check-fuzz: $(FUZZ_REPLAY)
	@mkdir -p $(B)/results
	@sh tools/run-fuzz-replay.sh "$(TEST_WRAP)" $(B)/results $(FUZZ_REPLAY)

check-exports: $(SHARED) $(MAP)
	@mkdir -p $(B)/results
	@sh tools/check-exports.sh $(SHARED) include/kefu.h && echo "1 0" > $(B)/results/exports.count

check-header:
	@mkdir -p $(B)/results
	@sh tools/check-header.sh "$(CC)" && echo "1 0" > $(B)/results/header.count

check-install: lib
	@mkdir -p $(B)/results
	@sh tools/check-install.sh "$(MAKE)" && echo "1 0" > $(B)/results/install.count

check-bindings: lib
	@sh tools/check-bindings.sh $(B)/results

# The command line's host test on this build's kefu: `make asan` runs it
# under ASan/UBSan (the CLI's own option and JSON-line parsing).
check-cli: $(CLI)
	@mkdir -p $(B)/results
	@KEFU_CLI=$(CLI) sh tests/hosts/run-cli.sh $(B)/hosts/cli > $(B)/results/cli.log 2>&1; \
	    rc=$$?; grep '^FAIL' $(B)/results/cli.log; \
	    tail -n 1 $(B)/results/cli.log | sed 's/^/cli: /'; \
	    tail -n 1 $(B)/results/cli.log | awk '{print $$1, $$3}' > $(B)/results/cli.count; exit $$rc

asan:
	$(MAKE) B=build/asan OUTLIB=build/asan/lib OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    WERROR=-Werror check-unit check-cases check-fuzz check-cli

# ThreadSanitizer: the suites that share a model, a rule set or a slot
# between threads (intent, session, rules) and the rest alike.
tsan:
	$(MAKE) B=build/tsan OUTLIB=build/tsan/lib OPT="-O1 -g" \
	    SAN="-fsanitize=thread" WERROR=-Werror check-unit

ubsan:
	$(MAKE) B=build/ubsan OUTLIB=build/ubsan/lib OPT="-O1 -g" \
	    SAN="-fsanitize=undefined -fno-sanitize-recover=all" \
	    WERROR=-Werror check-unit check-cases check-fuzz

valgrind:
	$(MAKE) B=build/valgrind OUTLIB=build/valgrind/lib OPT="-O1 -g" \
	    TEST_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect" \
	    check-unit check-cases check-fuzz

# libFuzzer builds (clang); run e.g. build/fuzz/fuzz_text tests/fuzz/corpus/text
FUZZ_CC ?= clang
fuzz:
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  echo "$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $$f -> build/fuzz/$$n"; \
	  $(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined \
	    -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -Iinclude -Isrc \
	    $(DEPS_CFLAGS) $$f $(SRC) $(LIBS) -o build/fuzz/$$n || exit 1; done

bench: all
	sh tests/bench/run.sh

# ---- install -------------------------------------------------------------

install: lib cli
	install -d $(DESTDIR)$(libdir) $(DESTDIR)$(includedir) \
	    $(DESTDIR)$(pkgconfigdir) $(DESTDIR)$(bindir)
	install -m 644 include/kefu.h $(DESTDIR)$(includedir)/kefu.h
	install -m 644 $(STATIC) $(DESTDIR)$(libdir)/libkefu.a
	install -m 755 $(SHARED) $(DESTDIR)$(libdir)/libkefu.so.$(VERSION)
	ln -sf libkefu.so.$(VERSION) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(libdir)/libkefu.so
	$(PC_SED) pkgconfig/kefu.pc.in > $(DESTDIR)$(pkgconfigdir)/kefu.pc
	install -m 755 $(CLI) $(DESTDIR)$(bindir)/kefu

uninstall:
	rm -f $(DESTDIR)$(includedir)/kefu.h $(DESTDIR)$(libdir)/libkefu.a \
	    $(DESTDIR)$(libdir)/libkefu.so.$(VERSION) $(DESTDIR)$(libdir)/$(SONAME) \
	    $(DESTDIR)$(libdir)/libkefu.so $(DESTDIR)$(pkgconfigdir)/kefu.pc \
	    $(DESTDIR)$(bindir)/kefu

deps:
	@sh tools/deps.sh

run: all
	sh examples/run-demo.sh

clean:
	rm -rf build lib/libkefu.* lib/kefu.pc
