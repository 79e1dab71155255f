//! ebc for Zig: a wrapper of the C ABI (ebc.h, translated by the build
//! system) with error unions, slices and `deinit`.
//!
//!     var m = try ebc.Manager.init(.{}, null);
//!     defer m.deinit();
//!     const code = try m.load(address, "file:WETH9.hex", null);
//!     defer code.deinit();
//!     const bytes = code.code(); // valid until code.deinit()
//!
//! A `Manager` may be used from any number of threads at once; a
//! `Bytecode` is immutable and stays valid after its manager is gone.
//! Failures are `Error` values; pass a `*Diagnostic` to also get ebc's
//! message. Loaders written in Zig run through a `callconv(.c)` trampoline
//! and may run on any thread, several calls at once.
const std = @import("std");

/// The C declarations, as translate-c made them from ebc.h.
pub const c = @import("c");

/// A 20-byte account address.
pub const Address = [20]u8;
/// A 32-byte keccak256 hash.
pub const Hash = [32]u8;

/// What can go wrong: one error per status of ebc.h.
pub const Error = error{
    NullParameter,
    InvalidArgument,
    Disabled,
    NotFound,
    LoaderNotFound,
    TooLarge,
    VerificationFailed,
    SecurityViolation,
    SignatureInvalid,
    ChecksumMismatch,
    Timeout,
    Io,
    Panic,
    /// A status this binding does not know (a newer library).
    UnknownStatus,
};

/// The errors in status order: `status_errors[s - 1]` is status `s`'s.
const status_errors = [_]Error{
    error.NullParameter,      error.InvalidArgument,   error.Disabled,
    error.NotFound,           error.LoaderNotFound,    error.TooLarge,
    error.VerificationFailed, error.SecurityViolation, error.SignatureInvalid,
    error.ChecksumMismatch,   error.Timeout,           error.Io,
    error.Panic,
};

comptime {
    std.debug.assert(status_errors.len == c.EBC_PANIC);
}

/// The error of a failed status.
pub fn errorFromStatus(status: c.ebc_status) Error {
    if (status == 0 or status > status_errors.len) return error.UnknownStatus;
    return status_errors[status - 1];
}

/// The status a loader returns for `err`: its own for an `Error`,
/// `EBC_IO` for anything else.
pub fn statusOf(err: anyerror) c.ebc_status {
    for (status_errors, 1..) |e, status| {
        if (err == e) return @intCast(status);
    }
    return c.EBC_IO;
}

/// ebc's message of a failed call, when the caller asks for it.
pub const Diagnostic = struct {
    /// The failed status (`EBC_OK` until a call fails).
    status: c.ebc_status = c.EBC_OK,
    buf: [512]u8 = undefined,
    len: usize = 0,

    /// The message, cut to 512 bytes.
    pub fn message(d: *const Diagnostic) []const u8 {
        return d.buf[0..d.len];
    }
};

/// Turns a status and its error object (freed here) into an error union.
fn finish(status: c.ebc_status, err: ?*c.ebc_error, diag: ?*Diagnostic) Error!void {
    if (status == c.EBC_OK) return;
    if (err) |e| {
        if (diag) |d| {
            const msg = std.mem.sliceTo(c.ebc_error_message(e), 0);
            d.len = @min(msg.len, d.buf.len);
            @memcpy(d.buf[0..d.len], msg[0..d.len]);
        }
        c.ebc_error_free(e);
    }
    if (diag) |d| d.status = status;
    return errorFromStatus(status);
}

/// `0x` and lower-case hex digits of `bytes`.
pub fn hex(bytes: anytype) [2 + 2 * bytes.len]u8 {
    return ("0x" ++ std.fmt.bytesToHex(bytes, .lower)).*;
}

/// An address from 40 hex digits, `0x` optional.
pub fn parseAddress(text: []const u8) Error!Address {
    const digits = if (std.mem.startsWith(u8, text, "0x")) text[2..] else text;
    var out: Address = undefined;
    if (digits.len != 40) return error.InvalidArgument;
    _ = std.fmt.hexToBytes(&out, digits) catch return error.InvalidArgument;
    return out;
}

/// Starting configurations (`EBC_PRESET_*`).
pub const Preset = enum(u32) { production = 0, development = 1, testing = 2 };
/// What a manager demands of code (`EBC_SECURITY_*`).
pub const SecurityLevel = enum(u32) { none = 0, basic = 1, standard = 2, strict = 3, paranoid = 4 };
/// Cache eviction policies (`EBC_CACHE_*`).
pub const CacheStrategy = enum(u32) { none = 0, lru = 1, lfu = 2, ttl = 3, adaptive = 4 };

/// A manager's configuration: a preset and what to change in it.
pub const Options = struct {
    preset: Preset = .development,
    security_level: ?SecurityLevel = null,
    cache_strategy: ?CacheStrategy = null,
    max_cached_contracts: ?u32 = null,
    max_contract_size: ?usize = null,
    loader_timeout_ms: ?u64 = null,
    /// The URI of loads that name none; `{address}` becomes the address.
    default_source: ?[]const u8 = null,
};

/// One fetch, as a loader sees it; valid during the call only.
pub const Request = struct {
    address: Address,
    /// The whole URI, scheme included.
    uri: []const u8,
    /// The time limit in milliseconds (0: none).
    timeout_ms: u64,
};

/// Where a loader writes the code it fetched, raw or as hex text.
pub const Sink = struct {
    handle: *c.ebc_sink,

    /// Appends `bytes`: `error.TooLarge` past the size cap,
    /// `error.Timeout` after the time limit.
    pub fn write(s: *Sink, bytes: []const u8) Error!void {
        const status = c.ebc_sink_write(s.handle, bytes.ptr, bytes.len);
        if (status != c.EBC_OK) return errorFromStatus(status);
    }
};

/// One reference to immutable code; `deinit` returns it.
pub const Bytecode = struct {
    handle: *const c.ebc_bytecode,

    /// The code bytes, valid until `deinit` of this reference.
    pub fn code(b: Bytecode) []const u8 {
        var len: usize = 0;
        const ptr = c.ebc_bytecode_code(b.handle, &len);
        if (ptr == null or len == 0) return &.{};
        return ptr[0..len];
    }

    /// keccak256 of the code.
    pub fn codeHash(b: Bytecode) Hash {
        var h: c.ebc_hash = .{};
        c.ebc_bytecode_code_hash(b.handle, &h);
        return h.bytes;
    }

    /// The account the code was loaded for.
    pub fn address(b: Bytecode) Address {
        var a: c.ebc_address = .{};
        c.ebc_bytecode_address(b.handle, &a);
        return a.bytes;
    }

    /// True when `pc` is a JUMPDEST opcode (not PUSH data).
    pub fn isJumpdest(b: Bytecode, pc: usize) bool {
        return c.ebc_bytecode_is_jumpdest(b.handle, pc);
    }

    /// Another reference to the same code; `deinit` each one.
    pub fn retain(b: Bytecode) Bytecode {
        _ = c.ebc_retain(b.handle);
        return b;
    }

    /// Returns this reference.
    pub fn deinit(b: Bytecode) void {
        c.ebc_release(b.handle);
    }
};

/// Loads, verifies and caches code. Thread-safe: share one between threads.
pub const Manager = struct {
    handle: *c.ebc_manager,

    /// A manager configured by `options`.
    pub fn init(options: Options, diag: ?*Diagnostic) Error!Manager {
        const config = c.ebc_config_new(@backingInt(options.preset)) orelse return error.InvalidArgument;
        defer c.ebc_config_free(config);
        if (options.security_level) |l| try finish(c.ebc_config_set_security_level(config, @backingInt(l)), null, diag);
        if (options.cache_strategy) |s| try finish(c.ebc_config_set_cache_strategy(config, @backingInt(s)), null, diag);
        if (options.max_cached_contracts) |n| try finish(c.ebc_config_set_max_cached_contracts(config, n), null, diag);
        if (options.max_contract_size) |n| try finish(c.ebc_config_set_max_contract_size(config, n), null, diag);
        if (options.loader_timeout_ms) |ms| try finish(c.ebc_config_set_loader_timeout_ms(config, ms), null, diag);
        var err: ?*c.ebc_error = null;
        if (options.default_source) |uri| {
            try finish(c.ebc_config_set_default_source(config, uri.ptr, uri.len, &err), err, diag);
        }
        var out: ?*c.ebc_manager = null;
        try finish(c.ebc_manager_new(config, &out, &err), err, diag);
        return .{ .handle = out.? };
    }

    /// Frees the manager and its loaders; bytecode from it stays valid.
    pub fn deinit(m: *Manager) void {
        c.ebc_manager_free(m.handle);
        m.* = undefined;
    }

    /// The code of `address` from the cache or, on a miss, from `uri`
    /// (`null`: the default source). `deinit` the result.
    pub fn load(m: Manager, address: Address, uri: ?[]const u8, diag: ?*Diagnostic) Error!Bytecode {
        const a: c.ebc_address = .{ .bytes = address };
        const u = uri orelse "";
        var out: ?*const c.ebc_bytecode = null;
        var err: ?*c.ebc_error = null;
        const ptr: ?[*]const u8 = if (uri == null) null else u.ptr;
        try finish(c.ebc_load(m.handle, &a, ptr, u.len, null, &out, &err), err, diag);
        return .{ .handle = out.? };
    }

    /// The cached code of `address`, never fetching.
    pub fn get(m: Manager, address: Address) ?Bytecode {
        const a: c.ebc_address = .{ .bytes = address };
        const out = c.ebc_get(m.handle, &a) orelse return null;
        return .{ .handle = out };
    }

    /// Removes `address` from the cache; `error.NotFound` when not cached.
    pub fn unload(m: Manager, address: Address) Error!void {
        const a: c.ebc_address = .{ .bytes = address };
        try finish(c.ebc_unload(m.handle, &a), null, null);
    }

    /// Stores `data` (raw code or hex text) as the entry `mem:<name>`.
    pub fn putMemory(m: Manager, name: []const u8, data: []const u8) Error!void {
        var err: ?*c.ebc_error = null;
        try finish(c.ebc_manager_put_memory(m.handle, name.ptr, name.len, data.ptr, data.len, &err), err, null);
    }

    /// Routes URIs `<scheme>:...` to `fetch`, called with `context` (which
    /// must outlive the registration: until `deinit` or the scheme is
    /// registered again). `fetch` writes the code to the sink; an `Error`
    /// fails the load with its status (`error.NotFound`: no such account;
    /// returning without writing: an account without code), any other
    /// error with `EBC_IO`. It may run on any thread, several at once.
    pub fn registerLoader(
        m: Manager,
        scheme: []const u8,
        comptime Context: type,
        context: *Context,
        comptime fetch: fn (*Context, Request, *Sink) anyerror!void,
        diag: ?*Diagnostic,
    ) Error!void {
        const Trampoline = struct {
            fn call(user_data: ?*anyopaque, request: [*c]const c.ebc_load_request, sink: ?*c.ebc_sink) callconv(.c) c.ebc_status {
                const ctx: *Context = @ptrCast(@alignCast(user_data.?));
                const r = request.*;
                var s: Sink = .{ .handle = sink.? };
                const req: Request = .{ .address = r.address.*.bytes, .uri = r.uri[0..r.uri_len], .timeout_ms = r.timeout_ms };
                fetch(ctx, req, &s) catch |e| return statusOf(e);
                return c.EBC_OK;
            }
        };
        return m.registerLoaderC(scheme, Trampoline.call, context, null, diag);
    }

    /// Registers a C-callable loader as it is (see `ebc_register_loader`).
    pub fn registerLoaderC(
        m: Manager,
        scheme: []const u8,
        fetch: *const fn (?*anyopaque, [*c]const c.ebc_load_request, ?*c.ebc_sink) callconv(.c) c.ebc_status,
        user_data: ?*anyopaque,
        user_data_free: ?*const fn (?*anyopaque) callconv(.c) void,
        diag: ?*Diagnostic,
    ) Error!void {
        var err: ?*c.ebc_error = null;
        try finish(c.ebc_register_loader(m.handle, scheme.ptr, scheme.len, fetch, user_data, user_data_free, &err), err, diag);
    }

    /// EVMC's get_code_size over the default source.
    pub fn codeSize(m: Manager, address: Address, diag: ?*Diagnostic) Error!usize {
        const a: c.ebc_address = .{ .bytes = address };
        var n: usize = 0;
        var err: ?*c.ebc_error = null;
        try finish(c.ebc_code_size(m.handle, &a, &n, &err), err, diag);
        return n;
    }

    /// EVMC's get_code_hash: zero for a missing account, keccak256 of
    /// empty for an account without code.
    pub fn codeHash(m: Manager, address: Address, diag: ?*Diagnostic) Error!Hash {
        const a: c.ebc_address = .{ .bytes = address };
        var h: c.ebc_hash = .{};
        var err: ?*c.ebc_error = null;
        try finish(c.ebc_code_hash(m.handle, &a, &h, &err), err, diag);
        return h.bytes;
    }

    /// EVMC's copy_code: bytes copied into `buf` from `offset`.
    pub fn copyCode(m: Manager, address: Address, offset: usize, buf: []u8, diag: ?*Diagnostic) Error!usize {
        const a: c.ebc_address = .{ .bytes = address };
        var n: usize = 0;
        var err: ?*c.ebc_error = null;
        try finish(c.ebc_copy_code(m.handle, &a, offset, buf.ptr, buf.len, &n, &err), err, diag);
        return n;
    }

    /// Cache counters.
    pub fn cacheStats(m: Manager) c.ebc_cache_stats {
        var s: c.ebc_cache_stats = .{};
        c.ebc_manager_cache_stats(m.handle, &s);
        return s;
    }
};
