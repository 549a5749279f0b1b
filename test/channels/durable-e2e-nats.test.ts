// The real CLI on NATS JetStream: broker crash, two replicas, NATS outage, restart with retries pending.
import { startNatsServer } from '../helpers/nats-server.js';
import { runDurableEndToEnd } from './durable-e2e-scenarios.js';

runDurableEndToEnd({
  name: 'NATS',
  kind: 'NatsJetStreamChannel',
  apiVersion: 'messaging.knative.dev/v1alpha1',
  start: () => startNatsServer(),
  flags: (url) => ['--nats-url', url],
  unreachable: /NATS at nats:\/\/127\.0\.0\.1:\d+ is unreachable/,
});
