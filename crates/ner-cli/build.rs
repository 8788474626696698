include!("../build-support/libtorch_rpath.rs");

fn main() {
    // Only the build with libtorch links it.
    if std::env::var_os("CARGO_FEATURE_TORCH").is_some() {
        emit_libtorch_rpath();
    }
}
