// Public surface of @libcalico-ts/datastore-kubernetes.
export { createKubernetesDatastore } from './datastore.js';
export type { KubernetesDatastore, KubernetesDatastoreOptions } from './datastore.js';
export { CalicoApiGroup, METADATA_ANNOTATION, customResourceToV3, v3ToCustomResource } from './mapping/crd.js';
export type { CustomResource } from './mapping/crd.js';
export { convertUid } from './uid.js';
export { AffinityLabel, blockAffinityLabels, blockAffinityName, blockName, handleName, hostnameHash } from './names.js';
export {
  NodeAnnotation,
  PodAnnotation,
  kubeNodeToCalico,
  mergeCalicoNodeIntoKubeNode,
  podHasWorkloadEndpoint,
  podToWorkloadEndpoint,
  podWorkloadEndpointName,
  vethNameForPod,
  namespaceToProfile,
  serviceAccountToProfile,
} from './mapping/native.js';
export type { KubeObject, NodeConversionOptions } from './mapping/native.js';
export { parseJson, stringifyJson } from './json.js';
export type { JsonValue } from './json.js';
export { errorFromResponse, parseStatus, translateError } from './errors.js';
export type { KubeStatus } from './errors.js';
