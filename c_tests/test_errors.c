/*
 * Every error status a host can meet, each from the situation that causes
 * it, with the error object's status and message checked. After every
 * failure the manager must stay usable (a good load succeeds) and the
 * failed address must not be cached.
 */
#include "ebc_test.h"

static const uint8_t GOOD[] = {0x60, 0x01, 0x60, 0x02, 0x01, 0x00};
static uint16_t next_index = 1;

/* The manager still loads good code, at a fresh address. */
static void check_usable(ebc_manager *m, int line) {
    ebc_address a = t_addr(0x99, next_index++);
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_status s;
    CHECK_OK(ebc_manager_put_memory(m, "good", 4, GOOD, sizeof GOOD, &err), err);
    s = t_load(m, &a, "mem:good", NULL, &b, &err);
    if (s != EBC_OK || !t_code_is(b, GOOD, sizeof GOOD)) {
        fprintf(stderr, "manager unusable after the failure checked at line %d\n", line);
        CHECK_OK(s, err);
        CHECK(t_code_is(b, GOOD, sizeof GOOD));
    }
    ebc_release(b);
}
#define CHECK_USABLE(m) check_usable((m), __LINE__)

/* A failed load of `a` left nothing behind. */
#define CHECK_NOT_CACHED(m, a)                                                                \
    do {                                                                                      \
        const ebc_bytecode *c_ = ebc_get((m), (a));                                           \
        CHECK(c_ == NULL);                                                                    \
    } while (0)

/* A callback loader whose behaviour is chosen by the URI's rest. */
static ebc_status scripted_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    const char *what = req->uri + 5; /* after "test:" */
    size_t n = req->uri_len - 5;
    uint8_t big[512];
    (void)user_data;
    memset(big, 0, sizeof big);
#define IS(s) (n == strlen(s) && memcmp(what, (s), n) == 0)
    if (IS("too-large-then-ok")) {
        /* Past the cap (100 bytes of code: 2*100 + 100/8 + 64 = 276 raw bytes). */
        ebc_status s1 = ebc_sink_write(sink, big, 200);
        ebc_status s2 = ebc_sink_write(sink, big, 200);
        ebc_status s3 = ebc_sink_write(sink, big, 1); /* the refusal sticks */
        if (s1 != EBC_OK || s2 != EBC_TOO_LARGE || s3 != EBC_TOO_LARGE) return EBC_PANIC;
        return EBC_OK; /* lies: the load must still fail */
    }
    if (IS("io")) {
        ebc_sink_write(sink, GOOD, 2);
        return EBC_IO;
    }
    if (IS("not-found")) return EBC_NOT_FOUND;
    if (IS("unknown-status")) return 999;
    if (IS("sleep-then-ok")) {
        /* Sleep past the time limit, then claim success without writing. */
        t_sleep_ms((unsigned)req->timeout_ms * 3 + 20);
        return EBC_OK;
    }
    if (IS("sleep-then-write")) {
        ebc_status s;
        t_sleep_ms((unsigned)req->timeout_ms * 3 + 20);
        s = ebc_sink_write(sink, GOOD, sizeof GOOD);
        return s == EBC_TIMEOUT ? EBC_OK : EBC_PANIC; /* the write must be refused */
    }
    if (IS("nothing")) return EBC_OK;
    if (IS("good")) return ebc_sink_write(sink, GOOD, sizeof GOOD);
#undef IS
    return EBC_NOT_FOUND;
}

static void test_file_errors(void) {
    ebc_manager *m = t_manager_with(EBC_PRESET_TESTING, EBC_SECURITY_BASIC, 0, 100);
    ebc_error *err = NULL;
    const ebc_bytecode *b = NULL;
    ebc_address a = t_addr(0x10, 1);
    t_tmpdir dir;
    char uri[400];
    const char *path;
    uint8_t big[1000];

    t_tmpdir_make(&dir);

    /* A missing file: NOT_FOUND naming the path. */
    snprintf(uri, sizeof uri, "file:%s/no-such-file.hex", dir.path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_NOT_FOUND, err);
    CHECK_MSG(err, dir.path);
    CHECK_MSG(err, "no-such-file.hex");
    t_clear(&err);
    CHECK(b == NULL);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);
    /* ... also as a plain path, without a scheme. */
    snprintf(uri, sizeof uri, "%s/also-missing.bin", dir.path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_NOT_FOUND, err);
    CHECK_MSG(err, "also-missing.bin");
    t_clear(&err);
    CHECK_USABLE(m);

    /* A file over the size cap (1000 bytes, cap 276 for 100 bytes of code). */
    memset(big, 0x5b, sizeof big);
    path = t_write_file(&dir, "big.bin", big, sizeof big);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_TOO_LARGE, err);
    CHECK_MSG(err, "big.bin");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);
    /* Raw code within the read cap but over the code limit (150 > 100 bytes). */
    path = t_write_file(&dir, "code150.bin", big, 150);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_TOO_LARGE, err);
    CHECK_MSG(err, "100");
    t_clear(&err);
    CHECK_USABLE(m);
    /* ... and exactly at it loads. */
    path = t_write_file(&dir, "code100.bin", big, 100);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_OK(t_load(m, &a, uri, NULL, &b, &err), err);
    CHECK(t_code_is(b, big, 100));
    ebc_release(b);
    CHECK_OK(ebc_unload(m, &a), NULL);

    /* Invalid hex. */
    path = t_write_file(&dir, "bad.hex", "0x60zz", 6);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "hex");
    CHECK_MSG(err, "bad.hex");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);
    /* An odd number of hex digits. */
    path = t_write_file(&dir, "odd.hex", "0x601\n", 6);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_USABLE(m);

    /* An empty file, and a file with "0x" only: no code. */
    path = t_write_file(&dir, "empty.hex", "", 0);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_NOT_FOUND, err);
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);
    path = t_write_file(&dir, "prefix-only.hex", "0x\n", 3);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_NOT_FOUND, err);
    t_clear(&err);
    CHECK_USABLE(m);

    /* A directory is not a code file. */
    snprintf(uri, sizeof uri, "file:%s", dir.path);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_USABLE(m);

    /* A good hex file loads at the same address after all those failures. */
    path = t_write_file(&dir, "good.hex", "0x600160020100\n", 15);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_OK(t_load(m, &a, uri, NULL, &b, &err), err);
    CHECK(t_code_is(b, GOOD, sizeof GOOD));
    CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_FILE);
    ebc_release(b);

    t_tmpdir_remove(&dir);
    ebc_manager_free(m);
}

static void test_uri_and_memory_errors(void) {
    ebc_manager *m = t_manager(NULL);
    ebc_error *err = NULL;
    const ebc_bytecode *b = NULL;
    ebc_address a = t_addr(0x20, 1);

    /* Unknown scheme. */
    CHECK_FAIL(t_load(m, &a, "nosuch://host/x", NULL, &b, &err), EBC_LOADER_NOT_FOUND, err);
    CHECK_MSG(err, "nosuch");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);

    /* An empty memory entry and a missing one: NOT_FOUND. */
    CHECK_OK(ebc_manager_put_memory(m, "empty", 5, NULL, 0, &err), err);
    CHECK_FAIL(t_load(m, &a, "mem:empty", NULL, &b, &err), EBC_NOT_FOUND, err);
    t_clear(&err);
    CHECK_FAIL(t_load(m, &a, "mem:absent", NULL, &b, &err), EBC_NOT_FOUND, err);
    CHECK_MSG(err, "absent");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);

    /* An empty URI, and one that is not UTF-8. */
    CHECK_FAIL(ebc_load(m, &a, "", 0, NULL, &b, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_load(m, &a, "mem:\x80", 5, NULL, &b, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_USABLE(m);

    /* A NUL inside a URI. */
    CHECK_FAIL(ebc_load(m, &a, "mem:go\0od", 9, NULL, &b, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "NUL");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);

    /* Unload of an address that was never cached. */
    CHECK_FAIL_NOERR(ebc_unload(m, &a), EBC_NOT_FOUND);
    CHECK_USABLE(m);

    /* A wrong expected code hash; then the right one. */
    {
        ebc_load_options *o = ebc_load_options_new();
        ebc_hash h;
        CHECK(o != NULL);
        memset(h.bytes, 0x42, sizeof h.bytes);
        CHECK_OK(ebc_load_options_set_expected_code_hash(o, &h), NULL);
        CHECK_FAIL(t_load(m, &a, "mem:good", o, &b, &err), EBC_CHECKSUM_MISMATCH, err);
        CHECK_MSG(err, "4242424242");
        t_clear(&err);
        CHECK_NOT_CACHED(m, &a);
        CHECK_USABLE(m);
        CHECK_OK(ebc_load_options_set_expected_sha256(o, &h), NULL);
        CHECK_OK(ebc_load_options_set_expected_code_hash(o, NULL), NULL);
        CHECK_FAIL(t_load(m, &a, "mem:good", o, &b, &err), EBC_CHECKSUM_MISMATCH, err);
        t_clear(&err);
        CHECK_NOT_CACHED(m, &a);
        ebc_load_options_free(o);
    }
    ebc_manager_free(m);
}

static void test_policy_errors(void) {
    /* 0xEF code that is not an EIP-7702 delegation. */
    static const uint8_t ef_code[] = {0xef, 0x00, 0x01, 0x00};
    uint8_t delegation[23];
    ebc_config *c;
    ebc_manager *m;
    ebc_error *err = NULL;
    const ebc_bytecode *b = NULL;
    ebc_address a = t_addr(0x30, 1);
    ebc_metrics mt;

    /* Disabled: every load fails, get finds nothing. */
    c = ebc_config_new(EBC_PRESET_DEVELOPMENT);
    CHECK(c != NULL);
    CHECK_OK(ebc_config_set_flag(c, EBC_FLAG_EXTERNAL_BYTECODE, false), NULL);
    m = t_manager(c);
    ebc_config_free(c);
    CHECK_OK(ebc_manager_put_memory(m, "good", 4, GOOD, sizeof GOOD, NULL), NULL);
    CHECK_FAIL(t_load(m, &a, "mem:good", NULL, &b, &err), EBC_DISABLED, err);
    CHECK_MSG(err, "disabled");
    t_clear(&err);
    CHECK_FAIL(t_load(m, &a, "nosuch:x", NULL, &b, &err), EBC_DISABLED, err);
    t_clear(&err);
    CHECK(ebc_get(m, &a) == NULL);
    {
        ebc_status st = 99;
        size_t loaded = 99;
        CHECK_OK(ebc_preload(m, &a, 1, &st, &loaded, &err), err);
        CHECK(st == EBC_DISABLED && loaded == 0);
    }
    ebc_manager_free(m);

    /* Basic: 0xEF non-delegation fails verification; a delegation passes. */
    m = t_manager_with(EBC_PRESET_DEVELOPMENT, EBC_SECURITY_BASIC, 0, 0);
    CHECK_OK(ebc_manager_put_memory(m, "ef", 2, ef_code, sizeof ef_code, NULL), NULL);
    CHECK_FAIL(t_load(m, &a, "mem:ef", NULL, &b, &err), EBC_VERIFICATION_FAILED, err);
    CHECK_MSG(err, "0xEF");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    ebc_manager_metrics(m, &mt);
    CHECK(mt.verification_failures == 1 && mt.load_failures == 1);
    CHECK_USABLE(m);
    memset(delegation, 0x11, sizeof delegation);
    delegation[0] = 0xef;
    delegation[1] = 0x01;
    delegation[2] = 0x00;
    CHECK_OK(ebc_manager_put_memory(m, "del", 3, delegation, sizeof delegation, NULL), NULL);
    CHECK_OK(t_load(m, &a, "mem:del", NULL, &b, &err), err);
    CHECK(t_code_is(b, delegation, sizeof delegation));
    ebc_release(b);
    ebc_manager_free(m);

    /* Level none: the same 0xEF code is accepted. */
    m = t_manager_with(EBC_PRESET_DEVELOPMENT, EBC_SECURITY_NONE, 0, 0);
    CHECK_OK(ebc_manager_put_memory(m, "ef", 2, ef_code, sizeof ef_code, NULL), NULL);
    CHECK_OK(t_load(m, &a, "mem:ef", NULL, &b, &err), err);
    ebc_release(b);
    ebc_manager_free(m);

    /* Strict and paranoid demand provenance: a trusted signature, which a
       load through the C ABI cannot carry, so every load is refused. */
    {
        uint32_t level;
        for (level = EBC_SECURITY_STRICT; level <= EBC_SECURITY_PARANOID; level++) {
            m = t_manager_with(EBC_PRESET_PRODUCTION, level, 0, 0);
            CHECK_OK(ebc_manager_put_memory(m, "good", 4, GOOD, sizeof GOOD, NULL), NULL);
            CHECK_FAIL(t_load(m, &a, "mem:good", NULL, &b, &err), EBC_SIGNATURE_INVALID, err);
            CHECK_MSG(err, "signature");
            CHECK_MSG(err, "mem:good");
            t_clear(&err);
            CHECK_NOT_CACHED(m, &a);
            ebc_manager_free(m);
        }
    }

    /* So does code signing switched on at a lower level. */
    c = ebc_config_new(EBC_PRESET_DEVELOPMENT);
    CHECK(c != NULL);
    CHECK_OK(ebc_config_set_flag(c, EBC_FLAG_CODE_SIGNING, true), NULL);
    m = t_manager(c);
    ebc_config_free(c);
    CHECK_OK(ebc_manager_put_memory(m, "good", 4, GOOD, sizeof GOOD, NULL), NULL);
    CHECK_FAIL(t_load(m, &a, "mem:good", NULL, &b, &err), EBC_SIGNATURE_INVALID, err);
    CHECK_MSG(err, "signing");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    ebc_manager_free(m);
}

/* A Basic manager for 100 bytes of code whose sources are capped at what
   hex text of that code needs (276 bytes), not at the default 4 MiB. */
static ebc_manager *tight_manager(void) {
    ebc_config *c = ebc_config_new(EBC_PRESET_TESTING);
    ebc_manager *m;
    CHECK(c != NULL);
    CHECK_OK(ebc_config_set_security_level(c, EBC_SECURITY_BASIC), NULL);
    CHECK_OK(ebc_config_set_max_contract_size(c, 100), NULL);
    CHECK_OK(ebc_config_set_max_source_size(c, 0), NULL);
    m = t_manager(c);
    ebc_config_free(c);
    return m;
}

static void test_callback_errors(void) {
    ebc_manager *m = tight_manager();
    ebc_load_options *o = ebc_load_options_new();
    ebc_error *err = NULL;
    const ebc_bytecode *b = NULL;
    ebc_address a = t_addr(0x40, 1);
    ebc_metrics before, after;

    CHECK(o != NULL);
    CHECK_OK(ebc_register_loader(m, "test", 4, scripted_loader, NULL, NULL, &err), err);

    /* Writes past the cap fail the load even though the callback says OK. */
    CHECK_FAIL(t_load(m, &a, "test:too-large-then-ok", NULL, &b, &err), EBC_TOO_LARGE, err);
    CHECK_MSG(err, "276");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);

    /* The callback's own status fails the load. */
    CHECK_FAIL(t_load(m, &a, "test:io", NULL, &b, &err), EBC_IO, err);
    CHECK_MSG(err, "test:io");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);
    CHECK_FAIL(t_load(m, &a, "test:not-found", NULL, &b, &err), EBC_NOT_FOUND, err);
    t_clear(&err);
    CHECK_USABLE(m);
    {
        ebc_status s = t_load(m, &a, "test:unknown-status", NULL, &b, &err);
        CHECK_E(s != EBC_OK && err != NULL && ebc_error_status(err) == s, err);
        t_clear(&err);
    }
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);
    /* OK without writing anything: no code. */
    CHECK_FAIL(t_load(m, &a, "test:nothing", NULL, &b, &err), EBC_NOT_FOUND, err);
    t_clear(&err);
    CHECK_USABLE(m);

    /* Past the time limit: TIMEOUT, whether the callback returns OK or writes late. */
    CHECK_OK(ebc_load_options_set_timeout_ms(o, 40), NULL);
    ebc_manager_metrics(m, &before);
    CHECK_FAIL(t_load(m, &a, "test:sleep-then-ok", o, &b, &err), EBC_TIMEOUT, err);
    CHECK_MSG(err, "40");
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    CHECK_USABLE(m);
    CHECK_FAIL(t_load(m, &a, "test:sleep-then-write", o, &b, &err), EBC_TIMEOUT, err);
    t_clear(&err);
    CHECK_NOT_CACHED(m, &a);
    ebc_manager_metrics(m, &after);
    CHECK(after.load_failures == before.load_failures + 2);
    CHECK_USABLE(m);

    /* And the same address then loads fine through the same loader. */
    CHECK_OK(ebc_load_options_set_timeout_ms(o, 10000), NULL);
    CHECK_OK(t_load(m, &a, "test:good", o, &b, &err), err);
    CHECK(t_code_is(b, GOOD, sizeof GOOD));
    ebc_release(b);

    ebc_load_options_free(o);
    ebc_manager_free(m);
}

/* What the NULL rules of the header promise, one pointer argument at a time. */
static ebc_status noop_loader(void *u, const ebc_load_request *r, ebc_sink *s) {
    (void)u;
    (void)r;
    (void)s;
    return EBC_OK;
}

static int frees_run = 0;
static void count_free(void *p) {
    (void)p;
    frees_run++;
}

static void test_null_arguments(void) {
    ebc_manager *m = t_manager(NULL);
    ebc_error *err = NULL;
    const ebc_bytecode *b = NULL;
    ebc_address a = t_addr(0x50, 1);
    ebc_status st[1];
    size_t n = 0;
    int token = 0;

    CHECK_FAIL(ebc_manager_new(NULL, NULL, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(t_load(NULL, &a, "mem:x", NULL, &b, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(t_load(m, NULL, "mem:x", NULL, &b, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(t_load(m, &a, "mem:x", NULL, NULL, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_load(m, &a, NULL, 1, NULL, &b, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(t_load(NULL, &a, "mem:x", NULL, &b, NULL), EBC_NULL_PARAMETER);
    CHECK(ebc_get(NULL, &a) == NULL && ebc_get(m, NULL) == NULL);
    CHECK_FAIL_NOERR(ebc_unload(NULL, &a), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_unload(m, NULL), EBC_NULL_PARAMETER);
    CHECK_FAIL(ebc_preload(NULL, &a, 1, st, &n, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_preload(m, NULL, 1, st, &n, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_put_memory(NULL, "x", 1, GOOD, 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_put_memory(m, NULL, 1, GOOD, 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_put_memory(m, "x", 1, NULL, 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(ebc_manager_compact(NULL, &n), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_sink_write(NULL, GOOD, 1), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_sink_write(NULL, NULL, 0), EBC_NULL_PARAMETER);
    CHECK_FAIL(ebc_config_set_default_source(NULL, NULL, 0, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);

    /* register_loader: NULL manager or fn keeps user_data (no free);
       any other failure frees it before returning. */
    CHECK_FAIL(ebc_register_loader(NULL, "ab", 2, noop_loader, &token, count_free, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK(frees_run == 0);
    CHECK_FAIL(ebc_register_loader(m, "ab", 2, NULL, &token, count_free, &err),
               EBC_NULL_PARAMETER, err);
    CHECK_MSG(err, "fn");
    t_clear(&err);
    CHECK(frees_run == 0);
    CHECK_FAIL(ebc_register_loader(m, NULL, 2, noop_loader, &token, count_free, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK(frees_run == 1);
    CHECK_FAIL(ebc_register_loader(m, "1ab", 3, noop_loader, &token, count_free, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK(frees_run == 2);
    CHECK_FAIL(ebc_register_loader(m, "a", 1, noop_loader, &token, count_free, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK(frees_run == 3);
    CHECK_FAIL_NOERR(ebc_register_loader(m, "a b", 3, noop_loader, &token, count_free, NULL),
                     EBC_INVALID_ARGUMENT);
    CHECK(frees_run == 4);
    CHECK_FAIL(ebc_register_loader(m, "", 0, noop_loader, &token, count_free, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK(frees_run == 5);
    CHECK_FAIL(ebc_register_loader(m, "\xff\xff", 2, noop_loader, &token, count_free, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK(frees_run == 6);
    CHECK_USABLE(m);
    ebc_manager_free(m);
    CHECK(frees_run == 6);
}

int main(void) {
    test_file_errors();
    test_uri_and_memory_errors();
    test_policy_errors();
    test_callback_errors();
    test_null_arguments();
    printf("test_errors: ok\n");
    return 0;
}
