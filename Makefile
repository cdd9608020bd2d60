# zcshim — build, test, demo, install. Outputs go to build/.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
B       := build

WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -D_GNU_SOURCE $(WARN) -fPIC -ftls-model=initial-exec
SHIM_CFLAGS := $(CFLAGS) -fvisibility=hidden -fno-builtin-free -fno-builtin-malloc
LDLIBS  := -ldl -lpthread

SHIM_SRCS  := $(wildcard shim/*.c)
SHIM_OBJS  := $(SHIM_SRCS:%.c=$(B)/obj/%.o)
# core = everything but the exported wrappers and the constructor: linked into tools and unit tests
CORE_OBJS  := $(filter-out $(B)/obj/shim/interpose% $(B)/obj/shim/init.o,$(SHIM_OBJS))
TOOL_SRCS  := $(wildcard tools/*.c)
TOOL_OBJS  := $(TOOL_SRCS:%.c=$(B)/obj/%.o)
TLIB_SRCS  := $(wildcard tests/progs/edges_lib*.c)
PROG_SRCS  := $(filter-out $(TLIB_SRCS),$(wildcard tests/progs/*.c))
PROGS      := $(PROG_SRCS:tests/progs/%.c=$(B)/progs/%) $(TLIB_SRCS:tests/progs/%.c=$(B)/progs/%.so)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNITS      := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)

.PHONY: all deps test unit e2e demo bench asan san install uninstall clean
all: $(B)/libzcshim.so $(B)/zcshim $(PROGS)

deps:
	@tools/install-deps.sh build

$(B)/obj/%.o: %.c $(wildcard shim/*.h tools/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(if $(filter shim/%,$<),$(SHIM_CFLAGS),$(CFLAGS)) -Ishim -c $< -o $@

# The version script and the tests' name list are generated from the one list in shim/exports.h.
$(B)/zcshim.map: shim/zcshim.map.in shim/exports.h
	@mkdir -p $(dir $@)
	$(CC) -E -P -x c -Ishim $< -o $@

$(B)/exports.txt: shim/exports.txt.in shim/exports.h
	@mkdir -p $(dir $@)
	$(CC) -E -P -x c -Ishim $< | tr '@' '\n' | awk 'NF == 2 {print $$1, $$2}' > $@

$(B)/libzcshim.so: $(SHIM_OBJS) $(B)/zcshim.map $(B)/exports.txt
	$(CC) -shared -o $@ $(SHIM_OBJS) -Wl,--version-script=$(B)/zcshim.map -Wl,-z,defs,-z,now $(LDLIBS)

$(B)/zcshim: $(TOOL_OBJS) $(CORE_OBJS)
	$(CC) -o $@ $(TOOL_OBJS) $(CORE_OBJS) -lelf -lcap -ljson-c $(LDLIBS)

# Test programs are built as Debian builds its packages (fortified: the _chk names), so the whole
# end-to-end suite runs against them; PROG_CFLAGS= builds them plain.
PROG_CFLAGS ?= -O2 -D_FORTIFY_SOURCE=2
$(B)/progs/%: tests/progs/%.c $(wildcard tests/progs/*.h) shim/stats.h shim/size.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PROG_CFLAGS) -o $@ $< $(LDLIBS)

# the bench's receiver discards with recv(MSG_TRUNC) past its buffer on purpose: never fortified
$(B)/progs/legacy_client: PROG_CFLAGS =

# fortified: what Debian builds get (the _chk names); -O2 after CFLAGS, fortification needs it
$(B)/progs/fortified: CFLAGS += -O2 -D_FORTIFY_SOURCE=2

# edges_asan: an AddressSanitizer program run under the shim (its allocator owns every pointer)
$(B)/progs/edges_asan: CFLAGS += -fsanitize=address

# tests/progs/edges_lib*.c are small shared libraries preloaded beside the shim (test_edges.sh)
$(B)/progs/%.so: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $< $(LDLIBS)

$(B)/unit/%: tests/unit/%.c $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ishim -o $@ $< $(CORE_OBJS) -lcriterion $(LDLIBS)

# make test: the normal suite, then (tests/run-sanitized.sh) `make san` and the unit tests and a
# subset of the e2e scripts against the ASan+UBSan build. Last line: "test: N passed, N failed".
test:
	@tools/install-deps.sh test
	@$(MAKE) --no-print-directory all $(UNITS)
	@tests/run-sanitized.sh --after-suite tests/run-tests.sh

# Sanitized build in build/san. The flags ride on CC so that they reach the link lines too
# (the shared library is linked with -z defs and needs the sanitizer runtimes).
SAN_B     := build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
san:
	@$(MAKE) --no-print-directory B=$(SAN_B) CC="$(CC) $(SAN_FLAGS)" all $(UNIT_SRCS:tests/unit/%.c=$(SAN_B)/unit/%)

unit: all $(UNITS)
	@tests/run-tests.sh unit

e2e: all
	@tests/run-tests.sh e2e

demo:
	@tools/install-deps.sh demo
	@$(MAKE) --no-print-directory all
	@$(B)/zcshim bench --demo

# the old name: CFLAGS given on the command line replaced the project's own flags (-fPIC...) and
# never reached the link lines
asan: san

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin
	install -m 0644 $(B)/libzcshim.so $(DESTDIR)$(PREFIX)/lib/libzcshim.so
	install -m 0755 $(B)/zcshim $(DESTDIR)$(PREFIX)/bin/zcshim
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	for m in tools/*.1; do [ -f "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man1/ || true; done
	for m in tools/*.5; do [ -f "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man5/ || true; done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libzcshim.so $(DESTDIR)$(PREFIX)/bin/zcshim
	rm -f $(DESTDIR)$(PREFIX)/share/man/man1/zcshim.1 $(DESTDIR)$(PREFIX)/share/man/man5/zcshim.conf.5

clean:
	rm -rf $(B)
