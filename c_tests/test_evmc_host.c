/*
 * An example EVMC host whose code callbacks (get_code_size, get_code_hash,
 * copy_code, with EVMC's signatures) forward straight to ebc_code_size,
 * ebc_code_hash and ebc_copy_code. evmc.h is not needed: the types below
 * have EVMC's layout (checked against ebc's own).
 *
 * The accounts live in files named by address under a temporary directory,
 * the manager's default source "file:<dir>/{address}": WETH9's code, an
 * empty file (an account without code), and no file (a missing account).
 * A second manager's default source is a callback loader that fails, to
 * show an error is not taken for a missing account. Four threads then ask
 * for the same accounts at once.
 */
#include "ebc_test.h"

#include <pthread.h>

/* EVMC's address and 32-byte value, as evmc.h declares them. */
typedef struct evmc_address {
    uint8_t bytes[20];
} evmc_address;
typedef struct evmc_bytes32 {
    uint8_t bytes[32];
} evmc_bytes32;

/* The host's context: its manager and how many lookups ebc refused. */
typedef struct host_context {
    ebc_manager *manager;
    int errors;
    pthread_mutex_t lock;
} host_context;

/* EVMC's code callbacks have no error channel: a host logs the failure
   and answers as for a missing account (a real node might abort the block). */
static void host_failed(host_context *ctx, const char *what, ebc_error *err) {
    fprintf(stderr, "  host: %s: %s\n", what, ebc_error_message(err));
    ebc_error_free(err);
    pthread_mutex_lock(&ctx->lock);
    ctx->errors++;
    pthread_mutex_unlock(&ctx->lock);
}

static const ebc_address *as_ebc(const evmc_address *address) {
    /* Same layout: 20 bytes, no padding (checked in main). */
    return (const ebc_address *)(const void *)address;
}

/* evmc_get_code_size_fn */
static size_t get_code_size(host_context *ctx, const evmc_address *address) {
    size_t size = 0;
    ebc_error *err = NULL;
    if (ebc_code_size(ctx->manager, as_ebc(address), &size, &err) != EBC_OK) {
        host_failed(ctx, "get_code_size", err);
        return 0;
    }
    return size;
}

/* evmc_get_code_hash_fn */
static evmc_bytes32 get_code_hash(host_context *ctx, const evmc_address *address) {
    evmc_bytes32 out;
    ebc_hash hash;
    ebc_error *err = NULL;
    memset(&out, 0, sizeof out);
    if (ebc_code_hash(ctx->manager, as_ebc(address), &hash, &err) != EBC_OK) {
        host_failed(ctx, "get_code_hash", err);
        return out;
    }
    memcpy(out.bytes, hash.bytes, sizeof out.bytes);
    return out;
}

/* evmc_copy_code_fn */
static size_t copy_code(host_context *ctx, const evmc_address *address, size_t code_offset,
                        uint8_t *buffer_data, size_t buffer_size) {
    size_t copied = 0;
    ebc_error *err = NULL;
    if (ebc_copy_code(ctx->manager, as_ebc(address), code_offset, buffer_data, buffer_size,
                      &copied, &err) != EBC_OK) {
        host_failed(ctx, "copy_code", err);
        return 0;
    }
    return copied;
}

static const char *KECCAK_EMPTY =
    "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";
static const char *ZERO_HASH = "0000000000000000000000000000000000000000000000000000000000000000";

static int bytes32_is(const evmc_bytes32 *h, const char *hex) {
    ebc_hash as;
    memcpy(as.bytes, h->bytes, sizeof as.bytes);
    return t_hash_is(&as, hex);
}

static evmc_address evmc_addr(uint8_t fill) {
    evmc_address a;
    memset(a.bytes, fill, sizeof a.bytes);
    return a;
}

/* The file name "0x" + 40 hex digits of an all-`fill` address. */
static void address_file_name(uint8_t fill, char out[43]) {
    evmc_address a = evmc_addr(fill);
    out[0] = '0';
    out[1] = 'x';
    t_hex(a.bytes, sizeof a.bytes, out + 2);
}

/* Each thread asks for WETH9 (0x11…), the empty account (0x22…) and the
   missing one (0x33…), several times. */
static void *concurrent_lookups(void *arg) {
    host_context *ctx = (host_context *)arg;
    evmc_address weth = evmc_addr(0x11), empty = evmc_addr(0x22), missing = evmc_addr(0x33);
    uint8_t buf[64];
    int i;
    for (i = 0; i < 20; i++) {
        evmc_bytes32 h = get_code_hash(ctx, &weth);
        CHECK(bytes32_is(&h, T_WETH9_CODE_HASH));
        CHECK(get_code_size(ctx, &weth) == T_WETH9_SIZE);
        CHECK(copy_code(ctx, &weth, T_WETH9_SIZE - 10, buf, sizeof buf) == 10);
        h = get_code_hash(ctx, &empty);
        CHECK(bytes32_is(&h, KECCAK_EMPTY));
        h = get_code_hash(ctx, &missing);
        CHECK(bytes32_is(&h, ZERO_HASH));
    }
    return NULL;
}

/* A callback source whose storage is broken: every fetch fails with EBC_IO. */
static ebc_status broken_store(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    (void)user_data;
    (void)req;
    (void)sink;
    return EBC_IO;
}

/* An account without code, counting how often the source is asked. */
static ebc_status counting_empty(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    (void)req;
    (void)sink;
    *(int *)user_data += 1;
    return EBC_OK;
}

/* Three lookups of one account without code through a manager whose
   default source counts its requests; returns the count. */
static int source_requests_for_three_lookups(ebc_config *config, host_context *ctx,
                                             const evmc_address *account) {
    ebc_error *err = NULL;
    int requests = 0, i;
    CHECK_OK(ebc_config_set_default_source(config, "count:{address}", 15, &err), err);
    ctx->manager = t_manager(config);
    CHECK_OK(ebc_register_loader(ctx->manager, "count", 5, counting_empty, &requests, NULL, &err), err);
    for (i = 0; i < 3; i++) CHECK(get_code_size(ctx, account) == 0);
    ebc_manager_free(ctx->manager);
    return requests;
}

int main(void) {
    t_tmpdir dir;
    char name[43], source[400];
    size_t weth_len = 0, copied = 0, size = 7;
    uint8_t *weth = t_read_file(EBC_TEST_WETH9, &weth_len);
    uint8_t buf[T_WETH9_SIZE + 8];
    ebc_config *config = ebc_config_new(EBC_PRESET_TESTING);
    host_context ctx;
    ebc_error *err = NULL;
    ebc_hash hash;
    evmc_address weth_addr = evmc_addr(0x11), empty_addr = evmc_addr(0x22),
                 missing_addr = evmc_addr(0x33);
    evmc_bytes32 h;
    pthread_t threads[4];
    const ebc_bytecode *cached;
    int i;

    CHECK(sizeof(evmc_address) == sizeof(ebc_address));
    CHECK(sizeof(evmc_bytes32) == sizeof(ebc_hash));
    CHECK(weth_len == T_WETH9_SIZE);
    CHECK(config != NULL);

    t_tmpdir_make(&dir);
    address_file_name(0x11, name);
    t_write_file(&dir, name, weth, weth_len);
    address_file_name(0x22, name);
    t_write_file(&dir, name, "", 0);
    snprintf(source, sizeof source, "file:%s/{address}", dir.path);
    CHECK_OK(ebc_config_set_default_source(config, source, strlen(source), &err), err);

    ctx.manager = t_manager(config);
    ctx.errors = 0;
    CHECK(pthread_mutex_init(&ctx.lock, NULL) == 0);

    /* Code: its size, hash and bytes, loaded once on first use and cached. */
    CHECK(get_code_size(&ctx, &weth_addr) == T_WETH9_SIZE);
    h = get_code_hash(&ctx, &weth_addr);
    CHECK(bytes32_is(&h, T_WETH9_CODE_HASH));
    memset(buf, 0xee, sizeof buf);
    CHECK(copy_code(&ctx, &weth_addr, 0, buf, sizeof buf) == T_WETH9_SIZE);
    CHECK(memcmp(buf, weth, T_WETH9_SIZE) == 0);
    CHECK(buf[T_WETH9_SIZE] == 0xee);
    CHECK(copy_code(&ctx, &weth_addr, 100, buf, 5) == 5);
    CHECK(memcmp(buf, weth + 100, 5) == 0);
    CHECK(copy_code(&ctx, &weth_addr, T_WETH9_SIZE, buf, sizeof buf) == 0);
    CHECK(copy_code(&ctx, &weth_addr, (size_t)-1, buf, sizeof buf) == 0);
    cached = ebc_get(ctx.manager, as_ebc(&weth_addr));
    CHECK(cached != NULL);
    ebc_release(cached);

    /* An account without code: size 0, keccak256 of empty; never cached. */
    CHECK(get_code_size(&ctx, &empty_addr) == 0);
    h = get_code_hash(&ctx, &empty_addr);
    CHECK(bytes32_is(&h, KECCAK_EMPTY));
    CHECK(copy_code(&ctx, &empty_addr, 0, buf, sizeof buf) == 0);
    CHECK(ebc_get(ctx.manager, as_ebc(&empty_addr)) == NULL);

    /* A missing account: size 0, hash zero. */
    CHECK(get_code_size(&ctx, &missing_addr) == 0);
    h = get_code_hash(&ctx, &missing_addr);
    CHECK(bytes32_is(&h, ZERO_HASH));
    CHECK(copy_code(&ctx, &missing_addr, 0, buf, sizeof buf) == 0);
    CHECK(ctx.errors == 0);

    /* Many threads through one manager. */
    for (i = 0; i < 4; i++) CHECK(pthread_create(&threads[i], NULL, concurrent_lookups, &ctx) == 0);
    for (i = 0; i < 4; i++) CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(ctx.errors == 0);

    /* Argument checks; nothing is written on failure. */
    CHECK_FAIL(ebc_code_size(NULL, as_ebc(&weth_addr), &size, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_code_size(ctx.manager, NULL, &size, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_code_size(ctx.manager, as_ebc(&weth_addr), NULL, &err), EBC_NULL_PARAMETER,
               err);
    t_clear(&err);
    CHECK(size == 7);
    CHECK_FAIL(ebc_code_hash(ctx.manager, as_ebc(&weth_addr), NULL, &err), EBC_NULL_PARAMETER,
               err);
    t_clear(&err);
    CHECK_FAIL(ebc_copy_code(ctx.manager, as_ebc(&weth_addr), 0, NULL, 4, &copied, &err),
               EBC_NULL_PARAMETER, err);
    CHECK_MSG(err, "buffer");
    t_clear(&err);
    CHECK_OK(ebc_copy_code(ctx.manager, as_ebc(&weth_addr), 0, NULL, 0, &copied, &err), err);
    CHECK(copied == 0);
    ebc_manager_free(ctx.manager);

    /* A failing source is an error, not a missing account. */
    CHECK_OK(ebc_config_set_default_source(config, "broken:{address}", 16, &err), err);
    ctx.manager = t_manager(config);
    CHECK_OK(ebc_register_loader(ctx.manager, "broken", 6, broken_store, NULL, NULL, &err), err);
    CHECK_FAIL(ebc_code_hash(ctx.manager, as_ebc(&weth_addr), &hash, &err), EBC_IO, err);
    CHECK_MSG(err, "broken");
    t_clear(&err);
    CHECK(get_code_size(&ctx, &weth_addr) == 0);
    CHECK(ctx.errors == 1);
    ebc_manager_free(ctx.manager);

    /* "No code here" is remembered for a while (1 s by default), so an EVM
       asking about the same sender again does not ask the source again. */
    CHECK(source_requests_for_three_lookups(config, &ctx, &empty_addr) == 1);
    CHECK(ebc_config_set_absent_ttl_ms(config, 0) == EBC_OK);
    CHECK(source_requests_for_three_lookups(config, &ctx, &empty_addr) == 3);
    CHECK(ebc_config_set_absent_ttl_ms(NULL, 5) == EBC_NULL_PARAMETER);
    CHECK(ctx.errors == 1);

    /* Without a default source there is nowhere to look. */
    CHECK_OK(ebc_config_set_default_source(config, NULL, 0, &err), err);
    ctx.manager = t_manager(config);
    CHECK_FAIL(ebc_code_size(ctx.manager, as_ebc(&weth_addr), &size, &err),
               EBC_LOADER_NOT_FOUND, err);
    t_clear(&err);
    ebc_manager_free(ctx.manager);

    pthread_mutex_destroy(&ctx.lock);
    ebc_config_free(config);
    free(weth);
    t_tmpdir_remove(&dir);
    printf("evmc host: ok\n");
    return 0;
}
