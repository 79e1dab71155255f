/*
 * Compressed sources and IPFS configuration through the C ABI: the real
 * WETH9 code as a gzip file (stored deflate blocks, written here with its
 * CRC-32) decodes and reports its compression and ratio; IPFS gateways and
 * the source size cap are set and checked; IPFS loads that cannot succeed
 * fail with their status, never a crash or a hang.
 */
#include "ebc_test.h"

static uint32_t crc32_of(const uint8_t *data, size_t len) {
    uint32_t crc = 0xffffffffu;
    size_t i;
    int bit;
    for (i = 0; i < len; i++) {
        crc ^= data[i];
        for (bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put_le32(uint8_t *out, uint32_t v) {
    out[0] = (uint8_t)v;
    out[1] = (uint8_t)(v >> 8);
    out[2] = (uint8_t)(v >> 16);
    out[3] = (uint8_t)(v >> 24);
}

/* A gzip member holding `len` (< 65536) bytes in one stored deflate block. */
static uint8_t *gzip_stored(const uint8_t *data, size_t len, size_t *out_len) {
    static const uint8_t header[10] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff};
    uint8_t *out = (uint8_t *)malloc(len + 10 + 5 + 8);
    CHECK(out != NULL && len < 65536);
    memcpy(out, header, 10);
    out[10] = 0x01; /* BFINAL, stored */
    out[11] = (uint8_t)len;
    out[12] = (uint8_t)(len >> 8);
    out[13] = (uint8_t)~len;
    out[14] = (uint8_t)(~len >> 8);
    memcpy(out + 15, data, len);
    put_le32(out + 15 + len, crc32_of(data, len));
    put_le32(out + 19 + len, (uint32_t)len);
    *out_len = len + 23;
    return out;
}

int main(void) {
    size_t weth_len = 0, gz_len = 0;
    uint8_t *weth = t_read_file(EBC_TEST_WETH9, &weth_len);
    uint8_t *gz = gzip_stored(weth, weth_len, &gz_len);
    ebc_config *c = ebc_config_new(EBC_PRESET_TESTING);
    ebc_manager *m;
    ebc_error *err = NULL;
    const ebc_bytecode *b = NULL;
    ebc_address a = t_addr(0x51, 1);
    char uri[400];
    double ratio;
    t_tmpdir dir;
    const char *path;
    static const char gateway[] = "http://127.0.0.1:1";
    static const char cid_uri[] = "ipfs://bafkreihxal34lu3qephizgzl36ipku26chd6opasfcuri3yx6bsuvnwj5m";

    t_tmpdir_make(&dir);
    CHECK(c != NULL);

    /* Configuration: gateways must be http(s); the source cap has a ceiling. */
    CHECK_FAIL_NOERR(ebc_config_add_ipfs_gateway(NULL, gateway, strlen(gateway), NULL), EBC_NULL_PARAMETER);
    CHECK_FAIL(ebc_config_add_ipfs_gateway(c, "ftp://gw", 8, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "not an http:// or https:// URL");
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_ipfs_gateway(c, NULL, 0, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(ebc_config_set_max_source_size(c, (size_t)1 << 31), EBC_INVALID_ARGUMENT);
    CHECK_FAIL_NOERR(ebc_config_set_max_source_size(NULL, 1), EBC_NULL_PARAMETER);
    CHECK_OK(ebc_config_set_max_source_size(c, (size_t)8 << 20), NULL);
    CHECK_OK(ebc_config_set_loader_timeout_ms(c, 3000), NULL);
    m = t_manager(c);

    /* Without a gateway an IPFS load has no loader to turn to. */
    CHECK_FAIL(t_load(m, &a, cid_uri, NULL, &b, &err), EBC_LOADER_NOT_FOUND, err);
    CHECK_MSG(err, "no IPFS gateways");
    t_clear(&err);
    CHECK_FAIL(t_load(m, &a, "ipfs://not-a-cid", NULL, &b, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    ebc_manager_free(m);

    /* A gateway nobody listens on: an I/O failure, after bounded retries. */
    CHECK_OK(ebc_config_add_ipfs_gateway(c, gateway, strlen(gateway), &err), err);
    m = t_manager(c);
    CHECK_FAIL(t_load(m, &a, cid_uri, NULL, &b, &err), EBC_IO, err);
    CHECK_MSG(err, "127.0.0.1:1");
    t_clear(&err);
    CHECK(ebc_get(m, &a) == NULL);

    /* gzip-compressed raw code decodes, with its compression recorded. */
    path = t_write_file(&dir, "weth9.bin.gz", gz, gz_len);
    snprintf(uri, sizeof uri, "file:%s", path);
    CHECK_OK(t_load(m, &a, uri, NULL, &b, &err), err);
    CHECK(t_code_is(b, weth, weth_len));
    CHECK(ebc_bytecode_compression(b) == EBC_COMPRESSION_GZIP);
    ratio = ebc_bytecode_compression_ratio(b);
    CHECK(ratio > 0.99 * (double)weth_len / (double)gz_len && ratio < 1.01 * (double)weth_len / (double)gz_len);
    ebc_release(b);

    /* Cut short, it is corrupt, and nothing is cached. */
    path = t_write_file(&dir, "cut.bin.gz", gz, gz_len / 2);
    snprintf(uri, sizeof uri, "file:%s", path);
    a = t_addr(0x51, 2);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "gzip");
    t_clear(&err);
    CHECK(ebc_get(m, &a) == NULL);

    /* Uncompressed code says so; NULL gets the documented defaults. */
    snprintf(uri, sizeof uri, "file:%s", EBC_TEST_WETH9);
    a = t_addr(0x51, 3);
    CHECK_OK(t_load(m, &a, uri, NULL, &b, &err), err);
    CHECK(ebc_bytecode_compression(b) == EBC_COMPRESSION_NONE);
    CHECK(ebc_bytecode_compression_ratio(b) == 1.0);
    ebc_release(b);
    CHECK(ebc_bytecode_compression(NULL) == EBC_COMPRESSION_NONE);
    CHECK(ebc_bytecode_compression_ratio(NULL) == 0.0);

    ebc_manager_free(m);
    ebc_config_free(c);
    free(gz);
    free(weth);
    t_tmpdir_remove(&dir);
    return 0;
}
