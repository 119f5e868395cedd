# greenshim: one Makefile, readable top to bottom.
#
#   make                 build/libgreenshim.so and the programs of tools/
#   make check           build and run every test
#   make check SANITIZE=address,undefined
#                        the unit tests under ASan and UBSan (own objects)
#   make demo            the thread-per-connection demo (README's main job)
#   make pydemo          the same load on CPython's ThreadingTCPServer
#   make bench           the runtime's micro-benchmark
#   make soak            the soak and fault runs (about 30 minutes)
#   make deps            install the Debian packages the build needs
#   make install PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=
CFLAGS ?= -O2 -g
ARCH := $(shell uname -m)

DEPS_CHECK := sh tools/deps.sh check

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
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(SAN_FLAGS)

# ---- the runtime (src/) and the interposition (preload/) ----
RT_SRC := $(wildcard src/*.c) $(wildcard src/arch/$(ARCH)/*.c)
RT_ASM := $(wildcard src/arch/$(ARCH)/*.S)
PRELOAD_SRC := $(wildcard preload/*.c)
RT_OBJ := $(RT_SRC:%.c=$(B)/obj/%.o) $(RT_ASM:%.S=$(B)/obj/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(B)/obj/%.o)
HEADERS := $(wildcard src/*.h src/arch/$(ARCH)/*.h preload/*.h)
RT_LIBS := -lev -lunwind -lpthread -ldl

LIB := $(B)/libgreenshim.so
RTLIB := $(B)/libgreenshim-rt.a

# ---- tools/: one program per file or folder ----
TOOLS := $(B)/gs-microbench $(B)/gs-echo-threads $(B)/gs-echo-epoll $(B)/gs-echo-load \
	$(B)/gs-fastpath $(B)/gs-threadbench $(B)/gs-uringbench $(B)/gs-rawbench $(B)/greenrun $(B)/greenctl

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
	$(if $(shell command -v g++ 2>/dev/null),$(B)/tests/lang/thread_state_cc)
API_TEST_SRC := $(wildcard tests/api/*.c)
API_TESTS := $(API_TEST_SRC:tests/api/%.c=$(B)/tests/api/%)
# A static program for greenrun to refuse, when glibc's static libc is here.
TOOLS_TESTS := $(if $(wildcard /usr/lib/$(ARCH)-linux-gnu/libc.a),$(B)/tests/tools/hello-static) \
	$(B)/tests/tools/spin

# ---- the soak and fault runs (tools/soak/): ordinary programs ----
SOAK := $(B)/gs-soak-server $(B)/gs-soak-load $(B)/gs-soak-forks $(B)/gs-soak-sigtarget \
	$(B)/gs-soak-sigsend $(B)/gs-soak-closewait

.PHONY: all check bench soak demo mcdemo pydemo deps depcheck install clean

ifeq ($(SANITIZE),)
all: $(LIB) $(TOOLS)
check: all $(UNIT) $(PRELOAD_TESTS) $(ALLOC_TESTS) $(API_TESTS) $(LANG_TESTS) $(TOOLS_TESTS) \
		$(B)/tests/fuzz/fdfuzz
	@sh tests/run.sh $(B)
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

$(B)/obj/%.o: %.S | depcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(RT_OBJ) $(PRELOAD_OBJ)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-z,now -Wl,-soname,libgreenshim.so -o $@ $^ $(RT_LIBS)

$(RTLIB): $(RT_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/gs-microbench: tools/bench/microbench.c $(RTLIB) $(HEADERS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(RTLIB) $(RT_LIBS)

$(UNIT): $(UNIT_SRC) tests/unit/unit.h $(RTLIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $(UNIT_SRC) $(RTLIB) $(CHECK_LIBS) $(RT_LIBS)

# Ordinary programs: built with no knowledge of greenshim, never linked to it.
$(B)/tests/preload/%: tests/preload/%.c tests/preload/case.h tests/preload/ticker.h | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -pthread -o $@ $<

# liburing's programs (make deps installs liburing-dev: its header is
# also the library's, preload/uring.c).
$(B)/tests/preload/uring_waits $(B)/tests/preload/raw_syscalls: $(B)/tests/preload/%: \
		tests/preload/%.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -luring

# The descriptor layer's differential fuzzer: an ordinary program.
$(B)/tests/fuzz/fdfuzz: tests/fuzz/fdfuzz.c | depcheck
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

$(B)/tests/lang/thread_state_cc: tests/lang/thread_state.cc | depcheck
	@mkdir -p $(dir $@)
	g++ -std=c++20 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

# greenrun checks values with the library's own parser (config.c) and
# draws --profile's flame graph with greenctl's renderer (flame.c).
$(B)/greenrun: tools/greenrun/greenrun.c tools/greenctl/flame.c tools/greenctl/flame.h \
		$(B)/obj/src/config.o $(B)/obj/src/stack.o $(B)/obj/src/mem.o $(HEADERS)
	$(CC) $(ALL_CFLAGS) -o $@ $< tools/greenctl/flame.c $(B)/obj/src/config.o $(B)/obj/src/stack.o \
		$(B)/obj/src/mem.o -ldl

$(B)/greenctl: tools/greenctl/greenctl.c tools/greenctl/flame.c tools/greenctl/flame.h | depcheck
	$(CC) -std=gnu11 -D_GNU_SOURCE $(filter-out -fPIC -fvisibility=hidden,$(BASE_CFLAGS)) $(CFLAGS) \
		-o $@ tools/greenctl/greenctl.c tools/greenctl/flame.c

$(B)/tests/tools/spin: tests/tools/spin.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/tests/tools/hello-static: tests/tools/hello.c | depcheck
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -static -o $@ $<

# The demo's servers and load, the fast-path probe: ordinary programs,
# never linked to greenshim.
$(B)/gs-fastpath: tools/bench/fastpath.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -o $@ $<

$(B)/gs-threadbench: tools/bench/threadbench.c | depcheck
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

$(B)/gs-rawbench: tools/bench/rawbench.c | depcheck
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

bench: all
	$(B)/gs-microbench
	@echo
	sh tools/bench/sidebyside.sh $(B) gs-fastpath
	@echo
	sh tools/bench/sidebyside.sh $(B) gs-threadbench
	@echo
	sh tools/bench/sidebyside.sh $(B) gs-uringbench
	@echo
	sh tools/bench/sidebyside.sh $(B) gs-rawbench

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

# pkg-config's file, for programs built against the API (greenshim.h).
VERSION := $(shell sed -n 's/^\#define GREENSHIM_VERSION_[A-Z]* \([0-9]*\)/\1/p' src/greenshim.h | paste -sd.)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/doc/greenshim \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
		$(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 src/greenshim.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/greenshim.pc.in \
		>$(DESTDIR)$(PREFIX)/lib/pkgconfig/greenshim.pc
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/greenshim/
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 0644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/

clean:
	rm -rf build
