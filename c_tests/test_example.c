/*
 * A header-only client, written from include/ebc.h alone in the style of
 * ABI.md: load a contract's code from a file and print its code hash.
 *
 *   test_example <code file> [expected code hash, 0x + 64 hex digits]
 *
 * Exits 0 when the load succeeds (and the hash is the expected one).
 */
#include <stdio.h>
#include <string.h>

#include "ebc.h"

int main(int argc, char **argv) {
    /* WETH9 on mainnet. */
    const ebc_address address = {{0xc0, 0x2a, 0xaa, 0x39, 0xb2, 0x23, 0xfe, 0x8d, 0x0a, 0x0e,
                                  0x5c, 0x4f, 0x27, 0xea, 0xd9, 0x08, 0x3c, 0x75, 0x6c, 0xc2}};
    char uri[4096];
    char printed[67];
    ebc_manager *manager = NULL;
    const ebc_bytecode *code = NULL;
    ebc_error *err = NULL;
    ebc_hash hash;
    size_t size = 0;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s <code file> [expected code hash]\n", argv[0]);
        return 2;
    }
    snprintf(uri, sizeof uri, "file:%s", argv[1]);

    printf("ebc %s, C ABI %u\n", ebc_version(), (unsigned)ebc_abi_version());
    if (ebc_abi_version() != EBC_ABI_VERSION) {
        fprintf(stderr, "built against ABI %d, running with %u\n", EBC_ABI_VERSION,
                (unsigned)ebc_abi_version());
        return 1;
    }

    /* NULL config: the development preset. */
    if (ebc_manager_new(NULL, &manager, &err) != EBC_OK) {
        fprintf(stderr, "ebc_manager_new: %s\n", ebc_error_message(err));
        ebc_error_free(err);
        return 1;
    }

    if (ebc_load(manager, &address, uri, strlen(uri), NULL, &code, &err) != EBC_OK) {
        fprintf(stderr, "ebc_load %s: %s: %s\n", uri, ebc_status_name(ebc_error_status(err)),
                ebc_error_message(err));
        ebc_error_free(err);
        ebc_manager_free(manager);
        return 1;
    }

    /* The manager can go first: the code stays valid until released. */
    ebc_manager_free(manager);

    ebc_bytecode_code(code, &size);
    ebc_bytecode_code_hash(code, &hash);
    ebc_release(code);

    strcpy(printed, "0x");
    for (i = 0; i < 32; i++) snprintf(printed + 2 + 2 * i, 3, "%02x", hash.bytes[i]);
    printf("%s: %zu bytes, code hash %s\n", uri, size, printed);

    if (argc > 2 && strcmp(argv[2], printed) != 0) {
        fprintf(stderr, "expected code hash %s\n", argv[2]);
        return 1;
    }
    return 0;
}
