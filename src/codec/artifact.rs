//! Compiler artifacts: the deployed (runtime) bytecode of one contract out
//! of the JSON that compilers and build tools write.
//!
//! | form | shape | contract name |
//! |---|---|---|
//! | solc standard JSON output | `contracts.<source>.<Name>.evm.deployedBytecode.object` | `Name` or `source:Name` |
//! | solc `--combined-json` | `contracts["source:Name"]["bin-runtime"]` | `Name` or `source:Name` |
//! | Foundry `out/<File>.sol/<Name>.json` | `deployedBytecode.object` | `metadata.settings.compilationTarget` |
//! | Hardhat (and Truffle) artifact | `deployedBytecode` as a string | `contractName` (`sourceName`) |
//!
//! Without a name, a file holding exactly one contract with code gives
//! that one; several are an error listing them.

use serde_json::Value;

use crate::error::{Error, Result};

/// One contract found in an artifact.
struct Candidate {
    /// `source:Name` when the source is known, else `Name`.
    qualified: String,
    /// The runtime bytecode as the artifact writes it (hex, maybe `0x`).
    deployed: String,
}

impl Candidate {
    fn new(source: Option<&str>, name: &str, deployed: &str) -> Candidate {
        let qualified = match source {
            Some(source) if !source.is_empty() => format!("{source}:{name}"),
            _ => name.to_owned(),
        };
        Candidate { qualified, deployed: deployed.to_owned() }
    }

    /// Whether `wanted` (`Name` or `source:Name`) names this contract. An
    /// artifact that does not record its name holds one contract, which
    /// any name selects.
    fn matches(&self, wanted: &str) -> bool {
        self.qualified.is_empty()
            || self.qualified == wanted || self.qualified.rsplit(':').next() == Some(wanted)
    }
}

/// True when `bytes` look like a JSON object (a compiler artifact) rather
/// than code or hex text.
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().first() == Some(&b'{') && std::str::from_utf8(bytes).is_ok()
}

/// The runtime bytecode, as hex text, of the contract `contract` names
/// (`Name` or `source:Name`; `None`: the only one) in the artifact `json`.
///
/// Errors: [`Error::InvalidArgument`] for JSON that is no known artifact,
/// an ambiguous or unlinked selection; [`Error::NotFound`] when the named
/// contract is absent or has no runtime code (an interface or abstract
/// contract).
pub fn deployed_bytecode(json: &[u8], contract: Option<&str>, origin: &str) -> Result<String> {
    let value: Value = serde_json::from_slice(json)
        .map_err(|e| Error::InvalidArgument(format!("{origin}: not valid JSON: {e}")))?;
    let candidates = candidates(&value).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{origin}: JSON that is no compiler artifact (solc standard or combined JSON output, \
             Foundry or Hardhat artifact)"
        ))
    })?;
    let chosen: Vec<&Candidate> = match contract {
        Some(wanted) => candidates.iter().filter(|c| c.matches(wanted)).collect(),
        None => candidates.iter().filter(|c| !strip_0x(&c.deployed).is_empty()).collect(),
    };
    let names = || candidates.iter().map(|c| c.qualified.as_str()).collect::<Vec<_>>().join(", ");
    let candidate = match (chosen.as_slice(), contract) {
        ([one], _) => *one,
        ([], Some(wanted)) => {
            return Err(Error::NotFound(format!("{origin}: no contract {wanted:?} (it has: {})", names())));
        }
        ([], None) => return Err(Error::NotFound(format!("{origin}: no contract with runtime code"))),
        (_, _) => {
            let which = contract.map_or(String::new(), |w| format!(" named {w:?}"));
            return Err(Error::InvalidArgument(format!(
                "{origin}: several contracts{which}; name one with #<Name> or #<source>:<Name> ({})",
                chosen.iter().map(|c| c.qualified.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    };
    let hex = strip_0x(&candidate.deployed);
    if hex.is_empty() {
        return Err(Error::NotFound(format!(
            "{origin}: {} has no runtime code (an interface or abstract contract)",
            candidate.qualified
        )));
    }
    if let Some(offset) = hex.find("__") {
        return Err(Error::InvalidArgument(format!(
            "{origin}: {} has an unlinked library reference at byte {} of its runtime code; link it first",
            candidate.qualified,
            offset / 2
        )));
    }
    Ok(hex.to_owned())
}

fn strip_0x(hex: &str) -> &str {
    hex.strip_prefix("0x").unwrap_or(hex)
}

/// Every contract in the artifact, or `None` when the JSON has no known shape.
fn candidates(value: &Value) -> Option<Vec<Candidate>> {
    if let Some(contracts) = value.get("contracts").and_then(Value::as_object) {
        return Some(solc_contracts(contracts));
    }
    match value.get("deployedBytecode")? {
        // Hardhat and Truffle: code as a string, the name beside it.
        Value::String(code) => {
            let name = value.get("contractName").and_then(Value::as_str).unwrap_or("");
            let source = value.get("sourceName").and_then(Value::as_str);
            Some(vec![Candidate::new(source, name, code)])
        }
        // Foundry: `{ "object": "0x…", "sourceMap": …, "linkReferences": … }`.
        Value::Object(deployed) => {
            let code = deployed.get("object")?.as_str()?;
            let (source, name) = foundry_target(value).unwrap_or_default();
            Some(vec![Candidate::new(Some(&source), &name, code)])
        }
        _ => None,
    }
}

/// solc's outputs: standard JSON (`source → Name → evm.deployedBytecode`)
/// and combined JSON (`"source:Name" → bin-runtime`).
fn solc_contracts(contracts: &serde_json::Map<String, Value>) -> Vec<Candidate> {
    let mut found = Vec::new();
    for (key, entry) in contracts {
        if let Some(code) = entry.get("bin-runtime").and_then(Value::as_str) {
            let (source, name) = key.rsplit_once(':').unwrap_or(("", key));
            found.push(Candidate::new(Some(source), name, code));
            continue;
        }
        let Some(by_name) = entry.as_object() else { continue };
        for (name, contract) in by_name {
            let code = contract.pointer("/evm/deployedBytecode/object").and_then(Value::as_str);
            found.push(Candidate::new(Some(key), name, code.unwrap_or("")));
        }
    }
    found
}

/// Foundry's `metadata.settings.compilationTarget` (`{source: Name}`);
/// `metadata` is an object, or a string in older versions (`rawMetadata`).
fn foundry_target(artifact: &Value) -> Option<(String, String)> {
    let parsed;
    let metadata = match artifact.get("metadata") {
        Some(Value::String(text)) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            &parsed
        }
        Some(object) => object,
        None => {
            parsed = serde_json::from_str::<Value>(artifact.get("rawMetadata")?.as_str()?).ok()?;
            &parsed
        }
    };
    let target = metadata.pointer("/settings/compilationTarget")?.as_object()?;
    let (source, name) = target.iter().next()?;
    Some((source.clone(), name.as_str()?.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_json_needs_a_name_when_it_holds_several() {
        let json = br#"{"contracts":{"a.sol":{"A":{"evm":{"deployedBytecode":{"object":"6001"}}},
            "I":{"evm":{"deployedBytecode":{"object":""}}}},"b.sol":{"B":{"evm":{"deployedBytecode":{"object":"6002"}}}}}}"#;
        assert_eq!(deployed_bytecode(json, Some("A"), "t").unwrap(), "6001");
        assert_eq!(deployed_bytecode(json, Some("b.sol:B"), "t").unwrap(), "6002");
        let err = deployed_bytecode(json, None, "t").unwrap_err();
        assert!(err.to_string().contains("a.sol:A, b.sol:B"), "{err}");
        let err = deployed_bytecode(json, Some("I"), "t").unwrap_err();
        assert_eq!(err.status(), crate::Status::NotFound);
        assert!(err.to_string().contains("interface"), "{err}");
        let err = deployed_bytecode(json, Some("C"), "t").unwrap_err();
        assert_eq!(err.status(), crate::Status::NotFound);
        assert!(err.to_string().contains("a.sol:I"), "lists what there is: {err}");
    }

    #[test]
    fn unlinked_libraries_are_refused_with_their_offset() {
        let json = br#"{"_format":"hh-sol-artifact-1","contractName":"U","sourceName":"u.sol",
            "deployedBytecode":"0x6001__$0123456789abcdef0123456789abcdef01$__00"}"#;
        let err = deployed_bytecode(json, None, "t").unwrap_err();
        assert!(err.to_string().contains("byte 2"), "{err}");
    }

    #[test]
    fn unknown_json_is_invalid() {
        for json in [&br#"{"abi":[]}"#[..], b"{", br#"{"deployedBytecode":5}"#] {
            assert_eq!(deployed_bytecode(json, None, "t").unwrap_err().status(), crate::Status::InvalidArgument);
        }
    }
}
