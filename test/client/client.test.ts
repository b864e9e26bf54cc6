// The client suite (test/client/suite.ts) on the memory datastore, a real etcd and the
// Kubernetes API test server: one body, three backends.
import { BACKENDS } from './backends.js';
import { describeClientSuite } from './suite.js';

for (const backend of BACKENDS) describeClientSuite(backend);
