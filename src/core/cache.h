/*
** cache.h: the on-disk cache of OpenCL program binaries.
**
** Where: $CLGRAD_CACHE_DIR, else $XDG_CACHE_HOME/clgrad, else
** $HOME/.cache/clgrad.  Disabled by --no-cache or CLGRAD_NO_CACHE=1.
** Key: SHA-256 over a format tag, the assembled program source, the build
** options, and the platform name and version, device name, device version,
** vendor and driver version; so a new driver, source or option never reuses
** an old binary.  Entry file <dir>/<key hex>.bin:
**     "CLGRADKC" | u32 version | key[32] | u64 payload length | sha256(payload)[32] | payload
** An entry is loaded only if every field checks out (magic, version, key,
** length equal to the file's real size, digest); anything else is reported as
** corrupt and rebuilt.  Writes go to a new temporary file with an
** unpredictable name in the same directory (fsutil.h), are fsync'd and then
** renamed over the entry, so concurrent processes sharing one cache only ever
** see complete entries.  A cache directory or entry another user could have
** written is not used (a warning, then the kernels are compiled).
*/
#ifndef CLGRAD_CACHE_H
#define CLGRAD_CACHE_H
#include <stddef.h>

/* Resolve the cache directory into out (n bytes); returns 0 if none can be found. */
int clgrad_cache_dir_default(char *out, size_t n);
/* Create dir and its parents; 0 on success, else errno. */
int clgrad_mkdirs(const char *dir);

/* Whether dir may be used (ssh's rule): missing, or a directory owned by the
** user (or root) that neither group nor others can write; else 0 with why.
** Entries must be regular files owned by the user, not group/other-writable,
** not symlinks: clgrad_cache_load reports others as untrusted (-2). */
int clgrad_cache_dir_trusted(const char *dir, char *why, size_t nwhy);
/* 1: found and valid (*data malloc'd); 0: absent; -1: present but corrupt
** (why says how); -2: present but untrusted (see above).  why gets a short
** reason in every non-1 case. */
int clgrad_cache_load(const char *dir, const unsigned char key[32], unsigned char **data, size_t *len,
                      char *why, size_t nwhy);
/* 0 on success; else -1 with why. */
int clgrad_cache_store(const char *dir, const unsigned char key[32], const unsigned char *data,
                       size_t len, char *why, size_t nwhy);
/* The entry's path for key (for tests and messages). */
void clgrad_cache_entry_path(const char *dir, const unsigned char key[32], char *out, size_t n);
#endif
