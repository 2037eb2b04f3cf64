# cutover — see README.md. `make` builds ./cutover.
CC      ?= cc
PKGS    := libarchive libzstd libcrypto yaml-0.1
# libarchive is loaded when an archive is read (src/source/libarchive.c),
# not linked: its dependencies would slow down the start of every command.
LINKED  := libzstd libcrypto yaml-0.1
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
           -Wformat=2 -Werror=implicit-function-declaration -Isrc \
           -include src/util/banned.h $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Everything but glibc is linked statically: the same binary runs as the
# agent on a bare host that has none of these libraries (docs/remote.md).
# http-parser ships no pkg-config file in Debian; link it by name.
STATIC  := $(shell pkg-config --libs --static $(LINKED) 2>/dev/null) -lhttp_parser
LDLIBS  += -Wl,-Bstatic $(filter-out -lpthread -ldl -lc -lm,$(STATIC)) -Wl,-Bdynamic -lpthread -ldl -lm

SRC     := $(sort $(wildcard src/*.c src/*/*.c))
OBJ     := $(SRC:%.c=build/%.o)
LIBOBJ  := $(filter-out build/src/main.o,$(OBJ))
UNIT    := $(patsubst tests/unit/%.c,build/tests/%,$(wildcard tests/unit/test_*.c))

all: cutover

cutover: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

build/tests/%: tests/unit/%.c tests/unit/capture.h $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBOBJ) $(LDLIBS) -lcmocka

deps:
	@scripts/deps.sh build

unit: $(UNIT)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory cutover unit
	@tests/run.sh

demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory cutover
	@examples/demo.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory cutover
	@bench/release-bench.sh

bench-proxy:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory cutover
	@bench/proxy-bench.sh

bench-remote:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory cutover
	@bench/remote-bench.sh

man: docs/cutover.1

docs/cutover.1: docs/cutover.1.scd
	scdoc < $< > $@

clean:
	rm -rf build cutover

.PHONY: all deps unit test demo bench bench-proxy bench-remote man clean
-include $(OBJ:.o=.d)
