/**
 * The etcd key path codec: Key <-> `/calico/...` path, list -> prefix.
 * (Being written; see the datastore-etcd work.)
 */
export {};
