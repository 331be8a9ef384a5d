# fuzzing/fuzz.mk - builds the libFuzzer harnesses with clang, apart from the
# normal (gcc) build: its own objects of ublkd's sources, in OUT.
# `make fuzz-build` (Makefile.am) runs it with these set:
#   SRCDIR    the source tree (absolute)
#   OUT       where everything goes (absolute), e.g. BUILDDIR/build-fuzz
#   CONFIG_H  the configured tree's config.h (absolute)
#   DEP_CFLAGS, DEP_LIBS, NBD_CFLAGS, NBD_LIBS  from configure (pkg-config)
# A harness is a file fuzzing/fuzz-NAME.c; it becomes OUT/fuzz-NAME.

CC = clang
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
WARN = -Wall -Wextra -Werror -Wno-unused-parameter -Wmissing-prototypes -Wshadow -Wformat=2
# PLUGINDIR and RUNSTATEDIR point nowhere: a harness loads only the
# plugins built here (UBLKD_PLUGIN_DIR) and keeps state in its scratch
# directory (UBLKD_RUNDIR), never the system's.
CPPFLAGS = -include $(CONFIG_H) -I$(SRCDIR)/include -I$(SRCDIR)/lib -I$(SRCDIR)/ublkd \
	-DPLUGINDIR='"/nonexistent/ublkd-fuzz/plugins"' -DSBINDIR='"/nonexistent/ublkd-fuzz"' \
	-DSYSCONFDIR='"/nonexistent/ublkd-fuzz/etc"' -DRUNSTATEDIR='"/nonexistent/ublkd-fuzz/run"' \
	-DFUZZ_PLUGIN_DIR='"$(OUT)/plugins"'
CFLAGS = -std=gnu11 -g -O1 -pthread $(WARN) $(SAN) $(DEP_CFLAGS) $(NBD_CFLAGS)

# Everything of the daemon but its main(), and lib/; the CLI (ublkd/cli*.c,
# ublkd/upgrade.c) is a program of its own.
DAEMON_SRCS = $(filter-out %/main.c %/cli.c %/cli-stat.c %/upgrade.c,$(wildcard $(SRCDIR)/ublkd/*.c)) \
	$(wildcard $(SRCDIR)/lib/*.c)
DAEMON_OBJS = $(patsubst $(SRCDIR)/%.c,$(OUT)/obj/%.o,$(DAEMON_SRCS))
COMMON_OBJ = $(OUT)/obj/fuzzing/common.o
NAMES = $(patsubst $(SRCDIR)/fuzzing/fuzz-%.c,%,$(wildcard $(SRCDIR)/fuzzing/fuzz-*.c))
HARNESSES = $(addprefix $(OUT)/fuzz-,$(NAMES))
PLUGINS = $(addprefix $(OUT)/plugins/,null.so loop.so nbd.so)

all: check-clang $(HARNESSES) $(PLUGINS)

# One line naming what is missing, rather than a compiler's or linker's error.
FUZZER_LIB = $(shell $(CC) -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-$(shell uname -m).a
check-clang:
	@command -v $(CC) >/dev/null || { echo "make fuzz: no $(CC); install it: apt-get install clang libclang-rt-dev (scripts/deps.txt)" >&2; exit 1; }
	@test -f $(FUZZER_LIB) || { echo "make fuzz: $(CC) has no libFuzzer ($(FUZZER_LIB)); install it: apt-get install libclang-rt-dev (scripts/deps.txt)" >&2; exit 1; }
.SECONDEXPANSION:

$(OUT)/obj/%.o: $(SRCDIR)/%.c
	@mkdir -p $(@D)
	@echo "  CLANG    $*.c"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

# -rdynamic: the plugins bind to the executable's target API, and the
# nbd plugin to common.c's libnbd stubs.
$(OUT)/fuzz-%: $(OUT)/obj/fuzzing/fuzz-%.o $(COMMON_OBJ) $(DAEMON_OBJS)
	@echo "  LINK     fuzz-$*"
	@$(CC) $(CFLAGS) -fsanitize=fuzzer -rdynamic -o $@ $^ $(DEP_LIBS) -ldl

# The plugins, instrumented too; they get ASan's runtime from the harness.
# A plugin is every .c of its targets/NAME/ folder.
plugin_objs = $(patsubst $(SRCDIR)/targets/$(1)/%.c,$(OUT)/obj/targets/$(1)/%.o,\
	$(wildcard $(SRCDIR)/targets/$(1)/*.c))
$(OUT)/plugins/%.so: $$(call plugin_objs,$$*)
	@mkdir -p $(@D)
	@echo "  LINK     plugins/$*.so"
	@$(CC) $(CFLAGS) -shared -o $@ $^ $(if $(filter nbd,$*),$(NBD_LIBS))
$(OUT)/obj/targets/%.o: $(SRCDIR)/targets/%.c
	@mkdir -p $(@D)
	@echo "  CLANG    targets/$*.c"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

.PHONY: all check-clang
.SECONDARY:
-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)
