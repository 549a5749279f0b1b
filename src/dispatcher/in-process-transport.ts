import { Agent } from 'undici';
import { dispatchPost, type AttemptAbort, type PostResponse } from './post-handler.js';
import { dispatchOptions, type PoolHandle, type PostRequest, type PostTransport } from './post-transport.js';

interface AgentPool extends PoolHandle {
  readonly agent: Agent;
}

/** POSTs with undici in the calling thread: for one-core machines, and wherever a delivery thread is turned off. */
export class InProcessTransport implements PostTransport {
  readonly #connections: number;
  /** Every live pool, weakly: close() destroys them, a dropped subscription's pool is collected. */
  readonly #agents = new Set<WeakRef<Agent>>();
  readonly #agentRefs = new FinalizationRegistry<WeakRef<Agent>>((ref) => this.#agents.delete(ref));

  readonly isReady = true;

  constructor(connections: number) {
    this.#connections = connections;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  newPool(): PoolHandle {
    const agent = new Agent({ connections: this.#connections });
    const ref = new WeakRef(agent);
    this.#agents.add(ref);
    this.#agentRefs.register(agent, ref);
    const pool: AgentPool = { transport: this, agent };
    return pool;
  }

  /** `abort` is armed with the attempt's timeout in this thread (postEvent): no undici timers besides. */
  post(pool: PoolHandle, request: PostRequest, abort: AttemptAbort): Promise<PostResponse> {
    return dispatchPost((pool as AgentPool).agent, dispatchOptions(request, false), abort, request.bodyLimit);
  }

  async close(): Promise<void> {
    const agents = [...this.#agents].map((r) => r.deref()).filter((a): a is Agent => a !== undefined);
    this.#agents.clear();
    await Promise.all(agents.map((a) => a.destroy().catch(() => {})));
  }
}
