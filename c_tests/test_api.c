/*
 * Every function of ebc.h, called the way the header documents it, with
 * its results checked: versions, status names, configuration, managers,
 * loads, bytecode getters, load options, memory entries, preload, cache
 * statistics, metrics, compaction and error objects.
 */
#include "ebc_test.h"

/* PUSH1 0x5b; JUMPDEST; STOP: byte 1 is PUSH data that looks like a JUMPDEST. */
static const uint8_t CODE[] = {0x60, 0x5b, 0x5b, 0x00};
#define CODE_KECCAK "10ba52042d4a705f77d38b67c4d54ac251f090b46232dc5293d78e33f1b0fa63"
#define CODE_SHA256 "7f8c22223dd5bc1269f11079f80c5430e9ae9c71c30e5ecb03c49e9bf666abbc"

static void test_versions_and_status_names(void) {
    static const char *const names[] = {
        "EBC_OK",           "EBC_NULL_PARAMETER",      "EBC_INVALID_ARGUMENT",
        "EBC_DISABLED",     "EBC_NOT_FOUND",           "EBC_LOADER_NOT_FOUND",
        "EBC_TOO_LARGE",    "EBC_VERIFICATION_FAILED", "EBC_SECURITY_VIOLATION",
        "EBC_SIGNATURE_INVALID", "EBC_CHECKSUM_MISMATCH", "EBC_TIMEOUT",
        "EBC_IO",           "EBC_PANIC"};
    const char *v = ebc_version();
    size_t i, dots = 0;
    uint32_t s;

    CHECK(ebc_abi_version() == EBC_ABI_VERSION);
    CHECK(EBC_ABI_VERSION == 1);
    CHECK(v != NULL && v[0] >= '0' && v[0] <= '9');
    for (i = 0; v[i] != '\0'; i++) {
        CHECK((v[i] >= '0' && v[i] <= '9') || v[i] == '.' || v[i] == '-' ||
              (v[i] >= 'a' && v[i] <= 'z'));
        if (v[i] == '.') dots++;
    }
    CHECK(dots >= 2);
    CHECK(ebc_version() == v); /* static storage */

    /* The numbers of the ABI. */
    CHECK(EBC_OK == 0 && EBC_NULL_PARAMETER == 1 && EBC_INVALID_ARGUMENT == 2);
    CHECK(EBC_DISABLED == 3 && EBC_NOT_FOUND == 4 && EBC_LOADER_NOT_FOUND == 5);
    CHECK(EBC_TOO_LARGE == 6 && EBC_VERIFICATION_FAILED == 7 && EBC_SECURITY_VIOLATION == 8);
    CHECK(EBC_SIGNATURE_INVALID == 9 && EBC_CHECKSUM_MISMATCH == 10 && EBC_TIMEOUT == 11);
    CHECK(EBC_IO == 12 && EBC_PANIC == 13);
    CHECK(EBC_PRESET_PRODUCTION == 0 && EBC_PRESET_DEVELOPMENT == 1 && EBC_PRESET_TESTING == 2);
    CHECK(EBC_CACHE_NONE == 0 && EBC_CACHE_LRU == 1 && EBC_CACHE_ADAPTIVE == 4);
    CHECK(EBC_SECURITY_NONE == 0 && EBC_SECURITY_PARANOID == 4);
    CHECK(sizeof(ebc_address) == 20 && sizeof(ebc_hash) == 32);

    for (s = 0; s < sizeof names / sizeof names[0]; s++) {
        const char *name = ebc_status_name(s);
        CHECK(name != NULL);
        if (strcmp(name, names[s]) != 0) {
            fprintf(stderr, "status %u: got %s, want %s\n", (unsigned)s, name, names[s]);
            CHECK(!"status name");
        }
    }
    CHECK(strcmp(ebc_status_name(14), "EBC_UNKNOWN") == 0);
    CHECK(strcmp(ebc_status_name(99), "EBC_UNKNOWN") == 0);
    CHECK(strcmp(ebc_status_name(UINT32_MAX), "EBC_UNKNOWN") == 0);
}

static void test_config(void) {
    ebc_config *c;
    ebc_manager *m = NULL;
    ebc_error *err = NULL;
    uint32_t v;

    CHECK(ebc_config_new(3) == NULL);
    CHECK(ebc_config_new(UINT32_MAX) == NULL);
    ebc_config_free(NULL);

    for (v = EBC_PRESET_PRODUCTION; v <= EBC_PRESET_TESTING; v++) {
        c = ebc_config_new(v);
        CHECK(c != NULL);
        m = t_manager(c);
        ebc_manager_free(m);
        ebc_config_free(c);
    }

    c = ebc_config_new(EBC_PRESET_TESTING);
    CHECK(c != NULL);
    for (v = EBC_CACHE_NONE; v <= EBC_CACHE_ADAPTIVE; v++)
        CHECK_OK(ebc_config_set_cache_strategy(c, v), NULL);
    CHECK_FAIL_NOERR(ebc_config_set_cache_strategy(c, 5), EBC_INVALID_ARGUMENT);
    CHECK_FAIL_NOERR(ebc_config_set_cache_strategy(c, UINT32_MAX), EBC_INVALID_ARGUMENT);
    for (v = EBC_SECURITY_NONE; v <= EBC_SECURITY_PARANOID; v++)
        CHECK_OK(ebc_config_set_security_level(c, v), NULL);
    CHECK_FAIL_NOERR(ebc_config_set_security_level(c, 5), EBC_INVALID_ARGUMENT);
    CHECK_OK(ebc_config_set_security_level(c, EBC_SECURITY_BASIC), NULL);
    for (v = EBC_FLAG_EXTERNAL_BYTECODE; v <= EBC_FLAG_BYTECODE_VERIFICATION; v++) {
        CHECK_OK(ebc_config_set_flag(c, v, false), NULL);
        CHECK_OK(ebc_config_set_flag(c, v, true), NULL);
    }
    CHECK_FAIL_NOERR(ebc_config_set_flag(c, 4, true), EBC_INVALID_ARGUMENT);
    CHECK_FAIL_NOERR(ebc_config_set_flag(c, UINT32_MAX, false), EBC_INVALID_ARGUMENT);
    CHECK_OK(ebc_config_set_flag(c, EBC_FLAG_CODE_SIGNING, false), NULL);
    CHECK_OK(ebc_config_set_max_contract_size(c, 1), NULL);
    CHECK_OK(ebc_config_set_max_contract_size(c, 16u * 1024 * 1024), NULL);
    CHECK_FAIL_NOERR(ebc_config_set_max_contract_size(c, 0), EBC_INVALID_ARGUMENT);
    CHECK_FAIL_NOERR(ebc_config_set_max_contract_size(c, 16u * 1024 * 1024 + 1), EBC_INVALID_ARGUMENT);
    CHECK_OK(ebc_config_set_max_contract_size(c, 24576), NULL);
    CHECK_OK(ebc_config_set_max_cached_contracts(c, 7), NULL);
    CHECK_OK(ebc_config_set_max_cache_bytes(c, 0), NULL);
    CHECK_OK(ebc_config_set_max_cache_bytes(c, 1u << 20), NULL);
    CHECK_OK(ebc_config_set_loader_timeout_ms(c, 0), NULL);
    CHECK_OK(ebc_config_set_loader_timeout_ms(c, 1000), NULL);
    CHECK_OK(ebc_config_set_cache_ttl_ms(c, 5000), NULL);
    CHECK_OK(ebc_config_set_default_source(c, "mem:{address}", 13, &err), err);
    CHECK_OK(ebc_config_set_default_source(c, NULL, 0, &err), err);
    CHECK_OK(ebc_config_set_default_source(c, "", 0, NULL), NULL);
    CHECK_FAIL(ebc_config_set_default_source(c, NULL, 3, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_set_default_source(c, "\xff\xfe", 2, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "UTF-8");
    t_clear(&err);

    /* NULL config: every setter says so. */
    CHECK_FAIL_NOERR(ebc_config_set_cache_strategy(NULL, EBC_CACHE_LRU), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_config_set_security_level(NULL, EBC_SECURITY_BASIC), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_config_set_max_cached_contracts(NULL, 1), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_config_set_max_contract_size(NULL, 100), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_config_set_max_cache_bytes(NULL, 100), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_config_set_flag(NULL, EBC_FLAG_LAZY_LOADING, true), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_config_set_loader_timeout_ms(NULL, 1), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_config_set_cache_ttl_ms(NULL, 1), EBC_NULL_PARAMETER);
    CHECK_FAIL(ebc_config_set_default_source(NULL, "mem:x", 5, &err), EBC_NULL_PARAMETER, err);
    CHECK_MSG(err, "config");
    t_clear(&err);

    /* Inconsistent configurations are refused by ebc_manager_new, with a message. */
    CHECK_OK(ebc_config_set_cache_strategy(c, EBC_CACHE_LRU), NULL);
    CHECK_OK(ebc_config_set_max_cached_contracts(c, 0), NULL);
    m = NULL;
    CHECK_FAIL(ebc_manager_new(c, &m, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "max_cached_contracts");
    CHECK(m == NULL);
    t_clear(&err);
    CHECK_OK(ebc_config_set_cache_strategy(c, EBC_CACHE_TTL), NULL);
    CHECK_OK(ebc_config_set_max_cached_contracts(c, 10), NULL);
    CHECK_OK(ebc_config_set_cache_ttl_ms(c, 0), NULL);
    CHECK_FAIL(ebc_manager_new(c, &m, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "ttl");
    t_clear(&err);
    CHECK_FAIL_NOERR(ebc_manager_new(c, &m, NULL), EBC_INVALID_ARGUMENT);

    /* Each setter checks its own value only, so their order does not matter:
       0 entries is inconsistent with LRU until the strategy becomes NONE. */
    {
        ebc_config *o = ebc_config_new(EBC_PRESET_TESTING);
        CHECK(o != NULL);
        CHECK_OK(ebc_config_set_max_cached_contracts(o, 0), NULL);
        CHECK_OK(ebc_config_set_max_contract_size(o, 100), NULL);
        CHECK_OK(ebc_config_set_cache_strategy(o, EBC_CACHE_TTL), NULL);
        CHECK_OK(ebc_config_set_cache_ttl_ms(o, 0), NULL);
        CHECK_OK(ebc_config_set_max_contract_size(o, 200), NULL);
        CHECK_OK(ebc_config_set_cache_strategy(o, EBC_CACHE_NONE), NULL);
        m = t_manager(o);
        ebc_manager_free(m);
        ebc_config_free(o);
    }

    /* EBC_CACHE_NONE with 0 entries is fine, and caches nothing. */
    CHECK_OK(ebc_config_set_cache_strategy(c, EBC_CACHE_NONE), NULL);
    CHECK_OK(ebc_config_set_max_cached_contracts(c, 0), NULL);
    m = t_manager(c);
    {
        ebc_address a = t_addr(0x31, 1);
        const ebc_bytecode *b = NULL;
        ebc_cache_stats st;
        CHECK_OK(ebc_manager_put_memory(m, "c", 1, CODE, sizeof CODE, &err), err);
        CHECK_OK(t_load(m, &a, "mem:c", NULL, &b, &err), err);
        CHECK(t_code_is(b, CODE, sizeof CODE));
        ebc_release(b);
        CHECK(ebc_get(m, &a) == NULL);
        CHECK_FAIL_NOERR(ebc_unload(m, &a), EBC_NOT_FOUND);
        memset(&st, 0, sizeof st);
        ebc_manager_cache_stats(m, &st);
        CHECK(st.entries == 0);
    }
    ebc_manager_free(m);

    /* A manager keeps its own copy: changing or freeing the config later does not matter. */
    CHECK_OK(ebc_config_set_cache_strategy(c, EBC_CACHE_LRU), NULL);
    CHECK_OK(ebc_config_set_max_cached_contracts(c, 10), NULL);
    CHECK_OK(ebc_config_set_max_contract_size(c, 3), NULL);
    m = t_manager(c);
    CHECK_OK(ebc_config_set_max_contract_size(c, 100), NULL);
    ebc_config_free(c);
    {
        ebc_address a = t_addr(0x32, 1);
        const ebc_bytecode *b = NULL;
        CHECK_OK(ebc_manager_put_memory(m, "c", 1, CODE, sizeof CODE, NULL), NULL);
        CHECK_FAIL(t_load(m, &a, "mem:c", NULL, &b, &err), EBC_TOO_LARGE, err);
        CHECK(b == NULL);
        t_clear(&err);
    }
    ebc_manager_free(m);
}

static void test_manager_and_load(void) {
    ebc_manager *m = NULL;
    ebc_error *err = NULL;
    ebc_address a = t_addr(0xaa, 1), b_addr = t_addr(0xaa, 2), got_addr;
    const ebc_bytecode *b = NULL, *b2 = NULL, *g = NULL;
    const ebc_bytecode *sentinel = (const ebc_bytecode *)(const void *)&a;
    ebc_hash h, h2;
    ebc_permissions p;
    size_t len = 0;
    uint64_t count;

    CHECK_FAIL(ebc_manager_new(NULL, NULL, &err), EBC_NULL_PARAMETER, err);
    CHECK_MSG(err, "out");
    t_clear(&err);
    CHECK_OK(ebc_manager_new(NULL, &m, &err), err); /* NULL config: development preset */
    CHECK(m != NULL);
    ebc_manager_free(NULL);

    /* Memory entries: hex text and raw bytes. */
    CHECK_OK(ebc_manager_put_memory(m, "hex", 3, (const uint8_t *)"0x605b5b00", 10, &err), err);
    CHECK_OK(ebc_manager_put_memory(m, "raw", 3, CODE, sizeof CODE, &err), err);
    CHECK_FAIL(ebc_manager_put_memory(NULL, "x", 1, CODE, 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_put_memory(m, NULL, 1, CODE, 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_put_memory(m, "x", 1, NULL, 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_put_memory(m, "\xc3", 1, CODE, 1, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);

    /* A load, and every getter. */
    CHECK_OK(t_load(m, &a, "mem:hex", NULL, &b, &err), err);
    CHECK(b != NULL);
    CHECK(ebc_bytecode_code(b, &len) != NULL && len == sizeof CODE);
    CHECK(ebc_bytecode_code(b, NULL) == ebc_bytecode_code(b, &len));
    CHECK(t_code_is(b, CODE, sizeof CODE));
    ebc_bytecode_code_hash(b, &h);
    CHECK(t_hash_is(&h, CODE_KECCAK));
    ebc_bytecode_sha256(b, &h);
    CHECK(t_hash_is(&h, CODE_SHA256));
    memset(&got_addr, 0, sizeof got_addr);
    ebc_bytecode_address(b, &got_addr);
    CHECK(t_addr_eq(&got_addr, &a));
    CHECK(!ebc_bytecode_is_jumpdest(b, 0));
    CHECK(!ebc_bytecode_is_jumpdest(b, 1)); /* 0x5b as PUSH1 data */
    CHECK(ebc_bytecode_is_jumpdest(b, 2));
    CHECK(!ebc_bytecode_is_jumpdest(b, 3));
    CHECK(!ebc_bytecode_is_jumpdest(b, 4));
    CHECK(!ebc_bytecode_is_jumpdest(b, SIZE_MAX));
    CHECK(ebc_bytecode_jumpdest_count(b) == 1);
    CHECK(ebc_bytecode_verification_status(b) == 1); /* Basic: verified, no findings */
    CHECK(ebc_bytecode_findings_count(b) == 0);
    CHECK(strcmp(ebc_bytecode_source_uri(b), "mem:hex") == 0);
    CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_MEMORY);
    CHECK(ebc_bytecode_access_count(b) >= 1);
    memset(&p, 0, sizeof p);
    ebc_bytecode_permissions(b, &p);
    CHECK(p.trust_level == 3); /* the host's own store at Basic: high */
    CHECK(p.can_call_external && p.can_modify_state && p.can_emit_logs && p.can_create_contracts);
    CHECK(p.gas_limit_multiplier == 1.0);

    /* The same code at another address, as raw bytes: same hashes. */
    CHECK_OK(t_load(m, &b_addr, "mem:raw", NULL, &b2, &err), err);
    ebc_bytecode_code_hash(b2, &h2);
    ebc_bytecode_code_hash(b, &h);
    CHECK(memcmp(h.bytes, h2.bytes, 32) == 0);
    ebc_bytecode_address(b2, &got_addr);
    CHECK(t_addr_eq(&got_addr, &b_addr));
    ebc_release(b2);

    /* retain / release */
    CHECK(ebc_retain(b) == b);
    ebc_release(b);
    CHECK(ebc_retain(NULL) == NULL);
    ebc_release(NULL);

    /* A second load is a cache hit: same code, access counted. */
    count = ebc_bytecode_access_count(b);
    CHECK_OK(t_load(m, &a, "mem:raw", NULL, &b2, &err), err);
    CHECK(strcmp(ebc_bytecode_source_uri(b2), "mem:hex") == 0); /* cached, not refetched */
    CHECK(ebc_bytecode_access_count(b2) > count);
    ebc_release(b2);

    /* get: cached only, new reference */
    g = ebc_get(m, &a);
    CHECK(g != NULL);
    CHECK(t_code_is(g, CODE, sizeof CODE));
    ebc_release(g);
    {
        ebc_address unknown = t_addr(0xab, 9);
        CHECK(ebc_get(m, &unknown) == NULL);
    }
    CHECK(ebc_get(NULL, &a) == NULL);
    CHECK(ebc_get(m, NULL) == NULL);

    /* unload: gone from the cache, reference still valid */
    CHECK_OK(ebc_unload(m, &a), NULL);
    CHECK(ebc_get(m, &a) == NULL);
    CHECK_FAIL_NOERR(ebc_unload(m, &a), EBC_NOT_FOUND);
    CHECK(t_code_is(b, CODE, sizeof CODE));
    CHECK_FAIL_NOERR(ebc_unload(NULL, &a), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_unload(m, NULL), EBC_NULL_PARAMETER);

    /* Getters with NULL: NULL / false / 0 / "" and out parameters untouched. */
    len = 12345;
    CHECK(ebc_bytecode_code(NULL, &len) == NULL && len == 12345);
    CHECK(ebc_bytecode_code(NULL, NULL) == NULL);
    memset(h.bytes, 0x77, sizeof h.bytes);
    ebc_bytecode_code_hash(NULL, &h);
    ebc_bytecode_sha256(NULL, &h);
    CHECK(h.bytes[0] == 0x77 && h.bytes[31] == 0x77);
    ebc_bytecode_code_hash(b, NULL);
    ebc_bytecode_sha256(b, NULL);
    memset(got_addr.bytes, 0x66, sizeof got_addr.bytes);
    ebc_bytecode_address(NULL, &got_addr);
    CHECK(got_addr.bytes[0] == 0x66 && got_addr.bytes[19] == 0x66);
    ebc_bytecode_address(b, NULL);
    CHECK(!ebc_bytecode_is_jumpdest(NULL, 2));
    CHECK(ebc_bytecode_jumpdest_count(NULL) == 0);
    CHECK(ebc_bytecode_verification_status(NULL) == 0);
    CHECK(ebc_bytecode_findings_count(NULL) == 0);
    {
        ebc_finding f;
        f.kind = 99;
        CHECK(!ebc_bytecode_finding(NULL, 0, &f) && f.kind == 99);
        CHECK(!ebc_bytecode_finding(b, 0, &f) && f.kind == 99); /* no findings */
        CHECK(!ebc_bytecode_finding(b, 0, NULL));
    }
    CHECK(ebc_bytecode_source_uri(NULL) != NULL && ebc_bytecode_source_uri(NULL)[0] == '\0');
    CHECK(ebc_bytecode_load_method(NULL) == EBC_LOADER_CUSTOM);
    CHECK(ebc_bytecode_access_count(NULL) == 0);
    p.trust_level = 42;
    ebc_bytecode_permissions(NULL, &p);
    CHECK(p.trust_level == 42);
    ebc_bytecode_permissions(b, NULL);

    /* ebc_load argument checks; *out untouched on failure; err may be NULL. */
    b2 = sentinel;
    CHECK_FAIL(t_load(NULL, &a, "mem:hex", NULL, &b2, &err), EBC_NULL_PARAMETER, err);
    CHECK_MSG(err, "manager");
    t_clear(&err);
    CHECK_FAIL(t_load(m, NULL, "mem:hex", NULL, &b2, &err), EBC_NULL_PARAMETER, err);
    CHECK_MSG(err, "address");
    t_clear(&err);
    CHECK_FAIL(t_load(m, &a, "mem:hex", NULL, NULL, &err), EBC_NULL_PARAMETER, err);
    CHECK_MSG(err, "out");
    t_clear(&err);
    CHECK_FAIL(ebc_load(m, &a, NULL, 7, NULL, &b2, &err), EBC_NULL_PARAMETER, err);
    CHECK_MSG(err, "uri");
    t_clear(&err);
    CHECK_FAIL(ebc_load(m, &a, "mem:\xff", 5, NULL, &b2, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(t_load(m, &a, "mem:nothing-here", NULL, &b2, NULL), EBC_NOT_FOUND);
    CHECK(b2 == sentinel);
    /* No URI and no default source. */
    CHECK_FAIL(t_load(m, &a, NULL, NULL, &b2, &err), EBC_LOADER_NOT_FOUND, err);
    t_clear(&err);
    CHECK(b2 == sentinel);

    ebc_release(b);
    ebc_manager_free(m);
}

/* A loader that records the request it saw and writes CODE. */
typedef struct seen_request {
    ebc_address address;
    char uri[128];
    uint64_t timeout_ms;
    int calls;
    ebc_status null_data_status, empty_write_status;
} seen_request;

static ebc_status recording_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    seen_request *seen = (seen_request *)user_data;
    size_t n = req->uri_len < sizeof seen->uri - 1 ? req->uri_len : sizeof seen->uri - 1;
    seen->calls++;
    seen->address = *req->address;
    memcpy(seen->uri, req->uri, n);
    seen->uri[n] = '\0';
    seen->timeout_ms = req->timeout_ms;
    seen->empty_write_status = ebc_sink_write(sink, NULL, 0);
    seen->null_data_status = ebc_sink_write(sink, NULL, 3);
    return ebc_sink_write(sink, CODE, sizeof CODE);
}

static void test_load_options(void) {
    ebc_config *c = ebc_config_new(EBC_PRESET_TESTING);
    ebc_manager *m;
    ebc_load_options *o = ebc_load_options_new();
    ebc_error *err = NULL;
    ebc_address a = t_addr(0xbb, 1);
    const ebc_bytecode *b = NULL;
    ebc_hash good, bad;
    seen_request seen;
    uint32_t t;

    CHECK(c != NULL && o != NULL);
    CHECK_OK(ebc_config_set_loader_timeout_ms(c, 1234), NULL);
    m = t_manager(c);
    ebc_config_free(c);
    memset(&seen, 0, sizeof seen);
    CHECK_OK(ebc_register_loader(m, "rec", 3, recording_loader, &seen, NULL, &err), err);
    CHECK_OK(ebc_manager_put_memory(m, "code", 4, CODE, sizeof CODE, NULL), NULL);

    /* NULL options object */
    CHECK_FAIL_NOERR(ebc_load_options_set_expected_code_hash(NULL, &good), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_load_options_set_expected_sha256(NULL, &good), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_load_options_set_timeout_ms(NULL, 1), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_load_options_set_reload(NULL, true), EBC_NULL_PARAMETER);
    CHECK_FAIL_NOERR(ebc_load_options_set_loader_type(NULL, EBC_LOADER_FILE), EBC_NULL_PARAMETER);
    ebc_load_options_free(NULL);
    for (t = EBC_LOADER_FILE; t <= EBC_LOADER_JSONRPC; t++)
        CHECK_OK(ebc_load_options_set_loader_type(o, t), NULL);
    CHECK_FAIL_NOERR(ebc_load_options_set_loader_type(o, 7), EBC_INVALID_ARGUMENT);
    CHECK_FAIL_NOERR(ebc_load_options_set_loader_type(o, UINT32_MAX), EBC_INVALID_ARGUMENT);
    ebc_load_options_free(o);

    /* The request a callback sees: address, whole URI, the config's timeout. */
    CHECK_OK(t_load(m, &a, "rec:some/where", NULL, &b, &err), err);
    CHECK(seen.calls == 1);
    CHECK(t_addr_eq(&seen.address, &a));
    CHECK(strcmp(seen.uri, "rec:some/where") == 0);
    CHECK(seen.timeout_ms == 1234);
    CHECK(seen.empty_write_status == EBC_OK);
    CHECK(seen.null_data_status == EBC_NULL_PARAMETER);
    CHECK(t_code_is(b, CODE, sizeof CODE));
    CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_CUSTOM);
    ebc_bytecode_code_hash(b, &good);
    ebc_release(b);

    /* timeout_ms overrides the config's; reload fetches again. */
    o = ebc_load_options_new();
    CHECK_OK(ebc_load_options_set_timeout_ms(o, 77), NULL);
    CHECK_OK(t_load(m, &a, "rec:x", o, &b, &err), err);
    CHECK(seen.calls == 1); /* cached: no fetch */
    ebc_release(b);
    CHECK_OK(ebc_load_options_set_reload(o, true), NULL);
    CHECK_OK(t_load(m, &a, "rec:x", o, &b, &err), err);
    CHECK(seen.calls == 2 && seen.timeout_ms == 77);
    CHECK(strcmp(ebc_bytecode_source_uri(b), "rec:x") == 0);
    ebc_release(b);
    CHECK_OK(ebc_load_options_set_timeout_ms(o, 0), NULL);
    CHECK_OK(t_load(m, &a, "rec:y", o, &b, &err), err);
    CHECK(seen.calls == 3 && seen.timeout_ms == 0);
    ebc_release(b);
    CHECK_OK(ebc_load_options_set_timeout_ms(o, UINT64_MAX), NULL); /* huge is fine */
    CHECK_OK(t_load(m, &a, "rec:z", o, &b, &err), err);
    CHECK(seen.calls == 4 && seen.timeout_ms == UINT64_MAX);
    ebc_release(b);
    CHECK_OK(ebc_load_options_set_reload(o, false), NULL);

    /* reload replaces the cached entry with new code. */
    {
        ebc_address r = t_addr(0xbb, 2);
        CHECK_OK(t_put_text(m, "v", "0x6001"), NULL);
        CHECK_OK(t_load(m, &r, "mem:v", NULL, &b, &err), err);
        ebc_release(b);
        CHECK_OK(t_put_text(m, "v", "0x6002"), NULL);
        CHECK_OK(t_load(m, &r, "mem:v", o, &b, &err), err);
        CHECK(ebc_bytecode_code(b, NULL)[1] == 0x01); /* still the cached code */
        ebc_release(b);
        CHECK_OK(ebc_load_options_set_reload(o, true), NULL);
        CHECK_OK(t_load(m, &r, "mem:v", o, &b, &err), err);
        CHECK(ebc_bytecode_code(b, NULL)[1] == 0x02);
        ebc_release(b);
        CHECK_OK(ebc_load_options_set_reload(o, false), NULL);
        b = ebc_get(m, &r);
        CHECK(b != NULL && ebc_bytecode_code(b, NULL)[1] == 0x02);
        ebc_release(b);
    }

    /* Expected hashes: the right one passes, a wrong one fails, on hits too; NULL clears. */
    memcpy(&bad, &good, sizeof bad);
    bad.bytes[0] ^= 1;
    CHECK_OK(ebc_load_options_set_expected_code_hash(o, &good), NULL);
    CHECK_OK(t_load(m, &a, "rec:x", o, &b, &err), err);
    ebc_release(b);
    CHECK_OK(ebc_load_options_set_expected_code_hash(o, &bad), NULL);
    CHECK_FAIL(t_load(m, &a, "rec:x", o, &b, &err), EBC_CHECKSUM_MISMATCH, err);
    t_clear(&err);
    CHECK_OK(ebc_load_options_set_expected_code_hash(o, NULL), NULL);
    CHECK_OK(t_load(m, &a, "rec:x", o, &b, &err), err);
    ebc_release(b);
    {
        ebc_hash sha;
        t_parse_hash(CODE_SHA256, &sha);
        CHECK_OK(ebc_load_options_set_expected_sha256(o, &sha), NULL);
        CHECK_OK(t_load(m, &a, "rec:x", o, &b, &err), err);
        ebc_release(b);
        sha.bytes[31] ^= 0x80;
        CHECK_OK(ebc_load_options_set_expected_sha256(o, &sha), NULL);
        CHECK_FAIL(t_load(m, &a, "rec:x", o, &b, &err), EBC_CHECKSUM_MISMATCH, err);
        t_clear(&err);
        CHECK_OK(ebc_load_options_set_expected_sha256(o, NULL), NULL);
        CHECK_OK(t_load(m, &a, "rec:x", o, &b, &err), err);
        ebc_release(b);
    }

    /* loader_type picks the loader whatever the URI says. */
    {
        ebc_address l = t_addr(0xbb, 3);
        CHECK_FAIL(t_load(m, &l, "code", NULL, &b, &err), EBC_NOT_FOUND, err); /* a file path */
        t_clear(&err);
        CHECK_OK(ebc_load_options_set_loader_type(o, EBC_LOADER_MEMORY), NULL);
        CHECK_OK(t_load(m, &l, "code", o, &b, &err), err); /* the memory entry "code" */
        CHECK(t_code_is(b, CODE, sizeof CODE));
        CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_MEMORY);
        ebc_release(b);
    }
    ebc_load_options_free(o);
    ebc_manager_free(m);

    /* A custom loader type with no custom loader registered. */
    m = t_manager(NULL);
    o = ebc_load_options_new();
    CHECK_OK(ebc_load_options_set_loader_type(o, EBC_LOADER_CUSTOM), NULL);
    CHECK_FAIL(t_load(m, &a, "whatever:x", o, &b, &err), EBC_LOADER_NOT_FOUND, err);
    t_clear(&err);
    ebc_load_options_free(o);
    ebc_manager_free(m);
}

static void test_default_source_lazy_loading_and_preload(void) {
    ebc_config *c = ebc_config_new(EBC_PRESET_DEVELOPMENT);
    ebc_manager *m;
    ebc_error *err = NULL;
    ebc_address addrs[3];
    ebc_status statuses[3] = {99, 99, 99};
    size_t loaded = 99;
    const ebc_bytecode *b = NULL;
    char name[64];
    static const char tmpl[] = "mem:{address}";

    CHECK(c != NULL);
    CHECK_OK(ebc_config_set_default_source(c, tmpl, strlen(tmpl), &err), err);
    m = t_manager(c);
    addrs[0] = t_addr(0xcc, 1);
    addrs[1] = t_addr(0xcc, 2);
    addrs[2] = t_addr(0xcc, 3); /* no entry */
    /* "{address}" becomes 0x + 40 lower-case hex digits. */
    strcpy(name, "0x");
    t_hex(addrs[0].bytes, 20, name + 2);
    CHECK_OK(t_put_text(m, name, "0x605b5b00"), NULL);
    t_hex(addrs[1].bytes, 20, name + 2);
    CHECK_OK(t_put_text(m, name, "0x6001"), NULL);

    CHECK_OK(ebc_preload(m, addrs, 3, statuses, &loaded, &err), err);
    CHECK(statuses[0] == EBC_OK && statuses[1] == EBC_OK && statuses[2] == EBC_NOT_FOUND);
    CHECK(loaded == 2);
    b = ebc_get(m, &addrs[0]);
    CHECK(b != NULL && t_code_is(b, CODE, sizeof CODE));
    CHECK(strncmp(ebc_bytecode_source_uri(b), "mem:0xcccc", 10) == 0);
    ebc_release(b);
    CHECK(ebc_get(m, &addrs[2]) == NULL);
    CHECK_OK(ebc_preload(m, addrs, 3, NULL, NULL, NULL), NULL);
    CHECK_OK(ebc_preload(m, NULL, 0, NULL, NULL, &err), err);
    CHECK_FAIL(ebc_preload(m, NULL, 2, statuses, &loaded, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_preload(NULL, addrs, 3, statuses, &loaded, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);

    /* A load without a URI uses the default source (lazy loading is on). */
    CHECK_OK(ebc_unload(m, &addrs[1]), NULL);
    CHECK_OK(t_load(m, &addrs[1], NULL, NULL, &b, &err), err);
    CHECK(ebc_bytecode_code(b, NULL)[1] == 0x01);
    ebc_release(b);
    ebc_manager_free(m);

    /* Lazy loading off: an uncached address without a URI is not fetched. */
    CHECK_OK(ebc_config_set_flag(c, EBC_FLAG_LAZY_LOADING, false), NULL);
    m = t_manager(c);
    t_hex(addrs[0].bytes, 20, name + 2);
    CHECK_OK(t_put_text(m, name, "0x605b5b00"), NULL);
    CHECK_FAIL(t_load(m, &addrs[0], NULL, NULL, &b, &err), EBC_NOT_FOUND, err);
    CHECK_MSG(err, "lazy");
    t_clear(&err);
    CHECK_OK(ebc_preload(m, addrs, 1, statuses, &loaded, &err), err);
    CHECK(statuses[0] == EBC_NOT_FOUND && loaded == 0);
    {
        char uri[80];
        snprintf(uri, sizeof uri, "mem:%s", name);
        CHECK_OK(t_load(m, &addrs[0], uri, NULL, &b, &err), err); /* a URI is fetched */
        ebc_release(b);
    }
    b = NULL;
    CHECK_OK(t_load(m, &addrs[0], NULL, NULL, &b, &err), err); /* now cached */
    CHECK(b != NULL);
    ebc_release(b);
    ebc_manager_free(m);
    ebc_config_free(c);
}

static void test_stats_metrics_compact(void) {
    ebc_manager *m = t_manager_with(EBC_PRESET_TESTING, EBC_SECURITY_BASIC, 2, 0);
    ebc_error *err = NULL;
    ebc_cache_stats s;
    ebc_metrics mt;
    ebc_address a1 = t_addr(0xdd, 1), a2 = t_addr(0xdd, 2), a3 = t_addr(0xdd, 3);
    const ebc_bytecode *b = NULL;
    size_t removed = 99;

    CHECK_OK(t_put_text(m, "one", "0x605b5b00"), NULL);
    CHECK_OK(t_put_text(m, "two", "0x600100"), NULL);
    memset(&s, 0xff, sizeof s);
    ebc_manager_cache_stats(m, &s);
    CHECK(s.hits == 0 && s.misses == 0 && s.evictions == 0 && s.entries == 0 && s.bytes == 0);
    memset(&mt, 0xff, sizeof mt);
    ebc_manager_metrics(m, &mt);
    CHECK(mt.loads == 0 && mt.load_failures == 0 && mt.unloads == 0 && mt.bytes_loaded == 0);

    CHECK_OK(t_load(m, &a1, "mem:one", NULL, &b, &err), err); /* miss */
    ebc_release(b);
    CHECK_OK(t_load(m, &a1, "mem:one", NULL, &b, &err), err); /* hit */
    ebc_release(b);
    b = ebc_get(m, &a1); /* hit */
    CHECK(b != NULL);
    ebc_release(b);
    CHECK(ebc_get(m, &a2) == NULL); /* miss */
    ebc_manager_cache_stats(m, &s);
    CHECK(s.hits == 2 && s.misses == 2 && s.entries == 1 && s.evictions == 0 && s.bytes > 0);

    CHECK_OK(t_load(m, &a2, "mem:two", NULL, &b, &err), err);
    ebc_release(b);
    CHECK_OK(t_load(m, &a3, "mem:one", NULL, &b, &err), err); /* evicts one: max 2 */
    ebc_release(b);
    CHECK_OK(t_load(m, &a3, "mem:missing", NULL, &b, &err), err); /* cached: the URI is not used */
    ebc_release(b);
    ebc_manager_cache_stats(m, &s);
    CHECK(s.entries == 2 && s.evictions == 1);
    CHECK(ebc_get(m, &a1) == NULL); /* least recently used went */

    ebc_manager_metrics(m, &mt);
    CHECK(mt.loads == 3);
    CHECK(mt.load_failures == 0);
    CHECK(mt.bytes_loaded == 4 + 3 + 4);
    CHECK(mt.verifications >= 2 && mt.verification_failures == 0);
    CHECK(mt.max_load_time_ns > 0 && mt.max_load_time_ns <= mt.load_time_ns);
    {
        ebc_address a4 = t_addr(0xdd, 4);
        CHECK_FAIL(t_load(m, &a4, "mem:missing", NULL, &b, &err), EBC_NOT_FOUND, err);
        t_clear(&err);
    }
    CHECK_OK(ebc_unload(m, &a2), NULL);
    ebc_manager_metrics(m, &mt);
    CHECK(mt.load_failures == 1 && mt.unloads == 1 && mt.loads == 3);

    CHECK_OK(ebc_manager_compact(m, &removed), NULL);
    CHECK(removed == 0); /* LRU entries never expire */
    CHECK_OK(ebc_manager_compact(m, NULL), NULL);
    CHECK_FAIL_NOERR(ebc_manager_compact(NULL, &removed), EBC_NULL_PARAMETER);
    ebc_manager_cache_stats(m, &s);
    CHECK(s.entries == 1);
    CHECK_OK(ebc_unload(m, &a3), NULL);
    ebc_manager_cache_stats(m, &s);
    CHECK(s.entries == 0 && s.bytes == 0);

    /* NULL: nothing written, nothing crashes. */
    memset(&s, 0x5a, sizeof s);
    ebc_manager_cache_stats(NULL, &s);
    CHECK(s.hits == 0x5a5a5a5a5a5a5a5aull);
    ebc_manager_cache_stats(m, NULL);
    memset(&mt, 0x5a, sizeof mt);
    ebc_manager_metrics(NULL, &mt);
    CHECK(mt.loads == 0x5a5a5a5a5a5a5a5aull);
    ebc_manager_metrics(m, NULL);

    /* Prometheus text: size query, too small, then the text itself. */
    {
        size_t need = 0, len = 0;
        char small[8];
        char *text;
        CHECK_OK(ebc_manager_metrics_prometheus(m, NULL, 0, &need), NULL);
        CHECK(need > 100);
        CHECK_FAIL_NOERR(ebc_manager_metrics_prometheus(m, small, sizeof small, &len), EBC_TOO_LARGE);
        CHECK(len == 0);
        text = (char *)malloc(need);
        CHECK(text != NULL);
        CHECK_OK(ebc_manager_metrics_prometheus(m, text, need, &len), NULL);
        CHECK(len == need - 1 && text[len] == '\0' && strlen(text) == len);
        CHECK(strstr(text, "# TYPE ebc_loads_total counter\nebc_loads_total 3\n") != NULL);
        CHECK(strstr(text, "ebc_unloads_total 2\n") != NULL);
        free(text);
        CHECK_FAIL_NOERR(ebc_manager_metrics_prometheus(NULL, NULL, 0, &need), EBC_NULL_PARAMETER);
        CHECK_FAIL_NOERR(ebc_manager_metrics_prometheus(m, NULL, 0, NULL), EBC_NULL_PARAMETER);
        CHECK_FAIL_NOERR(ebc_manager_metrics_prometheus(m, NULL, 16, &len), EBC_NULL_PARAMETER);
    }
    ebc_manager_free(m);
}

static void test_verification_findings(void) {
    /* PUSH1 0x08; JUMP (to nowhere); PUSH2 truncated: two findings at Standard. */
    static const uint8_t bad_jumps[] = {0x60, 0x08, 0x56, 0x61, 0x01};
    ebc_manager *m = t_manager_with(EBC_PRESET_PRODUCTION, EBC_SECURITY_STANDARD, 0, 0);
    ebc_error *err = NULL;
    ebc_address a = t_addr(0xee, 1);
    const ebc_bytecode *b = NULL;
    ebc_finding f;

    CHECK_OK(ebc_manager_put_memory(m, "j", 1, bad_jumps, sizeof bad_jumps, NULL), NULL);
    CHECK_OK(t_load(m, &a, "mem:j", NULL, &b, &err), err);
    CHECK(ebc_bytecode_verification_status(b) == 2);
    CHECK(ebc_bytecode_findings_count(b) == 2);
    CHECK(ebc_bytecode_finding(b, 0, &f));
    CHECK(f.kind == 1 && f.offset == 2 && f.message != NULL && f.message[0] != '\0');
    CHECK(ebc_bytecode_finding(b, 1, &f));
    CHECK(f.kind == 6 && f.offset == 3 && f.message != NULL && f.message[0] != '\0');
    f.kind = 99;
    CHECK(!ebc_bytecode_finding(b, 2, &f) && f.kind == 99);
    CHECK(!ebc_bytecode_finding(b, SIZE_MAX, &f) && f.kind == 99);
    ebc_release(b);
    ebc_manager_free(m);

    /* Verification off: unverified, and no findings. */
    {
        ebc_config *c = ebc_config_new(EBC_PRESET_PRODUCTION);
        CHECK(c != NULL);
        CHECK_OK(ebc_config_set_flag(c, EBC_FLAG_BYTECODE_VERIFICATION, false), NULL);
        m = t_manager(c);
        ebc_config_free(c);
        CHECK_OK(ebc_manager_put_memory(m, "j", 1, bad_jumps, sizeof bad_jumps, NULL), NULL);
        CHECK_OK(t_load(m, &a, "mem:j", NULL, &b, &err), err);
        CHECK(ebc_bytecode_verification_status(b) == 0);
        CHECK(ebc_bytecode_findings_count(b) == 0);
        ebc_release(b);
        ebc_manager_free(m);
    }

    /* Security level none: fully trusted. */
    m = t_manager_with(EBC_PRESET_TESTING, EBC_SECURITY_NONE, 0, 0);
    CHECK_OK(ebc_manager_put_memory(m, "j", 1, bad_jumps, sizeof bad_jumps, NULL), NULL);
    CHECK_OK(t_load(m, &a, "mem:j", NULL, &b, &err), err);
    {
        ebc_permissions p;
        memset(&p, 0, sizeof p);
        ebc_bytecode_permissions(b, &p);
        CHECK(p.trust_level == 4);
    }
    ebc_release(b);
    ebc_manager_free(m);
}

static void test_error_objects(void) {
    ebc_manager *m = t_manager(NULL);
    ebc_error *err = NULL;
    ebc_address a = t_addr(0x11, 1);
    const ebc_bytecode *b = NULL;
    const char *msg;

    CHECK(ebc_error_status(NULL) == EBC_NULL_PARAMETER);
    CHECK(ebc_error_message(NULL) != NULL && ebc_error_message(NULL)[0] == '\0');
    ebc_error_free(NULL);

    CHECK_FAIL(t_load(m, &a, "mem:absent", NULL, &b, &err), EBC_NOT_FOUND, err);
    msg = ebc_error_message(err);
    CHECK(ebc_error_message(err) == msg); /* owned by err, stable */
    CHECK_MSG(err, "absent");
    CHECK(ebc_error_status(err) == EBC_NOT_FOUND);
    t_clear(&err);
    CHECK(err == NULL);

    /* Two errors are independent objects. */
    {
        ebc_error *e1 = NULL, *e2 = NULL;
        CHECK_FAIL(t_load(m, &a, "nosuch:x", NULL, &b, &e1), EBC_LOADER_NOT_FOUND, e1);
        CHECK_FAIL(t_load(m, &a, "mem:absent", NULL, &b, &e2), EBC_NOT_FOUND, e2);
        CHECK(e1 != e2);
        ebc_error_free(e2);
        CHECK(ebc_error_status(e1) == EBC_LOADER_NOT_FOUND);
        CHECK_MSG(e1, "nosuch");
        ebc_error_free(e1);
    }
    ebc_manager_free(m);
}

int main(void) {
    test_versions_and_status_names();
    test_config();
    test_manager_and_load();
    test_load_options();
    test_default_source_lazy_loading_and_preload();
    test_stats_metrics_compact();
    test_verification_findings();
    test_error_objects();
    printf("test_api: ok\n");
    return 0;
}
