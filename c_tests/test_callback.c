/*
 * Callback loaders written in C: code written into the sink in chunks (down
 * to one byte at a time) from a buffer in user_data, raw and as hex text;
 * replacing a loader (built-in ones included); and user_data_free running
 * exactly once per registration, on re-registration and on manager free.
 */
#include "ebc_test.h"

/* The user data of a chunked loader: owned by the loader once registered. */
typedef struct chunk_source {
    int id;
    uint8_t *data;
    size_t len;
    size_t chunk;
    int calls;
} chunk_source;

/* How often each source's free function ran, by id. */
static int freed[16];

static chunk_source *new_source(int id, const void *data, size_t len, size_t chunk) {
    chunk_source *s = (chunk_source *)malloc(sizeof *s);
    CHECK(s != NULL);
    s->id = id;
    s->data = (uint8_t *)malloc(len);
    CHECK(s->data != NULL);
    memcpy(s->data, data, len);
    s->len = len;
    s->chunk = chunk;
    s->calls = 0;
    return s;
}

static void free_source(void *user_data) {
    chunk_source *s = (chunk_source *)user_data;
    CHECK(s->id >= 0 && s->id < 16);
    freed[s->id]++;
    free(s->data);
    free(s);
}

static ebc_status chunk_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    chunk_source *s = (chunk_source *)user_data;
    size_t off = 0;
    (void)req;
    s->calls++;
    while (off < s->len) {
        size_t n = s->len - off < s->chunk ? s->len - off : s->chunk;
        ebc_status st = ebc_sink_write(sink, s->data + off, n);
        if (st != EBC_OK) return st;
        off += n;
    }
    return EBC_OK;
}

/* A loader that serves "<scheme>:<hex>" by writing the URI's hex digits. */
static ebc_status uri_echo_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    const char *colon = (const char *)memchr(req->uri, ':', req->uri_len);
    size_t rest;
    (void)user_data;
    if (colon == NULL) return EBC_INVALID_ARGUMENT;
    rest = req->uri_len - (size_t)(colon + 1 - req->uri);
    if (rest == 0) return EBC_NOT_FOUND;
    return ebc_sink_write(sink, (const uint8_t *)(colon + 1), rest);
}

int main(void) {
    static const uint8_t raw[] = {0x60, 0x80, 0x60, 0x40, 0x52, 0x5b, 0x00};
    static const char hex[] = "0x6080604052\n5b00\n";
    uint8_t big[3000];
    ebc_manager *m = t_manager(NULL);
    ebc_error *err = NULL;
    const ebc_bytecode *b = NULL;
    ebc_load_options *reload = ebc_load_options_new();
    ebc_address a = t_addr(0x70, 1);
    chunk_source *s0, *s1, *s2, *s3;
    size_t i;

    CHECK(reload != NULL);
    CHECK_OK(ebc_load_options_set_reload(reload, true), NULL);
    for (i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i % 0x5f); /* no PUSH opcodes */
    big[0] = 0x00;

    /* Raw bytes, one byte per write. */
    s0 = new_source(0, raw, sizeof raw, 1);
    CHECK_OK(ebc_register_loader(m, "chunk", 5, chunk_loader, s0, free_source, &err), err);
    CHECK_OK(t_load(m, &a, "chunk:anything", NULL, &b, &err), err);
    CHECK(s0->calls == 1);
    CHECK(t_code_is(b, raw, sizeof raw));
    CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_CUSTOM);
    CHECK(ebc_bytecode_is_jumpdest(b, 5));
    ebc_release(b);
    /* Cached now: the loader is not called again. */
    CHECK_OK(t_load(m, &a, "chunk:anything", NULL, &b, &err), err);
    CHECK(s0->calls == 1);
    ebc_release(b);
    CHECK(freed[0] == 0);

    /* Registering the scheme again (any case) frees the old user data, once. */
    s1 = new_source(1, hex, strlen(hex), 1);
    CHECK_OK(ebc_register_loader(m, "CHUNK", 5, chunk_loader, s1, free_source, &err), err);
    CHECK(freed[0] == 1 && freed[1] == 0);
    CHECK_OK(t_load(m, &a, "Chunk:x", reload, &b, &err), err); /* hex text, one byte at a time */
    CHECK(t_code_is(b, raw, sizeof raw));
    ebc_release(b);
    CHECK(s1->calls == 1);

    /* Larger code in 7-byte chunks, under another scheme. */
    s2 = new_source(2, big, sizeof big, 7);
    CHECK_OK(ebc_register_loader(m, "big-chunks+v1.0", 15, chunk_loader, s2, free_source, &err),
             err);
    CHECK_OK(t_load(m, &a, "big-chunks+v1.0:x", reload, &b, &err), err);
    CHECK(t_code_is(b, big, sizeof big));
    ebc_release(b);
    CHECK(freed[2] == 0);

    /* Replacing the built-in file loader, and NULL user_data_free. */
    CHECK_OK(ebc_register_loader(m, "file", 4, uri_echo_loader, NULL, NULL, &err), err);
    CHECK_OK(t_load(m, &a, "file:0x600100", reload, &b, &err), err);
    {
        static const uint8_t want[] = {0x60, 0x01, 0x00};
        CHECK(t_code_is(b, want, sizeof want));
        CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_CUSTOM);
    }
    ebc_release(b);
    /* Plain paths go to the "file" scheme's loader too. */
    CHECK_FAIL(t_load(m, &a, "/no/such/path", reload, &b, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);

    /* A failed registration frees the data before it returns. */
    s3 = new_source(3, raw, sizeof raw, 1);
    CHECK_FAIL(ebc_register_loader(m, "9bad", 4, chunk_loader, s3, free_source, &err),
               EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK(freed[3] == 1);

    /* Replace "chunk" once more, then free the manager: each data freed once. */
    s3 = new_source(4, raw, sizeof raw, 3);
    CHECK_OK(ebc_register_loader(m, "chunk", 5, chunk_loader, s3, free_source, &err), err);
    CHECK(freed[1] == 1 && freed[4] == 0);
    CHECK_OK(t_load(m, &a, "chunk:again", reload, &b, &err), err);
    CHECK(t_code_is(b, raw, sizeof raw));
    ebc_load_options_free(reload);

    ebc_manager_free(m);
    CHECK(freed[0] == 1 && freed[1] == 1 && freed[2] == 1 && freed[3] == 1 && freed[4] == 1);
    /* The code a callback produced outlives its loader and manager. */
    CHECK(t_code_is(b, raw, sizeof raw));
    ebc_release(b);

    /* A manager freed without any load still frees its loaders' data. */
    m = t_manager(NULL);
    CHECK_OK(ebc_register_loader(m, "xx", 2, chunk_loader, new_source(5, raw, 1, 1), free_source,
                                 &err),
             err);
    CHECK(freed[5] == 0);
    ebc_manager_free(m);
    CHECK(freed[5] == 1);

    printf("test_callback: ok\n");
    return 0;
}
