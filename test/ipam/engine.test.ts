// The IPAM rule suite on every backend: memory (atomic transactions, as etcd), memory without
// transactions (Calico's two-write protocol, as Kubernetes), real etcd, and the Kubernetes
// datastore on the Kubernetes API test server.
import { etcdBackend, kubernetesBackend, memoryBackend } from './backends.js';
import { ipamSuite } from './suite.js';

ipamSuite(Promise.resolve(memoryBackend(true)), 'memory (atomic)');
ipamSuite(Promise.resolve(memoryBackend(false)), 'memory (two-write)');
ipamSuite(etcdBackend(), 'etcd');
ipamSuite(kubernetesBackend(), 'kubernetes');
