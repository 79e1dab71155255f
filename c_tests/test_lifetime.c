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

/* Threads hitting one address may each get an object of their own (a
   lane copy, so that they do not all write one reference count): each
   reads the same, the access count adds every thread's hits, and every
   copy outlives the manager until its release. */
#define LANE_THREADS 4
#define LANE_HITS 25

typedef struct lane_hits {
    ebc_manager *m;
    const ebc_address *a;
    pthread_barrier_t *start;
    const ebc_bytecode *kept;
    int ok;     /* every hit after the first two returned `kept` */
    int missed; /* a hit returned NULL */
} lane_hits;

static void *hit_one_address(void *arg) {
    lane_hits *h = (lane_hits *)arg;
    pthread_barrier_wait(h->start);
    h->ok = 1;
    for (int i = 0; i < LANE_HITS; i++) {
        const ebc_bytecode *b = ebc_get(h->m, h->a);
        if (b == NULL) {
            h->missed = 1;
            return NULL;
        }
        if (i == 0) { /* the thread's first hit takes its lane for the next */
            ebc_release(b);
            continue;
        }
        if (h->kept == NULL) {
            h->kept = b;
            continue;
        }
        h->ok &= b == h->kept; /* then one object per thread */
        ebc_release(b);
    }
    return NULL;
}

static void lane_copies_outlive_their_manager(void) {
    ebc_manager *m = t_manager_with(EBC_PRESET_PRODUCTION, EBC_SECURITY_STANDARD, 0, 0);
    ebc_error *err = NULL;
    ebc_address a = t_addr(0x61, 1);
    const ebc_bytecode *loaded = NULL;
    pthread_barrier_t start;
    pthread_t threads[LANE_THREADS];
    lane_hits hits[LANE_THREADS];
    int copies = 0;
    int steady = 0;

    CHECK_OK(ebc_manager_put_memory(m, "findings", 8, FINDINGS_CODE, sizeof FINDINGS_CODE, &err),
             err);
    CHECK_OK(t_load(m, &a, "mem:findings", NULL, &loaded, &err), err);
    CHECK(pthread_barrier_init(&start, NULL, LANE_THREADS) == 0);
    for (int i = 0; i < LANE_THREADS; i++) {
        hits[i].m = m;
        hits[i].a = &a;
        hits[i].start = &start;
        hits[i].kept = NULL;
        hits[i].ok = 0;
        hits[i].missed = 0;
        CHECK(pthread_create(&threads[i], NULL, hit_one_address, &hits[i]) == 0);
    }
    for (int i = 0; i < LANE_THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(!hits[i].missed && hits[i].kept != NULL);
        steady += hits[i].ok;
        copies += hits[i].kept != loaded;
    }
    CHECK(pthread_barrier_destroy(&start) == 0);
    /* One object per thread, but for a pair whose stacks share a reader
       slot (one pair in 64): those two read on the shared lane whenever
       they meet. */
    CHECK(steady >= 2);
    /* Four threads on stacks of their own: at least one on another lane. */
    CHECK(copies > 0);
    ebc_manager_free(m);
    for (int i = 0; i < LANE_THREADS; i++) {
        check_findings_code(hits[i].kept, &a);
        CHECK(ebc_bytecode_access_count(hits[i].kept) == 1 + LANE_THREADS * LANE_HITS);
        ebc_release(hits[i].kept);
    }
    /* The copies' accesses still count once they are freed. */
    CHECK(ebc_bytecode_access_count(loaded) == 1 + LANE_THREADS * LANE_HITS);
    ebc_release(loaded);
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

    lane_copies_outlive_their_manager();

    printf("test_lifetime: ok\n");
    return 0;
}
