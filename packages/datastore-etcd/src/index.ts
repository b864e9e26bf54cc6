// Public surface of @libcalico-ts/datastore-etcd.
export {};
