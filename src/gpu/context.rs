//! The one place that talks to the adapter: made once, asynchronously, and passed to everything
//! that runs kernels.

use std::sync::{Arc, Mutex};

use super::kernels::Kernels;
use crate::error::{Error, Result};

/// Adapter, device, queue and the compiled kernels.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) kernels: Kernels,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// Set by the device-lost callback or an uncaptured error; checked after every read-back.
    failure: Arc<Mutex<Option<Failure>>>,
}

#[derive(Debug, Clone)]
enum Failure {
    Lost(String),
    Error(String),
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

        let failure = Arc::new(Mutex::new(None));
        let on_lost = Arc::clone(&failure);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = on_lost.lock() {
                slot.get_or_insert(Failure::Lost(format!("{reason:?}: {message}")));
            }
        });
        let on_error = Arc::clone(&failure);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut slot) = on_error.lock() {
                slot.get_or_insert(Failure::Error(error.to_string()));
            }
        }));
        let kernels = Kernels::new(&device);
        Ok(Self {
            device,
            queue,
            kernels,
            info,
            limits,
            failure,
        })
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

    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Fails if the device was lost or rejected a command since it was made.
    pub fn check(&self) -> Result<()> {
        let failure = self.failure.lock().map(|f| f.clone()).unwrap_or(None);
        match failure {
            None => Ok(()),
            Some(Failure::Lost(m)) => Err(Error::DeviceLost(m)),
            Some(Failure::Error(m)) => Err(Error::Gpu(m)),
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
