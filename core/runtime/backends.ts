// TensorFlow.js backends a stage worker can load; a missing optional package gives one line naming it.
import type * as tfc from '@tensorflow/tfjs-core';

export const BACKENDS = ['wasm', 'tensorflow', 'tensorflow-gpu', 'webgpu', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** The npm packages each backend needs, beyond @tensorflow/tfjs-core. */
export const BACKEND_PACKAGES: Record<BackendName, string[]> = {
  wasm: ['@tensorflow/tfjs-backend-wasm'],
  tensorflow: ['@tensorflow/tfjs-node'],
  'tensorflow-gpu': ['@tensorflow/tfjs-node-gpu'],
  webgpu: ['@tensorflow/tfjs-backend-webgpu', 'webgpu'],
  cpu: ['@tensorflow/tfjs-backend-cpu'],
};

export class BackendMissingError extends Error {}

/** Throws a BackendMissingError naming the package to install when a backend's packages are absent. */
export function checkBackendInstalled(backend: BackendName): void {
  const missing = BACKEND_PACKAGES[backend].filter((p) => {
    try {
      require.resolve(p);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length)
    throw new BackendMissingError(
      `backend ${backend} needs ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed; run \`npm install ${missing.join(' ')}\` or use --backend wasm`,
    );
}

/** The GPU a webgpu worker opened its own Dawn device on (its adapter's info, as Dawn reports it). */
export interface GpuAdapter {
  adapter: string;
  vendor: string;
  architecture: string;
  description: string;
}

/** Loads and activates a backend in this thread; returns the tfjs-core module to use and, on webgpu, the adapter. */
export async function loadBackend(backend: BackendName): Promise<{ tf: typeof tfc; gpu?: GpuAdapter }> {
  checkBackendInstalled(backend);
  const tf: typeof tfc = require('@tensorflow/tfjs-core');
  let gpu: GpuAdapter | undefined;
  switch (backend) {
    case 'wasm':
      require('@tensorflow/tfjs-backend-wasm');
      break;
    case 'cpu':
      require('@tensorflow/tfjs-backend-cpu');
      break;
    case 'tensorflow':
      require('@tensorflow/tfjs-node');
      break;
    case 'tensorflow-gpu':
      require('@tensorflow/tfjs-node-gpu');
      break;
    case 'webgpu': {
      // Dawn in Node: the `webgpu` package exposes navigator.gpu (shared/notes/tfjs-backends.md). Every worker makes
      // its own instance, so stage workers on one GPU each get their own Dawn device (and queue).
      const { create, globals } = require('webgpu');
      Object.assign(globalThis, globals);
      const g = create([]);
      (globalThis as unknown as { navigator: unknown }).navigator = { gpu: g };
      // Ask for an adapter first: without one, tfjs prints a stack trace instead of saying why.
      const adapter = await g.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter)
        throw new Error('backend webgpu found no GPU adapter: Dawn needs a Vulkan driver (libvulkan1 plus the NVIDIA driver, or mesa-vulkan-drivers 25 from bookworm-backports for a software adapter); use --backend wasm');
      const info = adapter.info ?? {};
      gpu = { adapter: info.description || info.device || 'unknown', vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '' };
      require('@tensorflow/tfjs-backend-webgpu');
      break;
    }
  }
  const name = backend === 'tensorflow-gpu' ? 'tensorflow' : backend;
  // tfjs logs a failed backend start to the console and returns false: say why in our one line instead.
  const ok = await quietly(() => tf.setBackend(name));
  if (!ok.value)
    throw new Error(`backend ${backend} is installed but failed to start (tf.setBackend('${name}') returned false${ok.said ? `: ${ok.said}` : ''}); ${backend === 'webgpu' ? 'check the Vulkan driver (vulkaninfo --summary) or ' : ''}use --backend wasm`);
  await tf.ready();
  return { tf, gpu };
}

/** Runs `f` with console.warn and console.error captured; returns its value and the first line they said. */
async function quietly<T>(f: () => Promise<T>): Promise<{ value: T; said: string }> {
  const { warn, error } = console;
  const said: string[] = [];
  console.warn = console.error = (...a: unknown[]) => void said.push(a.map((x) => (x instanceof Error ? x.message : String(x))).join(' '));
  try {
    return { value: await f(), said: said.join(' ').split('\n')[0].trim() };
  } finally {
    console.warn = warn;
    console.error = error;
  }
}

/** Backends whose kernels run asynchronously: op timings must wait for results. */
export function isAsyncBackend(backend: BackendName): boolean {
  return backend === 'webgpu' || backend === 'tensorflow-gpu';
}

/**
 * How an op's end is timed on each backend (the trace's host.gpu.timing): on webgpu, when the GPU finished all the
 * work queued so far (queue.onSubmittedWorkDone after submitting tfjs's pending commands); on tensorflow-gpu, when
 * the op's last output was read back (an await of its data); elsewhere the kernels are synchronous.
 */
export type OpTiming = 'gpu-completion' | 'readback' | 'synchronous';
export function opTiming(backend: BackendName): OpTiming {
  return backend === 'webgpu' ? 'gpu-completion' : isAsyncBackend(backend) ? 'readback' : 'synchronous';
}

/** The part of tfjs's WebGPU backend that submitting and waiting needs. */
interface WebGpuBackendLike {
  commandEncoder: unknown;
  endComputePassEncoder(): void;
  submitQueue(): void;
  queue: { onSubmittedWorkDone(): Promise<void> };
}

/**
 * Resolves when the work queued so far has finished, as `opTiming` says: on webgpu, tfjs's batched commands are
 * submitted and the device's queue awaited (in order, so everything before is done too); on tensorflow-gpu, `t`
 * is read back; on synchronous backends at once.
 */
export async function workDone(tf: typeof tfc, backend: BackendName, t?: tfc.Tensor | null): Promise<void> {
  if (backend === 'webgpu') {
    const b = tf.backend() as unknown as WebGpuBackendLike;
    if (b.commandEncoder) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
    await b.queue.onSubmittedWorkDone();
  } else if (isAsyncBackend(backend) && t) await t.data();
}
