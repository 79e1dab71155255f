/*
 * The real WETH9 runtime code (mainnet 0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2),
 * 3124 raw bytes from the shared corpus, loaded with a file: URI, as a plain
 * path and as hex text, and checked against its known hashes and layout.
 */
#include "ebc_test.h"

static const ebc_address WETH9 = {{0xc0, 0x2a, 0xaa, 0x39, 0xb2, 0x23, 0xfe, 0x8d, 0x0a, 0x0e,
                                   0x5c, 0x4f, 0x27, 0xea, 0xd9, 0x08, 0x3c, 0x75, 0x6c, 0xc2}};

/* Offsets found by walking the code: 175 is the first JUMPDEST (the target
   of `PUSH2 0x00af JUMPI` at the start); 1208 is a 0x5b byte inside PUSH
   data. */
#define FIRST_JUMPDEST 175u
#define PUSHDATA_5B 1208u
#define JUMPDEST_COUNT 64u

static void check_weth9(const ebc_bytecode *b, const uint8_t *file, size_t file_len) {
    ebc_hash h;
    size_t len = 0;
    const uint8_t *code = ebc_bytecode_code(b, &len);
    size_t i, jumpdests = 0;

    CHECK(code != NULL);
    CHECK(len == T_WETH9_SIZE);
    CHECK(file_len == T_WETH9_SIZE && memcmp(code, file, len) == 0);
    ebc_bytecode_code_hash(b, &h);
    CHECK(t_hash_is(&h, T_WETH9_CODE_HASH));
    ebc_bytecode_sha256(b, &h);
    CHECK(t_hash_is(&h, T_WETH9_SHA256));

    CHECK(code[PUSHDATA_5B] == 0x5b);
    CHECK(!ebc_bytecode_is_jumpdest(b, PUSHDATA_5B));
    CHECK(code[FIRST_JUMPDEST] == 0x5b);
    CHECK(ebc_bytecode_is_jumpdest(b, FIRST_JUMPDEST));
    CHECK(!ebc_bytecode_is_jumpdest(b, 0));
    CHECK(!ebc_bytecode_is_jumpdest(b, T_WETH9_SIZE));
    for (i = 0; i < len; i++) {
        if (ebc_bytecode_is_jumpdest(b, i)) {
            CHECK(code[i] == 0x5b);
            jumpdests++;
        }
    }
    CHECK(jumpdests == JUMPDEST_COUNT);
    CHECK(ebc_bytecode_jumpdest_count(b) == JUMPDEST_COUNT);
}

int main(void) {
    const char *path = EBC_TEST_WETH9;
    size_t file_len = 0;
    uint8_t *file = t_read_file(path, &file_len);
    ebc_manager *m = t_manager_with(EBC_PRESET_PRODUCTION, EBC_SECURITY_STANDARD, 0, 0);
    ebc_load_options *o = ebc_load_options_new();
    ebc_error *err = NULL;
    const ebc_bytecode *b = NULL;
    ebc_address got, other = t_addr(0x77, 1), plain = t_addr(0x77, 2);
    ebc_hash want;
    ebc_cache_stats one;
    char *uri;
    size_t i, uri_cap = strlen(path) + 16;
    t_tmpdir dir;

    CHECK(o != NULL);
    uri = (char *)malloc(uri_cap);
    CHECK(uri != NULL);
    snprintf(uri, uri_cap, "file:%s", path);

    /* file: URI, with the expected code hash. */
    t_parse_hash(T_WETH9_CODE_HASH, &want);
    CHECK_OK(ebc_load_options_set_expected_code_hash(o, &want), NULL);
    CHECK_OK(t_load(m, &WETH9, uri, o, &b, &err), err);
    check_weth9(b, file, file_len);
    ebc_bytecode_address(b, &got);
    CHECK(t_addr_eq(&got, &WETH9));
    CHECK(strcmp(ebc_bytecode_source_uri(b), uri) == 0);
    CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_FILE);
    /* Standard level: verified; every finding readable and in range. */
    CHECK(ebc_bytecode_verification_status(b) == 1 || ebc_bytecode_verification_status(b) == 2);
    CHECK((ebc_bytecode_verification_status(b) == 2) == (ebc_bytecode_findings_count(b) > 0));
    for (i = 0; i < ebc_bytecode_findings_count(b); i++) {
        ebc_finding f;
        CHECK(ebc_bytecode_finding(b, i, &f));
        CHECK(f.kind <= 6 && f.offset < T_WETH9_SIZE && f.message != NULL && f.message[0] != '\0');
    }
    ebc_release(b);
    memset(&one, 0, sizeof one);
    ebc_manager_cache_stats(m, &one);
    CHECK(one.entries == 1 && one.bytes > T_WETH9_SIZE);

    /* As a plain path, at another address. */
    CHECK_OK(t_load(m, &plain, path, NULL, &b, &err), err);
    check_weth9(b, file, file_len);
    ebc_release(b);

    /* As hex text with a 0x prefix and line breaks: the same code. */
    {
        size_t hex_len = 2 + 2 * file_len + file_len / 32 + 1, pos = 2;
        char *hex = (char *)malloc(hex_len + 1);
        const char *hex_path;
        CHECK(hex != NULL);
        hex[0] = '0';
        hex[1] = 'x';
        for (i = 0; i < file_len; i++) {
            t_hex(file + i, 1, hex + pos);
            pos += 2;
            if (i % 32 == 31) hex[pos++] = '\n';
        }
        hex[pos++] = '\n';
        CHECK(pos <= hex_len);
        t_tmpdir_make(&dir);
        hex_path = t_write_file(&dir, "weth9.hex", hex, pos);
        free(uri);
        uri_cap = strlen(hex_path) + 16;
        uri = (char *)malloc(uri_cap);
        CHECK(uri != NULL);
        snprintf(uri, uri_cap, "file://%s", hex_path); /* file:///abs form */
        CHECK_OK(t_load(m, &other, uri, o, &b, &err), err);
        check_weth9(b, file, file_len);
        ebc_release(b);
        t_tmpdir_remove(&dir);
        free(hex);
    }

    /* Cached: get finds both addresses, one code. */
    b = ebc_get(m, &WETH9);
    CHECK(b != NULL);
    check_weth9(b, file, file_len);
    ebc_release(b);
    {
        ebc_cache_stats s;
        memset(&s, 0, sizeof s);
        ebc_manager_cache_stats(m, &s);
        CHECK(s.entries == 3);
        /* "each distinct code once, plus every entry": two more entries of
           the same code add far less than another copy of it. */
        CHECK(s.bytes > one.bytes && s.bytes - one.bytes < T_WETH9_SIZE);
    }

    ebc_load_options_free(o);
    ebc_manager_free(m);
    free(uri);
    free(file);
    printf("test_weth9: ok\n");
    return 0;
}
