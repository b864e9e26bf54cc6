// Public surface of @libcalico-ts/dataplane.
export {};
