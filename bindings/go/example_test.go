package ebc_test

import (
	"fmt"
	"os"

	ebc "ebc/bindings/go"
)

// Loads WETH9's code from a file and through a loader written in Go, and
// prints its code hash both times.
func Example() {
	m, err := ebc.NewManager()
	if err != nil {
		panic(err)
	}
	defer m.Close()
	weth, _ := ebc.ParseAddress("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")

	code, err := m.Load(weth, "file:../../contracts/WETH9.hex")
	if err != nil {
		panic(err)
	}
	defer code.Release()
	fmt.Println("file:", code.CodeHash())

	// A source of our own: "vault:<name>" reads contracts/<name>.hex.
	err = m.RegisterLoader("vault", func(req *ebc.Request, sink *ebc.Sink) error {
		data, err := os.ReadFile("../../contracts/" + req.URI[len("vault:"):] + ".hex")
		if os.IsNotExist(err) {
			return fmt.Errorf("%s: %w", req.URI, ebc.ErrNotFound)
		} else if err != nil {
			return err
		}
		_, err = sink.Write(data)
		return err
	})
	if err != nil {
		panic(err)
	}
	other, _ := ebc.ParseAddress("0x00000000000000000000000000000000000000aa")
	viaLoader, err := m.Load(other, "vault:WETH9")
	if err != nil {
		panic(err)
	}
	defer viaLoader.Release()
	fmt.Println("loader:", viaLoader.CodeHash())
	// Output:
	// file: 0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23
	// loader: 0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23
}
