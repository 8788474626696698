// Shared by the build scripts of every crate whose binaries link libtorch (`include!`d).
//
// `torch-sys` links libtorch dynamically but leaves the run-time search path to the user, so a
// binary built against a PyTorch wheel would only start with a hand-set `LD_LIBRARY_PATH`.
// This records libtorch's `lib/` directory as an rpath in every binary, test and bench of the
// crate, found the same way `torch-sys` finds it: `LIBTORCH_LIB`, `LIBTORCH`, or the Python
// environment named by `LIBTORCH_USE_PYTORCH`.

fn libtorch_lib_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    for var in ["LIBTORCH_LIB", "LIBTORCH", "LIBTORCH_USE_PYTORCH", "PYTHON_SYS_EXECUTABLE"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if let Ok(lib) = std::env::var("LIBTORCH_LIB") {
        return Some(PathBuf::from(lib).join("lib"));
    }
    if let Ok(root) = std::env::var("LIBTORCH") {
        return Some(PathBuf::from(root).join("lib"));
    }
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_some() {
        let python = std::env::var("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|_| "python3".into());
        let out = std::process::Command::new(python)
            .args(["-c", "import os, torch; print(os.path.dirname(torch.__file__))"])
            .output()
            .ok()?;
        let root = String::from_utf8(out.stdout).ok()?;
        return Some(PathBuf::from(root.trim()).join("lib"));
    }
    None
}

fn emit_libtorch_rpath() {
    println!("cargo:rerun-if-env-changed=NER_LINK_CUDA");
    match libtorch_lib_dir() {
        Some(dir) => {
            // First `lib/` beside the binary's own directory, where scripts/package.sh puts
            // the libraries of a self-contained runtime; then libtorch where it was built.
            println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../lib");
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
            // The linker drops libtorch_cuda (nothing names its symbols), and with it CUDA.
            // `NER_LINK_CUDA=1` keeps it, for `--device cuda`; CPU builds stay lean without it.
            let cuda = dir.join("libtorch_cuda.so");
            if std::env::var_os("NER_LINK_CUDA").is_some_and(|v| v == "1") && cuda.exists() {
                println!("cargo:rustc-link-arg=-Wl,--no-as-needed,{},--as-needed", cuda.display());
            }
        }
        None => println!(
            "cargo:warning=libtorch not located (set LIBTORCH or run scripts/setup.sh); \
             binaries will need LD_LIBRARY_PATH"
        ),
    }
}
