package ebc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const weth9Hash = "0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23"

func weth9(t *testing.T) []byte {
	t.Helper()
	text, err := os.ReadFile("../../contracts/WETH9.hex")
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func addr(t *testing.T, s string) Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newManager(t *testing.T, opts ...Option) *Manager {
	t.Helper()
	m, err := NewManager(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestLoadFromFileAndMemory(t *testing.T) {
	m := newManager(t)
	a := addr(t, "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")
	code, err := m.Load(a, "file:../../contracts/WETH9.hex")
	if err != nil {
		t.Fatal(err)
	}
	if got := code.CodeHash().String(); got != weth9Hash {
		t.Fatalf("code hash %s", got)
	}
	if len(code.Code()) != 3124 || code.Code()[0] != 0x60 {
		t.Fatalf("code of %d bytes", len(code.Code()))
	}
	if !code.IsJumpdest(0xaf) || code.IsJumpdest(1) || code.IsJumpdest(-1) {
		t.Fatal("jump destinations")
	}
	if code.Address() != a {
		t.Fatalf("address %s", code.Address())
	}
	cached := m.Get(a)
	if cached == nil || cached.CodeHash() != code.CodeHash() {
		t.Fatal("not cached")
	}
	cached.Release()
	code.Release()
	code.Release() // a second Release does nothing
	if code.Code() != nil || code.CodeHash() != (Hash{}) {
		t.Fatal("a released bytecode still reads")
	}

	if err := m.PutMemory("tiny", []byte{0x60, 0x00, 0x5b, 0x00}); err != nil {
		t.Fatal(err)
	}
	tiny, err := m.Load(addr(t, "0x0000000000000000000000000000000000000001"), "mem:tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer tiny.Release()
	if !bytes.Equal(tiny.Code(), []byte{0x60, 0x00, 0x5b, 0x00}) || !tiny.IsJumpdest(2) {
		t.Fatalf("mem code %x", tiny.Code())
	}
	if err := m.Unload(a); err != nil {
		t.Fatal(err)
	}
	if err := m.Unload(a); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second unload: %v", err)
	}
}

func TestBytecodeOutlivesItsManager(t *testing.T) {
	m, err := NewManager()
	if err != nil {
		t.Fatal(err)
	}
	code, err := m.Load(addr(t, "0x00000000000000000000000000000000000000aa"), "file:../../contracts/WETH9.hex")
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close()
	if code.CodeHash().String() != weth9Hash || len(code.Code()) != 3124 {
		t.Fatal("code unreadable after Close")
	}
	code.Release()
	if _, err := m.Load(Address{}, "mem:x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("load after Close: %v", err)
	}
}

func TestErrorsWrapTheirStatus(t *testing.T) {
	m := newManager(t)
	_, err := m.Load(Address{1}, "file:/nonexistent/code.hex")
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrIO) {
		t.Fatalf("missing file: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != ErrNotFound || !strings.Contains(e.Message, "/nonexistent/code.hex") {
		t.Fatalf("error %#v", e)
	}
	if !strings.HasPrefix(err.Error(), "EBC_NOT_FOUND: ") {
		t.Fatalf("message %q", err.Error())
	}
	if _, err := m.Load(Address{1}, "nosuch://x"); !errors.Is(err, ErrLoaderNotFound) {
		t.Fatalf("unknown scheme: %v", err)
	}
	if _, err := m.Load(Address{1}, ""); !errors.Is(err, ErrLoaderNotFound) {
		t.Fatalf("no default source: %v", err)
	}
	if _, err := NewManager(WithSecurityLevel(9)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad level: %v", err)
	}
	if _, err := NewManager(WithPreset(7)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad preset: %v", err)
	}
	if _, err := ParseAddress("0x12"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad address: %v", err)
	}
	small := newManager(t, WithMaxContractSize(100))
	if _, err := small.Load(Address{2}, "file:../../contracts/WETH9.hex"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("size limit: %v", err)
	}
}

func TestOptionsApply(t *testing.T) {
	m := newManager(t, WithPreset(PresetTesting), WithCacheStrategy(CacheLFU), WithMaxCachedContracts(2),
		WithLoaderTimeout(time.Second), WithSecurityLevel(SecurityStandard))
	for i := byte(1); i <= 3; i++ {
		code, err := m.Load(Address{i}, "file:../../contracts/WETH9.hex")
		if err != nil {
			t.Fatal(err)
		}
		code.Release()
	}
	if s := m.CacheStats(); s.Entries != 2 || s.Evictions != 1 {
		t.Fatalf("a 2-entry cache after 3 loads: %+v", s)
	}
}

// A loader written in Go: a map of URI to code behind a mutex, written to
// the sink in chunks; failures map to statuses.
func TestGoLoader(t *testing.T) {
	before := atomic.LoadInt64(&liveLoaders)
	m, err := NewManager(WithPreset(PresetTesting))
	if err != nil {
		t.Fatal(err)
	}
	store := map[string][]byte{"kv:weth": weth9(t), "kv:raw": {0x60, 0x01, 0x5b, 0x00}}
	var calls int64
	var stashed *Sink
	err = m.RegisterLoader("kv", func(req *Request, sink *Sink) error {
		atomic.AddInt64(&calls, 1)
		stashed = sink
		if req.Timeout != 2*time.Second {
			return fmt.Errorf("timeout %v", req.Timeout)
		}
		data, ok := store[req.URI]
		if !ok {
			return fmt.Errorf("no entry %s: %w", req.URI, ErrNotFound)
		}
		for len(data) > 0 {
			n := 500
			if n > len(data) {
				n = len(data)
			}
			if _, err := sink.Write(data[:n]); err != nil {
				return err
			}
			data = data[n:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code, err := m.Load(Address{1}, "kv:weth")
	if err != nil {
		t.Fatal(err)
	}
	if code.CodeHash().String() != weth9Hash {
		t.Fatal("hash through the Go loader")
	}
	code.Release()
	if _, err := stashed.Write([]byte{1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("sink after the call: %v", err)
	}
	if _, err := m.Load(Address{2}, "kv:absent"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	raw, err := m.Load(Address{3}, "kv:raw")
	if err != nil || !raw.IsJumpdest(2) {
		t.Fatalf("raw: %v", err)
	}
	raw.Release()

	if err := m.RegisterLoader("boom", func(*Request, *Sink) error { panic("loader bug") }); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load(Address{4}, "boom:x"); !errors.Is(err, ErrPanic) {
		t.Fatalf("panicking loader: %v", err)
	}
	if err := m.RegisterLoader("plain", func(*Request, *Sink) error { return errors.New("disk on fire") }); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load(Address{5}, "plain:x"); !errors.Is(err, ErrIO) {
		t.Fatalf("plain error: %v", err)
	}
	// Registering a scheme again releases the old loader's handle.
	if err := m.RegisterLoader("plain", func(*Request, *Sink) error { return ErrTimeout }); err != nil {
		t.Fatal(err)
	}
	if got := atomic.LoadInt64(&liveLoaders) - before; got != 3 {
		t.Fatalf("%d live loaders, want 3", got)
	}
	if _, err := m.Load(Address{5}, "plain:x"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("replaced loader: %v", err)
	}
	if err := m.RegisterLoader("x", func(*Request, *Sink) error { return nil }); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("one-letter scheme: %v", err)
	}
	m.Close()
	if got := atomic.LoadInt64(&liveLoaders); got != before {
		t.Fatalf("%d loaders left after Close", got-before)
	}
	if err := m.RegisterLoader("late", func(*Request, *Sink) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("register after Close: %v", err)
	}
}

// Many goroutines loading through one manager and one Go loader: each
// distinct address is fetched once, the shared one once in all.
func TestConcurrentLoadsThroughOneManager(t *testing.T) {
	const goroutines, perGoroutine = 16, 40
	m := newManager(t, WithPreset(PresetTesting), WithMaxCachedContracts(2000),
		WithDefaultSource("gen:{address}"))
	var calls int64
	hot := addr(t, "0x00000000000000000000000000000000000000ff")
	weth := weth9(t)
	err := m.RegisterLoader("gen", func(req *Request, sink *Sink) error {
		atomic.AddInt64(&calls, 1)
		if req.Address == hot {
			time.Sleep(5 * time.Millisecond) // let the others pile up on the flight
			_, err := sink.Write(weth)
			return err
		}
		_, err := sink.Write([]byte{0x60, req.Address[0], 0x60, req.Address[1], 0x5b, 0x00})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	failures := make(chan string, goroutines*perGoroutine)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				a := Address{byte(g + 1), byte(i + 1)}
				code, err := m.Load(a, "")
				if err != nil {
					failures <- err.Error()
					continue
				}
				c := code.Code()
				if len(c) != 6 || c[1] != byte(g+1) || c[3] != byte(i+1) || !code.IsJumpdest(4) {
					failures <- fmt.Sprintf("%s: code %x", a, c)
				}
				code.Release()
				shared, err := m.Load(hot, "")
				if err != nil {
					failures <- err.Error()
					continue
				}
				if shared.CodeHash().String() != weth9Hash {
					failures <- "hot hash"
				}
				if i%8 == 0 {
					runtime.GC() // finalizers run alongside loads
				}
				shared.Release()
			}
		}(g)
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if got := atomic.LoadInt64(&calls); got != goroutines*perGoroutine+1 {
		t.Fatalf("%d fetches, want %d", got, goroutines*perGoroutine+1)
	}
}

// A forgotten Bytecode is released by its finalizer.
func TestFinalizerReleasesForgottenBytecode(t *testing.T) {
	m := newManager(t)
	before := atomic.LoadInt64(&liveBytecodes)
	for i := 0; i < 100; i++ {
		if _, err := m.Load(Address{9, byte(i)}, "file:../../contracts/WETH9.hex"); err != nil {
			t.Fatal(err)
		}
	}
	if got := atomic.LoadInt64(&liveBytecodes) - before; got != 100 {
		t.Fatalf("%d references held, want 100", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadInt64(&liveBytecodes) > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := atomic.LoadInt64(&liveBytecodes) - before; got != 0 {
		t.Fatalf("%d references still held after GC", got)
	}
}

// The EVMC-shaped helpers over a default source served by a Go loader.
func TestEVMCHelpers(t *testing.T) {
	m := newManager(t, WithDefaultSource("acct:{address}"))
	weth := weth9(t)
	err := m.RegisterLoader("acct", func(req *Request, sink *Sink) error {
		switch req.Address[19] {
		case 1:
			_, err := sink.Write(weth)
			return err
		case 2:
			return nil // an account without code
		case 3:
			return ErrTimeout
		}
		return ErrNotFound
	})
	if err != nil {
		t.Fatal(err)
	}
	code, empty, missing, broken := Address{19: 1}, Address{19: 2}, Address{19: 4}, Address{19: 3}
	if n, err := m.CodeSize(code); err != nil || n != 3124 {
		t.Fatalf("size %d %v", n, err)
	}
	if h, err := m.CodeHash(code); err != nil || h.String() != weth9Hash {
		t.Fatalf("hash %s %v", h, err)
	}
	buf := make([]byte, 8)
	if n, err := m.CopyCode(code, 3120, buf); err != nil || n != 4 {
		t.Fatalf("copy %d %v", n, err)
	}
	if n, _ := m.CodeSize(empty); n != 0 {
		t.Fatal("empty size")
	}
	if h, _ := m.CodeHash(empty); h.String() != "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470" {
		t.Fatalf("empty hash %s", h)
	}
	if h, err := m.CodeHash(missing); err != nil || h != (Hash{}) {
		t.Fatalf("missing hash %s %v", h, err)
	}
	if _, err := m.CodeSize(broken); !errors.Is(err, ErrTimeout) {
		t.Fatalf("broken: %v", err)
	}
}
