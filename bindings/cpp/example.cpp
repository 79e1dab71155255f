// Loads WETH9's code from a file and through a loader written as a lambda,
// and prints its code hash both times.
//   example <code file>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "ebc.hpp"

int main(int argc, char **argv) try {
    if (argc != 2) {
        std::cerr << "usage: example <code file>\n";
        return 2;
    }
    const std::string path = argv[1];
    const ebc::manager manager;
    const auto weth = ebc::address_from_hex("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");

    ebc::bytecode from_file = manager.load(weth, "file:" + path);
    std::cout << "file: " << ebc::to_hex(from_file.code_hash()) << "\n";

    // A source of our own: "vault:<name>" reads <name> from a map, here one file.
    manager.register_loader("vault", [path](const ebc::load_request &, ebc::sink &sink) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw ebc::error(EBC_NOT_FOUND, "no file " + path);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        sink.write(std::string_view(bytes));
    });
    const auto other = ebc::address_from_hex("0x00000000000000000000000000000000000000aa");
    ebc::bytecode from_loader = manager.load(other, "vault:weth9");
    std::cout << "loader: " << ebc::to_hex(from_loader.code_hash()) << "\n";
    return 0;
} catch (const ebc::error &e) {
    std::cerr << e.what() << "\n";
    return 1;
}
