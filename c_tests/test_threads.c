/*
 * Threads (pthreads) sharing one manager with a 4-entry cache: loading,
 * getting, unloading, retaining and releasing the same and different
 * addresses at once, so that evictions and unloads race with loads. Every
 * code handed out must be the code of its address. Afterwards the counters
 * are consistent and, once everything is released, nothing is left (ASan
 * and valgrind check the memory).
 *
 * Iterations per thread: argv[1], else $EBC_TEST_ITERATIONS, else 3000.
 */
#include "ebc_test.h" /* first: it selects POSIX */

#include <pthread.h>

#define THREADS 6
#define ADDRESSES 10 /* more than the cache holds */
#define HELD 8       /* references a thread keeps across iterations */

static ebc_manager *manager;
static ebc_address addrs[ADDRESSES];
static long iterations = 3000;

/* The code of address i: PUSH1 i; PUSH1 0x5b; JUMPDEST; STOP, so code[1]
   names the address. Addresses 0-4 come from mem:, 5-9 from a callback. */
static void code_of(int i, uint8_t out[6]) {
    out[0] = 0x60;
    out[1] = (uint8_t)i;
    out[2] = 0x60;
    out[3] = 0x5b;
    out[4] = 0x5b;
    out[5] = 0x00;
}

/* The callback loader's state: a call counter behind a mutex. */
typedef struct cb_state {
    pthread_mutex_t lock;
    long calls;
    int freed;
} cb_state;

static cb_state callback_state;

/* Serves "cb:<i>" with the code of address i. */
static ebc_status counting_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    cb_state *st = (cb_state *)user_data;
    uint8_t code[6];
    int i;
    if (req->uri_len != 4 || memcmp(req->uri, "cb:", 3) != 0) return EBC_NOT_FOUND;
    i = req->uri[3] - '0';
    if (i < 0 || i >= ADDRESSES || !t_addr_eq(req->address, &addrs[i])) return EBC_INVALID_ARGUMENT;
    pthread_mutex_lock(&st->lock);
    st->calls++;
    pthread_mutex_unlock(&st->lock);
    code_of(i, code);
    /* Two writes, so partial code would be visible if the sink were shared. */
    if (ebc_sink_write(sink, code, 3) != EBC_OK) return EBC_IO;
    return ebc_sink_write(sink, code + 3, 3);
}

static void free_state(void *user_data) {
    ((cb_state *)user_data)->freed++;
}

typedef struct worker {
    int id;
    long loads, gets, hits, unloads, failures;
    char failure[256];
} worker;

/* 1 when `b` is the code of address i; records the first failure. */
static int check_code(worker *w, const ebc_bytecode *b, int i) {
    uint8_t want[6];
    ebc_address got;
    code_of(i, want);
    ebc_bytecode_address(b, &got);
    if (!t_code_is(b, want, sizeof want) || !t_addr_eq(&got, &addrs[i]) ||
        !ebc_bytecode_is_jumpdest(b, 4) || ebc_bytecode_is_jumpdest(b, 3)) {
        if (w->failures++ == 0)
            snprintf(w->failure, sizeof w->failure, "thread %d: wrong code for address %d", w->id, i);
        return 0;
    }
    return 1;
}

static void fail(worker *w, const char *what, int i, ebc_status s, ebc_error *err) {
    if (w->failures++ == 0)
        snprintf(w->failure, sizeof w->failure, "thread %d: %s of address %d: %s: %s", w->id, what,
                 i, ebc_status_name(s), ebc_error_message(err));
}

static void *work(void *arg) {
    worker *w = (worker *)arg;
    const ebc_bytecode *held[HELD];
    int held_index[HELD];
    unsigned rng = 0x9e3779b9u * (unsigned)(w->id + 1);
    long it;
    int k;
    char uri[16];

    memset(held, 0, sizeof held);
    for (k = 0; k < HELD; k++) held_index[k] = -1;
    for (it = 0; it < iterations; it++) {
        int i, op;
        rng = rng * 1103515245u + 12345u;
        /* Half the time the address every thread is using now; else this thread's pick. */
        i = (rng >> 16) % 2 == 0 ? (int)((it / 16) % ADDRESSES) : (int)((rng >> 8) % ADDRESSES);
        op = (int)((rng >> 20) % 8);
        if (i < 5)
            snprintf(uri, sizeof uri, "mem:c%d", i);
        else
            snprintf(uri, sizeof uri, "cb:%d", i);

        if (op <= 3) { /* load, and maybe keep the reference */
            const ebc_bytecode *b = NULL;
            ebc_error *err = NULL;
            ebc_status s = t_load(manager, &addrs[i], uri, NULL, &b, &err);
            w->loads++;
            if (s != EBC_OK) {
                fail(w, "load", i, s, err);
                ebc_error_free(err);
                continue;
            }
            if (!check_code(w, b, i)) {
                ebc_release(b);
                continue;
            }
            if (op == 0) {
                int slot = (int)((rng >> 4) % HELD);
                if (held[slot] != NULL) check_code(w, held[slot], held_index[slot]);
                ebc_release(held[slot]);
                held[slot] = ebc_retain(b);
                held_index[slot] = i;
            }
            ebc_release(b);
        } else if (op <= 5) { /* get */
            const ebc_bytecode *b = ebc_get(manager, &addrs[i]);
            w->gets++;
            if (b != NULL) {
                w->hits++;
                check_code(w, b, i);
                ebc_release(b);
            }
        } else if (op == 6) { /* unload: OK or NOT_FOUND, nothing else */
            ebc_status s = ebc_unload(manager, &addrs[i]);
            if (s == EBC_OK)
                w->unloads++;
            else if (s != EBC_NOT_FOUND)
                fail(w, "unload", i, s, NULL);
        } else { /* read a held reference, possibly evicted or unloaded long ago */
            int slot = (int)((rng >> 4) % HELD);
            if (held[slot] != NULL) {
                const ebc_bytecode *again = ebc_retain(held[slot]);
                check_code(w, again, held_index[slot]);
                ebc_release(again);
            }
        }
    }
    for (k = 0; k < HELD; k++) {
        if (held[k] != NULL) check_code(w, held[k], held_index[k]);
        ebc_release(held[k]);
    }
    return NULL;
}

/* Single flight: threads loading one uncached address at once fetch it once. */
typedef struct slow_state {
    pthread_mutex_t lock;
    int calls;
} slow_state;

static ebc_status slow_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    slow_state *st = (slow_state *)user_data;
    static const uint8_t code[] = {0x5b, 0x00};
    (void)req;
    pthread_mutex_lock(&st->lock);
    st->calls++;
    pthread_mutex_unlock(&st->lock);
    t_sleep_ms(150);
    return ebc_sink_write(sink, code, sizeof code);
}

typedef struct flight_arg {
    ebc_manager *m;
    pthread_barrier_t *start;
    const ebc_bytecode *b;
    ebc_status status;
} flight_arg;

static void *load_slow(void *arg) {
    flight_arg *f = (flight_arg *)arg;
    ebc_address a = t_addr(0x88, 1);
    pthread_barrier_wait(f->start);
    f->status = t_load(f->m, &a, "slow:x", NULL, &f->b, NULL);
    return NULL;
}

static void test_single_flight(void) {
    ebc_manager *m = t_manager(NULL);
    slow_state st;
    pthread_t threads[THREADS];
    flight_arg args[THREADS];
    pthread_barrier_t start;
    ebc_error *err = NULL;
    int t;

    st.calls = 0;
    CHECK(pthread_mutex_init(&st.lock, NULL) == 0);
    CHECK(pthread_barrier_init(&start, NULL, THREADS) == 0);
    CHECK_OK(ebc_register_loader(m, "slow", 4, slow_loader, &st, NULL, &err), err);
    for (t = 0; t < THREADS; t++) {
        args[t].m = m;
        args[t].start = &start;
        args[t].b = NULL;
        args[t].status = 99;
        CHECK(pthread_create(&threads[t], NULL, load_slow, &args[t]) == 0);
    }
    for (t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK(st.calls == 1);
    for (t = 0; t < THREADS; t++) {
        static const uint8_t code[] = {0x5b, 0x00};
        CHECK(args[t].status == EBC_OK);
        CHECK(t_code_is(args[t].b, code, sizeof code));
        ebc_release(args[t].b);
    }
    ebc_manager_free(m);
    pthread_barrier_destroy(&start);
    pthread_mutex_destroy(&st.lock);
}

/* Re-registering a scheme while a load is inside its loader: the old
   user_data is freed only after that load has returned. */
typedef struct blocking_state {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int entered, release, freed;
} blocking_state;

static ebc_status blocking_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    blocking_state *st = (blocking_state *)user_data;
    static const uint8_t code[] = {0x60, 0x07, 0x00};
    (void)req;
    pthread_mutex_lock(&st->lock);
    st->entered = 1;
    pthread_cond_broadcast(&st->changed);
    while (!st->release) pthread_cond_wait(&st->changed, &st->lock);
    pthread_mutex_unlock(&st->lock);
    return ebc_sink_write(sink, code, sizeof code);
}

static void free_blocking(void *user_data) {
    blocking_state *st = (blocking_state *)user_data;
    pthread_mutex_lock(&st->lock);
    st->freed++;
    pthread_mutex_unlock(&st->lock);
}

static ebc_status other_loader(void *user_data, const ebc_load_request *req, ebc_sink *sink) {
    static const uint8_t code[] = {0x60, 0x08, 0x00};
    (void)user_data;
    (void)req;
    return ebc_sink_write(sink, code, sizeof code);
}

typedef struct blocked_load {
    ebc_manager *m;
    const ebc_bytecode *b;
    ebc_status status;
} blocked_load;

static void *load_blocked(void *arg) {
    blocked_load *l = (blocked_load *)arg;
    ebc_address a = t_addr(0x89, 1);
    l->status = t_load(l->m, &a, "block:x", NULL, &l->b, NULL);
    return NULL;
}

static void test_reregister_during_load(void) {
    static const uint8_t old_code[] = {0x60, 0x07, 0x00}, new_code[] = {0x60, 0x08, 0x00};
    blocking_state st;
    blocked_load l;
    pthread_t thread;
    ebc_error *err = NULL;
    ebc_address other = t_addr(0x89, 2);
    const ebc_bytecode *b = NULL;
    int freed;

    memset(&st, 0, sizeof st);
    CHECK(pthread_mutex_init(&st.lock, NULL) == 0);
    CHECK(pthread_cond_init(&st.changed, NULL) == 0);
    l.m = t_manager(NULL);
    l.b = NULL;
    l.status = 99;
    CHECK_OK(ebc_register_loader(l.m, "block", 5, blocking_loader, &st, free_blocking, &err), err);
    CHECK(pthread_create(&thread, NULL, load_blocked, &l) == 0);
    pthread_mutex_lock(&st.lock);
    while (!st.entered) pthread_cond_wait(&st.changed, &st.lock);
    pthread_mutex_unlock(&st.lock);

    /* The load is inside the old loader now. */
    CHECK_OK(ebc_register_loader(l.m, "block", 5, other_loader, NULL, NULL, &err), err);
    pthread_mutex_lock(&st.lock);
    freed = st.freed;
    st.release = 1;
    pthread_cond_broadcast(&st.changed);
    pthread_mutex_unlock(&st.lock);
    CHECK(freed == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(st.freed == 1);
    CHECK(l.status == EBC_OK && t_code_is(l.b, old_code, sizeof old_code));
    ebc_release(l.b);
    /* New loads use the new loader. */
    CHECK_OK(t_load(l.m, &other, "block:x", NULL, &b, &err), err);
    CHECK(t_code_is(b, new_code, sizeof new_code));
    ebc_release(b);
    ebc_manager_free(l.m);
    CHECK(st.freed == 1);
    pthread_cond_destroy(&st.changed);
    pthread_mutex_destroy(&st.lock);
}

int main(int argc, char **argv) {
    ebc_config *c = ebc_config_new(EBC_PRESET_TESTING);
    pthread_t threads[THREADS];
    worker workers[THREADS];
    ebc_cache_stats s;
    ebc_metrics mt;
    ebc_error *err = NULL;
    long loads = 0, gets = 0, hits = 0, unloads = 0;
    int t, i;

    iterations = t_env_long("EBC_TEST_ITERATIONS", 3000);
    if (argc > 1) iterations = strtol(argv[1], NULL, 10);
    CHECK(iterations > 0);

    test_single_flight();
    test_reregister_during_load();

    CHECK(c != NULL);
    CHECK_OK(ebc_config_set_cache_strategy(c, EBC_CACHE_LRU), NULL);
    CHECK_OK(ebc_config_set_max_cached_contracts(c, 4), NULL);
    manager = t_manager(c);
    ebc_config_free(c);
    CHECK(pthread_mutex_init(&callback_state.lock, NULL) == 0);
    CHECK_OK(ebc_register_loader(manager, "cb", 2, counting_loader, &callback_state, free_state,
                                 &err),
             err);
    for (i = 0; i < ADDRESSES; i++) {
        addrs[i] = t_addr(0x42, (uint16_t)(i * 37 + 1));
        if (i < 5) {
            uint8_t code[6];
            char name[8];
            code_of(i, code);
            snprintf(name, sizeof name, "c%d", i);
            CHECK_OK(ebc_manager_put_memory(manager, name, strlen(name), code, sizeof code, &err),
                     err);
        }
    }

    memset(workers, 0, sizeof workers);
    for (t = 0; t < THREADS; t++) {
        workers[t].id = t;
        CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
    }
    for (t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    for (t = 0; t < THREADS; t++) {
        if (workers[t].failures > 0) {
            fprintf(stderr, "%ld failures; first: %s\n", workers[t].failures, workers[t].failure);
            CHECK(workers[t].failures == 0);
        }
        loads += workers[t].loads;
        gets += workers[t].gets;
        hits += workers[t].hits;
        unloads += workers[t].unloads;
    }

    memset(&s, 0, sizeof s);
    ebc_manager_cache_stats(manager, &s);
    memset(&mt, 0, sizeof mt);
    ebc_manager_metrics(manager, &mt);
    printf("threads=%d iterations=%ld loads=%ld gets=%ld (hits %ld) unloads=%ld\n", THREADS,
           iterations, loads, gets, hits, unloads);
    printf("cache: hits=%llu misses=%llu evictions=%llu entries=%llu bytes=%llu\n",
           (unsigned long long)s.hits, (unsigned long long)s.misses,
           (unsigned long long)s.evictions, (unsigned long long)s.entries,
           (unsigned long long)s.bytes);
    printf("metrics: loads=%llu failures=%llu unloads=%llu callback calls=%ld\n",
           (unsigned long long)mt.loads, (unsigned long long)mt.load_failures,
           (unsigned long long)mt.unloads, callback_state.calls);
    CHECK(s.hits + s.misses > 0);
    /* Every load and get looked up the cache once. */
    CHECK(s.hits + s.misses == (uint64_t)(loads + gets));
    CHECK(s.hits >= (uint64_t)hits);
    CHECK(s.entries <= 4);
    CHECK(s.evictions > 0); /* 10 addresses, 4 places */
    CHECK(mt.load_failures == 0);
    CHECK(mt.unloads == (uint64_t)unloads);
    CHECK(mt.loads >= 1 && mt.loads <= (uint64_t)loads);
    CHECK(callback_state.calls <= (long)mt.loads);

    /* Empty the cache: nothing left. */
    for (i = 0; i < ADDRESSES; i++) {
        ebc_status st = ebc_unload(manager, &addrs[i]);
        CHECK(st == EBC_OK || st == EBC_NOT_FOUND);
    }
    ebc_manager_cache_stats(manager, &s);
    CHECK(s.entries == 0 && s.bytes == 0);
    CHECK(callback_state.freed == 0);
    ebc_manager_free(manager);
    CHECK(callback_state.freed == 1);
    pthread_mutex_destroy(&callback_state.lock);
    printf("test_threads: ok\n");
    return 0;
}
