//! `ebc_error`: a status with a message, owned by the caller.

use std::ffi::{CString, c_char};

use super::{ebc_status, guard, status_code};
use crate::error::Error;

/// A failed call's status and message. Created by ebc into a caller's
/// `ebc_error **err`; the caller owns it and frees it with `ebc_error_free`.
/// Immutable: any thread may read it.
pub struct ebc_error {
    _private: [u8; 0],
}

/// What an `ebc_error` points to.
struct ErrorObject {
    status: ebc_status,
    message: CString,
}

/// A new error object for `e`, owned by the caller.
pub(crate) fn into_raw(e: Error) -> *mut ebc_error {
    let text = e.to_string().replace('\0', "\\0");
    let message = CString::new(text).unwrap_or_default();
    Box::into_raw(Box::new(ErrorObject { status: status_code(e.status()), message })).cast()
}

fn object<'a>(e: *const ebc_error) -> Option<&'a ErrorObject> {
    // SAFETY: a non-NULL `ebc_error*` was made by `into_raw` and is not yet
    // freed (the header requires it).
    unsafe { e.cast::<ErrorObject>().as_ref() }
}

#[cfg(test)]
pub(crate) fn message_of(e: *const ebc_error) -> String {
    object(e).map(|o| o.message.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The status of the failed call that produced `e`. `EBC_NULL_PARAMETER`
/// when `e` is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_error_status(e: *const ebc_error) -> ebc_status {
    guard(|| object(e).map_or(super::EBC_NULL_PARAMETER, |o| o.status))
}

/// The message of `e`: NUL-terminated UTF-8 that names what failed and the
/// context (URI, limit, offset). Owned by `e`: valid until
/// `ebc_error_free(e)`. An empty string when `e` is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_error_message(e: *const ebc_error) -> *const c_char {
    guard(|| object(e).map_or(c"".as_ptr(), |o| o.message.as_ptr()))
}

/// Frees `e`. NULL is fine; freeing the same error twice is not.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_error_free(e: *mut ebc_error) {
    guard(|| {
        if !e.is_null() {
            // SAFETY: made by `into_raw` and not yet freed (the header requires it).
            drop(unsafe { Box::from_raw(e.cast::<ErrorObject>()) });
        }
    })
}
