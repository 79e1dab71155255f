// ebc.hpp: a header-only C++17 wrapper of the ebc C ABI (ebc.h).
//
//   ebc::manager m;                                   // move-only, owns an ebc_manager
//   ebc::bytecode code = m.load(addr, "file:WETH9.hex");  // copyable: retain / release
//   std::cout << ebc::to_hex(code.code_hash());
//   for (std::uint8_t op : code.code()) { ... }       // a span, valid while `code` lives
//
// Failures throw ebc::error, which carries the status and ebc's message.
// Loaders are any callable `void(const ebc::load_request&, ebc::sink&)`;
// one that throws ebc::error fails the load with that status (EBC_NOT_FOUND:
// no such account), and returning without writing means an account without
// code. Thread rules are the C ABI's: a manager may be used from any number
// of threads at once, a bytecode is immutable, and a loader may run on any
// thread, several calls at once.
//
// Link with libebc (shared) or libebc.a and its system libraries
// (`find_package(ebc)` gives ebc::ebc and ebc::ebc_static).
#ifndef EBC_HPP
#define EBC_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#if __has_include(<version>)
#include <version>
#endif
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
#include <span>
#endif

#include "ebc.h"

namespace ebc {

/// A read-only view of bytes: std::span<const std::uint8_t> from C++20 on,
/// a minimal equivalent in C++17.
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
using bytes_view = std::span<const std::uint8_t>;
#else
class bytes_view {
public:
    constexpr bytes_view() noexcept = default;
    constexpr bytes_view(const std::uint8_t *data, std::size_t size) noexcept
        : data_(data), size_(size) {}
    /// Any contiguous container of bytes (std::vector, std::array, ...).
    template <class C, class = std::enable_if_t<std::is_convertible_v<
                           decltype(std::declval<const C &>().data()), const std::uint8_t *>>>
    constexpr bytes_view(const C &c) noexcept : data_(c.data()), size_(c.size()) {}
    constexpr const std::uint8_t *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr const std::uint8_t *begin() const noexcept { return data_; }
    constexpr const std::uint8_t *end() const noexcept { return data_ + size_; }
    constexpr std::uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }
    /// Bytes from `offset` on, `count` of them (all when npos); clamped to the view.
    constexpr bytes_view subspan(std::size_t offset, std::size_t count = npos) const noexcept {
        std::size_t from = offset < size_ ? offset : size_;
        std::size_t n = count < size_ - from ? count : size_ - from;
        return bytes_view(data_ + from, n);
    }
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

private:
    const std::uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};
#endif

using address = ebc_address;  ///< 20-byte account address
using hash = ebc_hash;        ///< 32-byte keccak256 / SHA-256
using status = ebc_status;    ///< EBC_OK or why a call failed

/// A failed call: its status (EBC_*) and ebc's message.
class error : public std::runtime_error {
public:
    error(status code, const std::string &message)
        : std::runtime_error(std::string(ebc_status_name(code)) + ": " + message), code_(code) {}
    /// The status, e.g. EBC_NOT_FOUND.
    status code() const noexcept { return code_; }
    /// The status's name, e.g. "EBC_NOT_FOUND".
    const char *name() const noexcept { return ebc_status_name(code_); }

private:
    status code_;
};

namespace detail {
/// Throws ebc::error for a failed status, taking (and freeing) `*errp`.
/// A pointer, not the error: the call that fills it is the other argument,
/// and arguments are evaluated in no fixed order.
inline void check(status s, ebc_error **errp) {
    ebc_error *err = errp != nullptr ? *errp : nullptr;
    if (s == EBC_OK) return;
    std::string message = err != nullptr ? ebc_error_message(err) : "(no message)";
    ebc_error_free(err);
    throw error(s, message);
}
/// Throws ebc::error for a failed status of a call that gives no error
/// object, naming the call.
inline void check(status s, const char *call) {
    if (s != EBC_OK) throw error(s, std::string(call) + " failed");
}
inline int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
template <std::size_t N>
void parse_hex(std::string_view text, std::uint8_t (&out)[N]) {
    if (text.substr(0, 2) == "0x" || text.substr(0, 2) == "0X") text.remove_prefix(2);
    if (text.size() != 2 * N) {
        throw error(EBC_INVALID_ARGUMENT, "expected " + std::to_string(2 * N) + " hex digits, got " +
                                              std::to_string(text.size()));
    }
    for (std::size_t i = 0; i < N; i++) {
        int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            throw error(EBC_INVALID_ARGUMENT, "not a hex digit at " + std::to_string(2 * i));
        }
        out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
}
template <std::size_t N>
std::string to_hex(const std::uint8_t (&bytes)[N]) {
    static const char digits[] = "0123456789abcdef";
    std::string out = "0x";
    for (std::uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}
}  // namespace detail

/// An address from 40 hex digits, `0x` optional; throws EBC_INVALID_ARGUMENT.
inline address address_from_hex(std::string_view text) {
    address a{};
    detail::parse_hex(text, a.bytes);
    return a;
}
/// A hash from 64 hex digits, `0x` optional; throws EBC_INVALID_ARGUMENT.
inline hash hash_from_hex(std::string_view text) {
    hash h{};
    detail::parse_hex(text, h.bytes);
    return h;
}
/// `0x` + lower-case hex.
inline std::string to_hex(const address &a) { return detail::to_hex(a.bytes); }
/// `0x` + lower-case hex.
inline std::string to_hex(const hash &h) { return detail::to_hex(h.bytes); }
/// True when two hashes are the same bytes.
inline bool same(const hash &a, const hash &b) noexcept {
    return std::memcmp(a.bytes, b.bytes, sizeof a.bytes) == 0;
}

/// The library's version, e.g. "0.1.0".
inline std::string_view version() noexcept { return ebc_version(); }

/// One code object: immutable, reference-counted. Copying retains, the
/// destructor releases; it stays valid after its manager is gone.
class bytecode {
public:
    bytecode() noexcept = default;
    /// Takes over one reference (e.g. from ebc_load).
    explicit bytecode(const ebc_bytecode *adopted) noexcept : b_(adopted) {}
    bytecode(const bytecode &other) noexcept : b_(ebc_retain(other.b_)) {}
    bytecode(bytecode &&other) noexcept : b_(std::exchange(other.b_, nullptr)) {}
    bytecode &operator=(bytecode other) noexcept {
        std::swap(b_, other.b_);
        return *this;
    }
    ~bytecode() { ebc_release(b_); }

    /// False for a default-constructed or moved-from object.
    explicit operator bool() const noexcept { return b_ != nullptr; }
    /// The code bytes; valid while this object (or a copy) lives.
    bytes_view code() const noexcept {
        std::size_t len = 0;
        const std::uint8_t *p = ebc_bytecode_code(b_, &len);
        return p == nullptr ? bytes_view() : bytes_view(p, len);
    }
    /// keccak256 of the code.
    hash code_hash() const noexcept {
        hash h{};
        ebc_bytecode_code_hash(b_, &h);
        return h;
    }
    /// The account it was loaded for.
    address account() const noexcept {
        address a{};
        ebc_bytecode_address(b_, &a);
        return a;
    }
    /// True when `pc` is a JUMPDEST opcode (not PUSH data).
    bool is_jumpdest(std::size_t pc) const noexcept { return ebc_bytecode_is_jumpdest(b_, pc); }
    /// The C handle, still owned by this object.
    const ebc_bytecode *get() const noexcept { return b_; }

private:
    const ebc_bytecode *b_ = nullptr;
};

/// Settings for a manager; see ebc_config_* in ebc.h.
class config {
public:
    /// A configuration from EBC_PRESET_* (development by default).
    explicit config(std::uint32_t preset = EBC_PRESET_DEVELOPMENT) : c_(ebc_config_new(preset)) {
        if (c_ == nullptr) throw error(EBC_INVALID_ARGUMENT, "unknown preset " + std::to_string(preset));
    }
    config(const config &) = delete;
    config &operator=(const config &) = delete;
    config(config &&other) noexcept : c_(std::exchange(other.c_, nullptr)) {}
    config &operator=(config &&other) noexcept {
        std::swap(c_, other.c_);
        return *this;
    }
    ~config() { ebc_config_free(c_); }

    /// EBC_SECURITY_*.
    config &security_level(std::uint32_t level) {
        detail::check(ebc_config_set_security_level(c_, level), "ebc_config_set_security_level");
        return *this;
    }
    /// EBC_CACHE_*.
    config &cache_strategy(std::uint32_t strategy) {
        detail::check(ebc_config_set_cache_strategy(c_, strategy), "ebc_config_set_cache_strategy");
        return *this;
    }
    /// Most cached addresses.
    config &max_cached_contracts(std::uint32_t n) {
        detail::check(ebc_config_set_max_cached_contracts(c_, n), "ebc_config_set_max_cached_contracts");
        return *this;
    }
    /// The URI of loads that name none; `{address}` becomes the address.
    config &default_source(std::string_view uri) {
        ebc_error *err = nullptr;
        detail::check(ebc_config_set_default_source(c_, uri.data(), uri.size(), &err), &err);
        return *this;
    }
    /// The C handle, still owned by this object.
    const ebc_config *get() const noexcept { return c_; }

private:
    ebc_config *c_;
};

/// One fetch, as a loader sees it; valid during the call only.
struct load_request {
    address account;                    ///< whose code is wanted
    std::string_view uri;               ///< the whole URI, scheme included
    std::chrono::milliseconds timeout;  ///< 0: none
};

/// Where a loader writes the code it fetched (raw or hex text).
class sink {
public:
    explicit sink(ebc_sink *s) noexcept : s_(s) {}
    /// Appends bytes; throws EBC_TOO_LARGE past the size cap, EBC_TIMEOUT
    /// after the time limit.
    void write(bytes_view data) {
        detail::check(ebc_sink_write(s_, data.data(), data.size()), "ebc_sink_write");
    }
    /// Appends text (e.g. hex).
    void write(std::string_view text) {
        write(bytes_view(reinterpret_cast<const std::uint8_t *>(text.data()), text.size()));
    }

private:
    ebc_sink *s_;
};

namespace detail {
template <class F>
ebc_status loader_trampoline(void *user_data, const ebc_load_request *request, ebc_sink *raw) noexcept {
    try {
        load_request r{*request->address, std::string_view(request->uri, request->uri_len),
                       std::chrono::milliseconds(request->timeout_ms)};
        sink s(raw);
        (*static_cast<F *>(user_data))(r, s);
        return EBC_OK;
    } catch (const error &e) {
        return e.code();
    } catch (...) {
        // No message crosses the boundary; the load fails as an I/O error.
        return EBC_IO;
    }
}
template <class F>
void loader_destroy(void *user_data) noexcept {
    delete static_cast<F *>(user_data);
}
}  // namespace detail

/// Loads, verifies and caches code. Move-only; thread-safe: share one
/// between threads by reference.
class manager {
public:
    /// A manager with the development preset.
    manager() { create(nullptr); }
    /// A manager with `c` (copied).
    explicit manager(const config &c) { create(c.get()); }
    manager(const manager &) = delete;
    manager &operator=(const manager &) = delete;
    manager(manager &&other) noexcept : m_(std::exchange(other.m_, nullptr)) {}
    manager &operator=(manager &&other) noexcept {
        std::swap(m_, other.m_);
        return *this;
    }
    /// Frees the manager; bytecode objects from it stay valid.
    ~manager() { ebc_manager_free(m_); }

    /// The code of `a` from `uri` (or the cache).
    bytecode load(const address &a, std::string_view uri) const {
        return load_raw(a, uri.data(), uri.size());
    }
    /// The code of `a` from the default source (or the cache).
    bytecode load(const address &a) const { return load_raw(a, nullptr, 0); }
    /// The cached code of `a`, never fetching.
    std::optional<bytecode> get(const address &a) const {
        const ebc_bytecode *b = ebc_get(m_, &a);
        if (b == nullptr) return std::nullopt;
        return bytecode(b);
    }
    /// Removes `a` from the cache; false when it was not cached.
    bool unload(const address &a) const { return ebc_unload(m_, &a) == EBC_OK; }
    /// Stores `data` as the in-process entry `mem:<name>`.
    void put_memory(std::string_view name, bytes_view data) const {
        ebc_error *err = nullptr;
        detail::check(ebc_manager_put_memory(m_, name.data(), name.size(), data.data(), data.size(), &err), &err);
    }

    /// Routes URIs `<scheme>:...` to `fn`, a callable
    /// `void(const load_request&, sink&)` that may run on any thread, several
    /// calls at once. The manager owns a copy of it until freed or the scheme
    /// is registered again.
    template <class F>
    void register_loader(std::string_view scheme, F &&fn) const {
        using Fn = std::decay_t<F>;
        static_assert(std::is_invocable_v<Fn &, const load_request &, sink &>,
                      "a loader is callable as void(const ebc::load_request&, ebc::sink&)");
        if (m_ == nullptr) throw error(EBC_NULL_PARAMETER, "the manager was moved from");
        Fn *boxed = new Fn(std::forward<F>(fn));
        ebc_error *err = nullptr;
        // ebc owns `boxed` from here: loader_destroy runs on failure too.
        detail::check(ebc_register_loader(m_, scheme.data(), scheme.size(), &detail::loader_trampoline<Fn>,
                                          boxed, &detail::loader_destroy<Fn>, &err), &err);
    }

    /// EVMC's get_code_size through the default source.
    std::size_t code_size(const address &a) const {
        std::size_t n = 0;
        ebc_error *err = nullptr;
        detail::check(ebc_code_size(m_, &a, &n, &err), &err);
        return n;
    }
    /// EVMC's get_code_hash: zero for a missing account, keccak256 of empty
    /// for one without code.
    hash code_hash(const address &a) const {
        hash h{};
        ebc_error *err = nullptr;
        detail::check(ebc_code_hash(m_, &a, &h, &err), &err);
        return h;
    }
    /// EVMC's copy_code: bytes copied into `buffer` from `offset`.
    std::size_t copy_code(const address &a, std::size_t offset, std::uint8_t *buffer, std::size_t size) const {
        std::size_t n = 0;
        ebc_error *err = nullptr;
        detail::check(ebc_copy_code(m_, &a, offset, buffer, size, &n, &err), &err);
        return n;
    }
    /// Cache counters.
    ebc_cache_stats cache_stats() const noexcept {
        ebc_cache_stats s{};
        ebc_manager_cache_stats(m_, &s);
        return s;
    }
    /// The C handle, still owned by this object.
    ebc_manager *get() const noexcept { return m_; }

private:
    void create(const ebc_config *c) {
        ebc_error *err = nullptr;
        detail::check(ebc_manager_new(c, &m_, &err), &err);
    }
    bytecode load_raw(const address &a, const char *uri, std::size_t len) const {
        const ebc_bytecode *out = nullptr;
        ebc_error *err = nullptr;
        detail::check(ebc_load(m_, &a, uri, len, nullptr, &out, &err), &err);
        return bytecode(out);
    }

    ebc_manager *m_ = nullptr;
};

}  // namespace ebc

#endif  // EBC_HPP
