//! [`Sandbox`]: the execution permissions recorded on each bytecode,
//! enforced while that code runs.
//!
//! A revm inspector keeps one rule set per call frame: the permissions of
//! the code the frame runs (by its code address, so a DELEGATECALL runs the
//! library's rules), or none for code ebc did not serve (the state's own
//! code, precompiles). Init code runs with the rules of the frame that
//! created it. Before each instruction of a restricted frame it checks the
//! opcode; a denied one halts that frame (the EVM's exceptional halt: the
//! frame's changes are undone and its gas is consumed, the caller sees a
//! failed call) and is recorded as a [`Denial`] with the reason.
//!
//! | permission | what it covers |
//! |---|---|
//! | `can_call_external` | CALL, CALLCODE, DELEGATECALL, STATICCALL |
//! | `can_modify_state` | SSTORE, TSTORE, SELFDESTRUCT, CALL or CREATE with value, CALLCODE, DELEGATECALL |
//! | `can_emit_logs` | LOG0-LOG4 |
//! | `can_create_contracts` | CREATE, CREATE2 |
//! | `gas_limit_multiplier` | a frame running the code gets that share of the gas forwarded to it; the rest goes back to the caller when the frame returns or reverts |
//!
//! The same grouping as Paranoid's static policy
//! ([`SecurityContext::admit`](crate::SecurityContext::admit)), applied to
//! what the code does rather than what it could reach.

use core::fmt;
use std::sync::Arc;

use revm::bytecode::opcode;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_types::Jumps;
use revm::interpreter::{
    CallInputs, CallOutcome, CreateInputs, CreateOutcome, Gas, InstructionResult, Interpreter, InterpreterResult,
};
use revm::primitives::{Address, Bytes, U256};

use super::db::LazyCodeDb;
use crate::bytecode::ExternalBytecode;
use crate::security::{ExecutionPermissions, TrustLevel};

/// One of the execution permissions.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `can_call_external`.
    CallExternal = 0,
    /// `can_modify_state`.
    ModifyState = 1,
    /// `can_emit_logs`.
    EmitLogs = 2,
    /// `can_create_contracts`.
    CreateContracts = 3,
}

impl Permission {
    /// The permission's field name, e.g. `"can_modify_state"`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::CallExternal => "can_call_external",
            Permission::ModifyState => "can_modify_state",
            Permission::EmitLogs => "can_emit_logs",
            Permission::CreateContracts => "can_create_contracts",
        }
    }

    /// Whether `permissions` grant this one.
    pub fn granted_by(self, permissions: &ExecutionPermissions) -> bool {
        match self {
            Permission::CallExternal => permissions.can_call_external,
            Permission::ModifyState => permissions.can_modify_state,
            Permission::EmitLogs => permissions.can_emit_logs,
            Permission::CreateContracts => permissions.can_create_contracts,
        }
    }
}

/// An operation the sandbox refused: which code, where, what it needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The account whose code tried it.
    pub code_address: Address,
    /// The byte offset of the instruction in that code.
    pub pc: usize,
    /// The instruction.
    pub opcode: u8,
    /// The permission it needs and the code lacks.
    pub permission: Permission,
    /// The code's trust level.
    pub trust: TrustLevel,
    /// The call depth of the halted frame (0 for the transaction's own frame).
    pub depth: usize,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sandbox denied {} at pc {} in the code of {}: it needs {}, which trust level {} does not grant",
            opcode::OpCode::name_by_op(self.opcode),
            self.pc,
            self.code_address,
            self.permission.name(),
            self.trust.name()
        )
    }
}

/// The rules of one call frame.
#[derive(Clone, Debug)]
struct Rules {
    /// The code's address and its ebc record; `None`: not served by ebc,
    /// nothing is restricted.
    code: Option<(Address, Arc<ExternalBytecode>)>,
    /// Gas withheld from the frame by the multiplier, returned at its end.
    withheld: u64,
}

impl Rules {
    fn open() -> Rules {
        Rules { code: None, withheld: 0 }
    }

    /// The code's address, permissions and trust when it may not do
    /// everything; `None` when no opcode needs checking.
    fn restricted(&self) -> Option<(&Address, &ExecutionPermissions, TrustLevel)> {
        let (address, code) = self.code.as_ref()?;
        let security = code.security();
        let p = &security.permissions;
        let all = p.can_call_external && p.can_modify_state && p.can_emit_logs && p.can_create_contracts;
        (!all).then_some((address, p, security.trust))
    }
}

/// Whether code with `permissions` runs differently in the sandbox: some
/// operation is denied, or it gets less than all the gas forwarded to it.
pub(crate) fn restricts(permissions: &ExecutionPermissions) -> bool {
    let p = permissions;
    !(p.can_call_external && p.can_modify_state && p.can_emit_logs && p.can_create_contracts)
        || p.gas_limit_multiplier < 1.0
}

/// The permission `op` needs beyond the others, given the stack it runs on
/// (for the value of CALL and CREATE), or `None` when it needs none.
fn needed(op: u8, stack: &[U256], permissions: &ExecutionPermissions) -> Option<Permission> {
    let from_top = |n: usize| stack.len().checked_sub(n + 1).map_or(U256::ZERO, |i| stack[i]);
    let denied = |p: Permission| (!p.granted_by(permissions)).then_some(p);
    match op {
        opcode::SSTORE | opcode::TSTORE | opcode::SELFDESTRUCT => denied(Permission::ModifyState),
        opcode::LOG0..=opcode::LOG4 => denied(Permission::EmitLogs),
        opcode::CREATE | opcode::CREATE2 => denied(Permission::CreateContracts)
            .or_else(|| (!from_top(0).is_zero()).then_some(()).and(denied(Permission::ModifyState))),
        opcode::CALL => denied(Permission::CallExternal)
            .or_else(|| (!from_top(2).is_zero()).then_some(()).and(denied(Permission::ModifyState))),
        opcode::CALLCODE | opcode::DELEGATECALL => {
            denied(Permission::CallExternal).or_else(|| denied(Permission::ModifyState))
        }
        opcode::STATICCALL => denied(Permission::CallExternal),
        _ => None,
    }
}

/// The sandbox inspector for one transaction over `db`.
pub struct Sandbox<'a, S> {
    db: &'a LazyCodeDb<S>,
    frames: Vec<Rules>,
    denials: Vec<Denial>,
}

impl<'a, S> Sandbox<'a, S> {
    /// A sandbox reading each code's permissions from what `db` served.
    pub fn new(db: &'a LazyCodeDb<S>) -> Sandbox<'a, S> {
        Sandbox { db, frames: Vec::with_capacity(8), denials: Vec::new() }
    }

    /// The operations refused so far, in order.
    pub fn denials(&self) -> &[Denial] {
        &self.denials
    }

    /// Consumes the sandbox, returning its denials.
    pub fn into_denials(self) -> Vec<Denial> {
        self.denials
    }

    /// The rules for a frame running the code of `address`, from what the
    /// database resolved when the EVM loaded the account (memoised, so
    /// this asks the manager nothing new). `None` when the code cannot be
    /// resolved: the frame must not run.
    fn rules_for(&self, address: Address) -> Option<Rules> {
        match self.db.resolve(address) {
            Ok(Some(code)) => Some(Rules { code: Some((address, code)), withheld: 0 }),
            Ok(None) => Some(Rules::open()),
            Err(_) => None,
        }
    }

    fn halted_outcome(inputs: &CallInputs) -> CallOutcome {
        let result = InterpreterResult::new(
            InstructionResult::StateChangeDuringStaticCall,
            Bytes::new(),
            Gas::new(inputs.gas_limit),
        );
        CallOutcome::new(result, inputs.return_memory_offset.clone())
    }
}

impl<CTX, S> revm::Inspector<CTX, EthInterpreter> for Sandbox<'_, S> {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        let Some((address, permissions, trust)) = self.frames.last().and_then(Rules::restricted) else {
            return;
        };
        let op = interp.bytecode.opcode();
        let Some(permission) = needed(op, interp.stack.data(), permissions) else { return };
        self.denials.push(Denial {
            code_address: *address,
            pc: interp.bytecode.pc(),
            opcode: op,
            permission,
            trust,
            depth: self.frames.len() - 1,
        });
        interp.halt(InstructionResult::StateChangeDuringStaticCall);
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let Some(mut rules) = self.rules_for(inputs.bytecode_address) else {
            // Fail closed: code that cannot be resolved does not run.
            self.frames.push(Rules::open());
            return Some(Self::halted_outcome(inputs));
        };
        if let Some((_, code)) = &rules.code {
            let share = code.security().permissions.gas_limit_multiplier;
            if share < 1.0 {
                let allowed = (inputs.gas_limit as f64 * share.max(0.0)) as u64;
                rules.withheld = inputs.gas_limit - allowed.min(inputs.gas_limit);
                inputs.gas_limit -= rules.withheld;
            }
        }
        self.frames.push(rules);
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        if let Some(rules) = self.frames.pop() {
            if rules.withheld > 0 {
                outcome.result.gas.erase_cost(rules.withheld);
            }
        }
    }

    fn create(&mut self, _context: &mut CTX, _inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        let inherited = self.frames.last().map_or_else(Rules::open, |r| Rules { withheld: 0, ..r.clone() });
        self.frames.push(inherited);
        None
    }

    fn create_end(&mut self, _context: &mut CTX, _inputs: &CreateInputs, _outcome: &mut CreateOutcome) {
        self.frames.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permissions(call: bool, state: bool, logs: bool, create: bool) -> ExecutionPermissions {
        ExecutionPermissions {
            can_call_external: call,
            can_modify_state: state,
            can_emit_logs: logs,
            can_create_contracts: create,
            gas_limit_multiplier: 1.0,
        }
    }

    #[test]
    fn every_opcode_needs_exactly_its_permission() {
        let none = permissions(false, false, false, false);
        let all = permissions(true, true, true, true);
        let zero_value = [U256::ZERO; 7];
        for op in 0..=255u8 {
            assert_eq!(needed(op, &zero_value, &all), None, "{op:#x} with every permission");
            let expected = match op {
                opcode::SSTORE | opcode::TSTORE | opcode::SELFDESTRUCT => Some(Permission::ModifyState),
                opcode::LOG0..=opcode::LOG4 => Some(Permission::EmitLogs),
                opcode::CREATE | opcode::CREATE2 => Some(Permission::CreateContracts),
                opcode::CALL | opcode::CALLCODE | opcode::DELEGATECALL | opcode::STATICCALL => {
                    Some(Permission::CallExternal)
                }
                _ => None,
            };
            assert_eq!(needed(op, &zero_value, &none), expected, "{op:#x}");
        }
    }

    #[test]
    fn value_needs_the_state_permission() {
        let calls_only = permissions(true, false, false, true);
        // CALL's value is the third from the top; CREATE's the top.
        let mut stack = vec![U256::ZERO; 7];
        assert_eq!(needed(opcode::CALL, &stack, &calls_only), None);
        stack[4] = U256::from(1);
        assert_eq!(needed(opcode::CALL, &stack, &calls_only), Some(Permission::ModifyState));
        assert_eq!(needed(opcode::STATICCALL, &stack, &calls_only), None);
        assert_eq!(needed(opcode::DELEGATECALL, &stack, &calls_only), Some(Permission::ModifyState));
        let create = vec![U256::ZERO, U256::ZERO, U256::from(5)];
        assert_eq!(needed(opcode::CREATE, &create, &calls_only), Some(Permission::ModifyState));
        assert_eq!(needed(opcode::CREATE2, &[U256::ZERO; 4], &calls_only), None);
    }
}
