//! CPU-only: every WGSL kernel parses and validates with naga, within the limits that
//! bind in browsers (256 invocations per workgroup, 16 KiB workgroup memory, at most 8
//! storage buffers, no subgroup operations).

use naga::valid::{Capabilities, ValidationFlags, Validator};
use ring_wgpu_shaders::{ALL, COMMON, NORM_COMMON, WgslKernel};

fn parse(kernel: &WgslKernel) -> naga::Module {
    naga::front::wgsl::parse_str(&kernel.source())
        .unwrap_or_else(|e| panic!("{} does not parse:\n{}", kernel.file, e.emit_to_string(&kernel.source())))
}

#[test]
fn every_kernel_validates_without_optional_capabilities() {
    for kernel in ALL {
        let module = parse(&kernel);
        // Capabilities::empty(): nothing beyond baseline WebGPU (no subgroups, no f16, no i64).
        Validator::new(ValidationFlags::all(), Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{} fails validation: {e:?}", kernel.file));
    }
}

#[test]
fn every_kernel_fits_browser_limits() {
    for kernel in ALL {
        let module = parse(&kernel);
        let entry =
            module.entry_points.iter().find(|e| e.name == "main").unwrap_or_else(|| panic!("{} has no entry point `main`", kernel.file));
        assert_eq!(entry.stage, naga::ShaderStage::Compute, "{}", kernel.file);
        let [x, y, z] = entry.workgroup_size;
        assert_eq!([x, y, z], [kernel.workgroup_size, 1, 1], "{}: workgroup size", kernel.file);
        assert!(x * y * z <= 256, "{}: more than 256 invocations", kernel.file);

        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let mut workgroup_bytes = 0;
        let mut storage_buffers = 0;
        for (_, var) in module.global_variables.iter() {
            match var.space {
                naga::AddressSpace::WorkGroup => workgroup_bytes += layouter[var.ty].size,
                naga::AddressSpace::Storage { .. } => storage_buffers += 1,
                _ => {}
            }
        }
        assert!(workgroup_bytes <= 16 * 1024, "{}: {workgroup_bytes} bytes of workgroup memory", kernel.file);
        assert!(storage_buffers <= 8, "{}: {storage_buffers} storage buffers", kernel.file);
    }
}

#[test]
fn every_wgsl_file_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("wgsl");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wgsl") && n != "common.wgsl" && n != "norm_common.wgsl")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = ALL.iter().map(|k| k.file.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "shaders/wgsl and ring_wgpu_shaders::ALL disagree");
    assert!(COMMON.contains("struct RingParams"));
    assert!(NORM_COMMON.contains("struct NormParams"));
}
