// The datastore conformance suite on the Kubernetes datastore, against the Kubernetes API test
// server (HTTPS, bearer token), with CRD defaulting on as a real API server has it. The suite
// creates NetworkPolicies in random namespaces it does not create, so the server's
// NamespaceLifecycle check is off for this run. Sequence numbers stay within int64, the range an
// API server keeps exactly.
import { describeDatastoreConformance } from '@libcalico-ts/datastore/testing';
import { createKubernetesDatastore } from '@libcalico-ts/datastore-kubernetes';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';

let server: KubeApiServer | undefined;
let users = 0;

describeDatastoreConformance(
  'kubernetes (crd.projectcalico.org/v1)',
  async () => {
    server ??= await startKubeApiServer({ namespaceLifecycle: false });
    users++;
    const datastore = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath });
    return {
      datastore,
      cleanup: async () => {
        await datastore.close();
        if (--users === 0) {
          await server?.stop();
          server = undefined;
        }
      },
    };
  },
  {
    sequenceNumberRange: 'int64',
    compact: async () => {
      server!.compact();
    },
  },
);
