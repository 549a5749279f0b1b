// The contract between the activator (which decides how many replicas a service needs
// and routes requests) and a scaler (which makes replicas exist: local processes, or a
// Kubernetes Deployment). One scaler instance serves one service.

/** Somewhere requests can be sent: one local replica, or a Kubernetes Service in front of N pods. */
export interface Endpoint {
  /** Stable for the life of the replica (or of the Deployment). */
  readonly id: string;
  /** Base URL, ending with `/`. */
  readonly url: string;
  /** Ready replicas behind this URL: the activator allows `containerConcurrency × slots` requests at once. */
  readonly slots: number;
}

export interface ScalerStatus {
  /** Replicas asked for. */
  desired: number;
  /** Replicas that passed their readiness check. */
  ready: number;
  /** Replicas started but not yet ready. */
  starting: number;
  /** Replacements after a crash since the scaler was created. */
  restarts: number;
  /** Last failure worth showing (crash, start error, API error), if any. */
  lastError?: string;
}

/** What a scaler tells the activator. */
export interface ScalerListener {
  /** The set of ready endpoints (or their slots) changed. */
  endpointsChanged(): void;
  /**
   * A replica is about to be stopped by a scale-down: resolves once no request is in
   * flight on it (the activator stops routing to it first), so stopping it loses nothing.
   */
  drain(endpointId: string): Promise<void>;
}

export interface Scaler {
  readonly kind: 'process' | 'container' | 'kubernetes';
  /** Called once by the activator before anything else. */
  attach(listener: ScalerListener): void;
  /** Asks for `replicas`; resolves once the request is made (not once they are ready). */
  setScale(replicas: number): Promise<void>;
  /** Resolves with a ready endpoint, asking for one replica if none is wanted yet. */
  ensureReady(signal?: AbortSignal): Promise<Endpoint>;
  /** Ready endpoints now (cheap: called on the request path). */
  endpoints(): readonly Endpoint[];
  status(): ScalerStatus;
  /** Stops every replica this scaler started (a Kubernetes scaler leaves the Deployment as it is). */
  close(): Promise<void>;
}
