/*
 * Executing code through the VM from C: WETH9 (deposit, balanceOf,
 * transfer, withdraw) served by a manager from the corpus file, the result
 * object's accessors, a sandbox denial of low-trust code, and the error
 * paths (NULL arguments, an unknown message kind, a VM without a manager).
 */
#include "ebc_test.h"

static const ebc_address WETH = {{0xc0, 0x2a, 0xaa, 0x39, 0xb2, 0x23, 0xfe, 0x8d, 0x0a, 0x0e,
                                  0x5c, 0x4f, 0x27, 0xea, 0xd9, 0x08, 0x3c, 0x75, 0x6c, 0xc2}};

/* keccak256("Deposit(address,uint256)") */
#define DEPOSIT_TOPIC "e1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c"

/* A 256-bit number with `low` in its last 8 bytes. */
static ebc_u256 u256(uint64_t low) {
    ebc_u256 v;
    int i;
    memset(v.bytes, 0, sizeof v.bytes);
    for (i = 0; i < 8; i++) v.bytes[31 - i] = (uint8_t)(low >> (8 * i));
    return v;
}

static uint64_t low64(const uint8_t *word) {
    uint64_t v = 0;
    int i;
    for (i = 24; i < 32; i++) v = (v << 8) | word[i];
    return v;
}

/* selector followed by up to two 32-byte words into `out` (room for 68). */
static size_t abi(uint8_t *out, const uint8_t selector[4], const uint8_t *a, const uint8_t *b) {
    size_t n = 4;
    memcpy(out, selector, 4);
    if (a) { memcpy(out + n, a, 32); n += 32; }
    if (b) { memcpy(out + n, b, 32); n += 32; }
    return n;
}

static void address_word(const ebc_address *a, uint8_t out[32]) {
    memset(out, 0, 32);
    memcpy(out + 12, a->bytes, 20);
}

static const uint8_t DEPOSIT[4] = {0xd0, 0xe3, 0x0d, 0xb0};
static const uint8_t BALANCE_OF[4] = {0x70, 0xa0, 0x82, 0x31};
static const uint8_t TRANSFER[4] = {0xa9, 0x05, 0x9c, 0xbb};
static const uint8_t WITHDRAW[4] = {0x2e, 0x1a, 0x7d, 0x4d};

static ebc_vm_result *run(ebc_vm *vm, ebc_vm_message *msg, int commit) {
    ebc_vm_result *r = NULL;
    ebc_error *err = NULL;
    if (commit) {
        CHECK_OK(ebc_vm_transact(vm, msg, &r, &err), err);
    } else {
        CHECK_OK(ebc_vm_call(vm, msg, &r, &err), err);
    }
    CHECK(r != NULL);
    return r;
}

static uint64_t balance_of(ebc_vm *vm, const ebc_address *who) {
    ebc_vm_message msg;
    uint8_t data[68], word[32];
    size_t len = 0;
    const uint8_t *out;
    uint64_t v;
    ebc_vm_result *r;
    ebc_vm_message_init(&msg);
    msg.to = WETH;
    address_word(who, word);
    msg.input = data;
    msg.input_len = abi(data, BALANCE_OF, word, NULL);
    r = run(vm, &msg, 0);
    CHECK(ebc_vm_result_status(r) == EBC_VM_SUCCESS);
    out = ebc_vm_result_output(r, &len);
    CHECK(out != NULL && len == 32);
    v = low64(out);
    ebc_vm_result_free(r);
    return v;
}

static void weth9_round_trip(ebc_manager *m) {
    const uint64_t one_eth = 1000000000000000000ull;
    ebc_vm *vm = NULL;
    ebc_error *err = NULL;
    ebc_address alice = t_addr(0xa1, 1), bob = t_addr(0xb0, 2), emitter;
    ebc_vm_message msg;
    ebc_vm_result *r;
    ebc_hash topic;
    ebc_u256 funds = u256(10 * one_eth), got;
    uint8_t data[68], to[32], amount[32];
    const uint8_t *log_data;
    size_t topics = 0, data_len = 0, len = 0;
    char uri[4096];

    CHECK_OK(ebc_vm_new(m, &vm, &err), err);
    snprintf(uri, sizeof uri, "file:%s", EBC_TEST_WETH9);
    CHECK_OK(ebc_vm_load_contract(vm, &WETH, uri, strlen(uri), &err), err);
    CHECK_OK(ebc_vm_set_balance(vm, &alice, &funds, &err), err);

    ebc_vm_message_init(&msg);
    msg.caller = alice;
    msg.to = WETH;
    msg.value = u256(3 * one_eth);
    msg.input = data;
    msg.input_len = abi(data, DEPOSIT, NULL, NULL);
    r = run(vm, &msg, 1);
    CHECK(ebc_vm_result_status(r) == EBC_VM_SUCCESS);
    CHECK(ebc_vm_result_gas_used(r) > 21000 && ebc_vm_result_gas_used(r) < 60000);
    CHECK(ebc_vm_result_halt_reason(r) == NULL);
    CHECK(ebc_vm_result_denial_count(r) == 0);
    CHECK(ebc_vm_result_log_count(r) == 1);
    log_data = ebc_vm_result_log(r, 0, &emitter, &topics, &data_len);
    CHECK(log_data != NULL && data_len == 32 && low64(log_data) == 3 * one_eth);
    CHECK(t_addr_eq(&emitter, &WETH) && topics == 2);
    CHECK(ebc_vm_result_log_topic(r, 0, 0, &topic) && t_hash_is(&topic, DEPOSIT_TOPIC));
    CHECK(!ebc_vm_result_log_topic(r, 0, 2, &topic));
    CHECK(ebc_vm_result_log(r, 1, NULL, NULL, NULL) == NULL);
    CHECK(!ebc_vm_result_created_address(r, &emitter));
    (void)ebc_vm_result_output(r, &len);
    CHECK(len == 0);
    ebc_vm_result_free(r);
    CHECK(balance_of(vm, &alice) == 3 * one_eth);

    address_word(&bob, to);
    memcpy(amount, u256(one_eth).bytes, 32);
    msg.value = u256(0);
    msg.input_len = abi(data, TRANSFER, to, amount);
    r = run(vm, &msg, 1);
    CHECK(ebc_vm_result_status(r) == EBC_VM_SUCCESS);
    ebc_vm_result_free(r);
    CHECK(balance_of(vm, &alice) == 2 * one_eth && balance_of(vm, &bob) == one_eth);

    memcpy(amount, u256(2 * one_eth).bytes, 32);
    msg.input_len = abi(data, WITHDRAW, amount, NULL);
    r = run(vm, &msg, 1);
    CHECK(ebc_vm_result_status(r) == EBC_VM_SUCCESS);
    ebc_vm_result_free(r);
    CHECK(balance_of(vm, &alice) == 0);
    CHECK_OK(ebc_vm_get_balance(vm, &alice, &got, &err), err);
    CHECK(low64(got.bytes) == 9 * one_eth);

    /* Withdrawing again reverts: WETH9's require. */
    r = run(vm, &msg, 0);
    CHECK(ebc_vm_result_status(r) == EBC_VM_REVERT);
    ebc_vm_result_free(r);
    ebc_vm_free(vm);
}

static void low_trust_code_is_sandboxed(ebc_manager *m) {
    /* PUSH1 1, PUSH0, SSTORE, STOP: needs can_modify_state. */
    static const uint8_t store[] = {0x60, 0x01, 0x5f, 0x55, 0x00};
    uint8_t secret[32], public_key[32], signature[EBC_SIGNATURE_MAX_LEN];
    size_t public_len = 0, signature_len = 0;
    ebc_address plain = t_addr(0x5e, 1), signed_low = t_addr(0x5e, 2);
    const ebc_bytecode *b = NULL;
    ebc_load_options *o = ebc_load_options_new();
    ebc_error *err = NULL;
    ebc_vm *vm = NULL;
    ebc_vm_message msg;
    ebc_vm_result *r;
    ebc_hash code_hash;
    ebc_u256 slot = u256(0), value;
    const char *reason;

    memset(secret, 7, sizeof secret);
    CHECK_OK(ebc_manager_put_memory(m, "store", 5, store, sizeof store, &err), err);
    CHECK_OK(t_load(m, &plain, "mem:store", NULL, &b, &err), err);
    ebc_bytecode_code_hash(b, &code_hash);
    ebc_release(b);
    CHECK_OK(ebc_signer_identity(EBC_SCHEME_ED25519, secret, 32, public_key, sizeof public_key,
                                 &public_len, &err), err);
    CHECK_OK(ebc_manager_trust_ed25519(m, public_key, "low", 3, EBC_TRUST_LOW, &err), err);
    CHECK_OK(ebc_sign(EBC_SCHEME_ED25519, secret, 32, &code_hash, "1", 1, signature,
                      sizeof signature, &signature_len, &err), err);
    CHECK_OK(ebc_load_options_set_signature(o, EBC_SCHEME_ED25519, signature, signature_len, "1", 1,
                                            &err), err);
    CHECK_OK(t_load(m, &signed_low, "mem:store", o, &b, &err), err);
    ebc_release(b);

    CHECK_OK(ebc_vm_new(m, &vm, &err), err);
    ebc_vm_message_init(&msg);
    msg.to = plain; /* the host's own store: high trust, may store */
    r = run(vm, &msg, 1);
    CHECK(ebc_vm_result_status(r) == EBC_VM_SUCCESS);
    ebc_vm_result_free(r);
    CHECK_OK(ebc_vm_get_storage(vm, &plain, &slot, &value, &err), err);
    CHECK(low64(value.bytes) == 1);

    msg.to = signed_low;
    r = run(vm, &msg, 1);
    CHECK(ebc_vm_result_status(r) == EBC_VM_HALT);
    reason = ebc_vm_result_halt_reason(r);
    CHECK(reason != NULL && strstr(reason, "SSTORE") && strstr(reason, "can_modify_state"));
    CHECK(strstr(reason, "trust level low") != NULL);
    CHECK(ebc_vm_result_denial_count(r) == 1);
    CHECK(strcmp(ebc_vm_result_denial_message(r, 0), reason) == 0);
    CHECK(ebc_vm_result_denial_message(r, 1) == NULL);
    ebc_vm_result_free(r);
    CHECK_OK(ebc_vm_get_storage(vm, &signed_low, &slot, &value, &err), err);
    CHECK(low64(value.bytes) == 0);

    ebc_load_options_free(o);
    ebc_vm_free(vm);
}

static void errors_and_null_arguments(void) {
    /* A VM without a manager runs only the state's own code. */
    static const uint8_t answer[] = {0x60, 0x2a, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3};
    ebc_vm *vm = NULL;
    ebc_error *err = NULL;
    ebc_vm_message msg;
    ebc_vm_result *r = NULL;
    ebc_address a = t_addr(0x42, 1);
    ebc_u256 v;
    size_t len = 0;
    const uint8_t *out;

    CHECK_OK(ebc_vm_new(NULL, &vm, &err), err);
    CHECK_FAIL(ebc_vm_load_contract(vm, &a, "mem:x", 5, &err), EBC_DISABLED, err);
    t_clear(&err);
    CHECK_OK(ebc_vm_set_code(vm, &a, answer, sizeof answer, &err), err);
    CHECK_OK(ebc_vm_set_nonce(vm, &a, 1, &err), err);
    ebc_vm_message_init(&msg);
    msg.to = a;
    r = run(vm, &msg, 0);
    out = ebc_vm_result_output(r, &len);
    CHECK(len == 32 && out[31] == 42);
    ebc_vm_result_free(r);

    msg.kind = 7;
    CHECK_FAIL(ebc_vm_call(vm, &msg, &r, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "message kind");
    t_clear(&err);
    msg.kind = EBC_VM_CALL;
    msg.input_len = 3; /* with a NULL input */
    CHECK_FAIL(ebc_vm_call(vm, &msg, &r, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_vm_call(NULL, &msg, &r, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_vm_call(vm, NULL, &r, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    msg.input_len = 0;
    CHECK_FAIL(ebc_vm_transact(vm, &msg, NULL, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_vm_get_balance(vm, &a, NULL, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_vm_set_balance(vm, NULL, &v, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL_NOERR(ebc_vm_new(NULL, NULL, NULL), EBC_NULL_PARAMETER);

    CHECK(ebc_vm_result_status(NULL) == EBC_VM_HALT);
    CHECK(ebc_vm_result_output(NULL, &len) == NULL);
    CHECK(ebc_vm_result_gas_used(NULL) == 0);
    CHECK(ebc_vm_result_log_count(NULL) == 0);
    CHECK(ebc_vm_result_halt_reason(NULL) == NULL);
    CHECK(ebc_vm_result_denial_count(NULL) == 0);
    ebc_vm_message_init(NULL);
    ebc_vm_result_free(NULL);
    ebc_vm_free(NULL);
    ebc_vm_free(vm);
}

int main(void) {
    ebc_manager *m = t_manager_with(EBC_PRESET_TESTING, EBC_SECURITY_BASIC, 0, 0);
    weth9_round_trip(m);
    low_trust_code_is_sandboxed(m);
    errors_and_null_arguments();
    ebc_manager_free(m);
    printf("test_vm: ok\n");
    return 0;
}
