// IP pinning (test/client/pinning-suite.ts) on the memory datastore, a real etcd and the
// Kubernetes API test server: one body, three backends.
import { etcdBackend, kubernetesBackend, memoryBackend } from './backends.js';
import { describePinningSuite } from './pinning-suite.js';

for (const backend of [memoryBackend(), etcdBackend(), kubernetesBackend()]) describePinningSuite(backend);
