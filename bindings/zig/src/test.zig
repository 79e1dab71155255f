//! Tests of the Zig binding: loading, errors and diagnostics, loaders
//! written in Zig (through the trampoline and as a plain callconv(.c)
//! function), many threads through one manager, and the EVMC helpers.
const std = @import("std");
const ebc = @import("ebc");
const build_options = @import("build_options");
const testing = std.testing;

const weth9_hash = "0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23";

fn weth9Uri() []const u8 {
    return "file:" ++ build_options.weth9;
}

fn addr(first: u8, last: u8) ebc.Address {
    var a: ebc.Address = @splat(0);
    a[0] = first;
    a[19] = last;
    return a;
}

test "load from a file: code, hash, jump destinations, cache" {
    var m = try ebc.Manager.init(.{}, null);
    const a = try ebc.parseAddress("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
    const code = try m.load(a, weth9Uri(), null);
    defer code.deinit();
    try testing.expectEqualStrings(weth9_hash, &ebc.hex(code.codeHash()));
    try testing.expectEqual(@as(usize, 3124), code.code().len);
    try testing.expect(code.isJumpdest(0xaf) and !code.isJumpdest(1));
    try testing.expectEqualSlices(u8, &a, &code.address());
    const cached = m.get(a) orelse return error.TestExpectedCached;
    cached.deinit();
    try m.unload(a);
    try testing.expectError(error.NotFound, m.unload(a));
    try testing.expect(m.get(a) == null);
    const extra = code.retain();
    m.deinit(); // the code outlives its manager
    try testing.expectEqual(@as(usize, 3124), extra.code().len);
    extra.deinit();
}

test "errors map from statuses and carry ebc's message" {
    var m = try ebc.Manager.init(.{}, null);
    defer m.deinit();
    var diag: ebc.Diagnostic = .{};
    try testing.expectError(error.NotFound, m.load(addr(1, 1), "file:/nonexistent/code.hex", &diag));
    try testing.expectEqual(@as(u32, ebc.c.EBC_NOT_FOUND), diag.status);
    try testing.expect(std.mem.indexOf(u8, diag.message(), "/nonexistent/code.hex") != null);
    try testing.expectError(error.LoaderNotFound, m.load(addr(1, 1), "nosuch://x", null));
    try testing.expectError(error.LoaderNotFound, m.load(addr(1, 1), null, null));
    try testing.expectError(error.InvalidArgument, ebc.parseAddress("0x12"));
    try testing.expectError(error.InvalidArgument, ebc.Manager.init(.{ .max_contract_size = 0 }, null));
    var small = try ebc.Manager.init(.{ .max_contract_size = 100 }, null);
    defer small.deinit();
    try testing.expectError(error.TooLarge, small.load(addr(1, 2), weth9Uri(), &diag));
    try testing.expectEqual(ebc.Error.Timeout, ebc.errorFromStatus(ebc.c.EBC_TIMEOUT));
    try testing.expectEqual(@as(u32, ebc.c.EBC_IO), ebc.statusOf(error.OutOfMemory));
    try testing.expectEqual(@as(u32, ebc.c.EBC_NOT_FOUND), ebc.statusOf(error.NotFound));
}

/// A loader's state, shared by every thread: code by address byte, a fetch
/// counter, and the hot address's code.
const Store = struct {
    weth: []const u8,
    fetches: std.atomic.Value(u32) = .init(0),

    fn fetch(store: *Store, request: ebc.Request, sink: *ebc.Sink) !void {
        _ = store.fetches.fetchAdd(1, .monotonic);
        if (std.mem.startsWith(u8, request.uri, "gen:0xff")) {
            // In pieces, as a network source would.
            var rest = store.weth;
            while (rest.len > 0) {
                const n = @min(rest.len, 700);
                try sink.write(rest[0..n]);
                rest = rest[n..];
            }
            return;
        }
        switch (request.address[0]) {
            0xee => return error.NotFound,
            0xdd => return error.OutOfMemory, // any other error: EBC_IO
            0xcc => return, // an account without code
            else => try sink.write(&.{ 0x60, request.address[0], 0x60, request.address[19], 0x5b, 0x00 }),
        }
    }
};

fn loadMany(m: *const ebc.Manager, thread: u8, per_thread: u8, failures: *std.atomic.Value(u32)) void {
    var i: u8 = 0;
    while (i < per_thread) : (i += 1) {
        const code = m.load(addr(thread, i), null, null) catch {
            _ = failures.fetchAdd(1, .monotonic);
            continue;
        };
        const c = code.code();
        if (c.len != 6 or c[1] != thread or c[3] != i or !code.isJumpdest(4)) _ = failures.fetchAdd(1, .monotonic);
        code.deinit();
        const hot = m.load(addr(0xff, 0), null, null) catch {
            _ = failures.fetchAdd(1, .monotonic);
            continue;
        };
        if (!std.mem.eql(u8, &ebc.hex(hot.codeHash()), weth9_hash)) _ = failures.fetchAdd(1, .monotonic);
        hot.deinit();
    }
}

test "a Zig loader serves many threads through one manager" {
    var first = try ebc.Manager.init(.{}, null);
    const weth = try first.load(addr(0, 0), weth9Uri(), null);
    defer weth.deinit();
    first.deinit();

    var m = try ebc.Manager.init(.{
        .preset = .testing,
        .max_cached_contracts = 2000,
        .default_source = "gen:{address}",
    }, null);
    defer m.deinit();
    var store: Store = .{ .weth = weth.code() };
    try m.registerLoader("gen", Store, &store, Store.fetch, null);

    try testing.expectError(error.NotFound, m.load(addr(0xee, 1), null, null));
    try testing.expectError(error.Io, m.load(addr(0xdd, 1), null, null));
    try testing.expectError(error.NotFound, m.load(addr(0xcc, 1), null, null));
    const fetches_before = store.fetches.load(.monotonic);

    const threads = 8;
    const per_thread = 50;
    var failures: std.atomic.Value(u32) = .init(0);
    var pool: [threads]std.Thread = undefined;
    for (&pool, 1..) |*t, n| t.* = try std.Thread.spawn(.{}, loadMany, .{ &m, @as(u8, @intCast(n)), per_thread, &failures });
    for (pool) |t| t.join();
    try testing.expectEqual(@as(u32, 0), failures.load(.monotonic));
    // Each distinct address fetched once, the shared one once in all.
    try testing.expectEqual(@as(u32, threads * per_thread + 1), store.fetches.load(.monotonic) - fetches_before);
}

/// A loader written directly against the C ABI, with user data ebc frees.
const Counted = struct {
    var freed: u32 = 0;

    fn fetch(user_data: ?*anyopaque, request: [*c]const ebc.c.ebc_load_request, sink: ?*ebc.c.ebc_sink) callconv(.c) ebc.c.ebc_status {
        const code: *const [4]u8 = @ptrCast(user_data.?);
        _ = request;
        return ebc.c.ebc_sink_write(sink, code, code.len);
    }

    fn free(user_data: ?*anyopaque) callconv(.c) void {
        _ = user_data;
        freed += 1;
    }
};

test "a callconv(.c) loader and its user data's free function" {
    var m = try ebc.Manager.init(.{}, null);
    var code = [4]u8{ 0x60, 0x01, 0x5b, 0x00 };
    try m.registerLoaderC("raw", Counted.fetch, &code, Counted.free, null);
    const b = try m.load(addr(7, 7), "raw:x", null);
    defer b.deinit();
    try testing.expectEqualSlices(u8, &code, b.code());
    try testing.expect(b.isJumpdest(2));
    try m.registerLoaderC("raw", Counted.fetch, &code, Counted.free, null); // replaces: frees the first
    try testing.expectEqual(@as(u32, 1), Counted.freed);
    m.deinit();
    try testing.expectEqual(@as(u32, 2), Counted.freed);
}

test "EVMC helpers: code, an account without code, a missing account" {
    var m = try ebc.Manager.init(.{ .default_source = "gen:{address}" }, null);
    defer m.deinit();
    var store: Store = .{ .weth = &.{ 0x60, 0x00 } };
    try m.registerLoader("gen", Store, &store, Store.fetch, null);
    try testing.expectEqual(@as(usize, 6), try m.codeSize(addr(3, 4), null));
    var buf: [4]u8 = undefined;
    try testing.expectEqual(@as(usize, 2), try m.copyCode(addr(3, 4), 4, &buf, null));
    try testing.expectEqualSlices(u8, &.{ 0x5b, 0x00 }, buf[0..2]);
    try testing.expectEqual(@as(usize, 0), try m.codeSize(addr(0xcc, 1), null));
    try testing.expectEqualStrings(
        "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        &ebc.hex(try m.codeHash(addr(0xcc, 1), null)),
    );
    try testing.expectEqual(@as(ebc.Hash, @splat(0)), try m.codeHash(addr(0xee, 1), null));
    try testing.expectError(error.Io, m.codeHash(addr(0xdd, 1), null));
}
