//! `file:` URIs and plain paths: code from the local file system.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;

use super::{Loader, LoaderType, Request, Sink};
use crate::error::{Error, Result};

/// Reads code from a file, raw or hex text. Absolute paths, paths relative
/// to the working directory, and `file://localhost/abs` / `file:///abs`.
/// The file's size is checked against the cap before it is read, and the
/// read stops at the cap for files whose size the metadata does not tell
/// (pipes, devices).
///
/// With roots, a path must resolve (symlinks and `..` followed) to a file
/// under one of them, and the resolved path is what is opened.
#[derive(Clone, Debug, Default)]
pub struct FileLoader {
    roots: Vec<PathBuf>,
}

impl FileLoader {
    /// A loader confined to `roots` (none: any path). Roots are resolved
    /// now; a root that does not exist is an error.
    pub fn confined_to(roots: &[PathBuf]) -> Result<FileLoader> {
        let roots = roots
            .iter()
            .map(|r| {
                std::fs::canonicalize(r)
                    .map_err(|e| Error::io(format!("resolving file root {}", r.display()), &e))
            })
            .collect::<Result<_>>()?;
        Ok(FileLoader { roots })
    }

    /// The path to open for `path`: itself without roots, else its resolved
    /// form, which must lie under a root.
    pub(crate) fn admit(&self, path: &str) -> Result<PathBuf> {
        if self.roots.is_empty() {
            return Ok(PathBuf::from(path));
        }
        let resolved = std::fs::canonicalize(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::NotFound(format!("no file at {path}")),
            _ => Error::io(format!("resolving {path}"), &e),
        })?;
        if self.roots.iter().any(|root| resolved.starts_with(root)) {
            Ok(resolved)
        } else {
            Err(Error::SecurityViolation(format!(
                "{path} resolves to {}, outside the allowed file roots",
                resolved.display()
            )))
        }
    }
}

/// The path a `file:` location names.
fn path_of(location: &str) -> Result<&str> {
    let Some(rest) = location.strip_prefix("//") else {
        return Ok(location);
    };
    let slash = rest.find('/').unwrap_or(rest.len());
    match &rest[..slash] {
        "" | "localhost" => Ok(&rest[slash..]),
        host => Err(Error::InvalidArgument(format!(
            "file URI names host {host:?}; only local files can be read"
        ))),
    }
}

impl Loader for FileLoader {
    fn kind(&self) -> LoaderType {
        LoaderType::FileSystem
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        let path = path_of(request.location)?;
        if path.is_empty() {
            return Err(Error::InvalidArgument(format!("{}: empty file path", request.uri)));
        }
        let opened = self.admit(path)?;
        let mut file = File::open(&opened).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::NotFound(format!("no file at {path}")),
            _ => Error::io(format!("opening {path}"), &e),
        })?;
        let meta = file.metadata().map_err(|e| Error::io(format!("reading metadata of {path}"), &e))?;
        if meta.is_dir() {
            return Err(Error::InvalidArgument(format!("{path} is a directory, not a code file")));
        }
        if meta.len() > sink.limit() as u64 {
            return Err(Error::TooLarge {
                what: format!("file {path}"),
                limit: sink.limit() as u64,
                size: Some(meta.len()),
            });
        }
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(format!("reading {path}"), &e)),
            };
            sink.write(&chunk[..n])?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uri_forms_name_the_same_path() {
        assert_eq!(path_of("/tmp/a").unwrap(), "/tmp/a");
        assert_eq!(path_of("///tmp/a").unwrap(), "/tmp/a");
        assert_eq!(path_of("//localhost/tmp/a").unwrap(), "/tmp/a");
        assert_eq!(path_of("rel/a.hex").unwrap(), "rel/a.hex");
        assert!(path_of("//example.org/a").is_err());
    }

    #[test]
    fn an_endless_device_stops_at_the_cap() {
        let request = Request {
            address: &Default::default(),
            uri: "/dev/zero",
            location: "/dev/zero",
            timeout_ms: 0,
            state_root: None,
        };
        let mut sink = Sink::new("/dev/zero", 100_000, 0);
        let err = FileLoader::default().fetch(&request, &mut sink).unwrap_err();
        assert_eq!(err.status(), crate::Status::TooLarge);
    }
}
