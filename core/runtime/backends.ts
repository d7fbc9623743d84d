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

/** Loads and activates a backend in this thread; returns the tfjs-core module to use. */
export async function loadBackend(backend: BackendName): Promise<typeof tfc> {
  checkBackendInstalled(backend);
  const tf: typeof tfc = require('@tensorflow/tfjs-core');
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
      // Dawn in Node: the `webgpu` package exposes navigator.gpu (shared/notes/tfjs-backends.md).
      const { create, globals } = require('webgpu');
      Object.assign(globalThis, globals);
      const gpu = create([]);
      (globalThis as unknown as { navigator: unknown }).navigator = { gpu };
      // Ask for an adapter first: without one, tfjs prints a stack trace instead of saying why.
      if (!(await gpu.requestAdapter()))
        throw new Error('backend webgpu found no GPU adapter: Dawn needs a Vulkan driver (libvulkan1 plus the NVIDIA driver, or mesa-vulkan-drivers for a software adapter); use --backend wasm');
      require('@tensorflow/tfjs-backend-webgpu');
      break;
    }
  }
  const name = backend === 'tensorflow-gpu' ? 'tensorflow' : backend;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${backend} is installed but failed to start (tf.setBackend('${name}') returned false); use --backend wasm`);
  await tf.ready();
  return tf;
}

/** Backends whose kernels run asynchronously: op timings must wait for results. */
export function isAsyncBackend(backend: BackendName): boolean {
  return backend === 'webgpu' || backend === 'tensorflow-gpu';
}
