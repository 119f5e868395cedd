# greenshim: one Makefile, readable top to bottom.
#
#   make                 build/libgreenshim.so and the programs of tools/
#   make check           build and run every test (the unit tests also under
#                        ThreadSanitizer, built in build/tsan: group tsan)
#   make check GROUPS='preload lang'
#                        only those groups of tests/run.sh
#   make check SANITIZE=address,undefined
#                        the unit tests under ASan and UBSan (own objects)
#   make demo            the thread-per-connection demo (README's main job)
#   make pydemo          the same load on CPython's ThreadingTCPServer
#   make bench           the runtime's micro-benchmark
#   make soak            the soak and fault runs (about 30 minutes)
#   make deps            install the Debian packages the build needs
#   make install PREFIX=/usr/local LIBDIR=$(PREFIX)/lib DESTDIR=
#   make deb             build/greenshim_VERSION_amd64.deb (debian/), checked by lintian
#   make clean

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
DESTDIR ?=
SANITIZE ?=
CFLAGS ?= -O2 -g
ARCH := $(shell uname -m)
# Debian's multiarch directory name (x86_64-linux-gnu): greenrun also
# looks for the library in PREFIX/lib/MULTIARCH, where the package puts it.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
# The one version: src/greenshim.h's (debian/changelog must agree: make deb).
VERSION := $(shell sed -n 's/^\#define GREENSHIM_VERSION_[A-Z]* \([0-9]*\)/\1/p' src/greenshim.h | paste -sd.)

# DEPS=build checks only what `make` needs (the package build: debian/rules).
DEPS ?= all
DEPS_CHECK := sh tools/deps.sh check $(DEPS)

# -fexceptions: a C++ exception or a thread's cancellation may unwind
# through a wrapper, whose cleanups must run (pthread_once).
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -fexceptions \
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(SANITIZE),)
B := build
SAN_FLAGS :=
else
B := build/san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all \
	-DGS_CHECK_INVARIANTS
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(SAN_FLAGS)

# ---- the runtime (src/) and the interposition (preload/) ----
RT_SRC := $(wildcard src/*.c) $(wildcard src/arch/$(ARCH)/*.c)
RT_ASM := $(wildcard src/arch/$(ARCH)/*.S)
PRELOAD_SRC := $(wildcard preload/*.c)
RT_OBJ := $(RT_SRC:%.c=$(B)/obj/%.o) $(RT_ASM:%.S=$(B)/obj/%.o)
# The runtime's parts greenrun and greenctl link (config.c's parser, and
# what it calls: raw system calls go through switch.S's arch_syscall_libc).
TOOL_RT_OBJ := $(B)/obj/src/config.o $(B)/obj/src/cgroup.o $(B)/obj/src/stack.o $(B)/obj/src/mem.o \
	$(RT_ASM:%.S=$(B)/obj/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(B)/obj/%.o)
HEADERS := $(wildcard src/*.h src/arch/$(ARCH)/*.h preload/*.h)
RT_LIBS := -lev -lunwind -lpthread -ldl

LIB := $(B)/libgreenshim.so
RTLIB := $(B)/libgreenshim-rt.a

# ---- tools/: one program per file or folder ----
TOOLS := $(B)/gs-microbench $(B)/gs-echo-threads $(B)/gs-echo-epoll $(B)/gs-echo-load \
	$(B)/gs-fastpath $(B)/gs-threadbench $(B)/gs-uringbench $(B)/gs-rawbench $(B)/gs-bulk $(B)/gs-uneven $(B)/gs-contend $(B)/gs-sleeper $(B)/gs-killlat \
	$(B)/gs-sigwaitbench $(B)/greenrun $(B)/greenctl

# ---- tests ----
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT := $(B)/tests/unit
PRELOAD_TEST_SRC := $(wildcard tests/preload/*.c)
PRELOAD_TESTS := $(PRELOAD_TEST_SRC:tests/preload/%.c=$(B)/tests/preload/%)
# tests/preload/allocators.c linked with each malloc Debian ships (make
# deps installs them; one whose library is missing is not built, and its
# test says so).
ALLOC_TESTS := $(foreach a,jemalloc tcmalloc mimalloc,$(if $(wildcard /usr/lib/$(ARCH)-linux-gnu/lib$(a).so),$(B)/tests/preload/allocators-$(a))) \
	$(foreach a,jemalloc tcmalloc_minimal,$(if $(wildcard /usr/lib/$(ARCH)-linux-gnu/lib$(a).a),$(B)/tests/preload/allocators-static-$(a)))
# tests/lang: the C program always, the C++ one where g++ is (make deps).
LANG_TESTS := $(B)/tests/lang/thread_state $(B)/tests/lang/cancel $(B)/tests/lang/openmp \
	$(if $(shell command -v g++ 2>/dev/null),$(B)/tests/lang/thread_state_cc) \
	$(if $(shell printf '\#include <gc.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo y),$(B)/tests/lang/boehm_gc)
API_TEST_SRC := $(wildcard tests/api/*.c)
API_TESTS := $(API_TEST_SRC:tests/api/%.c=$(B)/tests/api/%)
# A static program for greenrun to refuse, when glibc's static libc is here.
TOOLS_TESTS := $(if $(wildcard /usr/lib/$(ARCH)-linux-gnu/libc.a),$(B)/tests/tools/hello-static) \
	$(B)/tests/tools/spin $(B)/tests/tools/crowd $(B)/tests/tools/waiters $(B)/tests/tools/late_threads

# ---- the soak and fault runs (tools/soak/): ordinary programs ----
SOAK := $(B)/gs-soak-server $(B)/gs-soak-load $(B)/gs-soak-forks $(B)/gs-soak-sigtarget \
	$(B)/gs-soak-sigsend $(B)/gs-soak-closewait

.PHONY: all check bench soak demo mcdemo pydemo deps depcheck installed install deb clean

ifeq ($(SANITIZE),)
all: $(LIB) $(TOOLS)
check: all $(UNIT) $(PRELOAD_TESTS) $(ALLOC_TESTS) $(API_TESTS) $(LANG_TESTS) $(TOOLS_TESTS) \
		$(B)/tests/fuzz/fdfuzz $(B)/tests/fuzz/fdthreads tsan-unit
	@sh tests/run.sh $(B) $(GROUPS)

# The unit tests under ThreadSanitizer (tests/run.sh's group tsan), in a
# build of their own: $(B)/tsan.
.PHONY: tsan-unit
tsan-unit: | depcheck
	@$(MAKE) --no-print-directory SANITIZE=thread B=$(B)/tsan $(B)/tsan/tests/unit
else
all: $(RTLIB)
check: $(UNIT)
	@sh tests/run.sh $(B) unit
endif

deps:
	@sh tools/deps.sh install

depcheck:
	@$(DEPS_CHECK)

$(B)/obj/%.o: %.c $(HEADERS) | depcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# A wrapper keeps its frame when it ends in a call (no tail call): the
# name the program called (sem_wait, not the helper it jumps to) is what
# stacks and profiles show where the program entered greenshim.
$(PRELOAD_OBJ): ALL_CFLAGS += -fno-optimize-sibling-calls

$(B)/obj/%.o: %.S | depcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The gdb extension rides in the library's .debug_gdb_scripts section, as
# an inline script (kind 4: a first line naming it, the script, a NUL): gdb
# loads it when the program loads the library (tools/gdb/greenshim-gdb.py).
GDB_SCRIPT := tools/gdb/greenshim-gdb.py

$(LIB): $(RT_OBJ) $(PRELOAD_OBJ) $(B)/gdb-inline-script
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-z,now -Wl,-soname,libgreenshim.so -o $@ \
		$(RT_OBJ) $(PRELOAD_OBJ) $(RT_LIBS)
	objcopy --add-section .debug_gdb_scripts=$(B)/gdb-inline-script \
		--set-section-flags .debug_gdb_scripts=contents,readonly $@

$(B)/gdb-inline-script: $(GDB_SCRIPT)
	@mkdir -p $(dir $@)
	{ printf '\004gdb.inlined-script\n'; cat $<; printf '\000'; } >$@

$(RTLIB): $(RT_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/gs-microbench: tools/bench/microbench.c $(RTLIB) $(HEADERS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(RTLIB) $(RT_LIBS)

$(UNIT): $(UNIT_SRC) tests/unit/unit.h $(HEADERS) $(RTLIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $(UNIT_SRC) $(RTLIB) $(CHECK_LIBS) $(RT_LIBS)

# Ordinary programs: built with no knowledge of greenshim, never linked to it.
$(B)/tests/preload/%: tests/preload/%.c tests/preload/case.h tests/preload/ticker.h | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -pthread -o $@ $<

# The libraries tests/preload/late_code loads with dlopen, beside it.
$(B)/tests/preload/late_code: $(B)/tests/preload/libgs_late.so $(B)/tests/preload/libgs_late_ctor.so
$(B)/tests/preload/libgs_%.so: tests/preload/lib/%.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -o $@ $<

# liburing's programs (make deps installs liburing-dev: its header is
# also the library's, preload/uring.c).
$(B)/tests/preload/uring_waits $(B)/tests/preload/raw_syscalls: $(B)/tests/preload/%: \
		tests/preload/%.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -luring

# The descriptor layer's fuzzers (one thread, compared with native; many
# threads, invariants): ordinary programs.
$(B)/tests/fuzz/fdfuzz $(B)/tests/fuzz/fdthreads: $(B)/tests/fuzz/%: tests/fuzz/%.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

# ... and with the allocator's archive linked into the executable itself.
$(B)/tests/preload/allocators-static-%: tests/preload/allocators.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< \
		/usr/lib/$(ARCH)-linux-gnu/lib$*.a -lstdc++ -lm -ldl

$(B)/tests/preload/allocators-%: tests/preload/allocators.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -l$*

$(B)/tests/lang/thread_state $(B)/tests/lang/cancel: $(B)/tests/lang/%: tests/lang/%.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/tests/lang/openmp: tests/lang/openmp.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -fopenmp -o $@ $<

$(B)/tests/lang/boehm_gc: tests/lang/boehm_gc.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -lgc

$(B)/tests/lang/thread_state_cc: tests/lang/thread_state.cc | depcheck
	@mkdir -p $(dir $@)
	g++ -std=c++20 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

# greenrun checks values with the library's own parser (config.c) and
# draws --profile's flame graph with greenctl's renderer (flame.c).
$(B)/greenrun: tools/greenrun/greenrun.c tools/greenctl/flame.c tools/greenctl/flame.h $(TOOL_RT_OBJ) $(HEADERS)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) $(LDFLAGS) $(if $(MULTIARCH),-DGREENRUN_MULTIARCH='"$(MULTIARCH)"') -o $@ $< \
		tools/greenctl/flame.c $(TOOL_RT_OBJ) -ldl -lm

# greenctl parses profile kinds and names their files with the library's
# own functions (config.c), as greenrun does.
$(B)/greenctl: tools/greenctl/greenctl.c tools/greenctl/flame.c tools/greenctl/flame.h $(TOOL_RT_OBJ) $(HEADERS) | depcheck
	$(CC) -std=gnu11 -D_GNU_SOURCE $(filter-out -fPIC -fvisibility=hidden,$(BASE_CFLAGS)) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ tools/greenctl/greenctl.c tools/greenctl/flame.c $(TOOL_RT_OBJ) -ldl -lm

$(B)/tests/tools/spin: tests/tools/spin.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/tests/tools/waiters: tests/tools/waiters.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

# The library late_threads loads with dlopen, beside it.
$(B)/tests/tools/late_threads: tests/tools/late_threads.c $(B)/tests/tools/libgs_late_loop.so | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -ldl

$(B)/tests/tools/libgs_late_loop.so: tests/tools/late_loop.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -shared -fPIC -o $@ $<

# -O0: the gdb extension's test prints its start routines' locals.
$(B)/tests/tools/crowd: tests/tools/crowd.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O0 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/tests/tools/hello-static: tests/tools/hello.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -static -o $@ $<

# The demo's servers and load, the fast-path probe: ordinary programs,
# never linked to greenshim.
$(B)/gs-fastpath: tools/bench/fastpath.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -o $@ $<

$(B)/gs-threadbench: tools/bench/threadbench.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-uneven: tools/bench/uneven.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-sleeper: tools/bench/sleeper.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-killlat: tools/bench/killlat.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-sigwaitbench: tools/bench/sigwaitbench.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-contend: tools/bench/contend.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-rawbench: tools/bench/rawbench.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-bulk: tools/bench/bulk.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-uringbench: tools/bench/uringbench.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -luring

$(B)/gs-soak-%: tools/soak/%.c tools/soak/procself.h | depcheck
	$(CC) -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-echo-%: tools/bench/echo_%.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

# Programs written against the public API, linked to the shared library.
$(B)/tests/api/%: tests/api/%.c src/greenshim.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -Isrc -o $@ $< -L$(B) -lgreenshim \
		-Wl,-rpath,$(abspath $(B))

bench: all $(B)/tests/tools/late_threads
	$(B)/gs-microbench
	@echo
	sh tools/bench/sidebyside.sh $(B) gs-fastpath
	@echo
	sh tools/bench/sidebyside.sh $(B) gs-threadbench
	@echo
	sh tools/bench/sidebyside.sh $(B) gs-uringbench
	@echo
	sh tools/bench/sidebyside.sh $(B) gs-rawbench
	@echo
	sh tools/bench/bulk.sh $(B)
	@echo
	sh tools/bench/contend.sh $(B)
	@echo
	sh tools/bench/late.sh $(B) 1
	@echo
	sh tools/bench/killlat.sh $(B) 2
	@echo
	sh tools/bench/sigwait.sh $(B) 2

soak: all $(SOAK)
	sh tools/soak/run.sh $(B) all

demo: all
	sh tools/bench/demo.sh $(B)

mcdemo: all
	sh tools/bench/memcached.sh $(B)

pydemo: all
	sh tools/bench/pyecho.sh $(B)
	@echo
	sh tools/bench/gil.sh $(B)

# The library, greenrun and greenctl, the header, pkg-config's file (for
# programs built against the API), the man pages of what is installed, the
# docs and the systemd examples (docs/SYSTEMD.md). The benchmark programs (gs-*) stay in the build tree. The
# Debian package is this, with PREFIX=/usr and LIBDIR the multiarch
# directory (debian/rules).
INSTALLED := $(LIB) $(B)/greenrun $(B)/greenctl

# make installed: only what make install installs (the package's build).
installed: $(INSTALLED)

# gdb looks for OBJFILE-gdb.py under its auto-load directory followed by
# the object's own path (/usr/share/gdb/auto-load/usr/lib/x86_64-linux-gnu/
# for the package's library).
GDB_AUTOLOAD = $(PREFIX)/share/gdb/auto-load$(LIBDIR)

install: $(INSTALLED)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/doc/greenshim/examples/systemd \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
		$(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(B)/greenrun $(B)/greenctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 src/greenshim.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		tools/greenshim.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/greenshim.pc
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/greenshim/
	install -m 0644 tools/systemd/* $(DESTDIR)$(PREFIX)/share/doc/greenshim/examples/systemd/
	install -m 0644 man/greenrun.1 man/greenctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 0644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -d $(DESTDIR)$(GDB_AUTOLOAD)
	install -m 0644 $(GDB_SCRIPT) $(DESTDIR)$(GDB_AUTOLOAD)/libgreenshim.so-gdb.py

# dpkg-buildpackage writes beside the source tree it is run in: it runs in
# a copy of the tracked (and new, not ignored) files under build/deb/ (of
# everything but build/ outside a git checkout), so that everything it
# writes stays in build/. Unsigned (-us -uc).
DEB := $(B)/greenshim_$(VERSION)_amd64.deb
DEB_SRC := $(B)/deb/greenshim-$(VERSION)

deb:
	@sh tools/deps.sh check deb
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] || \
		{ echo "debian/changelog says $$v, src/greenshim.h $(VERSION): add a changelog entry (dch -v $(VERSION))" >&2; exit 1; }
	rm -rf $(B)/deb
	mkdir -p $(DEB_SRC)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -; \
	else \
		tar --exclude=./build -cf - .; \
	fi | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc
	cp $(B)/deb/greenshim_$(VERSION)_amd64.deb $(DEB)
	lintian --fail-on error,warning $(B)/deb/greenshim_$(VERSION)_amd64.changes
	@echo "$(DEB)"

clean:
	rm -rf build
