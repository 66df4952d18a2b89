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
** corrupt and rebuilt.  Writes go to a unique temporary file in the same
** directory, are fsync'd and then renamed over the entry, so concurrent
** processes sharing one cache only ever see complete entries.
*/
#ifndef CLGRAD_CACHE_H
#define CLGRAD_CACHE_H
#include <stddef.h>

/* Resolve the cache directory into out (n bytes); returns 0 if none can be found. */
int clgrad_cache_dir_default(char *out, size_t n);
/* Create dir and its parents; 0 on success, else errno. */
int clgrad_mkdirs(const char *dir);

/* 1: found and valid (*data malloc'd); 0: absent; -1: present but corrupt
** (why says how).  why gets a short reason in every non-1 case. */
int clgrad_cache_load(const char *dir, const unsigned char key[32], unsigned char **data, size_t *len,
                      char *why, size_t nwhy);
/* 0 on success; else -1 with why. */
int clgrad_cache_store(const char *dir, const unsigned char key[32], const unsigned char *data,
                       size_t len, char *why, size_t nwhy);
/* The entry's path for key (for tests and messages). */
void clgrad_cache_entry_path(const char *dir, const unsigned char key[32], char *out, size_t n);
#endif
