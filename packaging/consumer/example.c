/*
 * Loads WETH9's code from a file and through a loader of our own, and
 * prints its code hash both times. Built against an installed ebc (with
 * pkg-config or find_package) by packaging/test.sh.
 *   example <code file>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ebc.h>

static void print_hash(const char *label, const ebc_bytecode *code) {
    ebc_hash h;
    int i;
    ebc_bytecode_code_hash(code, &h);
    printf("%s: 0x", label);
    for (i = 0; i < 32; i++) printf("%02x", h.bytes[i]);
    printf("\n");
}

/* A loader for "vault:..." URIs: serves the file named by user_data. */
static ebc_status vault_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    FILE *f = fopen((const char *)user_data, "rb");
    unsigned char buf[4096];
    size_t n;
    ebc_status st = EBC_OK;
    (void)req;
    if (f == NULL) return EBC_NOT_FOUND;
    while (st == EBC_OK && (n = fread(buf, 1, sizeof buf, f)) > 0) st = ebc_sink_write(sink, buf, n);
    fclose(f);
    return st;
}

static int fail(const char *what, ebc_error *err) {
    fprintf(stderr, "%s: %s: %s\n", what, ebc_status_name(ebc_error_status(err)), ebc_error_message(err));
    ebc_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    const ebc_address weth = {{0xc0, 0x2a, 0xaa, 0x39, 0xb2, 0x23, 0xfe, 0x8d, 0x0a, 0x0e,
                               0x5c, 0x4f, 0x27, 0xea, 0xd9, 0x08, 0x3c, 0x75, 0x6c, 0xc2}};
    const ebc_address other = {{0xaa}};
    char uri[4096];
    ebc_manager *m = NULL;
    ebc_error *err = NULL;
    const ebc_bytecode *code = NULL;

    if (argc != 2) {
        fprintf(stderr, "usage: %s <code file>\n", argv[0]);
        return 2;
    }
    if (ebc_manager_new(NULL, &m, &err) != EBC_OK) return fail("ebc_manager_new", err);

    snprintf(uri, sizeof uri, "file:%s", argv[1]);
    if (ebc_load(m, &weth, uri, strlen(uri), NULL, &code, &err) != EBC_OK) return fail(uri, err);
    print_hash("file", code);
    ebc_release(code);

    if (ebc_register_loader(m, "vault", 5, vault_loader, argv[1], NULL, &err) != EBC_OK)
        return fail("ebc_register_loader", err);
    if (ebc_load(m, &other, "vault:weth9", 11, NULL, &code, &err) != EBC_OK) return fail("vault:weth9", err);
    print_hash("loader", code);
    ebc_release(code);

    ebc_manager_free(m);
    return 0;
}
