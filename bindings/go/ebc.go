// Package ebc is the Go binding of ebc, external bytecode management for
// EVMs: a Manager fetches an address's code from a source (a file, an
// in-process entry, a loader written in Go), checks and caches it, and hands
// out immutable, reference-counted Bytecode.
//
// It links the C library through pkg-config (ebc-static: libebc.a and the
// system libraries it needs); install it with the repository's
// scripts/install.sh PREFIX and set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig.
//
// A Manager is safe for use by many goroutines at once. Failures are
// *Error values wrapping a Status, so errors.Is(err, ebc.ErrNotFound) works.
package ebc

/*
#cgo pkg-config: ebc-static
#include <stdint.h>
#include <stdlib.h>
#include "ebc.h"

ebc_status ebc_go_register_loader(ebc_manager *m, const char *scheme, size_t scheme_len, uintptr_t handle,
                                  ebc_error **err);
*/
import "C"

import (
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Status is ebc's status code. The non-zero ones are errors themselves, the
// targets of errors.Is.
type Status uint32

// The statuses of ebc.h, with their fixed numbers.
const (
	StatusOK              Status = 0
	ErrNullParameter      Status = 1
	ErrInvalidArgument    Status = 2
	ErrDisabled           Status = 3
	ErrNotFound           Status = 4
	ErrLoaderNotFound     Status = 5
	ErrTooLarge           Status = 6
	ErrVerificationFailed Status = 7
	ErrSecurityViolation  Status = 8
	ErrSignatureInvalid   Status = 9
	ErrChecksumMismatch   Status = 10
	ErrTimeout            Status = 11
	ErrIO                 Status = 12
	ErrPanic              Status = 13
)

// String is the C name, e.g. "EBC_NOT_FOUND".
func (s Status) String() string { return C.GoString(C.ebc_status_name(C.ebc_status(s))) }

// Error makes a Status an error value.
func (s Status) Error() string { return s.String() }

// Error is a failed call: its status and ebc's message.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return e.Status.String() + ": " + e.Message }

// Unwrap gives the Status, so errors.Is(err, ebc.ErrNotFound) holds.
func (e *Error) Unwrap() error { return e.Status }

// ErrClosed is returned by calls on a Manager after Close.
var ErrClosed = errors.New("ebc: the manager is closed")

// errorFrom turns a failed status and its error object (freed here) into an *Error.
func errorFrom(status C.ebc_status, cerr *C.ebc_error) error {
	if status == C.EBC_OK {
		return nil
	}
	msg := "(no message)"
	if cerr != nil {
		msg = C.GoString(C.ebc_error_message(cerr))
		C.ebc_error_free(cerr)
	}
	return &Error{Status: Status(status), Message: msg}
}

// Address is a 20-byte account address.
type Address [20]byte

// Hash is a 32-byte keccak256 hash.
type Hash [32]byte

// String is "0x" and 40 lower-case hex digits.
func (a Address) String() string { return "0x" + hex.EncodeToString(a[:]) }

// String is "0x" and 64 lower-case hex digits.
func (h Hash) String() string { return "0x" + hex.EncodeToString(h[:]) }

// ParseAddress reads 40 hex digits, "0x" optional.
func ParseAddress(s string) (Address, error) {
	var a Address
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
	if err != nil || len(b) != len(a) {
		return a, &Error{Status: ErrInvalidArgument, Message: fmt.Sprintf("%q is not a 20-byte hex address", s)}
	}
	copy(a[:], b)
	return a, nil
}

func (a *Address) c() *C.ebc_address { return (*C.ebc_address)(unsafe.Pointer(a)) }

// Version is the library's version, e.g. "0.1.0".
func Version() string { return C.GoString(C.ebc_version()) }

// Preset is a starting configuration.
type Preset uint32

// The presets of ebc.h.
const (
	PresetProduction  Preset = 0
	PresetDevelopment Preset = 1
	PresetTesting     Preset = 2
)

// SecurityLevel is what a manager demands of code (EBC_SECURITY_*).
type SecurityLevel uint32

// The security levels of ebc.h.
const (
	SecurityNone     SecurityLevel = 0
	SecurityBasic    SecurityLevel = 1
	SecurityStandard SecurityLevel = 2
	SecurityStrict   SecurityLevel = 3
	SecurityParanoid SecurityLevel = 4
)

// CacheStrategy is the cache's eviction policy (EBC_CACHE_*).
type CacheStrategy uint32

// The cache strategies of ebc.h.
const (
	CacheNone     CacheStrategy = 0
	CacheLRU      CacheStrategy = 1
	CacheLFU      CacheStrategy = 2
	CacheTTL      CacheStrategy = 3
	CacheAdaptive CacheStrategy = 4
)

// settings collects the options of NewManager.
type settings struct {
	preset Preset
	steps  []func(*C.ebc_config) error
}

// Option configures NewManager.
type Option func(*settings)

func step(f func(*C.ebc_config) error) Option {
	return func(s *settings) { s.steps = append(s.steps, f) }
}

func plain(status C.ebc_status, what string) error {
	if status == C.EBC_OK {
		return nil
	}
	return &Error{Status: Status(status), Message: what}
}

// WithPreset starts from a preset instead of PresetDevelopment, whatever
// its place among the options.
func WithPreset(p Preset) Option { return func(s *settings) { s.preset = p } }

// WithSecurityLevel sets the security level.
func WithSecurityLevel(l SecurityLevel) Option {
	return step(func(c *C.ebc_config) error {
		return plain(C.ebc_config_set_security_level(c, C.uint32_t(l)), fmt.Sprintf("security level %d", l))
	})
}

// WithCacheStrategy sets the cache's eviction policy.
func WithCacheStrategy(s CacheStrategy) Option {
	return step(func(c *C.ebc_config) error {
		return plain(C.ebc_config_set_cache_strategy(c, C.uint32_t(s)), fmt.Sprintf("cache strategy %d", s))
	})
}

// WithMaxCachedContracts bounds the number of cached addresses.
func WithMaxCachedContracts(n uint32) Option {
	return step(func(c *C.ebc_config) error {
		return plain(C.ebc_config_set_max_cached_contracts(c, C.uint32_t(n)), fmt.Sprintf("max cached contracts %d", n))
	})
}

// WithMaxContractSize sets the largest accepted code, in bytes.
func WithMaxContractSize(bytes int) Option {
	return step(func(c *C.ebc_config) error {
		if bytes < 0 {
			return &Error{Status: ErrInvalidArgument, Message: "negative max contract size"}
		}
		return plain(C.ebc_config_set_max_contract_size(c, C.size_t(bytes)), fmt.Sprintf("max contract size %d", bytes))
	})
}

// WithLoaderTimeout sets the time limit of one fetch (0: none).
func WithLoaderTimeout(d time.Duration) Option {
	return step(func(c *C.ebc_config) error {
		return plain(C.ebc_config_set_loader_timeout_ms(c, C.uint64_t(d.Milliseconds())), "loader timeout")
	})
}

// WithDefaultSource sets the URI of loads that name none; "{address}" in
// it becomes the address ("0x" + 40 hex digits).
func WithDefaultSource(uri string) Option {
	return step(func(c *C.ebc_config) error {
		cs := C.CString(uri)
		defer C.free(unsafe.Pointer(cs))
		var cerr *C.ebc_error
		return errorFrom(C.ebc_config_set_default_source(c, cs, C.size_t(len(uri)), &cerr), cerr)
	})
}

// Manager loads, verifies and caches code. Safe for concurrent use; Close
// it when done (a finalizer closes a forgotten one).
type Manager struct {
	mu sync.RWMutex // held for reading by every call, for writing by Close
	m  *C.ebc_manager
}

// NewManager creates a manager with the development preset changed by opts.
func NewManager(opts ...Option) (*Manager, error) {
	s := settings{preset: PresetDevelopment}
	for _, o := range opts {
		o(&s)
	}
	cfg := C.ebc_config_new(C.uint32_t(s.preset))
	if cfg == nil {
		return nil, &Error{Status: ErrInvalidArgument, Message: fmt.Sprintf("unknown preset %d", s.preset)}
	}
	defer C.ebc_config_free(cfg)
	for _, f := range s.steps {
		if err := f(cfg); err != nil {
			return nil, err
		}
	}
	var m *C.ebc_manager
	var cerr *C.ebc_error
	if err := errorFrom(C.ebc_manager_new(cfg, &m, &cerr), cerr); err != nil {
		return nil, err
	}
	mgr := &Manager{m: m}
	runtime.SetFinalizer(mgr, (*Manager).Close)
	return mgr, nil
}

// Close frees the manager after the calls in progress have returned, and
// its loaders. Bytecode obtained from it stays valid. A second Close does nothing.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m != nil {
		C.ebc_manager_free(m.m)
		m.m = nil
		runtime.SetFinalizer(m, nil)
	}
	return nil
}

// with runs f with the C manager, held open for the call.
func (m *Manager) with(f func(*C.ebc_manager) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.m == nil {
		return ErrClosed
	}
	return f(m.m)
}

// Load returns the code of addr from the cache or, on a miss, from uri
// ("" for the default source), verified and cached. Release the result
// when done with it.
func (m *Manager) Load(addr Address, uri string) (*Bytecode, error) {
	var out *C.ebc_bytecode
	err := m.with(func(cm *C.ebc_manager) error {
		var curi *C.char
		if uri != "" {
			curi = C.CString(uri)
			defer C.free(unsafe.Pointer(curi))
		}
		var cerr *C.ebc_error
		return errorFrom(C.ebc_load(cm, addr.c(), curi, C.size_t(len(uri)), nil, &out, &cerr), cerr)
	})
	if err != nil {
		return nil, err
	}
	return newBytecode(out), nil
}

// Get returns the cached code of addr, or nil; it never fetches.
func (m *Manager) Get(addr Address) *Bytecode {
	var out *C.ebc_bytecode
	_ = m.with(func(cm *C.ebc_manager) error {
		out = C.ebc_get(cm, addr.c())
		return nil
	})
	if out == nil {
		return nil
	}
	return newBytecode(out)
}

// Unload removes addr from the cache; ErrNotFound when it was not cached.
func (m *Manager) Unload(addr Address) error {
	return m.with(func(cm *C.ebc_manager) error {
		return plain(C.ebc_unload(cm, addr.c()), addr.String()+" is not cached")
	})
}

// PutMemory stores data (raw code or hex text) as the entry "mem:<name>".
func (m *Manager) PutMemory(name string, data []byte) error {
	return m.with(func(cm *C.ebc_manager) error {
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		var p *C.uint8_t
		if len(data) > 0 {
			p = (*C.uint8_t)(unsafe.Pointer(&data[0]))
		}
		var cerr *C.ebc_error
		return errorFrom(C.ebc_manager_put_memory(cm, cname, C.size_t(len(name)), p, C.size_t(len(data)), &cerr), cerr)
	})
}

// CacheStats are a manager's cache counters.
type CacheStats struct {
	Hits, Misses, Evictions, Entries, Bytes uint64
}

// CacheStats returns the cache counters (zero after Close).
func (m *Manager) CacheStats() CacheStats {
	var s C.ebc_cache_stats
	_ = m.with(func(cm *C.ebc_manager) error {
		C.ebc_manager_cache_stats(cm, &s)
		return nil
	})
	return CacheStats{uint64(s.hits), uint64(s.misses), uint64(s.evictions), uint64(s.entries), uint64(s.bytes)}
}

// CodeSize is EVMC's get_code_size over the default source: 0 for a
// missing account or one without code.
func (m *Manager) CodeSize(addr Address) (int, error) {
	var n C.size_t
	err := m.with(func(cm *C.ebc_manager) error {
		var cerr *C.ebc_error
		return errorFrom(C.ebc_code_size(cm, addr.c(), &n, &cerr), cerr)
	})
	return int(n), err
}

// CodeHash is EVMC's get_code_hash over the default source: zero for a
// missing account, keccak256 of empty for an account without code.
func (m *Manager) CodeHash(addr Address) (Hash, error) {
	var h Hash
	err := m.with(func(cm *C.ebc_manager) error {
		var cerr *C.ebc_error
		return errorFrom(C.ebc_code_hash(cm, addr.c(), (*C.ebc_hash)(unsafe.Pointer(&h)), &cerr), cerr)
	})
	return h, err
}

// CopyCode is EVMC's copy_code: copies the code from offset into buf and
// returns how many bytes it copied.
func (m *Manager) CopyCode(addr Address, offset int, buf []byte) (int, error) {
	if offset < 0 {
		return 0, &Error{Status: ErrInvalidArgument, Message: "negative offset"}
	}
	var n C.size_t
	err := m.with(func(cm *C.ebc_manager) error {
		var p *C.uint8_t
		if len(buf) > 0 {
			p = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
		}
		var cerr *C.ebc_error
		return errorFrom(C.ebc_copy_code(cm, addr.c(), C.size_t(offset), p, C.size_t(len(buf)), &n, &cerr), cerr)
	})
	return int(n), err
}

// Bytecode is one reference to immutable code. Release it when done; a
// finalizer releases a forgotten one. It stays valid after its manager is
// closed. Safe for concurrent use until Release.
type Bytecode struct {
	b unsafe.Pointer // *C.ebc_bytecode; nil once released
}

// liveBytecodes counts the references held by Bytecode values not yet released.
var liveBytecodes int64

func newBytecode(b *C.ebc_bytecode) *Bytecode {
	atomic.AddInt64(&liveBytecodes, 1)
	out := &Bytecode{b: unsafe.Pointer(b)}
	runtime.SetFinalizer(out, (*Bytecode).Release)
	return out
}

func (b *Bytecode) c() *C.ebc_bytecode { return (*C.ebc_bytecode)(atomic.LoadPointer(&b.b)) }

// Release returns the reference; later calls do nothing. Slices from Code
// must not be used after it.
func (b *Bytecode) Release() {
	if p := atomic.SwapPointer(&b.b, nil); p != nil {
		C.ebc_release((*C.ebc_bytecode)(p))
		atomic.AddInt64(&liveBytecodes, -1)
		runtime.SetFinalizer(b, nil)
	}
}

// Code is the code bytes, in ebc's memory, not copied: valid while b is
// held (not released, and reachable: use runtime.KeepAlive(b) after the
// last use of the slice when b is not used later). Nil after Release. Do
// not modify it.
func (b *Bytecode) Code() []byte {
	var n C.size_t
	p := C.ebc_bytecode_code(b.c(), &n)
	runtime.KeepAlive(b)
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// CodeHash is keccak256 of the code (zero after Release).
func (b *Bytecode) CodeHash() Hash {
	var h Hash
	if c := b.c(); c != nil {
		C.ebc_bytecode_code_hash(c, (*C.ebc_hash)(unsafe.Pointer(&h)))
	}
	runtime.KeepAlive(b)
	return h
}

// Address is the account the code was loaded for.
func (b *Bytecode) Address() Address {
	var a Address
	if c := b.c(); c != nil {
		C.ebc_bytecode_address(c, a.c())
	}
	runtime.KeepAlive(b)
	return a
}

// IsJumpdest tells whether pc is a JUMPDEST opcode (not PUSH data).
func (b *Bytecode) IsJumpdest(pc int) bool {
	ok := pc >= 0 && bool(C.ebc_bytecode_is_jumpdest(b.c(), C.size_t(pc)))
	runtime.KeepAlive(b)
	return ok
}
