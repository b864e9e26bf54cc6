// The IPAM rule suite on every backend: memory (atomic transactions, as etcd), memory without
// transactions (Calico's two-write protocol, as Kubernetes) and real etcd.
import { etcdBackend, memoryBackend } from './backends.js';
import { ipamSuite } from './suite.js';

ipamSuite(Promise.resolve(memoryBackend(true)), 'memory (atomic)');
ipamSuite(Promise.resolve(memoryBackend(false)), 'memory (two-write)');
ipamSuite(etcdBackend(), 'etcd');
