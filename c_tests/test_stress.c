/*
 * Eight threads, a small cache, many mixed operations (load, get, release,
 * unload, compact) with a callback loader that fails one fetch in eight:
 * no crash, every held reference intact, and every bytecode freed once the
 * manager and all references are gone (ebc_live_bytecodes).
 *
 * Operations per thread: $EBC_TEST_ITERATIONS, else 125000 (a million in
 * all; the valgrind run uses fewer).
 */
#include "ebc_test.h"

#include <pthread.h>

#define THREADS 8
#define ADDRESSES 64
#define HELD 16

typedef struct flaky {
    unsigned long calls;
} flaky;

static ebc_status flaky_fetch(void *user_data, const ebc_load_request *request, ebc_sink *sink) {
    flaky *f = (flaky *)user_data;
    unsigned long call = __atomic_fetch_add(&f->calls, 1, __ATOMIC_RELAXED);
    char digits[16];
    size_t n = request->uri_len - 6; /* after "flaky:" */
    unsigned long k;
    uint8_t code[4];
    if (call % 8 == 7) return EBC_IO;
    CHECK(n > 0 && n < sizeof digits);
    memcpy(digits, request->uri + 6, n);
    digits[n] = '\0';
    k = strtoul(digits, NULL, 10);
    code[0] = 0x60;
    code[1] = (uint8_t)k;
    code[2] = 0x5b;
    code[3] = 0x00;
    return ebc_sink_write(sink, code, sizeof code);
}

typedef struct worker {
    ebc_manager *m;
    long ops;
    unsigned seed;
    const ebc_bytecode *held[HELD];
    unsigned held_key[HELD];
    int nheld;
} worker;

static void hold(worker *w, const ebc_bytecode *b, unsigned k) {
    if (w->nheld == HELD) {
        ebc_release(w->held[0]);
        memmove(&w->held[0], &w->held[1], (HELD - 1) * sizeof w->held[0]);
        memmove(&w->held_key[0], &w->held_key[1], (HELD - 1) * sizeof w->held_key[0]);
        w->nheld--;
    }
    w->held[w->nheld] = b;
    w->held_key[w->nheld] = k;
    w->nheld++;
}

static void check_held(const worker *w) {
    int i;
    for (i = 0; i < w->nheld; i++) {
        uint8_t want[4];
        want[0] = 0x60;
        want[1] = (uint8_t)w->held_key[i];
        want[2] = 0x5b;
        want[3] = 0x00;
        CHECK(t_code_is(w->held[i], want, sizeof want));
    }
}

static void *run(void *arg) {
    worker *w = (worker *)arg;
    unsigned x = w->seed;
    long i;
    for (i = 0; i < w->ops; i++) {
        unsigned k, op;
        ebc_address a;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        k = x % ADDRESSES;
        op = (x >> 8) % 16;
        a = t_addr(0x5e, (uint8_t)k);
        if (op <= 6) {
            char uri[32];
            const ebc_bytecode *b = NULL;
            ebc_error *err = NULL;
            ebc_status s;
            snprintf(uri, sizeof uri, "flaky:%u", k);
            s = t_load(w->m, &a, uri, NULL, &b, &err);
            if (s == EBC_OK) {
                hold(w, b, k);
            } else {
                CHECK(s == EBC_IO && ebc_error_status(err) == EBC_IO);
                ebc_error_free(err);
            }
        } else if (op <= 10) {
            const ebc_bytecode *b = ebc_get(w->m, &a);
            if (b != NULL) hold(w, b, k);
        } else if (op <= 12) {
            ebc_status s = ebc_unload(w->m, &a);
            CHECK(s == EBC_OK || s == EBC_NOT_FOUND);
        } else if (op == 13) {
            if (x % 64 == 0) CHECK_OK(ebc_manager_compact(w->m, NULL), NULL);
        } else {
            while (w->nheld > 4) {
                ebc_release(w->held[0]);
                memmove(&w->held[0], &w->held[1], (HELD - 1) * sizeof w->held[0]);
                memmove(&w->held_key[0], &w->held_key[1], (HELD - 1) * sizeof w->held_key[0]);
                w->nheld--;
            }
        }
        if (i % 64 == 0) check_held(w);
    }
    return NULL;
}

static void stress(uint32_t strategy, long ops) {
    size_t baseline = ebc_live_bytecodes();
    ebc_config *c = ebc_config_new(EBC_PRESET_TESTING);
    ebc_manager *m;
    flaky *f = (flaky *)calloc(1, sizeof *f);
    worker workers[THREADS];
    pthread_t threads[THREADS];
    ebc_cache_stats s;
    ebc_metrics mt;
    int t, i;

    CHECK(c != NULL && f != NULL);
    CHECK_OK(ebc_config_set_cache_strategy(c, strategy), NULL);
    CHECK_OK(ebc_config_set_max_cached_contracts(c, 8), NULL);
    CHECK_OK(ebc_config_set_cache_ttl_ms(c, 2), NULL);
    m = t_manager(c);
    ebc_config_free(c);
    CHECK_OK(ebc_register_loader(m, "flaky", 5, flaky_fetch, f, free, NULL), NULL);

    for (t = 0; t < THREADS; t++) {
        memset(&workers[t], 0, sizeof workers[t]);
        workers[t].m = m;
        workers[t].ops = ops;
        workers[t].seed = 0x9e3779b9u * (unsigned)(t + 1);
        CHECK(pthread_create(&threads[t], NULL, run, &workers[t]) == 0);
    }
    for (t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);

    ebc_manager_cache_stats(m, &s);
    CHECK(s.entries <= 8);
    ebc_manager_metrics(m, &mt);
    CHECK(mt.load_failures > 0);
    ebc_manager_free(m); /* frees the loader's user data too */

    for (t = 0; t < THREADS; t++) {
        check_held(&workers[t]); /* intact after the manager is gone */
        for (i = 0; i < workers[t].nheld; i++) ebc_release(workers[t].held[i]);
    }
    CHECK(ebc_live_bytecodes() == baseline);
}

int main(void) {
    long ops = t_env_long("EBC_TEST_ITERATIONS", 125000);
    stress(EBC_CACHE_LRU, ops);
    stress(EBC_CACHE_ADAPTIVE, ops);
    stress(EBC_CACHE_LFU, ops / 4);
    stress(EBC_CACHE_TTL, ops / 4);
    printf("test_stress: %d threads x %ld operations per strategy, nothing leaked\n", THREADS, ops);
    return 0;
}
