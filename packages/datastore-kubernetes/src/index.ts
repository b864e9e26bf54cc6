// Public surface of @libcalico-ts/datastore-kubernetes.
export {};
