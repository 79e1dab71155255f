//! Loads WETH9's code from a file and through a loader written in Zig, and
//! prints its code hash both times.
//!   example <code file>
const std = @import("std");
const ebc = @import("ebc");

/// A loader's state: the code it serves for "vault:" URIs.
const Vault = struct {
    code: []const u8,

    fn fetch(vault: *Vault, request: ebc.Request, sink: *ebc.Sink) !void {
        if (!std.mem.eql(u8, request.uri, "vault:weth9")) return error.NotFound;
        try sink.write(vault.code);
    }
};

pub fn main(init: std.process.Init) !void {
    const args = try init.minimal.args.toSlice(init.arena.allocator());
    if (args.len != 2) {
        std.debug.print("usage: example <code file>\n", .{});
        std.process.exit(2);
    }
    var out_buf: [256]u8 = undefined;
    var stdout: std.Io.File.Writer = .init(.stdout(), init.io, &out_buf);
    const out = &stdout.interface;

    var diag: ebc.Diagnostic = .{};
    var m = try ebc.Manager.init(.{}, &diag);
    defer m.deinit();

    const weth = try ebc.parseAddress("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
    const uri = try std.fmt.allocPrint(init.arena.allocator(), "file:{s}", .{args[1]});
    const from_file = m.load(weth, uri, &diag) catch |err| {
        std.debug.print("{s}: {s}\n", .{ @errorName(err), diag.message() });
        return err;
    };
    defer from_file.deinit();
    try out.print("file: {s}\n", .{ebc.hex(from_file.codeHash())});

    var vault: Vault = .{ .code = from_file.code() };
    try m.registerLoader("vault", Vault, &vault, Vault.fetch, &diag);
    const other = try ebc.parseAddress("0x00000000000000000000000000000000000000aa");
    const from_loader = try m.load(other, "vault:weth9", &diag);
    defer from_loader.deinit();
    try out.print("loader: {s}\n", .{ebc.hex(from_loader.codeHash())});
    try out.flush();
}
