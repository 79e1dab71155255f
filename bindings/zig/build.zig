//! The Zig package of ebc: the module "ebc" (src/ebc.zig) over the C ABI,
//! whose header comes in through the build system (translate-c of
//! <prefix>/include/ebc.h), linked against <prefix>/lib/libebc.so.
//!
//!   zig build test -Debc-prefix=PREFIX    tests, and the example checked
//!   zig build run -Debc-prefix=PREFIX -- <code file>   the example
//!
//! PREFIX is where the repository's scripts/install.sh installed ebc.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const prefix = b.option([]const u8, "ebc-prefix", "where ebc is installed (include/ebc.h, lib/libebc.so)") orelse "/usr/local";
    const weth9 = b.option([]const u8, "weth9", "WETH9's code file (absolute), loaded by the tests and the example") orelse
        "../../contracts/WETH9.hex";
    const include_dir = b.pathJoin(&.{ prefix, "include" });
    const lib_dir = b.pathJoin(&.{ prefix, "lib" });

    const translate = b.addTranslateC(.{
        .root_source_file = .{ .cwd_relative = b.pathJoin(&.{ include_dir, "ebc.h" }) },
        .target = target,
        .optimize = optimize,
    });
    translate.addIncludePath(.{ .cwd_relative = include_dir });

    const ebc = b.addModule("ebc", .{
        .root_source_file = b.path("src/ebc.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{.{ .name = "c", .module = translate.createModule() }},
    });
    ebc.addLibraryPath(.{ .cwd_relative = lib_dir });
    ebc.addRPath(.{ .cwd_relative = lib_dir });
    ebc.linkSystemLibrary("ebc", .{ .use_pkg_config = .no });

    const options = b.addOptions();
    options.addOption([]const u8, "weth9", weth9);

    const tests = b.addTest(.{ .root_module = b.createModule(.{
        .root_source_file = b.path("src/test.zig"),
        .target = target,
        .optimize = optimize,
        .imports = &.{
            .{ .name = "ebc", .module = ebc },
            .{ .name = "build_options", .module = options.createModule() },
        },
    }) });

    const example = b.addExecutable(.{ .name = "example", .root_module = b.createModule(.{
        .root_source_file = b.path("example/main.zig"),
        .target = target,
        .optimize = optimize,
        .imports = &.{.{ .name = "ebc", .module = ebc }},
    }) });
    b.installArtifact(example);

    const run = b.addRunArtifact(example);
    run.addPassthruArgs();
    b.step("run", "Run the example: load a code file and print its code hash").dependOn(&run.step);

    // The example, run on WETH9, must print its hash from the file and from its loader.
    const checked = b.addRunArtifact(example);
    checked.addArg(weth9);
    const hash = "0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23";
    checked.expectStdOutEqual("file: " ++ hash ++ "\nloader: " ++ hash ++ "\n");

    const test_step = b.step("test", "Run the binding's tests and check the example");
    test_step.dependOn(&b.addRunArtifact(tests).step);
    test_step.dependOn(&checked.step);
}
