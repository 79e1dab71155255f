// Tests of ebc.hpp: RAII ownership, errors as exceptions with status and
// message, spans of code, lambda loaders (state, failures, many threads at
// once through one manager) and the EVMC-shaped helpers.
//   test_ebc <WETH9 code file>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "ebc.hpp"

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                       \
        }                                                                       \
    } while (0)

// `body` must throw ebc::error with `want`; returns its message.
template <class F>
static std::string expect_error(ebc::status want, F &&body) {
    try {
        body();
    } catch (const ebc::error &e) {
        if (e.code() != want) {
            std::fprintf(stderr, "expected %s, got %s\n", ebc_status_name(want), e.what());
            std::exit(1);
        }
        return e.what();
    }
    std::fprintf(stderr, "expected %s, nothing was thrown\n", ebc_status_name(want));
    std::exit(1);
}

static const char *WETH9_HASH = "0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23";

static_assert(!std::is_copy_constructible_v<ebc::manager>, "a manager is move-only");
static_assert(std::is_nothrow_move_constructible_v<ebc::manager>, "a manager moves");
static_assert(std::is_copy_constructible_v<ebc::bytecode>, "a bytecode is copyable");

static void ownership(const std::string &file) {
    const auto a = ebc::address_from_hex("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
    ebc::bytecode kept;
    {
        ebc::manager m;
        ebc::bytecode code = m.load(a, "file:" + file);
        CHECK(code);
        ebc::bytecode copy = code;  // retain
        ebc::bytecode moved = std::move(code);
        CHECK(!code && copy && moved);
        CHECK(copy.get() == moved.get());
        CHECK(ebc::to_hex(copy.code_hash()) == WETH9_HASH);
        CHECK(ebc::to_hex(copy.account()) == "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
        ebc::bytes_view bytes = copy.code();
        CHECK(bytes.size() == 3124 && bytes[0] == 0x60);
        CHECK(copy.is_jumpdest(0xaf) && !copy.is_jumpdest(1));
        CHECK(std::count(bytes.begin(), bytes.end(), std::uint8_t{0x5b}) > 0);
        ebc::manager other = std::move(m);  // the manager moves; the cache goes with it
        CHECK(m.get() == nullptr && other.get() != nullptr);
        CHECK(other.get(a).has_value());
        CHECK(other.unload(a) && !other.unload(a));
        CHECK(!other.get(a).has_value());
        kept = copy;
    }
    // Manager and the other references gone: the code is still readable.
    CHECK(kept.code().size() == 3124 && ebc::to_hex(kept.code_hash()) == WETH9_HASH);
}

static void errors() {
    ebc::manager m;
    const auto a = ebc::address_from_hex("0x0000000000000000000000000000000000000001");
    std::string msg = expect_error(EBC_NOT_FOUND, [&] { m.load(a, "file:/nonexistent/code.hex"); });
    CHECK(msg.find("EBC_NOT_FOUND") != std::string::npos);
    CHECK(msg.find("/nonexistent/code.hex") != std::string::npos);
    expect_error(EBC_LOADER_NOT_FOUND, [&] { m.load(a, "nosuch://x"); });
    expect_error(EBC_LOADER_NOT_FOUND, [&] { m.load(a); });  // no default source
    expect_error(EBC_INVALID_ARGUMENT, [] { ebc::address_from_hex("0x12"); });
    expect_error(EBC_INVALID_ARGUMENT, [] { ebc::config(99); });
    expect_error(EBC_INVALID_ARGUMENT, [] { ebc::config().security_level(42); });
    ebc::manager moved = std::move(m);
    expect_error(EBC_NULL_PARAMETER, [&] { m.load(a, "mem:x"); });
    expect_error(EBC_NULL_PARAMETER, [&] { m.register_loader("zz", [](const ebc::load_request &, ebc::sink &) {}); });
}

static void loaders(const std::string &file) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<std::uint8_t> weth((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(weth.size() == 3124);

    ebc::config config(EBC_PRESET_TESTING);
    config.default_source("store:{address}").max_cached_contracts(1000);
    ebc::manager m(config);
    // A store keyed by URI, shared by every call of the loader.
    std::map<std::string, std::vector<std::uint8_t>> store;
    std::mutex lock;
    std::atomic<int> calls{0};
    const std::string weth_address = "0x00000000000000000000000000000000000000aa";
    store["store:" + weth_address] = weth;
    store["store:0x00000000000000000000000000000000000000bb"] = {};  // account without code
    m.register_loader("store", [&](const ebc::load_request &r, ebc::sink &sink) {
        calls++;
        std::vector<std::uint8_t> bytes;
        {
            std::lock_guard<std::mutex> guard(lock);
            auto it = store.find(std::string(r.uri));
            if (it == store.end()) throw ebc::error(EBC_NOT_FOUND, "no entry");
            bytes = it->second;
        }
        CHECK(r.timeout.count() > 0);
        // In pieces, as a network source would.
        for (std::size_t off = 0; off < bytes.size(); off += 1000) {
            sink.write(ebc::bytes_view(bytes.data() + off, std::min<std::size_t>(1000, bytes.size() - off)));
        }
    });
    m.register_loader("flaky", [](const ebc::load_request &, ebc::sink &) {
        throw std::runtime_error("a C++ exception never crosses into ebc");
    });
    m.register_loader("hex", [](const ebc::load_request &, ebc::sink &sink) { sink.write("0x60015b00"); });

    const auto weth_addr = ebc::address_from_hex(weth_address);
    ebc::bytecode code = m.load(weth_addr);  // default source
    CHECK(ebc::to_hex(code.code_hash()) == WETH9_HASH && calls == 1);
    CHECK(std::equal(code.code().begin(), code.code().end(), weth.begin(), weth.end()));
    expect_error(EBC_NOT_FOUND, [&] { m.load(ebc::address_from_hex("0x00000000000000000000000000000000000000cc")); });
    expect_error(EBC_IO, [&] { m.load(ebc::address_from_hex("0x00000000000000000000000000000000000000ff"), "flaky:x"); });
    ebc::bytecode small = m.load(ebc::address_from_hex("0x00000000000000000000000000000000000000dd"), "hex:x");
    CHECK(small.code().size() == 4 && small.is_jumpdest(2));

    // EVMC-shaped helpers over the same default source.
    const auto empty = ebc::address_from_hex("0x00000000000000000000000000000000000000bb");
    const auto missing = ebc::address_from_hex("0x00000000000000000000000000000000000000ee");
    CHECK(m.code_size(weth_addr) == 3124);
    CHECK(ebc::same(m.code_hash(weth_addr), code.code_hash()));
    CHECK(m.code_size(empty) == 0 && m.code_size(missing) == 0);
    CHECK(ebc::to_hex(m.code_hash(empty)) == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    CHECK(ebc::same(m.code_hash(missing), ebc::hash{}));
    std::uint8_t buf[8] = {};
    CHECK(m.copy_code(weth_addr, 3120, buf, sizeof buf) == 4);

    // Many threads through one manager: distinct addresses (each fetched
    // once) and one shared hot address (fetched once, the rest wait or hit).
    const int threads = 8, per_thread = 25;
    {
        std::lock_guard<std::mutex> guard(lock);
        for (int t = 0; t < threads; t++) {
            for (int i = 0; i < per_thread; i++) {
                char uri[64];
                std::snprintf(uri, sizeof uri, "store:0x%038x%02x", 0x100 + t, i);
                store[uri] = {0x60, static_cast<std::uint8_t>(t), 0x60, static_cast<std::uint8_t>(i), 0x5b, 0x00};
            }
        }
    }
    m.unload(weth_addr);
    const int before = calls;
    std::vector<std::thread> pool;
    std::atomic<int> failures{0};
    for (int t = 0; t < threads; t++) {
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; i++) {
                char hex[64];
                std::snprintf(hex, sizeof hex, "0x%038x%02x", 0x100 + t, i);
                ebc::bytecode b = m.load(ebc::address_from_hex(hex));
                if (b.code().size() != 6 || b.code()[1] != t || b.code()[3] != i || !b.is_jumpdest(4)) failures++;
                if (ebc::to_hex(m.load(weth_addr).code_hash()) != WETH9_HASH) failures++;
            }
        });
    }
    for (auto &th : pool) th.join();
    CHECK(failures == 0);
    CHECK(calls - before == threads * per_thread + 1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: test_ebc <WETH9 code file>\n");
        return 2;
    }
    ownership(argv[1]);
    errors();
    loaders(argv[1]);
    std::printf("ebc.hpp (C++%ld, ebc %s): ok\n", __cplusplus / 100 % 100, std::string(ebc::version()).c_str());
    return 0;
}
