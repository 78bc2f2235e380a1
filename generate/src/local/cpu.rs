//! What the CPU can run, detected once.

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
fn detect() -> [bool; 3] {
    use std::arch::is_x86_feature_detected as has;
    let avx512 = has!("avx512f") && has!("avx512bw") && has!("avx512vl");
    let avx2 = has!("avx2") && has!("fma");
    let vnni = avx512 && avx2 && has!("avx512vnni") && has!("f16c");
    [avx512, avx2, vnni]
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> [bool; 3] {
    [false; 3]
}

fn features() -> [bool; 3] {
    static F: OnceLock<[bool; 3]> = OnceLock::new();
    *F.get_or_init(detect)
}

/// AVX-512 F/BW/VL.
#[allow(dead_code)]
pub fn has_avx512() -> bool {
    features()[0]
}

/// AVX2 and FMA.
#[allow(dead_code)]
pub fn has_avx2() -> bool {
    features()[1]
}

/// AVX-512 VNNI (with F16C), for the quantized dot products.
#[allow(dead_code)]
pub fn has_vnni() -> bool {
    features()[2]
}
