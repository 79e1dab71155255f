package ebc

/*
#include <stdint.h>
#include <stdlib.h>
#include "ebc.h"

ebc_status ebc_go_register_loader(ebc_manager *m, const char *scheme, size_t scheme_len, uintptr_t handle,
                                  ebc_error **err);
*/
import "C"

import (
	"errors"
	"runtime/cgo"
	"sync/atomic"
	"time"
	"unsafe"
)

// Request is one fetch, as a loader sees it.
type Request struct {
	// Address is the account whose code is wanted.
	Address Address
	// URI is the whole URI, scheme included.
	URI string
	// Timeout is the fetch's time limit (0: none); writes after it fail.
	Timeout time.Duration
}

// Sink is where a loader writes the code it fetched, raw or as hex text.
// It is an io.Writer, valid only during the loader's call.
type Sink struct {
	s *C.ebc_sink // nil once the call has returned
}

// Write appends p. It fails with ErrTooLarge past the size cap, ErrTimeout
// after the time limit, and once the loader's call has returned.
func (s *Sink) Write(p []byte) (int, error) {
	if s.s == nil {
		return 0, &Error{Status: ErrInvalidArgument, Message: "the sink is used after its loader returned"}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if st := C.ebc_sink_write(s.s, (*C.uint8_t)(unsafe.Pointer(&p[0])), C.size_t(len(p))); st != C.EBC_OK {
		return 0, &Error{Status: Status(st), Message: "writing to the sink"}
	}
	return len(p), nil
}

// LoaderFunc is a source written in Go. It writes the code of req to sink
// and returns nil; an error wrapping ErrNotFound means no such account (and
// returning nil without writing, an account without code); an error
// wrapping another Status fails the load with it; any other error with
// ErrIO. It may run on any goroutine's thread, several calls at once, and
// must not load the address it is fetching.
type LoaderFunc func(req *Request, sink *Sink) error

// liveLoaders counts the Go loaders ebc holds (handles not yet released).
var liveLoaders int64

// RegisterLoader routes URIs "<scheme>:..." to fn, replacing the loader of
// that scheme (built-in ones included). The manager keeps fn until it is
// closed or the scheme is registered again.
func (m *Manager) RegisterLoader(scheme string, fn LoaderFunc) error {
	if fn == nil {
		return &Error{Status: ErrNullParameter, Message: "nil loader"}
	}
	return m.with(func(cm *C.ebc_manager) error {
		cscheme := C.CString(scheme)
		defer C.free(unsafe.Pointer(cscheme))
		atomic.AddInt64(&liveLoaders, 1)
		// ebc gets the handle's number, never a Go pointer; ebcGoRelease
		// deletes the handle when ebc lets go of the loader.
		h := cgo.NewHandle(fn)
		var cerr *C.ebc_error
		st := C.ebc_go_register_loader(cm, cscheme, C.size_t(len(scheme)), C.uintptr_t(h), &cerr)
		return errorFrom(st, cerr)
	})
}

// statusOf maps a loader's error to the status it returns to ebc.
func statusOf(err error) C.ebc_status {
	if err == nil {
		return C.EBC_OK
	}
	var s Status
	if errors.As(err, &s) && s != StatusOK {
		return C.ebc_status(s)
	}
	return C.EBC_IO
}

//export ebcGoFetch
func ebcGoFetch(handle C.uintptr_t, req *C.ebc_load_request, csink *C.ebc_sink) (status C.ebc_status) {
	sink := &Sink{s: csink}
	defer func() {
		sink.s = nil
		if r := recover(); r != nil {
			// A panic must not unwind into ebc's C frames.
			status = C.EBC_PANIC
		}
	}()
	fn := cgo.Handle(handle).Value().(LoaderFunc)
	r := &Request{
		Address: *(*Address)(unsafe.Pointer(req.address)),
		URI:     C.GoStringN(req.uri, C.int(req.uri_len)),
		Timeout: time.Duration(req.timeout_ms) * time.Millisecond,
	}
	return statusOf(fn(r, sink))
}

//export ebcGoRelease
func ebcGoRelease(handle C.uintptr_t) {
	cgo.Handle(handle).Delete()
	atomic.AddInt64(&liveLoaders, -1)
}
