//! The build script every Lambda function shares (each function's `Cargo.toml` names it), and
//! `tests/coldstart-hello` too, so the baseline of `scripts/coldstart.sh` is linked alike.
//!
//! It links the function's binary as a position-dependent executable (`-no-pie`). A
//! position-independent one, the default, carries about 60,000 relative relocations (1.4 MB
//! of `.rela.dyn` for `events-consumer`), which the loader applies at every start, and each
//! write to `.data.rel.ro` copies a page: 900 KB copied, about 270 more page faults and 3 ms
//! of a 9 ms cold start (docs/performance.md, "Lambda cold start"). Linked position-dependent,
//! the addresses are resolved by the linker once and the pages are read from the file as they
//! are.
//!
//! What this gives up: the executable's own code and data sit at fixed addresses (ASLR still
//! places the stack, the heap, the shared libraries and every mapping apart). Each function
//! runs alone in its own Firecracker micro-VM and is safe Rust over well-kept crates, so the
//! cold start is worth more here; a deployment that wants the randomisation back builds with
//! `NHIP_LAMBDA_PIE=1` in the environment.
//!
//! Only the functions' binaries are affected: the shared crates, the tests, the local runner,
//! build scripts and proc-macros are linked as before.

fn main() {
    println!("cargo:rerun-if-env-changed=NHIP_LAMBDA_PIE");
    let pie = std::env::var("NHIP_LAMBDA_PIE").is_ok_and(|v| v == "1");
    // Lambda's glibc targets (`provided.al2023`); a musl target links its own way.
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    if linux_gnu && !pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
