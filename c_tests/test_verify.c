/*
 * Verification and provenance through the C ABI: ebc_verify without a
 * manager (WETH9, findings, capabilities, forks, limits), the capability,
 * fork and trust constants, code signing round trips at Strict and
 * Paranoid with both schemes, file roots and allowed hosts, and NULL for
 * every pointer argument of these functions.
 */
#include "ebc_test.h"

static uint16_t next_index = 1;

/* A fresh address, so that no load is answered from the cache. */
static ebc_address fresh(void) {
    return t_addr(0x5a, next_index++);
}

/* "file:<path>", malloc'd. */
static char *file_uri(const char *path) {
    size_t cap = strlen(path) + 8;
    char *uri = (char *)malloc(cap);
    CHECK(uri != NULL);
    snprintf(uri, cap, "file:%s", path);
    return uri;
}

/* Index of the first finding of `kind` at `offset`, or -1. */
static long find_finding(const ebc_bytecode *b, uint32_t kind, size_t offset) {
    size_t i;
    for (i = 0; i < ebc_bytecode_findings_count(b); i++) {
        ebc_finding f;
        CHECK(ebc_bytecode_finding(b, i, &f));
        CHECK(f.message != NULL && f.message[0] != '\0');
        if (f.kind == kind && f.offset == offset) return (long)i;
    }
    return -1;
}

/* ---- the constants ---------------------------------------------------- */

static void test_constants(void) {
    /* The capability bits are distinct single bits, in the documented order. */
    const uint32_t caps[] = {EBC_CAP_SELFDESTRUCT, EBC_CAP_DELEGATECALL, EBC_CAP_CALLCODE,
                             EBC_CAP_CREATE,       EBC_CAP_CREATE2,      EBC_CAP_SSTORE,
                             EBC_CAP_LOG,          EBC_CAP_CALL_WITH_VALUE, EBC_CAP_CALL,
                             EBC_CAP_STATICCALL,   EBC_CAP_TSTORE};
    size_t i;
    for (i = 0; i < sizeof caps / sizeof caps[0]; i++) CHECK(caps[i] == (1u << i));
    CHECK(EBC_FORK_FRONTIER == 0 && EBC_FORK_HOMESTEAD == 1 && EBC_FORK_BYZANTIUM == 4);
    CHECK(EBC_FORK_PARIS == 10 && EBC_FORK_SHANGHAI == 11 && EBC_FORK_CANCUN == 12);
    CHECK(EBC_FORK_PRAGUE == 13 && EBC_FORK_OSAKA == 14);
    CHECK(EBC_TRUST_UNTRUSTED == 0 && EBC_TRUST_LOW == 1 && EBC_TRUST_MEDIUM == 2);
    CHECK(EBC_TRUST_HIGH == 3 && EBC_TRUST_FULLY_TRUSTED == 4);
    CHECK(EBC_SCHEME_ED25519 == 0 && EBC_SCHEME_SECP256K1_EIP191 == 1);
    CHECK(EBC_SIGNATURE_MAX_LEN == 65 && EBC_SIGNER_IDENTITY_MAX_LEN == 32);
    CHECK(ebc_bytecode_capabilities(NULL) == 0);
}

/* ---- ebc_verify ------------------------------------------------------- */

static void test_verify_weth9(const uint8_t *file, size_t file_len) {
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_hash h;
    ebc_address zero, got;
    uint32_t caps;
    size_t i;

    CHECK_OK(ebc_verify(file, file_len, EBC_SECURITY_STANDARD, EBC_FORK_OSAKA, 0, &b, &err), err);
    CHECK(b != NULL);
    CHECK(t_code_is(b, file, file_len));
    ebc_bytecode_code_hash(b, &h);
    CHECK(t_hash_is(&h, T_WETH9_CODE_HASH));
    ebc_bytecode_sha256(b, &h);
    CHECK(t_hash_is(&h, T_WETH9_SHA256));
    caps = ebc_bytecode_capabilities(b);
    CHECK(caps & EBC_CAP_SSTORE);
    CHECK(caps & EBC_CAP_LOG);
    CHECK(caps & EBC_CAP_CALL_WITH_VALUE); /* withdraw() sends ether */
    CHECK(!(caps & EBC_CAP_SELFDESTRUCT));
    CHECK(!(caps & EBC_CAP_DELEGATECALL));
    CHECK(!(caps & EBC_CAP_CREATE) && !(caps & EBC_CAP_CREATE2) && !(caps & EBC_CAP_TSTORE));
    CHECK(caps < (1u << 11));
    CHECK(ebc_bytecode_jumpdest_count(b) == 64);
    CHECK(ebc_bytecode_is_jumpdest(b, 175) && !ebc_bytecode_is_jumpdest(b, 1208));
    CHECK(ebc_bytecode_verification_status(b) == 1 || ebc_bytecode_verification_status(b) == 2);
    CHECK((ebc_bytecode_verification_status(b) == 2) == (ebc_bytecode_findings_count(b) > 0));
    for (i = 0; i < ebc_bytecode_findings_count(b); i++) {
        ebc_finding f;
        CHECK(ebc_bytecode_finding(b, i, &f));
        CHECK(f.kind <= 6 && f.offset < file_len);
    }
    memset(&zero, 0, sizeof zero);
    memset(&got, 0xff, sizeof got);
    ebc_bytecode_address(b, &got);
    CHECK(t_addr_eq(&got, &zero));
    CHECK(strcmp(ebc_bytecode_source_uri(b), "(bytes)") == 0);
    CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_MEMORY);
    ebc_release(b);

    /* Below Standard the capability analysis does not run. */
    b = NULL;
    CHECK_OK(ebc_verify(file, file_len, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, &b, &err), err);
    CHECK(ebc_bytecode_capabilities(b) == 0 && ebc_bytecode_findings_count(b) == 0);
    CHECK(ebc_bytecode_verification_status(b) == 1);
    ebc_release(b);

    /* The size limit: exactly the code's size passes, one byte less does not. */
    b = NULL;
    CHECK_OK(ebc_verify(file, file_len, EBC_SECURITY_STANDARD, EBC_FORK_OSAKA, file_len, &b, &err),
             err);
    ebc_release(b);
    b = NULL;
    CHECK_FAIL(ebc_verify(file, file_len, EBC_SECURITY_STANDARD, EBC_FORK_OSAKA, file_len - 1, &b,
                          &err),
               EBC_TOO_LARGE, err);
    CHECK(b == NULL);
    t_clear(&err);

    /* Strict and Paranoid need a trusted signature, which ebc_verify cannot have. */
    CHECK_FAIL(ebc_verify(file, file_len, EBC_SECURITY_STRICT, EBC_FORK_OSAKA, 0, &b, &err),
               EBC_SIGNATURE_INVALID, err);
    t_clear(&err);
    CHECK_FAIL(ebc_verify(file, file_len, EBC_SECURITY_PARANOID, EBC_FORK_OSAKA, 0, &b, &err),
               EBC_SIGNATURE_INVALID, err);
    t_clear(&err);
    CHECK(b == NULL);
}

static void test_verify_small_codes(void) {
    /* Old solc: PUSH1 0x60 PUSH1 0x40 MSTORE PUSH1 8 JUMP JUMPDEST PUSH1 2 JUMP;
       the last JUMP (offset 11) goes to 2, which is PUSH data. */
    static const uint8_t old_solc[] = {0x60, 0x60, 0x60, 0x40, 0x52, 0x60,
                                       0x08, 0x56, 0x5b, 0x60, 0x02, 0x56};
    static const char old_solc_hex[] = "0x60606040526008565b600256\n";
    static const uint8_t ef00[] = {0xef, 0x00, 0x01, 0x00};
    static const uint8_t push0[] = {0x5f, 0x00};
    const ebc_bytecode *b = NULL, *c = NULL;
    ebc_error *err = NULL;
    ebc_hash h1, h2;
    uint8_t *big;

    CHECK_OK(ebc_verify(old_solc, sizeof old_solc, EBC_SECURITY_STANDARD, EBC_FORK_OSAKA, 0, &b,
                        &err),
             err);
    CHECK(ebc_bytecode_verification_status(b) == 2);
    CHECK(find_finding(b, 1, 11) >= 0);
    CHECK(find_finding(b, 1, 7) < 0); /* the first JUMP, to 8, is fine */
    CHECK(ebc_bytecode_is_jumpdest(b, 8) && ebc_bytecode_jumpdest_count(b) == 1);
    /* The same code as hex text. */
    CHECK_OK(ebc_verify((const uint8_t *)old_solc_hex, strlen(old_solc_hex), EBC_SECURITY_STANDARD,
                        EBC_FORK_OSAKA, 0, &c, &err),
             err);
    ebc_bytecode_code_hash(b, &h1);
    ebc_bytecode_code_hash(c, &h2);
    CHECK(memcmp(h1.bytes, h2.bytes, 32) == 0 && t_code_is(c, old_solc, sizeof old_solc));
    ebc_release(c);
    ebc_release(b);

    /* 0xEF00 is no EIP-7702 delegation: rejected from Basic, accepted at None. */
    b = NULL;
    CHECK_FAIL(ebc_verify(ef00, sizeof ef00, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, &b, &err),
               EBC_VERIFICATION_FAILED, err);
    CHECK(b == NULL);
    t_clear(&err);
    CHECK_OK(ebc_verify(ef00, sizeof ef00, EBC_SECURITY_NONE, EBC_FORK_OSAKA, 0, &b, &err), err);
    ebc_release(b);

    /* The fork decides the instruction set: PUSH0 arrived with Shanghai. */
    CHECK_OK(ebc_verify(push0, sizeof push0, EBC_SECURITY_STANDARD, EBC_FORK_PARIS, 0, &b, &err),
             err);
    CHECK(find_finding(b, 0, 0) >= 0);
    ebc_release(b);
    CHECK_OK(ebc_verify(push0, sizeof push0, EBC_SECURITY_STANDARD, EBC_FORK_SHANGHAI, 0, &b,
                        &err),
             err);
    CHECK(ebc_bytecode_findings_count(b) == 0 && ebc_bytecode_verification_status(b) == 1);
    ebc_release(b);

    /* Oversized: past the EIP-170 default, and past an explicit limit. */
    big = (uint8_t *)calloc(24577, 1);
    CHECK(big != NULL);
    b = NULL;
    CHECK_OK(ebc_verify(big, 24576, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, &b, &err), err);
    ebc_release(b);
    b = NULL;
    CHECK_FAIL(ebc_verify(big, 24577, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, &b, &err),
               EBC_TOO_LARGE, err);
    CHECK_MSG(err, "24577");
    t_clear(&err);
    CHECK_FAIL(ebc_verify(big, 101, EBC_SECURITY_STANDARD, EBC_FORK_OSAKA, 100, &b, &err),
               EBC_TOO_LARGE, err);
    t_clear(&err);
    /* At None only the 16 MiB ceiling applies. */
    CHECK_OK(ebc_verify(big, 24577, EBC_SECURITY_NONE, EBC_FORK_OSAKA, 0, &b, &err), err);
    ebc_release(b);
    b = NULL;
    free(big);

    /* Unknown level, fork, limit. */
    CHECK_FAIL(ebc_verify(push0, 2, 5, EBC_FORK_OSAKA, 0, &b, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_verify(push0, 2, EBC_SECURITY_BASIC, EBC_FORK_OSAKA + 1, 0, &b, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_verify(push0, 2, EBC_SECURITY_BASIC, 0xffffffffu, 0, &b, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_verify(push0, 2, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, (size_t)16 * 1024 * 1024 + 1,
                          &b, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    /* Malformed hex. */
    CHECK_FAIL(ebc_verify((const uint8_t *)"0x6g", 4, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, &b,
                          &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);

    /* NULL arguments; empty code has nothing to verify. */
    CHECK_FAIL(ebc_verify(NULL, 2, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, &b, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_verify(push0, 2, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, NULL, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(ebc_verify(NULL, 2, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, &b, NULL),
                     EBC_NULL_PARAMETER);
    CHECK_FAIL(ebc_verify(NULL, 0, EBC_SECURITY_BASIC, EBC_FORK_OSAKA, 0, &b, &err), EBC_NOT_FOUND, err);
    t_clear(&err);
    CHECK(b == NULL);
}

/* ---- config: fork, file roots, hosts ----------------------------------- */

static void test_config_fork(void) {
    static const uint8_t push0[] = {0x5f, 0x00};
    ebc_config *c = ebc_config_new(EBC_PRESET_PRODUCTION);
    ebc_manager *m;
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_address a = fresh();

    CHECK(c != NULL);
    CHECK_FAIL_NOERR(ebc_config_set_fork(c, EBC_FORK_OSAKA + 1), EBC_INVALID_ARGUMENT);
    CHECK_FAIL_NOERR(ebc_config_set_fork(NULL, EBC_FORK_PARIS), EBC_NULL_PARAMETER);
    CHECK_OK(ebc_config_set_fork(c, EBC_FORK_PARIS), NULL);
    m = t_manager(c);
    CHECK_OK(ebc_manager_put_memory(m, "push0", 5, push0, sizeof push0, &err), err);
    CHECK_OK(t_load(m, &a, "mem:push0", NULL, &b, &err), err);
    CHECK(find_finding(b, 0, 0) >= 0);
    ebc_release(b);
    ebc_manager_free(m);

    CHECK_OK(ebc_config_set_fork(c, EBC_FORK_SHANGHAI), NULL);
    m = t_manager(c);
    CHECK_OK(ebc_manager_put_memory(m, "push0", 5, push0, sizeof push0, &err), err);
    CHECK_OK(t_load(m, &a, "mem:push0", NULL, &b, &err), err);
    CHECK(ebc_bytecode_findings_count(b) == 0);
    ebc_release(b);
    ebc_manager_free(m);
    ebc_config_free(c);
}

static void test_file_roots(const uint8_t *file, size_t file_len) {
    ebc_config *c = ebc_config_new(EBC_PRESET_PRODUCTION); /* Standard */
    ebc_config *basic;
    ebc_manager *m;
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_address a;
    t_tmpdir dir;
    const char *inside;
    char *uri, link_path[320];

    CHECK(c != NULL);
    t_tmpdir_make(&dir);
    inside = t_write_file(&dir, "weth9.bin", file, file_len);
    snprintf(link_path, sizeof link_path, "%s/escape.bin", dir.path);
    CHECK(symlink(EBC_TEST_WETH9, link_path) == 0);

    /* Argument checks. */
    CHECK_FAIL(ebc_config_add_file_root(NULL, dir.path, strlen(dir.path), &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_file_root(c, NULL, 3, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_file_root(c, NULL, 0, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_file_root(c, "a\0b", 3, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_file_root(c, "\xff", 1, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(ebc_config_add_file_root(c, NULL, 3, NULL), EBC_NULL_PARAMETER);

    CHECK_OK(ebc_config_add_file_root(c, dir.path, strlen(dir.path), &err), err);
    m = t_manager(c);

    /* Inside the root: accepted, as a file: URI and as a plain path. */
    uri = file_uri(inside);
    a = fresh();
    CHECK_OK(t_load(m, &a, uri, NULL, &b, &err), err);
    CHECK(t_code_is(b, file, file_len));
    ebc_release(b);
    free(uri);
    a = fresh();
    CHECK_OK(t_load(m, &a, inside, NULL, &b, &err), err);
    ebc_release(b);

    /* Outside: refused, directly and through a symlink inside the root. */
    b = NULL;
    uri = file_uri(EBC_TEST_WETH9);
    a = fresh();
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_SECURITY_VIOLATION, err);
    CHECK_MSG(err, "outside the allowed file roots");
    t_clear(&err);
    CHECK_FAIL(t_load(m, &a, EBC_TEST_WETH9, NULL, &b, &err), EBC_SECURITY_VIOLATION, err);
    t_clear(&err);
    CHECK_FAIL(t_load(m, &a, link_path, NULL, &b, &err), EBC_SECURITY_VIOLATION, err);
    t_clear(&err);
    CHECK(b == NULL && ebc_get(m, &a) == NULL);
    ebc_manager_free(m);

    /* Below Standard the roots are ignored. */
    basic = ebc_config_new(EBC_PRESET_DEVELOPMENT);
    CHECK(basic != NULL);
    CHECK_OK(ebc_config_add_file_root(basic, dir.path, strlen(dir.path), &err), err);
    m = t_manager(basic);
    CHECK_OK(t_load(m, &a, uri, NULL, &b, &err), err);
    ebc_release(b);
    ebc_manager_free(m);
    ebc_config_free(basic);
    free(uri);

    /* A root that does not exist fails when the manager is made. */
    {
        static const char missing[] = "/nonexistent/ebc-c-test-root";
        ebc_manager *none = NULL;
        CHECK_OK(ebc_config_add_file_root(c, missing, strlen(missing), &err), err);
        CHECK_FAIL(ebc_manager_new(c, &none, &err), EBC_IO, err);
        CHECK(none == NULL);
        t_clear(&err);
    }

    ebc_config_free(c);
    unlink(link_path);
    t_tmpdir_remove(&dir);
}

static const uint8_t HOST_CODE[] = {0x60, 0x01, 0x60, 0x02, 0x01, 0x00};

static ebc_status host_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    (void)user_data;
    (void)req;
    return ebc_sink_write(sink, HOST_CODE, sizeof HOST_CODE);
}

static void test_allowed_hosts(void) {
    ebc_config *c = ebc_config_new(EBC_PRESET_PRODUCTION); /* Standard */
    ebc_manager *m;
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_address a = fresh();

    CHECK(c != NULL);
    CHECK_FAIL(ebc_config_add_allowed_host(NULL, "x", 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_allowed_host(c, NULL, 4, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_allowed_host(c, "", 0, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_OK(ebc_config_add_allowed_host(c, "good.example", 12, &err), err);
    CHECK_OK(ebc_config_add_allowed_host(c, "also.example", 12, &err), err);
    m = t_manager(c);
    CHECK_OK(ebc_register_loader(m, "xh", 2, host_loader, NULL, NULL, &err), err);
    CHECK_FAIL(t_load(m, &a, "xh://evil.example/code", NULL, &b, &err), EBC_SECURITY_VIOLATION, err);
    CHECK_MSG(err, "evil.example");
    t_clear(&err);
    CHECK(b == NULL);
    CHECK_OK(t_load(m, &a, "xh://GOOD.example:8545/code", NULL, &b, &err), err);
    CHECK(t_code_is(b, HOST_CODE, sizeof HOST_CODE));
    ebc_release(b);
    a = fresh();
    CHECK_OK(t_load(m, &a, "xh://also.example/code", NULL, &b, &err), err);
    ebc_release(b);
    ebc_manager_free(m);
    ebc_config_free(c);
}

/* ---- signing ----------------------------------------------------------- */

/* Signs the WETH9 code hash with `secret` under `scheme` and version "1.0"
   and sets it on `o`; returns the signature length. */
static size_t sign_into(ebc_load_options *o, uint32_t scheme, const uint8_t secret[32],
                        uint8_t sig[EBC_SIGNATURE_MAX_LEN]) {
    ebc_hash h;
    ebc_error *err = NULL;
    size_t len = 0;
    t_parse_hash(T_WETH9_CODE_HASH, &h);
    CHECK_OK(ebc_sign(scheme, secret, 32, &h, "1.0", 3, sig, EBC_SIGNATURE_MAX_LEN, &len, &err),
             err);
    CHECK(len == (scheme == EBC_SCHEME_ED25519 ? 64u : 65u));
    CHECK_OK(ebc_load_options_set_signature(o, scheme, sig, len, "1.0", 3, &err), err);
    return len;
}

/* Trusts the signer of `secret` in `m` at `trust`. */
static void trust_signer(ebc_manager *m, uint32_t scheme, const uint8_t secret[32],
                         uint32_t trust) {
    uint8_t id[EBC_SIGNER_IDENTITY_MAX_LEN];
    size_t id_len = 0;
    ebc_error *err = NULL;
    CHECK_OK(ebc_signer_identity(scheme, secret, 32, id, sizeof id, &id_len, &err), err);
    if (scheme == EBC_SCHEME_ED25519) {
        CHECK(id_len == 32);
        CHECK_OK(ebc_manager_trust_ed25519(m, id, "acme", 4, trust, &err), err);
    } else {
        ebc_address signer;
        CHECK(id_len == 20);
        memcpy(signer.bytes, id, 20);
        CHECK_OK(ebc_manager_trust_ethereum(m, &signer, "acme", 4, trust, &err), err);
    }
}

static uint32_t trust_of(const ebc_bytecode *b) {
    ebc_permissions p;
    memset(&p, 0xff, sizeof p);
    ebc_bytecode_permissions(b, &p);
    return p.trust_level;
}

static void test_signing_round_trip(uint32_t scheme, const char *uri) {
    uint8_t secret[32], other[32], sig[EBC_SIGNATURE_MAX_LEN], bad[EBC_SIGNATURE_MAX_LEN];
    ebc_manager *m = t_manager_with(EBC_PRESET_PRODUCTION, EBC_SECURITY_STRICT, 0, 0);
    ebc_load_options *o = ebc_load_options_new();
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_address a;
    ebc_hash h;
    size_t len;
    uint32_t granted = scheme == EBC_SCHEME_ED25519 ? EBC_TRUST_MEDIUM : EBC_TRUST_FULLY_TRUSTED;

    CHECK(o != NULL);
    memset(secret, 0x11, sizeof secret);
    memset(other, 0x22, sizeof other);
    trust_signer(m, scheme, secret, granted);

    /* Signed by the trusted key: loaded, at the granted trust level. */
    len = sign_into(o, scheme, secret, sig);
    a = fresh();
    CHECK_OK(t_load(m, &a, uri, o, &b, &err), err);
    CHECK(trust_of(b) == granted);
    ebc_bytecode_code_hash(b, &h);
    CHECK(t_hash_is(&h, T_WETH9_CODE_HASH));
    ebc_release(b);
    b = NULL;

    /* No signature at Strict. */
    a = fresh();
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_SIGNATURE_INVALID, err);
    t_clear(&err);

    /* One flipped byte. */
    memcpy(bad, sig, len);
    bad[10] ^= 1;
    CHECK_OK(ebc_load_options_set_signature(o, scheme, bad, len, "1.0", 3, &err), err);
    CHECK_FAIL(t_load(m, &a, uri, o, &b, &err), EBC_SIGNATURE_INVALID, err);
    t_clear(&err);

    /* The right bytes under another version label. */
    CHECK_OK(ebc_load_options_set_signature(o, scheme, sig, len, "2.0", 3, &err), err);
    CHECK_FAIL(t_load(m, &a, uri, o, &b, &err), EBC_SIGNATURE_INVALID, err);
    t_clear(&err);

    /* Truncated: malformed. */
    CHECK_OK(ebc_load_options_set_signature(o, scheme, sig, len - 1, "1.0", 3, &err), err);
    CHECK_FAIL(t_load(m, &a, uri, o, &b, &err), EBC_SIGNATURE_INVALID, err);
    t_clear(&err);

    /* Cleared: as if none. */
    CHECK_OK(ebc_load_options_set_signature(o, scheme, NULL, 0, NULL, 0, &err), err);
    CHECK_FAIL(t_load(m, &a, uri, o, &b, &err), EBC_SIGNATURE_INVALID, err);
    t_clear(&err);

    /* A key nobody trusts. */
    sign_into(o, scheme, other, bad);
    CHECK_FAIL(t_load(m, &a, uri, o, &b, &err), EBC_SIGNATURE_INVALID, err);
    t_clear(&err);
    CHECK(b == NULL && ebc_get(m, &a) == NULL);

    /* Trusted now, at another level; trusting the first key again replaces its level. */
    trust_signer(m, scheme, other, EBC_TRUST_LOW);
    CHECK_OK(t_load(m, &a, uri, o, &b, &err), err);
    CHECK(trust_of(b) == EBC_TRUST_LOW);
    ebc_release(b);
    trust_signer(m, scheme, secret, EBC_TRUST_HIGH);
    sign_into(o, scheme, secret, sig);
    a = fresh();
    CHECK_OK(t_load(m, &a, uri, o, &b, &err), err);
    CHECK(trust_of(b) == EBC_TRUST_HIGH);
    ebc_release(b);

    ebc_load_options_free(o);
    ebc_manager_free(m);
}

static void test_paranoid(const char *uri) {
    uint8_t secret[32], sig[EBC_SIGNATURE_MAX_LEN];
    ebc_manager *m = t_manager_with(EBC_PRESET_PRODUCTION, EBC_SECURITY_PARANOID, 0, 0);
    ebc_load_options *o = ebc_load_options_new();
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_address a = fresh();

    CHECK(o != NULL);
    memset(secret, 0x33, sizeof secret);
    trust_signer(m, EBC_SCHEME_ED25519, secret, EBC_TRUST_LOW);
    sign_into(o, EBC_SCHEME_ED25519, secret, sig);
    /* WETH9 stores, logs and sends value: Low trust permits none of that. */
    CHECK_FAIL(t_load(m, &a, uri, o, &b, &err), EBC_SECURITY_VIOLATION, err);
    CHECK_MSG(err, "sstore");
    t_clear(&err);
    CHECK(b == NULL && ebc_get(m, &a) == NULL);
    /* Medium permits state and logs, and calls. */
    trust_signer(m, EBC_SCHEME_ED25519, secret, EBC_TRUST_MEDIUM);
    CHECK_OK(t_load(m, &a, uri, o, &b, &err), err);
    CHECK(trust_of(b) == EBC_TRUST_MEDIUM);
    ebc_release(b);
    ebc_load_options_free(o);
    ebc_manager_free(m);
}

/* ---- argument checks of the signing functions -------------------------- */

static void test_signing_arguments(void) {
    uint8_t secret[32], key[32], out[EBC_SIGNATURE_MAX_LEN];
    ebc_manager *m = t_manager(NULL);
    ebc_load_options *o = ebc_load_options_new();
    ebc_error *err = NULL;
    ebc_address signer = t_addr(0x44, 1);
    ebc_hash h;
    size_t len = 12345;
    uint32_t scheme;

    CHECK(o != NULL);
    memset(secret, 0x11, sizeof secret);
    memset(&h, 0, sizeof h);
    CHECK_OK(ebc_signer_identity(EBC_SCHEME_ED25519, secret, 32, key, sizeof key, &len, &err), err);

    /* ebc_manager_trust_ed25519 */
    CHECK_FAIL(ebc_manager_trust_ed25519(NULL, key, "n", 1, EBC_TRUST_HIGH, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_trust_ed25519(m, NULL, "n", 1, EBC_TRUST_HIGH, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_trust_ed25519(m, key, NULL, 1, EBC_TRUST_HIGH, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_trust_ed25519(m, key, "n", 1, EBC_TRUST_FULLY_TRUSTED + 1, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_trust_ed25519(m, key, "\xff", 1, EBC_TRUST_HIGH, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(ebc_manager_trust_ed25519(m, NULL, "n", 1, EBC_TRUST_HIGH, NULL),
                     EBC_NULL_PARAMETER);
    CHECK_OK(ebc_manager_trust_ed25519(m, key, NULL, 0, EBC_TRUST_UNTRUSTED, &err), err);

    /* ebc_manager_trust_ethereum */
    CHECK_FAIL(ebc_manager_trust_ethereum(NULL, &signer, "n", 1, EBC_TRUST_HIGH, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_trust_ethereum(m, NULL, "n", 1, EBC_TRUST_HIGH, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_trust_ethereum(m, &signer, NULL, 2, EBC_TRUST_HIGH, &err),
               EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_manager_trust_ethereum(m, &signer, "n", 1, 99, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_OK(ebc_manager_trust_ethereum(m, &signer, "n", 1, EBC_TRUST_LOW, &err), err);

    /* ebc_load_options_set_signature */
    memset(out, 1, sizeof out);
    CHECK_FAIL(ebc_load_options_set_signature(NULL, 0, out, 64, "v", 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_load_options_set_signature(o, 0, NULL, 64, "v", 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_load_options_set_signature(o, 0, out, 64, NULL, 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_load_options_set_signature(o, 2, out, 64, "v", 1, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_load_options_set_signature(o, 0, out, 64, "\xfe", 1, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_OK(ebc_load_options_set_signature(o, 0, out, 64, NULL, 0, &err), err);

    for (scheme = 0; scheme <= 1; scheme++) {
        size_t sig_len = scheme == 0 ? 64 : 65, id_len = scheme == 0 ? 32 : 20;
        uint8_t zero[32], high[32];
        memset(zero, 0, sizeof zero);
        memset(high, 0xff, sizeof high);

        /* ebc_sign */
        len = 12345;
        CHECK_FAIL(ebc_sign(scheme, NULL, 32, &h, "", 0, out, sizeof out, &len, &err),
                   EBC_NULL_PARAMETER, err);
        t_clear(&err);
        CHECK_FAIL(ebc_sign(scheme, secret, 32, NULL, "", 0, out, sizeof out, &len, &err),
                   EBC_NULL_PARAMETER, err);
        t_clear(&err);
        CHECK_FAIL(ebc_sign(scheme, secret, 32, &h, NULL, 3, out, sizeof out, &len, &err),
                   EBC_NULL_PARAMETER, err);
        t_clear(&err);
        CHECK_FAIL(ebc_sign(scheme, secret, 32, &h, "", 0, NULL, sizeof out, &len, &err),
                   EBC_NULL_PARAMETER, err);
        t_clear(&err);
        CHECK_FAIL(ebc_sign(scheme, secret, 32, &h, "", 0, out, sizeof out, NULL, &err),
                   EBC_NULL_PARAMETER, err);
        t_clear(&err);
        CHECK_FAIL(ebc_sign(scheme, secret, 31, &h, "", 0, out, sizeof out, &len, &err),
                   EBC_INVALID_ARGUMENT, err);
        t_clear(&err);
        CHECK_FAIL(ebc_sign(scheme, secret, 32, &h, "", 0, out, sig_len - 1, &len, &err),
                   EBC_TOO_LARGE, err);
        t_clear(&err);
        CHECK(len == 12345); /* written only on success */
        CHECK_OK(ebc_sign(scheme, secret, 32, &h, NULL, 0, out, sig_len, &len, &err), err);
        CHECK(len == sig_len);
        if (scheme == EBC_SCHEME_SECP256K1_EIP191) {
            /* Not secp256k1 secrets: zero, and above the group order. */
            CHECK_FAIL(ebc_sign(scheme, zero, 32, &h, "", 0, out, sizeof out, &len, &err),
                       EBC_INVALID_ARGUMENT, err);
            t_clear(&err);
            CHECK_FAIL(ebc_sign(scheme, high, 32, &h, "", 0, out, sizeof out, &len, &err),
                       EBC_INVALID_ARGUMENT, err);
            t_clear(&err);
        }

        /* ebc_signer_identity */
        len = 12345;
        CHECK_FAIL(ebc_signer_identity(scheme, NULL, 32, key, sizeof key, &len, &err),
                   EBC_NULL_PARAMETER, err);
        t_clear(&err);
        CHECK_FAIL(ebc_signer_identity(scheme, secret, 32, NULL, sizeof key, &len, &err),
                   EBC_NULL_PARAMETER, err);
        t_clear(&err);
        CHECK_FAIL(ebc_signer_identity(scheme, secret, 32, key, sizeof key, NULL, &err),
                   EBC_NULL_PARAMETER, err);
        t_clear(&err);
        CHECK_FAIL(ebc_signer_identity(scheme, secret, 33, key, sizeof key, &len, &err),
                   EBC_INVALID_ARGUMENT, err);
        t_clear(&err);
        CHECK_FAIL(ebc_signer_identity(scheme, secret, 32, key, id_len - 1, &len, &err),
                   EBC_TOO_LARGE, err);
        t_clear(&err);
        CHECK(len == 12345);
        CHECK_OK(ebc_signer_identity(scheme, secret, 32, key, id_len, &len, &err), err);
        CHECK(len == id_len);
    }
    CHECK_FAIL(ebc_sign(2, secret, 32, &h, "", 0, out, sizeof out, &len, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_signer_identity(7, secret, 32, key, sizeof key, &len, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(ebc_sign(0, NULL, 32, &h, "", 0, out, sizeof out, &len, NULL),
                     EBC_NULL_PARAMETER);

    ebc_load_options_free(o);
    ebc_manager_free(m);
}

int main(void) {
    size_t file_len = 0;
    uint8_t *file = t_read_file(EBC_TEST_WETH9, &file_len);
    char *uri = file_uri(EBC_TEST_WETH9);

    CHECK(file_len == T_WETH9_SIZE);
    test_constants();
    test_verify_weth9(file, file_len);
    test_verify_small_codes();
    test_config_fork();
    test_file_roots(file, file_len);
    test_allowed_hosts();
    test_signing_round_trip(EBC_SCHEME_ED25519, uri);
    test_signing_round_trip(EBC_SCHEME_SECP256K1_EIP191, uri);
    test_paranoid(uri);
    test_signing_arguments();

    free(uri);
    free(file);
    printf("test_verify: ok\n");
    return 0;
}
