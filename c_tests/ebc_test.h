/*
 * Shared helpers of the C tests; include it before any system header (it
 * selects POSIX 2008). Valid C11 and C++17: every test_*.c is
 * also compiled as C++.
 *
 * CHECK(cond)                    fails the test unless cond holds.
 * CHECK_OK(call, err)            call must return EBC_OK.
 * CHECK_FAIL(call, status, err)  call must return status and, when err is
 *                                given, fill err with that status and a
 *                                message; the error is left in err.
 * On failure they print file:line, what failed and the ebc_error message
 * (when there is one), and exit(1).
 */
#ifndef EBC_TEST_H
#define EBC_TEST_H

#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ebc.h"

#ifndef EBC_TEST_WETH9
#error "EBC_TEST_WETH9 (path of the WETH9 runtime code) must be defined"
#endif

/* keccak256 and SHA-256 of the WETH9 runtime code (3124 bytes). */
#define T_WETH9_SIZE 3124u
#define T_WETH9_CODE_HASH "d0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23"
#define T_WETH9_SHA256 "5566bf50796faf93c9b6f6adacd3b32c70bfe16b48ffc59db6cd144cbdc89739"

static inline void t_print_error(const ebc_error *err) {
    if (err != NULL) {
        fprintf(stderr, "  ebc_error: %s: %s\n", ebc_status_name(ebc_error_status(err)),
                ebc_error_message(err));
    }
}

static inline void t_fail(const char *file, int line, const char *what, const ebc_error *err) {
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
    t_print_error(err);
    fflush(stderr);
    exit(1);
}

static inline void t_fail_status(const char *file, int line, const char *call, ebc_status got,
                                 ebc_status want, const ebc_error *err) {
    fprintf(stderr, "%s:%d: CHECK failed: %s\n  returned %s (%u), expected %s (%u)\n", file,
            line, call, ebc_status_name(got), (unsigned)got, ebc_status_name(want),
            (unsigned)want);
    t_print_error(err);
    fflush(stderr);
    exit(1);
}

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) t_fail(__FILE__, __LINE__, #cond, NULL);                                 \
    } while (0)

/* CHECK that also prints `err`'s message (a const ebc_error *, may be NULL). */
#define CHECK_E(cond, err)                                                                    \
    do {                                                                                      \
        if (!(cond)) t_fail(__FILE__, __LINE__, #cond, (err));                                \
    } while (0)

#define CHECK_OK(call, err)                                                                   \
    do {                                                                                      \
        ebc_status got_ = (call);                                                             \
        if (got_ != EBC_OK) t_fail_status(__FILE__, __LINE__, #call, got_, EBC_OK, (err));   \
    } while (0)

/* `call` must fail with `want`, and `err` (the variable whose address the
   call was given) must then hold an error object with the same status and a
   non-empty message. It is left in `err` for the caller to inspect; free it
   with t_clear. */
#define CHECK_FAIL(call, want, err)                                                           \
    do {                                                                                      \
        ebc_status got_ = (call);                                                             \
        if (got_ != (ebc_status)(want))                                                       \
            t_fail_status(__FILE__, __LINE__, #call, got_, (ebc_status)(want), (err));        \
        t_check_error_object(__FILE__, __LINE__, #call, (err), (ebc_status)(want));           \
    } while (0)

/* `call` (which takes no error object) must fail with `want`. */
#define CHECK_FAIL_NOERR(call, want)                                                          \
    do {                                                                                      \
        ebc_status got_ = (call);                                                             \
        if (got_ != (ebc_status)(want))                                                       \
            t_fail_status(__FILE__, __LINE__, #call, got_, (ebc_status)(want), NULL);         \
    } while (0)

static inline void t_check_error_object(const char *file, int line, const char *call,
                                        const ebc_error *err, ebc_status want) {
    const char *msg = ebc_error_message(err);
    if (err == NULL) {
        fprintf(stderr, "%s:%d: CHECK failed: %s\n  returned %s but left no ebc_error\n", file,
                line, call, ebc_status_name(want));
        exit(1);
    }
    if (ebc_error_status(err) != want || msg == NULL || msg[0] == '\0') {
        fprintf(stderr, "%s:%d: CHECK failed: %s\n  its ebc_error does not match %s\n", file,
                line, call, ebc_status_name(want));
        t_print_error(err);
        exit(1);
    }
}

/* Frees *err and sets it to NULL. */
static inline void t_clear(ebc_error **err) {
    ebc_error_free(*err);
    *err = NULL;
}

/* CHECK that the message of `err` contains `needle`. */
#define CHECK_MSG(err, needle)                                                                \
    do {                                                                                      \
        const char *msg_ = ebc_error_message(err);                                            \
        if (msg_ == NULL || strstr(msg_, (needle)) == NULL) {                                 \
            fprintf(stderr, "  message lacks \"%s\"\n", (needle));                            \
            t_fail(__FILE__, __LINE__, "error message contains " #needle, (err));             \
        }                                                                                     \
    } while (0)

/* An address whose 20 bytes are all `fill`, with `index` in the last two. */
static inline ebc_address t_addr(uint8_t fill, uint16_t index) {
    ebc_address a;
    memset(a.bytes, fill, sizeof a.bytes);
    a.bytes[18] = (uint8_t)(index >> 8);
    a.bytes[19] = (uint8_t)(index & 0xff);
    return a;
}

static inline int t_addr_eq(const ebc_address *a, const ebc_address *b) {
    return memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

/* Lower-case hex of `len` bytes into `out` (room for 2 * len + 1). */
static inline void t_hex(const uint8_t *bytes, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

/* True when `h` is the hash written as 64 hex digits in `hex`. */
static inline int t_hash_is(const ebc_hash *h, const char *hex) {
    char buf[65];
    t_hex(h->bytes, sizeof h->bytes, buf);
    return strcmp(buf, hex) == 0;
}

/* Parses 64 hex digits into `out`; exits on malformed input. */
static inline void t_parse_hash(const char *hex, ebc_hash *out) {
    size_t i;
    CHECK(strlen(hex) == 64);
    for (i = 0; i < 32; i++) {
        char pair[3];
        char *end = NULL;
        pair[0] = hex[2 * i];
        pair[1] = hex[2 * i + 1];
        pair[2] = '\0';
        out->bytes[i] = (uint8_t)strtoul(pair, &end, 16);
        CHECK(end == pair + 2);
    }
}

/* ebc_load with a NUL-terminated URI (NULL: the default source). */
static inline ebc_status t_load(ebc_manager *m, const ebc_address *a, const char *uri,
                                const ebc_load_options *o, const ebc_bytecode **out,
                                ebc_error **err) {
    return ebc_load(m, a, uri, uri == NULL ? 0 : strlen(uri), o, out, err);
}

/* ebc_manager_put_memory with a NUL-terminated name and data. */
static inline ebc_status t_put_text(ebc_manager *m, const char *name, const char *text) {
    return ebc_manager_put_memory(m, name, strlen(name), (const uint8_t *)text, strlen(text),
                                  NULL);
}

/* The code of `b` equals `len` bytes at `want`. */
static inline int t_code_is(const ebc_bytecode *b, const uint8_t *want, size_t len) {
    size_t got_len = 0;
    const uint8_t *got = ebc_bytecode_code(b, &got_len);
    return got != NULL && got_len == len && memcmp(got, want, len) == 0;
}

/* A fresh manager from `config` (NULL: development preset); exits on failure. */
static inline ebc_manager *t_manager(const ebc_config *config) {
    ebc_manager *m = NULL;
    ebc_error *err = NULL;
    CHECK_OK(ebc_manager_new(config, &m, &err), err);
    CHECK(m != NULL);
    return m;
}

/* A manager from `preset` with `level`, `max_cached` entries (0: keep) and
   `max_size` code bytes (0: keep). */
static inline ebc_manager *t_manager_with(uint32_t preset, uint32_t level, uint32_t max_cached,
                                          size_t max_size) {
    ebc_config *c = ebc_config_new(preset);
    ebc_manager *m;
    CHECK(c != NULL);
    CHECK_OK(ebc_config_set_security_level(c, level), NULL);
    if (max_cached != 0) CHECK_OK(ebc_config_set_max_cached_contracts(c, max_cached), NULL);
    if (max_size != 0) CHECK_OK(ebc_config_set_max_contract_size(c, max_size), NULL);
    m = t_manager(c);
    ebc_config_free(c);
    return m;
}

/* Sleeps `ms` milliseconds. */
static inline void t_sleep_ms(unsigned ms) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A private temporary directory, removed (with the files t_write_file
   made in it) by t_tmpdir_remove. */
typedef struct t_tmpdir {
    char path[256];
    char files[32][320];
    int nfiles;
} t_tmpdir;

static inline void t_tmpdir_make(t_tmpdir *d) {
    const char *base = getenv("TMPDIR");
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s/ebc_c_test_XXXXXX",
             (base != NULL && base[0] != '\0') ? base : "/tmp");
    CHECK(mkdtemp(d->path) != NULL);
}

/* Writes `len` bytes to `<dir>/<name>` and returns its path (owned by `d`). */
static inline const char *t_write_file(t_tmpdir *d, const char *name, const void *data,
                                       size_t len) {
    FILE *f;
    char *path;
    CHECK(d->nfiles < 32);
    path = d->files[d->nfiles++];
    snprintf(path, 320, "%s/%s", d->path, name);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (len > 0) CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
    return path;
}

static inline void t_tmpdir_remove(t_tmpdir *d) {
    int i;
    for (i = 0; i < d->nfiles; i++) unlink(d->files[i]);
    rmdir(d->path);
}

/* Reads a whole file into a malloc'd buffer; exits on failure. */
static inline uint8_t *t_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    size = ftell(f);
    CHECK(size >= 0);
    CHECK(fseek(f, 0, SEEK_SET) == 0);
    buf = (uint8_t *)malloc((size_t)size + 1);
    CHECK(buf != NULL);
    CHECK(fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* An integer from the environment, or `fallback`. */
static inline long t_env_long(const char *name, long fallback) {
    const char *v = getenv(name);
    char *end = NULL;
    long n;
    if (v == NULL || v[0] == '\0') return fallback;
    n = strtol(v, &end, 10);
    return (end != NULL && *end == '\0' && n > 0) ? n : fallback;
}

#endif /* EBC_TEST_H */
