/*
 * References outlive their manager: code loaded (and retained, and taken
 * from the cache) stays readable after ebc_manager_free, on this thread and
 * on another, until its last release. Run under ASan and valgrind this also
 * proves nothing is freed early or leaked.
 */
#include "ebc_test.h" /* first: it selects POSIX */

#include <pthread.h>

/* PUSH1 0x08; JUMP; PUSH2 (truncated): findings at Standard, whose messages
   must stay valid with the bytecode. */
static const uint8_t FINDINGS_CODE[] = {0x60, 0x08, 0x56, 0x61, 0x01};
static const uint8_t OTHER_CODE[] = {0x5b, 0x60, 0x00, 0x56};

typedef struct held {
    const ebc_bytecode *b;
    int ok;
} held;

static void check_findings_code(const ebc_bytecode *b, const ebc_address *a) {
    ebc_finding f;
    ebc_address got;
    CHECK(t_code_is(b, FINDINGS_CODE, sizeof FINDINGS_CODE));
    ebc_bytecode_address(b, &got);
    CHECK(t_addr_eq(&got, a));
    CHECK(strcmp(ebc_bytecode_source_uri(b), "mem:findings") == 0);
    CHECK(ebc_bytecode_findings_count(b) == 2);
    CHECK(ebc_bytecode_finding(b, 1, &f) && f.kind == 6 && strlen(f.message) > 0);
    CHECK(!ebc_bytecode_is_jumpdest(b, 0));
}

static void *read_and_release(void *arg) {
    held *h = (held *)arg;
    size_t len = 0;
    const uint8_t *code = ebc_bytecode_code(h->b, &len);
    ebc_hash hash;
    ebc_bytecode_code_hash(h->b, &hash);
    h->ok = code != NULL && len == sizeof OTHER_CODE && memcmp(code, OTHER_CODE, len) == 0 &&
            ebc_bytecode_is_jumpdest(h->b, 0) && ebc_bytecode_access_count(h->b) >= 1;
    ebc_release(h->b);
    return NULL;
}

int main(void) {
    ebc_manager *m = t_manager_with(EBC_PRESET_PRODUCTION, EBC_SECURITY_STANDARD, 0, 0);
    ebc_error *err = NULL;
    ebc_address a = t_addr(0x60, 1), a2 = t_addr(0x60, 2), a3 = t_addr(0x60, 3);
    const ebc_bytecode *loaded = NULL, *retained, *from_cache, *unloaded = NULL, *other = NULL;
    ebc_hash before, after;
    const char *uri_before;
    held h;
    pthread_t thread;

    CHECK_OK(ebc_manager_put_memory(m, "findings", 8, FINDINGS_CODE, sizeof FINDINGS_CODE, &err),
             err);
    CHECK_OK(ebc_manager_put_memory(m, "other", 5, OTHER_CODE, sizeof OTHER_CODE, &err), err);
    CHECK_OK(t_load(m, &a, "mem:findings", NULL, &loaded, &err), err);
    retained = ebc_retain(loaded);
    CHECK(retained == loaded);
    from_cache = ebc_get(m, &a);
    CHECK(from_cache != NULL);
    /* One that was unloaded before the manager went. */
    CHECK_OK(t_load(m, &a2, "mem:findings", NULL, &unloaded, &err), err);
    CHECK_OK(ebc_unload(m, &a2), NULL);
    CHECK_OK(t_load(m, &a3, "mem:other", NULL, &other, &err), err);
    ebc_bytecode_code_hash(loaded, &before);
    uri_before = ebc_bytecode_source_uri(loaded);

    ebc_manager_free(m);

    /* Everything still reads the same. */
    check_findings_code(loaded, &a);
    check_findings_code(retained, &a);
    check_findings_code(from_cache, &a);
    check_findings_code(unloaded, &a2);
    ebc_bytecode_code_hash(loaded, &after);
    CHECK(memcmp(before.bytes, after.bytes, 32) == 0);
    CHECK(ebc_bytecode_source_uri(loaded) == uri_before); /* valid while a reference is held */

    /* Release in a different order from acquisition, and a new retain after the manager. */
    ebc_release(from_cache);
    check_findings_code(loaded, &a);
    ebc_release(loaded);
    CHECK(ebc_retain(retained) == retained);
    ebc_release(retained);
    check_findings_code(retained, &a);
    ebc_release(retained);
    ebc_release(unloaded);

    /* Another thread reads and drops the last reference. */
    h.b = other;
    h.ok = 0;
    CHECK(pthread_create(&thread, NULL, read_and_release, &h) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(h.ok);

    printf("test_lifetime: ok\n");
    return 0;
}
