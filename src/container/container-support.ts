import type { Logger } from '../observability/logger.js';
import type { ContainerRuntime } from './container-runtime.js';
import { detectContainerRuntime, type ContainerRuntimeChoice, type DetectedRuntime } from './detect-runtime.js';

export interface ContainerSupportOptions {
  /** `--container-runtime` (default auto). */
  choice?: ContainerRuntimeChoice;
  logger: Logger;
  /**
   * The network containers join: `bridge` (the runtime's default, ports published on
   * loopback) or `host` (when Sluice's ingress listens on loopback only, a bridged
   * container could not reach it for K_SINK).
   */
  network?: 'bridge' | 'host';
  /** Tests inject a runtime (or its absence) instead of probing the machine. */
  detect?: () => Promise<DetectedRuntime>;
}

/**
 * The one container runtime a Sluice server uses for Services and ContainerSources with
 * an image. Detected on first need (a server without images never runs a CLI), and once
 * found, containers left by an earlier Sluice that was killed are removed.
 */
export class ContainerSupport {
  readonly network: 'bridge' | 'host';
  readonly choice: ContainerRuntimeChoice;
  readonly #o: ContainerSupportOptions;
  #detected: Promise<DetectedRuntime> | undefined;
  #settled: DetectedRuntime | undefined;

  constructor(options: ContainerSupportOptions) {
    this.#o = options;
    this.choice = options.choice ?? 'auto';
    this.network = options.network ?? 'bridge';
  }

  /** The runtime, or why there is none; the first call detects it (and sweeps leftovers). */
  runtime(): Promise<DetectedRuntime> {
    this.#detected ??= (this.#o.detect ?? (() => detectContainerRuntime(this.choice, this.#o.logger)))()
      .catch((err: Error): DetectedRuntime => ({ reason: err.message }))
      .then(async (d) => {
        this.#settled = d;
        if (d.runtime) await d.runtime.removeLeftovers().catch((err: Error) => this.#o.logger.warn({ err: err.message }, 'could not list leftover containers'));
        return d;
      });
    return this.#detected;
  }

  /** The runtime if detection already finished with one (cheap, synchronous). */
  get current(): ContainerRuntime | undefined {
    return this.#settled?.runtime;
  }

  /**
   * A URL of Sluice as a container reaches it: on a bridge network, loopback means the
   * container itself, so a loopback host becomes the runtime's name for the host.
   */
  localize(url: string, runtime: ContainerRuntime): string {
    if (this.network === 'host') return url;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return url;
    }
    const h = u.hostname.replace(/^\[|\]$/g, '');
    if (h !== 'localhost' && h !== '::1' && !h.startsWith('127.') && h !== '0.0.0.0') return url;
    u.hostname = runtime.hostGateway;
    return u.toString();
  }
}
