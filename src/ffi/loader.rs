//! Callback loaders: sources written by the host, in C.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::manager::{ebc_manager, manager};
use super::{arg_mut, bytes_arg, ebc_address, ebc_error, ebc_status, guard_status, str_arg};
use crate::error::{Error, Result};
use crate::source::{Loader, LoaderType, Request, Sink};

/// One fetch, as a callback loader sees it. Valid only during the callback.
#[repr(C)]
pub struct ebc_load_request {
    /// The account whose code is wanted.
    pub address: *const ebc_address,
    /// The whole URI (scheme included), `uri_len` bytes of UTF-8, not
    /// NUL-terminated.
    pub uri: *const c_char,
    /// Length of `uri` in bytes.
    pub uri_len: usize,
    /// The time limit in milliseconds (0 = none). Writes after it fail with
    /// `EBC_TIMEOUT`, and so does the load; the loader should give up then.
    pub timeout_ms: u64,
}

/// Where a callback loader writes the code it fetched (raw bytes or hex
/// text). Valid only during the callback, on the thread that called it.
pub struct ebc_sink {
    _private: [u8; 0],
}

/// A host's loader: fetches `request` into `sink` and returns `EBC_OK`, or
/// a status that fails the load (`EBC_NOT_FOUND`: no code there). May run on
/// any thread, several calls at once; it runs on the thread that called
/// `ebc_load`. It must not load the address it is fetching (that load
/// would wait for itself until the timeout).
pub type ebc_loader_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, request: *const ebc_load_request, sink: *mut ebc_sink) -> ebc_status,
>;

/// Frees a loader's user data.
pub type ebc_user_data_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Appends `len` bytes at `data` to what the loader fetched. NULL `data`
/// is fine with `len` 0. `EBC_TOO_LARGE` when the total would pass the size
/// cap, `EBC_TIMEOUT` after the request's time limit: the loader should
/// stop then, and the load fails whatever it returns. Only during the
/// callback that received `sink`, on its thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_sink_write(sink: *mut ebc_sink, data: *const u8, len: usize) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        let sink = arg_mut(sink.cast::<Sink>(), "sink")?;
        sink.write(bytes_arg(data, len, "data")?)
    })
}

/// A C callback and its user data, as a [`Loader`].
struct CallbackLoader {
    scheme: String,
    fetch: unsafe extern "C" fn(*mut c_void, *const ebc_load_request, *mut ebc_sink) -> ebc_status,
    user_data: *mut c_void,
    user_data_free: ebc_user_data_free_fn,
}

// SAFETY: the header tells hosts that `fn` runs on any thread, several calls
// at once, with the same `user_data`; registering a loader is the host's
// promise that the callback and its data allow that. ebc itself never
// dereferences `user_data`.
unsafe impl Send for CallbackLoader {}
// SAFETY: as above.
unsafe impl Sync for CallbackLoader {}

impl Loader for CallbackLoader {
    fn kind(&self) -> LoaderType {
        LoaderType::Custom
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        let address = ebc_address { bytes: request.address.0.0 };
        let c_request = ebc_load_request {
            address: &address,
            uri: request.uri.as_ptr().cast(),
            uri_len: request.uri.len(),
            timeout_ms: request.timeout_ms,
        };
        let sink_ptr: *mut Sink = sink;
        // SAFETY: `fetch` is the host's callback with the signature the
        // header declares; the request, address and sink outlive the call.
        let status = unsafe { (self.fetch)(self.user_data, &c_request, sink_ptr.cast()) };
        match Error::from_status(status, &format!("the {:?} loader", self.scheme)) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

impl Drop for CallbackLoader {
    fn drop(&mut self) {
        if let Some(free) = self.user_data_free {
            // SAFETY: the host's free function, run once, when the loader is
            // dropped (manager freed or scheme registered again).
            unsafe { free(self.user_data) };
        }
    }
}

/// Routes URIs `"<scheme>:..."` to `fn`, with `user_data` passed to every
/// call. `scheme` is `scheme_len` bytes (a letter, then letters, digits,
/// `+`, `-`, `.`; at least two; case-insensitive). Registering a scheme
/// again replaces the loader, built-in `file` and `mem` included.
///
/// `user_data_free` (may be NULL) runs once on `user_data`: when the
/// manager is freed or the scheme is registered again, after the last load
/// using it has returned. It also runs, before this returns, when
/// registration fails for a reason other than NULL `m` or `fn`. `fn` may
/// run on any thread, several calls at once (see `ebc_loader_fn`).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_register_loader(
    m: *mut ebc_manager,
    scheme: *const c_char,
    scheme_len: usize,
    r#fn: ebc_loader_fn,
    user_data: *mut c_void,
    user_data_free: ebc_user_data_free_fn,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        let fetch = r#fn.ok_or(Error::NullParameter("fn"))?;
        // From here on the loader owns `user_data`: dropping it frees it.
        let mut loader = CallbackLoader { scheme: String::new(), fetch, user_data, user_data_free };
        loader.scheme = str_arg(scheme, scheme_len, "scheme")?.to_owned();
        let scheme = loader.scheme.clone();
        manager.register_loader(&scheme, Arc::new(loader))
    })
}
