//! The one place that talks to the adapter: made once, asynchronously, and passed to everything
//! that runs kernels.

use std::sync::{Arc, Mutex, OnceLock};

use super::kernels::Kernels;
use super::vit_kernels::VitKernels;
use crate::error::{Error, Result};

/// Adapter, device, queue and the compiled kernels.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) kernels: Kernels,
    /// The ViT's kernels, compiled on first use: LeNet-only users never pay for them.
    vit_kernels: OnceLock<VitKernels>,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// Set by the device-lost callback or an uncaptured error; checked after every read-back.
    failure: Arc<Mutex<Failure>>,
}

/// The first loss and the first rejected command. A lost device also rejects what comes after,
/// so the loss, when there is one, is the cause to report.
#[derive(Debug, Clone, Default)]
struct Failure {
    lost: Option<String>,
    error: Option<String>,
}

impl GpuContext {
    /// Finds an adapter (Vulkan natively, the browser's WebGPU in wasm), opens a device with the
    /// adapter's buffer-size limits, and compiles every kernel.
    pub async fn new() -> Result<Self> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN | wgpu::Backends::BROWSER_WEBGPU,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("no GPU adapter ({e})")))?;
        let info = adapter.get_info();
        let available = adapter.limits();
        // WebGPU's defaults, but with the adapter's own buffer limits: the training images alone
        // are 43 MB, and more room lets larger batches through.
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: available.max_storage_buffer_binding_size,
            max_buffer_size: available.max_buffer_size,
            ..wgpu::Limits::default()
        };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("pruneplay"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("the adapter {} refused a device ({e})", info.name)))?;

        let failure = Arc::new(Mutex::new(Failure::default()));
        let on_lost = Arc::clone(&failure);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut f) = on_lost.lock() {
                f.lost.get_or_insert(format!("{reason:?}: {message}"));
            }
        });
        let on_error = Arc::clone(&failure);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut f) = on_error.lock() {
                f.error.get_or_insert(error.to_string());
            }
        }));
        let kernels = Kernels::new(&device);
        Ok(Self {
            device,
            queue,
            kernels,
            vit_kernels: OnceLock::new(),
            info,
            limits,
            failure,
        })
    }

    /// The ViT's kernels, compiling them on the first call.
    pub(crate) fn vit_kernels(&self) -> &VitKernels {
        self.vit_kernels
            .get_or_init(|| VitKernels::new(&self.device))
    }

    /// The adapter's name, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)` or the browser's description.
    pub fn adapter_name(&self) -> String {
        let i = &self.info;
        let name = if i.name.is_empty() {
            format!("{:?}", i.device_type)
        } else {
            i.name.clone()
        };
        format!("{name} ({:?})", i.backend)
    }

    /// Whether the adapter is a software renderer (lavapipe, SwiftShader): it runs kernels on the
    /// CPU, usually slower than the CPU engine.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Destroys the device, as a driver reset or a browser reclaiming the GPU would: for testing
    /// what training does when the device is lost.
    pub fn simulate_device_loss(&self) {
        self.device.destroy();
    }

    /// Fails if the device was lost or rejected a command since it was made.
    pub fn check(&self) -> Result<()> {
        // Natively, callbacks (device lost among them) run when the device is polled.
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::Poll);
        let failure = self.failure.lock().map(|f| f.clone()).unwrap_or_default();
        match failure {
            Failure { lost: Some(m), .. } => Err(Error::DeviceLost(m)),
            Failure { error: Some(m), .. } => Err(Error::Gpu(m)),
            Failure {
                lost: None,
                error: None,
            } => Ok(()),
        }
    }

    /// Waits until the GPU has finished everything submitted. Natively, tests call this before
    /// the process exits: lavapipe's threads can crash a process that exits with work in flight.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_idle(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))
    }
}
