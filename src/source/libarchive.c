#include "source/libarchive.h"
#include "util/error.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* libarchive's soname has been .13 since libarchive 3.0 (2011). */
#ifndef LIBARCHIVE_SONAME
#define LIBARCHIVE_SONAME "libarchive.so.13"
#endif

static struct libarchive api;
static char load_error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int sym(void *lib, const char *name, void *slot)
{
	void *f = dlsym(lib, name);
	if (!f) {
		snprintf(load_error, sizeof(load_error), "it has no '%s'", name);
		return -1;
	}
	memcpy(slot, &f, sizeof(f)); /* object pointer to function pointer, as POSIX allows */
	return 0;
}

static void load(void)
{
	void *lib = dlopen(LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *why = dlerror();
		snprintf(load_error, sizeof(load_error), "%s", why ? why : "dlopen failed");
		return;
	}
	if (sym(lib, "archive_read_new", &api.read_new) < 0 ||
	    sym(lib, "archive_read_support_filter_all", &api.read_support_filter_all) < 0 ||
	    sym(lib, "archive_read_support_format_all", &api.read_support_format_all) < 0 ||
	    sym(lib, "archive_read_open_fd", &api.read_open_fd) < 0 ||
	    sym(lib, "archive_read_open_filename", &api.read_open_filename) < 0 ||
	    sym(lib, "archive_read_next_header", &api.read_next_header) < 0 ||
	    sym(lib, "archive_read_data_block", &api.read_data_block) < 0 ||
	    sym(lib, "archive_read_free", &api.read_free) < 0 ||
	    sym(lib, "archive_error_string", &api.error_string) < 0 ||
	    sym(lib, "archive_entry_pathname", &api.entry_pathname) < 0 ||
	    sym(lib, "archive_entry_hardlink", &api.entry_hardlink) < 0 ||
	    sym(lib, "archive_entry_symlink", &api.entry_symlink) < 0 ||
	    sym(lib, "archive_entry_filetype", &api.entry_filetype) < 0 ||
	    sym(lib, "archive_entry_perm", &api.entry_perm) < 0) {
		api.read_new = NULL;
		return;
	}
}

const struct libarchive *libarchive_load(void)
{
	pthread_once(&once, load);
	if (!api.read_new) {
		error("cannot load %s to read archives (%s); install libarchive (Debian: apt-get install libarchive13)",
		      LIBARCHIVE_SONAME, load_error);
		return NULL;
	}
	return &api;
}
